package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/teamsphone/portal/internal/portal"
)

func testPutGetDelete(t *testing.T, f *fixture) {
	x := userItem(tenantA, "x", "Alice Smith, London desk", "desktop", "mobile", "desktop")
	x.State, x.VerifiedAt = portal.StateInSync, t0
	if _, err := f.GetItem(f.ctx, tenantA, x.ObjectID); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Fatalf("GetItem before any write: %v, want ENOTFOUND", err)
	}

	ev, got := f.commit(t, portal.InventoryPut, x)
	if ev.Seq != 1 || ev.PrevHash != "" || ev.Hash == "" || ev.Hash != ev.ComputeHash("") {
		t.Errorf("first commit's audit row: seq %d prev %q hash %q", ev.Seq, ev.PrevHash, ev.Hash)
	}
	want := x
	want.ClientIDs = portal.NormalizeClientIDs(x.ClientIDs) // stored sorted, without the duplicate
	want.Version = 1
	sameItem(t, "Put returns the new row", got, want)
	read, err := f.GetItem(f.ctx, tenantA, x.ObjectID)
	if err != nil {
		t.Fatal(err)
	}
	sameItem(t, "GetItem after Put", read, want)

	// A replacement keeps who created the row and when, and bumps Version.
	y := userItem(tenantA, "x", "Alice Smith, Paris desk", "web")
	y.CreatedAt, y.CreatedBy = t0.Add(time.Hour), bob
	y.UpdatedAt, y.UpdatedBy = t0.Add(time.Hour), bob
	ev2, got := f.commit(t, portal.InventoryPut, y)
	want = y
	want.CreatedAt, want.CreatedBy, want.Version = t0, alice, 2
	sameItem(t, "Put replacing a row", got, want)
	if ev2.Seq != 2 || ev2.PrevHash != ev.Hash {
		t.Errorf("second audit row: seq %d prev %q, want 2 citing %q", ev2.Seq, ev2.PrevHash, ev.Hash)
	}

	// A change of kind is a change of assignment too.
	z := resourceItem(tenantA, "x", "Paris reception")
	z.UpdatedAt, z.UpdatedBy = t0.Add(2*time.Hour), bob
	_, got = f.commit(t, portal.InventoryPut, z)
	if got.Version != 3 || got.Kind != portal.KindResourceAccount || len(got.ClientIDs) != 0 || !got.CreatedAt.Equal(t0) {
		t.Errorf("Put changing the kind: %+v", got)
	}

	_, got = f.commit(t, portal.InventoryDelete, z)
	if !isZeroItem(got) {
		t.Errorf("Delete returned a row: %+v", got)
	}
	if _, err := f.GetItem(f.ctx, tenantA, x.ObjectID); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Fatalf("GetItem after Delete: %v, want ENOTFOUND", err)
	}
	// Deleting what is already gone is not an error; the audit row is kept.
	f.commit(t, portal.InventoryDelete, z)
	if c := f.verifyChain(t); c.Rows != 5 {
		t.Errorf("%d audit rows, want 5 (3 puts, 2 deletes)", c.Rows)
	}
	// The row comes back as new: Version 1 again.
	_, got = f.commit(t, portal.InventoryPut, x)
	if got.Version != 1 {
		t.Errorf("Put after Delete: version %d, want 1", got.Version)
	}
}

func isZeroItem(it portal.InventoryItem) bool {
	return it.ObjectID.IsZero() && it.TenantID.IsZero() && it.Version == 0
}

func testPutDefaults(t *testing.T, f *fixture) {
	it := userItem(tenantA, "x", "defaults", "desktop")
	it.CreatedAt, it.CreatedBy, it.State = time.Time{}, portal.Actor{}, ""
	it.UpdatedAt, it.UpdatedBy = t0.Add(time.Minute), bob
	_, got := f.commit(t, portal.InventoryPut, it)
	if !got.CreatedAt.Equal(it.UpdatedAt) || got.CreatedBy != bob {
		t.Errorf("a new row without a creation: created %v by %+v, want its update %v by %+v", got.CreatedAt, got.CreatedBy, it.UpdatedAt, bob)
	}
	if got.State != portal.StateUnverified || !got.VerifiedAt.IsZero() || got.Observed != nil {
		t.Errorf("a new row without a state: %q verified %v observed %v", got.State, got.VerifiedAt, got.Observed)
	}
	// Text is kept as valid UTF-8, as the audit log keeps it.
	it.Label = "bad \xff label"
	_, got = f.commit(t, portal.InventoryPut, it)
	if !utf8.ValidString(got.Label) || !strings.HasPrefix(got.Label, "bad ") || !strings.HasSuffix(got.Label, " label") {
		t.Errorf("label with invalid UTF-8 stored as %q", got.Label)
	}
	if read, _ := f.GetItem(f.ctx, tenantA, it.ObjectID); read.Label != got.Label {
		t.Errorf("label read back as %q, returned as %q", read.Label, got.Label)
	}
	// The portal itself (a job) as the actor round-trips as a system actor.
	it.UpdatedBy = system
	_, got = f.commit(t, portal.InventoryPut, it)
	if got.UpdatedBy != system || !got.UpdatedBy.IsSystem() || got.CreatedBy != bob {
		t.Errorf("system actor: updated by %+v, created by %+v", got.UpdatedBy, got.CreatedBy)
	}
}

func testVerified(t *testing.T, f *fixture) {
	x := userItem(tenantA, "x", "verified", "desktop")
	f.put(t, x)

	// Only state, verification time and the observed assignment change,
	// whatever else the item carries; Version stays.
	v := x
	v.Label, v.ClientIDs, v.Version = "not this", ids("other"), 99
	v.State, v.VerifiedAt = portal.StateDrifted, t0.Add(time.Hour)
	v.Observed = &portal.Assignment{TenantID: tenantA, ObjectID: x.ObjectID, Kind: portal.KindUser,
		ClientIDs: ids("web", "desktop"), Spelling: "User"}
	_, got := f.commit(t, portal.InventoryVerified, v)
	want := x
	want.Version, want.State, want.VerifiedAt = 1, portal.StateDrifted, v.VerifiedAt
	want.ClientIDs = portal.NormalizeClientIDs(x.ClientIDs)
	want.Observed = &portal.Assignment{TenantID: tenantA, ObjectID: x.ObjectID, Kind: portal.KindUser,
		ClientIDs: portal.NormalizeClientIDs(ids("web", "desktop")), Spelling: "User"}
	sameItem(t, "Verified (drifted) returns", got, want)
	read, _ := f.GetItem(f.ctx, tenantA, x.ObjectID)
	sameItem(t, "GetItem after Verified", read, want)

	// A resource account observed under ACS's other spelling.
	v.Observed = &portal.Assignment{TenantID: tenantA, ObjectID: x.ObjectID, Kind: portal.KindResourceAccount, Spelling: "teamsResourceAccount"}
	_, got = f.commit(t, portal.InventoryVerified, v)
	if o := got.Observed; o == nil || o.Kind != portal.KindResourceAccount || len(o.ClientIDs) != 0 || o.Spelling != "teamsResourceAccount" {
		t.Errorf("observed resource account: %+v", o)
	}

	// In sync again: nothing observed.
	v.State, v.VerifiedAt, v.Observed = portal.StateInSync, t0.Add(2*time.Hour), nil
	_, got = f.commit(t, portal.InventoryVerified, v)
	if got.State != portal.StateInSync || got.Observed != nil || got.Version != 1 || !got.VerifiedAt.Equal(v.VerifiedAt) {
		t.Errorf("Verified (in sync): %+v", got)
	}

	// A later Put bumps Version and takes state from the item.
	p := x
	p.Label, p.UpdatedAt, p.State, p.VerifiedAt = "edited", t0.Add(3*time.Hour), portal.StateInSync, t0.Add(3*time.Hour)
	_, got = f.commit(t, portal.InventoryPut, p)
	if got.Version != 2 || got.State != portal.StateInSync || !got.VerifiedAt.Equal(p.VerifiedAt) || got.Label != "edited" {
		t.Errorf("Put after Verified: %+v", got)
	}
}

// testCommitAtomic: a change that cannot be applied writes no audit row.
func testCommitAtomic(t *testing.T, f *fixture) {
	f.put(t, userItem(tenantA, "kept", "kept", "desktop"))
	before := f.verifyChain(t)

	gone := userItem(tenantA, "gone", "gone", "desktop")
	gone.State, gone.VerifiedAt = portal.StateInSync, t0
	_, got, err := f.Commit(f.ctx, eventFor(gone, portal.ActionVerify), portal.InventoryChange{Op: portal.InventoryVerified, Item: gone})
	if portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Fatalf("Verified on a missing row: %v, want ENOTFOUND", err)
	}
	if !isZeroItem(got) {
		t.Errorf("Verified on a missing row returned %+v", got)
	}
	after := f.verifyChain(t)
	if after.Rows != before.Rows || after.HeadHash != before.HeadHash {
		t.Errorf("audit log changed by a failed commit: %d rows, head %q; before %d, %q", after.Rows, after.HeadHash, before.Rows, before.HeadHash)
	}
	if _, err := f.GetItem(f.ctx, tenantA, gone.ObjectID); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("Verified created the row: %v", err)
	}
	// The next append follows on without a gap.
	ev, _ := f.commit(t, portal.InventoryPut, gone)
	if ev.Seq != before.HeadSeq+1 || ev.PrevHash != before.HeadHash {
		t.Errorf("next row: seq %d prev %q; want %d, %q", ev.Seq, ev.PrevHash, before.HeadSeq+1, before.HeadHash)
	}
}

// testCommitRefuses: an audit row must describe the change it goes with.
func testCommitRefuses(t *testing.T, f *fixture) {
	x := userItem(tenantA, "x", "x", "desktop")
	other := eventFor(userItem(tenantA, "y", "y", "desktop"), portal.ActionGrant)
	foreign := eventFor(userItem(tenantB, "x", "x", "desktop"), portal.ActionGrant)
	noKind := x
	noKind.Kind = portal.KindUnknown
	badState := x
	badState.State = "fine"
	for _, tc := range []struct {
		name   string
		ev     portal.AuditEvent
		change portal.InventoryChange
	}{
		{"audit row about another object", other, portal.InventoryChange{Op: portal.InventoryPut, Item: x}},
		{"audit row about another tenant", foreign, portal.InventoryChange{Op: portal.InventoryPut, Item: x}},
		{"no tenant", eventFor(portal.InventoryItem{}, portal.ActionGrant), portal.InventoryChange{Op: portal.InventoryDelete}},
		{"no kind", eventFor(noKind, portal.ActionGrant), portal.InventoryChange{Op: portal.InventoryPut, Item: noKind}},
		{"unknown state", eventFor(badState, portal.ActionGrant), portal.InventoryChange{Op: portal.InventoryPut, Item: badState}},
		{"unknown op", eventFor(x, portal.ActionGrant), portal.InventoryChange{Op: 42, Item: x}},
	} {
		if _, _, err := f.Commit(f.ctx, tc.ev, tc.change); portal.ErrorCode(err) != portal.EINVALID {
			t.Errorf("%s: %v, want EINVALID", tc.name, err)
		}
	}
	if rows := f.walk(t, portal.GUID{}); len(rows) != 0 {
		t.Errorf("refused commits wrote %d audit rows", len(rows))
	}
	if _, err := f.GetItem(f.ctx, tenantA, x.ObjectID); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("refused commit wrote the row: %v", err)
	}
}

func testTenantIsolation(t *testing.T, f *fixture) {
	// The same object ID in both tenants, and rows only B has.
	a := userItem(tenantA, "shared", "ours", "desktop")
	b := userItem(tenantB, "shared", "secret-b shared", "desktop")
	b.UpdatedBy = carol
	onlyB := userItem(tenantB, "only-b", "secret-b only", "mobile")
	onlyB.UpdatedBy = carol
	f.put(t, a, userItem(tenantA, "a2", "ours too", "desktop"), b, onlyB)

	if got, err := f.GetItem(f.ctx, tenantA, a.ObjectID); err != nil || got.Label != "ours" {
		t.Errorf("GetItem(A, shared) = %q, %v; want A's row", got.Label, err)
	}
	if _, err := f.GetItem(f.ctx, tenantA, onlyB.ObjectID); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("GetItem(A, B's object) = %v, want ENOTFOUND", err)
	}
	if _, err := f.GetItem(f.ctx, portal.GUID{}, a.ObjectID); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("GetItem without a tenant: %v, want ENOTFOUND", err)
	}
	var seen []string
	if err := f.AllItems(f.ctx, tenantA, func(it portal.InventoryItem) error {
		seen = append(seen, it.Label)
		return nil
	}); err != nil || !sameSet(seen, []string{"ours", "ours too"}) {
		t.Errorf("AllItems(A) = %q, %v", seen, err)
	}

	// Writing to B's row from A: the row is not found.
	v := onlyB
	v.TenantID, v.State, v.VerifiedAt = tenantA, portal.StateMissing, t0
	if _, _, err := f.Commit(f.ctx, eventFor(v, portal.ActionVerify), portal.InventoryChange{Op: portal.InventoryVerified, Item: v}); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("Verified of B's object in A: %v, want ENOTFOUND", err)
	}
	if got, _ := f.GetItem(f.ctx, tenantB, onlyB.ObjectID); got.State != portal.StateUnverified {
		t.Errorf("B's row changed through A: %+v", got)
	}

	// The audit log, per tenant.
	for _, filter := range []portal.AuditFilter{
		{TenantID: tenantA},
		{TenantID: tenantA, ObjectID: onlyB.ObjectID},
		{TenantID: tenantA, Actor: "carol"},
		{TenantID: tenantA, Actor: carol.ObjectID.String()},
	} {
		page, err := f.ListAudit(f.ctx, filter)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page.Events {
			if ev.TenantID != tenantA {
				t.Errorf("ListAudit(%+v) shows a row of tenant %s", filter, ev.TenantID)
			}
		}
	}
	if page, _ := f.ListAudit(f.ctx, portal.AuditFilter{TenantID: tenantA}); page.Matched != 2 {
		t.Errorf("ListAudit(A) matched %d, want 2", page.Matched)
	}
	if page, _ := f.ListAudit(f.ctx, portal.AuditFilter{TenantID: tenantA, Actor: "carol"}); page.Matched != 0 {
		t.Errorf("ListAudit(A, actor of B) matched %d", page.Matched)
	}
	if rows := f.walk(t, tenantA); len(rows) != 2 || rows[0].TenantID != tenantA || rows[1].TenantID != tenantA {
		t.Errorf("WalkAudit(A) = %d rows", len(rows))
	}
}

func sameOrder(t *testing.T, name string, got, want []portal.InventoryItem) bool {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rows, want %d", name, len(got), len(want))
		return false
	}
	for i := range got {
		if got[i].ObjectID != want[i].ObjectID {
			t.Errorf("%s: row %d is %q (%s), want %q (%s)", name, i, got[i].Label, got[i].ObjectID, want[i].Label, want[i].ObjectID)
			return false
		}
	}
	return true
}

func testAllItems(t *testing.T, f *fixture) {
	var want []portal.InventoryItem
	for i := range 7 {
		a := userItem(tenantA, fmt.Sprint("a", i), fmt.Sprint("A", i), "desktop")
		b := resourceItem(tenantB, fmt.Sprint("b", i), fmt.Sprint("B", i))
		f.put(t, a, b)
		want = append(want, a, b)
	}
	byKey := func(a, b portal.InventoryItem) int {
		return cmp.Or(strings.Compare(a.TenantID.String(), b.TenantID.String()), strings.Compare(a.ObjectID.String(), b.ObjectID.String()))
	}
	slices.SortFunc(want, byKey)

	collect := func(tenant portal.GUID) []portal.InventoryItem {
		var got []portal.InventoryItem
		if err := f.AllItems(f.ctx, tenant, func(it portal.InventoryItem) error {
			got = append(got, it)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	all := collect(portal.GUID{})
	if sameOrder(t, "AllItems(every tenant)", all, want) {
		for i := range all {
			w := want[i]
			w.Version = 1
			w.ClientIDs = portal.NormalizeClientIDs(w.ClientIDs)
			sameItem(t, "AllItems row", all[i], w)
		}
	}
	var onlyB []portal.InventoryItem
	for _, it := range want {
		if it.TenantID == tenantB {
			onlyB = append(onlyB, it)
		}
	}
	sameOrder(t, "AllItems(B)", collect(tenantB), onlyB)

	stop := errors.New("enough")
	calls := 0
	err := f.AllItems(f.ctx, tenantA, func(portal.InventoryItem) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("AllItems with fn failing: %v after %d calls; want fn's error after 1", err, calls)
	}
}

func testInventoryChanges(t *testing.T, f *fixture) {
	changes := func(tenant portal.GUID, after int64) ([]string, int64) {
		t.Helper()
		changed, _, head, err := f.InventoryChanges(f.ctx, tenant, after)
		if err != nil {
			t.Fatalf("InventoryChanges: %v", err)
		}
		var out []string
		for _, g := range changed {
			out = append(out, g.String())
		}
		return out, head
	}
	if changed, head := changes(tenantA, 0); len(changed) != 0 || head != 0 {
		t.Fatalf("empty log: %q, head %d", changed, head)
	}
	x, y := userItem(tenantA, "x", "x", "desktop"), userItem(tenantA, "y", "y", "desktop")
	f.put(t, x, y)
	f.put(t, userItem(tenantB, "z", "z", "desktop"))
	// A row of tenant A naming no object moves A's head, and names nothing.
	signIn, err := f.AppendAudit(f.ctx, portal.AuditEvent{Time: t0, Actor: alice, TenantID: tenantA, Action: portal.ActionSignIn, Phase: portal.PhaseEvent})
	if err != nil {
		t.Fatal(err)
	}
	changed, head := changes(tenantA, 0)
	if !sameSet(changed, []string{x.ObjectID.String(), y.ObjectID.String()}) || head != signIn.Seq {
		t.Errorf("tenant A from the start: %q, head %d; want x and y, head %d", changed, head, signIn.Seq)
	}
	if changed, again := changes(tenantA, head); len(changed) != 0 || again != head {
		t.Errorf("nothing new: %q, head %d; want none, head %d", changed, again, head)
	}
	ev, _ := f.commit(t, portal.InventoryPut, x)
	if changed, next := changes(tenantA, head); !sameSet(changed, []string{x.ObjectID.String()}) || next != ev.Seq {
		t.Errorf("after editing x: %q, head %d; want x, head %d", changed, next, ev.Seq)
	}
	if changed, headB := changes(tenantB, 0); !sameSet(changed, []string{id("z").String()}) || headB != 3 {
		t.Errorf("tenant B: %q, head %d; want z, head 3", changed, headB)
	}
	// A refusal naming x changes nothing; a reconcile summary asks for a
	// reload.
	h := auditHead(t, f)
	if _, err := f.AppendAudit(f.ctx, portal.AuditEvent{Time: t0, Actor: alice, TenantID: tenantA, ObjectID: x.ObjectID, Action: portal.ActionDenied, Phase: portal.PhaseEvent}); err != nil {
		t.Fatal(err)
	}
	if changed, reload, _, _ := f.InventoryChanges(f.ctx, tenantA, h); len(changed) != 0 || reload {
		t.Errorf("after a refusal: %v, reload %v", changed, reload)
	}
	if _, err := f.AppendAudit(f.ctx, portal.AuditEvent{Time: t0, Actor: alice, TenantID: tenantA, Action: portal.ActionReconcile, Phase: portal.PhaseEvent}); err != nil {
		t.Fatal(err)
	}
	if _, reload, _, _ := f.InventoryChanges(f.ctx, tenantA, h); !reload {
		t.Error("a reconcile summary does not ask for a reload")
	}
}

// A verification made against an older version is refused, and writes
// nothing, not even its audit row.
func testVerifiedIfVersion(t *testing.T, f *fixture) {
	x := userItem(tenantA, "x", "if-version", "desktop")
	f.put(t, x)
	f.put(t, x) // version 2
	v := x
	v.State, v.VerifiedAt = portal.StateDrifted, t0.Add(time.Hour)
	head := auditHead(t, f)
	_, _, err := f.Commit(f.ctx, eventFor(v, portal.ActionVerify), portal.InventoryChange{Op: portal.InventoryVerified, Item: v, IfVersion: 1})
	if portal.ErrorCode(err) != portal.ECONFLICT {
		t.Fatalf("verified at an old version: %v", err)
	}
	if got, _ := f.GetItem(f.ctx, tenantA, x.ObjectID); got.State != portal.StateUnverified {
		t.Errorf("state changed: %s", got.State)
	}
	if auditHead(t, f) != head {
		t.Error("an audit row was written")
	}
	if _, got, err := f.Commit(f.ctx, eventFor(v, portal.ActionVerify), portal.InventoryChange{Op: portal.InventoryVerified, Item: v, IfVersion: 2}); err != nil || got.State != portal.StateDrifted {
		t.Errorf("verified at the current version: %+v, %v", got, err)
	}
	gone := userItem(tenantA, "gone", "never there")
	if _, _, err := f.Commit(f.ctx, eventFor(gone, portal.ActionVerify), portal.InventoryChange{Op: portal.InventoryVerified, Item: gone, IfVersion: 1}); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("verified a missing row: %v", err)
	}
}

// TouchVerified moves verification times of rows still at the given
// versions, and nothing else.
func testTouchVerified(t *testing.T, f *fixture) {
	x, y := userItem(tenantA, "x", "touch x", "desktop"), userItem(tenantA, "y", "touch y", "desktop")
	f.put(t, x, y)
	f.put(t, y) // y at version 2
	head := auditHead(t, f)
	at := t0.Add(5 * time.Hour)
	err := f.TouchVerified(f.ctx, tenantA, map[portal.GUID]int64{x.ObjectID: 1, y.ObjectID: 1, id("missing"): 1}, at)
	if err != nil {
		t.Fatal(err)
	}
	gx, _ := f.GetItem(f.ctx, tenantA, x.ObjectID)
	gy, _ := f.GetItem(f.ctx, tenantA, y.ObjectID)
	if !gx.VerifiedAt.Equal(at) || gx.Version != 1 {
		t.Errorf("x: verified %v, version %d", gx.VerifiedAt, gx.Version)
	}
	if gy.VerifiedAt.Equal(at) {
		t.Error("y, changed since, was touched")
	}
	if auditHead(t, f) != head {
		t.Error("TouchVerified wrote an audit row")
	}
	// Another tenant's row of the same object is not touched.
	z := userItem(tenantB, "x", "other tenant", "desktop")
	f.put(t, z)
	if err := f.TouchVerified(f.ctx, tenantA, map[portal.GUID]int64{x.ObjectID: 1}, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if gz, _ := f.GetItem(f.ctx, tenantB, z.ObjectID); !gz.VerifiedAt.IsZero() {
		t.Error("another tenant's row was touched")
	}
}

func auditHead(t *testing.T, f *fixture) int64 {
	t.Helper()
	var head int64
	if err := f.WalkAudit(f.ctx, portal.GUID{}, func(e portal.AuditEvent) error { head = e.Seq; return nil }); err != nil {
		t.Fatal(err)
	}
	return head
}

// Expiry is stored with the row, and ExpiringItems finds what has ended,
// of every tenant, earliest first.
func testExpiringItems(t *testing.T, f *fixture) {
	a, b, c := userItem(tenantA, "a", "ends first", "desktop"), userItem(tenantB, "b", "ends second", "desktop"), userItem(tenantA, "c", "never", "desktop")
	a.ExpiresAt, b.ExpiresAt = t0.Add(time.Hour), t0.Add(2*time.Hour)
	f.put(t, b, a, c)
	got, _ := f.GetItem(f.ctx, tenantA, a.ObjectID)
	if !got.ExpiresAt.Equal(a.ExpiresAt) {
		t.Errorf("ExpiresAt read back as %v", got.ExpiresAt)
	}
	for _, tc := range []struct {
		at   time.Time
		want []portal.GUID
	}{
		{t0, nil},
		{t0.Add(time.Hour), []portal.GUID{a.ObjectID}},
		{t0.Add(3 * time.Hour), []portal.GUID{a.ObjectID, b.ObjectID}},
	} {
		items, err := f.ExpiringItems(f.ctx, tc.at, 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []portal.GUID
		for _, it := range items {
			ids = append(ids, it.ObjectID)
		}
		if len(ids) != len(tc.want) || len(ids) > 0 && ids[0] != tc.want[0] {
			t.Errorf("ExpiringItems(%v) = %v, want %v", tc.at, ids, tc.want)
		}
	}
	// Clearing the expiry on a later Put.
	a.ExpiresAt = time.Time{}
	f.put(t, a)
	if items, _ := f.ExpiringItems(f.ctx, t0.Add(3*time.Hour), 10); len(items) != 1 {
		t.Errorf("after clearing: %d expiring", len(items))
	}
}

func testGetItems(t *testing.T, f *fixture) {
	_, a1 := f.commit(t, portal.InventoryPut, userItem(tenantA, "a1", "Ana", "desktop", "mobile"))
	_, a2 := f.commit(t, portal.InventoryPut, resourceItem(tenantA, "a2", "London desk"))
	_, b1 := f.commit(t, portal.InventoryPut, userItem(tenantB, "b1", "Other tenant", "desktop"))
	getItems := func(tenant portal.GUID, ids []portal.GUID) map[portal.GUID]portal.InventoryItem {
		t.Helper()
		got, err := f.GetItems(f.ctx, tenant, ids)
		if err != nil {
			t.Fatalf("GetItems: %v", err)
		}
		if got == nil {
			t.Fatalf("GetItems(%d IDs) returned a nil map", len(ids))
		}
		return got
	}
	same := func(what string, got map[portal.GUID]portal.InventoryItem, want ...portal.InventoryItem) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: %d rows, want %d: %v", what, len(got), len(want), got)
		}
		for _, w := range want {
			if g, ok := got[w.ObjectID]; !ok {
				t.Errorf("%s: no row for %s", what, w.Label)
			} else {
				sameItem(t, what, g, w)
			}
		}
	}

	// Present, missing, another tenant's and a duplicate, in one call.
	same("GetItems(A)", getItems(tenantA, []portal.GUID{a2.ObjectID, id("never granted"), b1.ObjectID, a1.ObjectID, a2.ObjectID}), a1, a2)
	same("GetItems(B)", getItems(tenantB, []portal.GUID{a1.ObjectID, b1.ObjectID}), b1)
	same("GetItems(no IDs)", getItems(tenantA, nil))
	same("GetItems(an empty list)", getItems(tenantA, []portal.GUID{}))

	// A revoked row is gone; a changed one comes back as it is now.
	f.commit(t, portal.InventoryDelete, a2)
	a1.Label = "Ana Lima"
	_, a1 = f.commit(t, portal.InventoryPut, a1)
	same("GetItems after a revoke and an edit", getItems(tenantA, []portal.GUID{a1.ObjectID, a2.ObjectID}), a1)

	// A cache may ask for every row it holds at once.
	many := []portal.GUID{a1.ObjectID}
	for i := range 10_000 {
		many = append(many, id(fmt.Sprint("missing ", i)))
	}
	many = append(many, b1.ObjectID)
	same("GetItems(10,002 IDs)", getItems(tenantA, many), a1)
}
