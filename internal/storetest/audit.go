package storetest

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/teamsphone/portal/internal/portal"
)

// normEvent makes events comparable with reflect.DeepEqual whatever time
// zone a store returns. AuditState.ClientIDs is compared as is: nil and
// empty encode differently, so a store must keep the difference.
func normEvent(ev portal.AuditEvent) portal.AuditEvent {
	ev.Time = ev.Time.UTC()
	return ev
}

func testAuditAppend(t *testing.T, f *fixture) {
	x := userItem(tenantA, "x", "Alice Smith", "desktop", "mobile")
	plus2 := time.FixedZone("UTC+2", 2*60*60)
	events := []portal.AuditEvent{
		{ // an intent: every field a person or ACS could fill
			Time: t0.In(plus2).Add(1234567 * time.Nanosecond), Actor: alice, ClientIP: "2001:db8::1",
			TenantID: tenantA, ObjectID: x.ObjectID, Kind: portal.KindUser,
			Action: portal.ActionGrant, Phase: portal.PhaseIntent, After: portal.StateOf(x.Assignment, x.Label),
			Justification: "ticket 4711", RequestID: "6f0d7d1e-0000-4000-8000-000000000001",
		},
		{ // its outcome, citing it
			Time: t0.Add(2 * time.Second), Actor: alice, ClientIP: "2001:db8::1",
			TenantID: tenantA, ObjectID: x.ObjectID, Kind: portal.KindUser,
			Action: portal.ActionGrant, Phase: portal.PhaseOutcome, IntentSeq: 1,
			Before: &portal.AuditState{Kind: "user", ClientIDs: []string{}}, After: portal.StateOf(x.Assignment, x.Label),
			Justification: "ticket 4711", Outcome: portal.OutcomeSuccess, ACSStatus: 201, ACSCode: "",
			RequestID: "6f0d7d1e-0000-4000-8000-000000000001", CorrelationVector: "cv.1.2", Detail: "Created.",
		},
		{ // a refused sign-in from a tenant the portal does not serve
			Time: t0.Add(3 * time.Second), Actor: portal.Actor{TenantID: tenantB, Name: "mallory@fabrikam.example"},
			ClientIP: "198.51.100.7", Action: portal.ActionSignInFailure, Phase: portal.PhaseEvent,
			Outcome: portal.OutcomeDenied, Detail: "Tenant not allowed.",
		},
		{ // the portal itself, with a nil client-ID list (not an empty one)
			Time: t0.Add(4 * time.Second), Actor: system, TenantID: tenantA, ObjectID: x.ObjectID,
			Kind: portal.KindResourceAccount, Action: portal.ActionVerify, Phase: portal.PhaseEvent,
			Before: &portal.AuditState{Kind: "resourceAccount"}, Outcome: portal.OutcomeFailed,
			ACSStatus: 503, ACSCode: "ServiceUnavailable", Detail: "ACS did not answer.",
		},
	}
	var stored []portal.AuditEvent
	for i, ev := range events {
		got, err := f.AppendAudit(f.ctx, ev)
		if err != nil {
			t.Fatalf("AppendAudit %d: %v", i, err)
		}
		stored = append(stored, got)
	}
	// Commit with InventoryKeep appends to the same chain.
	denied := portal.AuditEvent{Time: t0.Add(5 * time.Second), Actor: bob, TenantID: tenantA,
		Action: portal.ActionDenied, Phase: portal.PhaseEvent, Outcome: portal.OutcomeDenied, Detail: "POST /grant"}
	got, item, err := f.Commit(f.ctx, denied, portal.InventoryChange{Op: portal.InventoryKeep})
	if err != nil || !isZeroItem(item) {
		t.Fatalf("Commit(keep) = %+v, %v", item, err)
	}
	stored, events = append(stored, got), append(events, denied)

	// Each row is numbered among its tenant's rows: tenant A's 1 to 4, and
	// the sign-in of no tenant 1 among those of no tenant.
	tenantSeqs := []int64{1, 2, 1, 3, 4}
	prev := ""
	for i, got := range stored {
		want := events[i]
		want.Seal(int64(i), prev)
		want.TenantSeq = tenantSeqs[i]
		if got.Seq != int64(i+1) || got.PrevHash != prev || got.Hash != want.Hash {
			t.Errorf("row %d as appended: seq %d prev %q hash %q time %v; want seq %d prev %q hash %q", i, got.Seq, got.PrevHash, got.Hash, got.Time, i+1, prev, want.Hash)
		}
		if !reflect.DeepEqual(normEvent(got), normEvent(want)) {
			t.Errorf("row %d as appended:\n got %+v\nwant %+v", i, got, want)
		}
		prev = got.Hash
	}
	// Time is kept to the millisecond, in UTC.
	if first := stored[0].Time; !first.Equal(t0.Add(time.Millisecond)) || first.Location() != time.UTC {
		t.Errorf("time as appended: %v, want %v", first, t0.Add(time.Millisecond))
	}
	walked := f.walk(t, portal.GUID{})
	if len(walked) != len(stored) {
		t.Fatalf("WalkAudit: %d rows, want %d", len(walked), len(stored))
	}
	for i := range walked {
		if !reflect.DeepEqual(normEvent(walked[i]), normEvent(stored[i])) {
			t.Errorf("row %d read back differs from what was appended:\n got %+v\nwant %+v", i+1, walked[i], stored[i])
		}
	}
	c := f.verifyChain(t)
	if c.Rows != 5 || c.HeadSeq != 5 || c.HeadHash != stored[4].Hash {
		t.Errorf("chain: %+v", c)
	}
	// WalkAudit of one tenant skips the others and rows of no tenant.
	if rows := f.walk(t, tenantA); len(rows) != 4 || slices.ContainsFunc(rows, func(ev portal.AuditEvent) bool { return ev.TenantID != tenantA }) {
		t.Errorf("WalkAudit(A): %d rows", len(rows))
	}
	// An event of no known kind cannot be encoded, so it is refused.
	if _, err := f.AppendAudit(f.ctx, portal.AuditEvent{Time: t0, Kind: 9, Action: portal.ActionVerify}); portal.ErrorCode(err) != portal.EINVALID {
		t.Errorf("AppendAudit with kind 9: %v, want EINVALID", err)
	}
	if c := f.verifyChain(t); c.Rows != 5 {
		t.Errorf("a refused append added a row: %d rows", c.Rows)
	}
}

// hostile are texts people can type into a justification or a label.
var hostile = []string{
	"<script>alert(1)</script>",
	`"><img src=x onerror=alert(1)>`,
	`<div hx-get="/admin" hx-trigger="load">`,
	"javascript:alert(1)",
	"line one\r\nline two",
	"O'Brien'); DROP TABLE audit_log; --",
	`100% \_ under_score`,
	"emoji 🎉 and ZWJ 👩‍👩‍👧",
	"e\u0301 (NFD) vs \u00e9 (NFC)",
	"\u202eRTL override",
	"bad UTF-8 \xff\xfe\xc3",
	"=cmd|' /C calc'!A0",
}

// testAuditHostileText: whatever the text, the row reads back exactly as
// AppendAudit returned it, so it hashes as written. Valid UTF-8 is kept as
// typed; invalid UTF-8 is replaced (JSON and PostgreSQL text cannot hold
// it), before the row is sealed.
func testAuditHostileText(t *testing.T, f *fixture) {
	var stored []portal.AuditEvent
	for i, s := range hostile {
		ev := portal.AuditEvent{
			Time: t0.Add(time.Duration(i) * time.Second), Actor: portal.Actor{TenantID: tenantA, ObjectID: alice.ObjectID, Name: s},
			ClientIP: s, TenantID: tenantA, ObjectID: id("x"), Kind: portal.KindUser, Action: portal.ActionEdit,
			Phase: portal.PhaseOutcome, Before: &portal.AuditState{Kind: "user", ClientIDs: []string{id("desktop").String()}, Label: s},
			Justification: s, Outcome: portal.OutcomeConflict, ACSCode: s, RequestID: s, CorrelationVector: s, Detail: s,
		}
		got, err := f.AppendAudit(f.ctx, ev)
		if err != nil {
			t.Fatalf("AppendAudit(%q): %v", s, err)
		}
		stored = append(stored, got)
	}
	walked := f.walk(t, portal.GUID{})
	if len(walked) != len(hostile) {
		t.Fatalf("%d rows, want %d", len(walked), len(hostile))
	}
	for i, s := range hostile {
		if !reflect.DeepEqual(normEvent(walked[i]), normEvent(stored[i])) {
			t.Errorf("%q did not read back as appended:\n got %s\nwant %s", s, walked[i].Canonical(), stored[i].Canonical())
		}
		if st := stored[i]; utf8.ValidString(s) && (st.Justification != s || st.Actor.Name != s || st.Before.Label != s || st.Detail != s) {
			t.Errorf("%q was stored as %q", s, st.Justification)
		}
		if st := stored[i]; !utf8.ValidString(st.Justification) || !utf8.ValidString(st.Before.Label) {
			t.Errorf("%q was stored as invalid UTF-8", s)
		}
	}
	f.verifyChain(t)
	// And the actor filter takes the same texts without error.
	for _, s := range hostile {
		page, err := f.ListAudit(f.ctx, portal.AuditFilter{TenantID: tenantA, Actor: s})
		if err != nil {
			t.Errorf("ListAudit(actor %q): %v", s, err)
		} else if utf8.ValidString(s) && page.Matched < 1 {
			t.Errorf("ListAudit(actor %q) found no row of that actor", s)
		}
	}
}

// testAuditConcurrentAppends: 16 writers × 50 appends, through both
// AppendAudit and Commit, give one chain with Seq 1…800.
func testAuditConcurrent(t *testing.T, f *fixture) {
	const writers, each = 16, 50
	var wg sync.WaitGroup
	seqs := make([][]int64, writers)
	for w := range writers {
		wg.Go(func() {
			row := userItem(tenantA, fmt.Sprint("writer", w), fmt.Sprint("writer ", w), "desktop")
			for i := range each {
				ev := portal.AuditEvent{Time: t0.Add(time.Duration(i) * time.Millisecond), Actor: alice, TenantID: tenantA,
					ObjectID: row.ObjectID, Action: portal.ActionVerify, Phase: portal.PhaseEvent,
					Outcome: portal.OutcomeSuccess, Detail: fmt.Sprintf("writer %d row %d", w, i)}
				var got portal.AuditEvent
				var err error
				if w%4 == 0 { // some writers also change the inventory
					row.Label = fmt.Sprintf("writer %d edit %d", w, i)
					got, _, err = f.Commit(f.ctx, ev, portal.InventoryChange{Op: portal.InventoryPut, Item: row})
				} else {
					got, err = f.AppendAudit(f.ctx, ev)
				}
				if err != nil {
					t.Errorf("writer %d append %d: %v", w, i, err)
					return
				}
				seqs[w] = append(seqs[w], got.Seq)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	var all []int64
	for w, s := range seqs {
		if !slices.IsSorted(s) {
			t.Errorf("writer %d saw its own appends out of order: %v", w, s)
		}
		all = append(all, s...)
	}
	slices.Sort(all)
	for i, s := range all {
		if s != int64(i+1) {
			t.Fatalf("appends were given seqs %v…: want each of 1…%d once", all[max(0, i-2):min(len(all), i+3)], writers*each)
		}
	}
	c := f.verifyChain(t)
	if c.Rows != writers*each || c.HeadSeq != writers*each {
		t.Errorf("chain of %d rows, head %d; want %d", c.Rows, c.HeadSeq, writers*each)
	}
	for w := 0; w < writers; w += 4 {
		it, err := f.GetItem(f.ctx, tenantA, id(fmt.Sprint("writer", w)))
		if err != nil || it.Version != each {
			t.Errorf("writer %d's row: version %d, %v; want %d", w, it.Version, err, each)
		}
	}
}

func testListAudit(t *testing.T, f *fixture) {
	aerin := portal.Actor{TenantID: tenantA, ObjectID: id("aerin"), Name: "Ærin Ødegaard"}
	mallory := portal.Actor{TenantID: tenantB, Name: "mallory@fabrikam.example"}
	x, y, z := id("x"), id("y"), id("z")
	ev := func(detail string, min int, by portal.Actor, tenant, object portal.GUID, a portal.AuditAction, o portal.AuditOutcome) portal.AuditEvent {
		return portal.AuditEvent{Time: t0.Add(time.Duration(min) * time.Minute), Actor: by, TenantID: tenant, ObjectID: object,
			Action: a, Phase: portal.PhaseEvent, Outcome: o, Detail: detail}
	}
	for _, e := range []portal.AuditEvent{
		ev("e1", 0, alice, tenantA, x, portal.ActionGrant, portal.OutcomeSuccess),
		ev("e2", 1, bob, tenantA, y, portal.ActionEdit, portal.OutcomeFailed),
		ev("e3", 2, carol, tenantB, x, portal.ActionRevoke, portal.OutcomeSuccess),
		ev("e4", 3, alice, tenantA, y, portal.ActionRevoke, portal.OutcomeSuccess),
		ev("e5", 4, mallory, portal.GUID{}, portal.GUID{}, portal.ActionSignInFailure, portal.OutcomeDenied),
		ev("e6", 5, aerin, tenantA, portal.GUID{}, portal.ActionSignIn, portal.OutcomeSuccess),
		ev("e7", 6, alice, tenantA, z, portal.ActionGrant, portal.OutcomePending),
	} {
		if _, err := f.AppendAudit(f.ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	aliceID := alice.ObjectID.String()
	for _, tc := range []struct {
		name   string
		filter portal.AuditFilter
		want   string // details, newest first
	}{
		{"tenant, newest first", portal.AuditFilter{TenantID: tenantA}, "e7 e6 e4 e2 e1"},
		{"every tenant", portal.AuditFilter{}, "e7 e6 e5 e4 e3 e2 e1"},
		{"other tenant", portal.AuditFilter{TenantID: tenantB}, "e3"},
		{"actor name, any case", portal.AuditFilter{TenantID: tenantA, Actor: "ALICE"}, "e7 e4 e1"},
		{"actor name, second word", portal.AuditFilter{TenantID: tenantA, Actor: "admin"}, "e7 e4 e1"},
		{"actor name beyond ASCII", portal.AuditFilter{TenantID: tenantA, Actor: "ØDEGAARD"}, "e6"},
		{"actor object ID fragment", portal.AuditFilter{TenantID: tenantA, Actor: strings.ToUpper(aliceID[:13])}, "e7 e4 e1"},
		{"actor object ID, braces", portal.AuditFilter{TenantID: tenantA, Actor: "{" + strings.ToUpper(aliceID) + "}"}, "e7 e4 e1"},
		{"actor wildcard is literal", portal.AuditFilter{TenantID: tenantA, Actor: "%"}, ""},
		{"actor of another tenant", portal.AuditFilter{TenantID: tenantA, Actor: "carol"}, ""},
		{"actor across tenants", portal.AuditFilter{Actor: "mallory"}, "e5"},
		{"object", portal.AuditFilter{TenantID: tenantA, ObjectID: y}, "e4 e2"},
		{"object of another tenant's row", portal.AuditFilter{TenantID: tenantB, ObjectID: x}, "e3"},
		{"action", portal.AuditFilter{TenantID: tenantA, Action: portal.ActionRevoke}, "e4"},
		{"action across tenants", portal.AuditFilter{Action: portal.ActionSignInFailure}, "e5"},
		{"outcome", portal.AuditFilter{TenantID: tenantA, Outcome: portal.OutcomeFailed}, "e2"},
		{"action and outcome", portal.AuditFilter{TenantID: tenantA, Action: portal.ActionGrant, Outcome: portal.OutcomeSuccess}, "e1"},
		{"from inclusive, to exclusive", portal.AuditFilter{TenantID: tenantA, From: t0.Add(time.Minute), To: t0.Add(3 * time.Minute)}, "e2"},
		{"from only", portal.AuditFilter{TenantID: tenantA, From: t0.Add(3 * time.Minute)}, "e7 e6 e4"},
		{"to only", portal.AuditFilter{TenantID: tenantA, To: t0.Add(time.Minute)}, "e1"},
		{"from within a millisecond", portal.AuditFilter{TenantID: tenantA, From: t0.Add(500 * time.Microsecond)}, "e7 e6 e4 e2"},
		{"to within a millisecond", portal.AuditFilter{TenantID: tenantA, To: t0.Add(500 * time.Microsecond)}, "e1"},
		{"from in another zone", portal.AuditFilter{TenantID: tenantA, From: t0.Add(5 * time.Minute).In(time.FixedZone("UTC-5", -5*60*60))}, "e7 e6"},
		{"everything", portal.AuditFilter{TenantID: tenantA, Actor: "alice", ObjectID: y, Action: portal.ActionRevoke,
			Outcome: portal.OutcomeSuccess, From: t0, To: t0.Add(time.Hour)}, "e4"},
		{"page", portal.AuditFilter{TenantID: tenantA, Limit: 2}, "e7 e6"},
		{"next page", portal.AuditFilter{TenantID: tenantA, Offset: 2, Limit: 2}, "e4 e2"},
		{"last page", portal.AuditFilter{TenantID: tenantA, Offset: 4, Limit: 2}, "e1"},
		{"past the end", portal.AuditFilter{TenantID: tenantA, Offset: 5, Limit: 2}, ""},
	} {
		page, err := f.ListAudit(f.ctx, tc.filter)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var got []string
		for _, e := range page.Events {
			got = append(got, e.Detail)
		}
		matched := len(strings.Fields(tc.want))
		if tc.filter.Limit != 0 || tc.filter.Offset != 0 {
			matched = 5 // the paged cases all list tenant A
		}
		if strings.Join(got, " ") != tc.want || page.Matched != matched || page.Rows != matched {
			t.Errorf("%s: %q (matched %d, rows %d); want %q (matched %d)", tc.name, strings.Join(got, " "), page.Matched, page.Rows, tc.want, matched)
		}
		// An export of the filter holds every row it matches, oldest first.
		if tc.filter.Limit == 0 && tc.filter.Offset == 0 {
			walked := walkMatching(t, f, tc.filter)
			slices.Reverse(walked)
			if strings.Join(walked, " ") != tc.want {
				t.Errorf("%s: WalkAuditMatching gives %q, want %q", tc.name, walked, tc.want)
			}
		}
	}

	// The default page is 50 rows.
	for i := range 55 {
		if _, err := f.AppendAudit(f.ctx, ev(fmt.Sprint("more ", i), 10+i, bob, tenantA, x, portal.ActionVerify, portal.OutcomeSuccess)); err != nil {
			t.Fatal(err)
		}
	}
	page, err := f.ListAudit(f.ctx, portal.AuditFilter{TenantID: tenantA})
	if err != nil || len(page.Events) != 50 || page.Matched != 60 || page.Events[0].Detail != "more 54" {
		t.Errorf("default page: %d rows of %d (first %v), %v", len(page.Events), page.Matched, page.Events[0].Detail, err)
	}
	for i := 1; i < len(page.Events); i++ {
		if page.Events[i].Seq >= page.Events[i-1].Seq {
			t.Fatalf("not newest first: seq %d after %d", page.Events[i].Seq, page.Events[i-1].Seq)
		}
	}
}

// walkMatching is the details of the rows WalkAuditMatching gives for f,
// in its order.
func walkMatching(t *testing.T, f *fixture, filter portal.AuditFilter) []string {
	t.Helper()
	var got []string
	if err := f.WalkAuditMatching(f.ctx, filter, func(e portal.AuditEvent) error {
		got = append(got, e.Detail)
		return nil
	}); err != nil {
		t.Fatalf("WalkAuditMatching(%+v): %v", filter, err)
	}
	return got
}

// testListAuditOnePerChange: a page of one row per change leaves out the
// intents an outcome cites, and reads those intents with the page; an
// intent no outcome cites stays. Rows counts what an export of the same
// filter holds, intents included, and the export holds them.
func testListAuditOnePerChange(t *testing.T, f *fixture) {
	x, y := id("x"), id("y")
	at := 0
	appendRow := func(detail string, tenant, object portal.GUID, a portal.AuditAction, phase portal.AuditPhase, intent int64, o portal.AuditOutcome) int64 {
		at++
		ev, err := f.AppendAudit(f.ctx, portal.AuditEvent{Time: t0.Add(time.Duration(at) * time.Minute), Actor: alice, TenantID: tenant, ObjectID: object,
			Kind: portal.KindUser, Action: a, Phase: phase, IntentSeq: intent, Outcome: o, Detail: detail})
		if err != nil {
			t.Fatal(err)
		}
		return ev.Seq
	}
	i1 := appendRow("i1", tenantA, x, portal.ActionEdit, portal.PhaseIntent, 0, portal.OutcomePending)
	appendRow("o1", tenantA, x, portal.ActionEdit, portal.PhaseOutcome, i1, portal.OutcomeSuccess)
	appendRow("i2", tenantA, y, portal.ActionRevoke, portal.PhaseIntent, 0, portal.OutcomePending) // never finished
	appendRow("e3", tenantA, portal.GUID{}, portal.ActionSignIn, portal.PhaseEvent, 0, portal.OutcomeSuccess)
	i4 := appendRow("i4", tenantB, x, portal.ActionEdit, portal.PhaseIntent, 0, portal.OutcomePending)
	appendRow("o4", tenantB, x, portal.ActionEdit, portal.PhaseOutcome, i4, portal.OutcomeSuccess)
	i5 := appendRow("i5", tenantA, x, portal.ActionEdit, portal.PhaseIntent, 0, portal.OutcomePending)
	appendRow("o5", tenantA, x, portal.ActionEdit, portal.PhaseOutcome, i5, portal.OutcomeFailed)

	for _, tc := range []struct {
		name    string
		filter  portal.AuditFilter
		want    string // details, newest first
		rows    int
		intents string // details of the intents read with the page, by Seq
		export  string // details of WalkAuditMatching's rows
	}{
		{"tenant", portal.AuditFilter{TenantID: tenantA}, "o5 e3 i2 o1", 6, "i1 i5", "i1 o1 i2 e3 i5 o5"},
		{"first page", portal.AuditFilter{TenantID: tenantA, Limit: 2}, "o5 e3", 6, "i5", ""},
		{"second page", portal.AuditFilter{TenantID: tenantA, Limit: 2, Offset: 2}, "i2 o1", 6, "i1", ""},
		{"object", portal.AuditFilter{TenantID: tenantA, ObjectID: x}, "o5 o1", 4, "i1 i5", "i1 o1 i5 o5"},
		{"outcome", portal.AuditFilter{TenantID: tenantA, Outcome: portal.OutcomeSuccess}, "e3 o1", 2, "i1", "o1 e3"},
		{"other tenant", portal.AuditFilter{TenantID: tenantB}, "o4", 2, "i4", "i4 o4"},
		{"every tenant", portal.AuditFilter{}, "o5 o4 e3 i2 o1", 8, "i1 i4 i5", "i1 o1 i2 e3 i4 o4 i5 o5"},
	} {
		tc.filter.OnePerChange = true
		page, err := f.ListAudit(f.ctx, tc.filter)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var got, intents []string
		for _, e := range page.Events {
			got = append(got, e.Detail)
		}
		seqs := slices.Sorted(maps.Keys(page.Intents))
		for _, seq := range seqs {
			intents = append(intents, page.Intents[seq].Detail)
			if page.Intents[seq].Seq != seq || page.Intents[seq].Phase != portal.PhaseIntent {
				t.Errorf("%s: intent %d is %+v", tc.name, seq, page.Intents[seq])
			}
		}
		matched := len(strings.Fields(tc.want))
		if tc.filter.Limit != 0 {
			matched = 4
		}
		if strings.Join(got, " ") != tc.want || page.Matched != matched || page.Rows != tc.rows || strings.Join(intents, " ") != tc.intents {
			t.Errorf("%s: %q with intents %q (matched %d, rows %d); want %q with %q (matched %d, rows %d)",
				tc.name, got, intents, page.Matched, page.Rows, tc.want, tc.intents, matched, tc.rows)
		}
		if tc.export != "" {
			if walked := walkMatching(t, f, tc.filter); strings.Join(walked, " ") != tc.export || len(walked) != tc.rows {
				t.Errorf("%s: the export holds %q, want %q", tc.name, walked, tc.export)
			}
		}
	}
	// Without it, every row, and no intents read.
	page, err := f.ListAudit(f.ctx, portal.AuditFilter{TenantID: tenantA})
	if err != nil || page.Matched != 6 || page.Rows != 6 || page.Intents != nil {
		t.Errorf("every row: matched %d, rows %d, intents %v, %v", page.Matched, page.Rows, page.Intents, err)
	}
	// Display only: the chain is as it was.
	if c := f.verifyChain(t); c.Rows != 8 {
		t.Errorf("chain of %d rows, want 8", c.Rows)
	}
}
