package storetest

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// AnchoredLog is an audit log with its checkpoints: what verify reads.
type AnchoredLog interface {
	portal.AuditLog
	portal.AuditCheckpoints
}

// NewSigner returns a checkpoint signer with a fresh key.
func NewSigner(t testing.TB) portal.CheckpointSigner {
	s, _ := NewKey(t)
	return s
}

// NewKey returns a fresh checkpoint key as a signer and as its PEM file
// holds it.
func NewKey(t testing.TB) (portal.CheckpointSigner, []byte) {
	t.Helper()
	key, err := portal.NewCheckpointKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := portal.ParseCheckpointSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	return s, key
}

// Sign signs the head as the checkpoint job does when one is due by
// policy, and returns what was appended.
func Sign(t testing.TB, log portal.AuditCheckpoints, signer portal.CheckpointSigner, policy portal.CheckpointPolicy, now time.Time) (portal.AuditCheckpoint, bool) {
	t.Helper()
	c, ok, err := log.CheckpointAudit(context.Background(), func(a portal.AuditAnchor) (portal.AuditCheckpoint, bool, error) {
		c, due := policy.Next(a, now)
		if !due {
			return c, false, nil
		}
		return signer.Sign(c), true, nil
	})
	if err != nil {
		t.Fatalf("CheckpointAudit: %v", err)
	}
	return c, ok
}

// everyRow makes a checkpoint due whenever a row was appended.
var everyRow = portal.CheckpointPolicy{Rows: 1, Every: time.Hour}

// Anchor checks log as `portal audit verify` does: every checkpoint with
// keys, then every row, then the end.
func Anchor(t testing.TB, log AnchoredLog, keys portal.CheckpointKeys, expect *portal.AuditHead) portal.AnchorCheck {
	t.Helper()
	a := portal.AnchorCheck{Keys: keys, Expect: expect}
	ctx := context.Background()
	if err := log.WalkCheckpoints(ctx, func(c portal.AuditCheckpoint) error { a.Checkpoint(c); return nil }); err != nil {
		t.Fatalf("WalkCheckpoints: %v", err)
	}
	if err := log.WalkAudit(ctx, portal.GUID{}, func(e portal.AuditEvent) error { a.Check(e); return nil }); err != nil {
		t.Fatalf("WalkAudit: %v", err)
	}
	a.Finish()
	return a
}

// testCheckpoints: checkpoints are appended numbered after the newest,
// anchoring the head, read back whole; one that does not follow, or
// anchors something else, is refused.
func testCheckpoints(t *testing.T, f *fixture) {
	signer := NewSigner(t)
	if a, err := f.AuditAnchor(f.ctx); err != nil || !reflect.DeepEqual(a, portal.AuditAnchor{}) {
		t.Fatalf("anchor of an empty log: %+v, %v", a, err)
	}
	if _, ok := Sign(t, f, signer, everyRow, t0); ok {
		t.Error("an empty log was signed")
	}
	AppendRows(t, f, 3)
	first, ok := Sign(t, f, signer, everyRow, t0.Add(time.Minute))
	if !ok || first.Number != 1 || first.Seq != 3 {
		t.Fatalf("first checkpoint: %+v %v", first, ok)
	}
	if _, ok := Sign(t, f, signer, everyRow, t0.Add(2*time.Minute)); ok {
		t.Error("a head already anchored was signed again")
	}
	AppendRows(t, f, 2)
	a, err := f.AuditAnchor(f.ctx)
	if err != nil || a.Head.Seq != 5 || a.Newest.Number != 1 || a.NewestRowHash != first.Hash || a.Tampered() != "" {
		t.Fatalf("anchor: %+v, %v", a, err)
	}
	if !a.Newest.Time.Equal(first.Time) || !reflect.DeepEqual(a.Newest.Signature, first.Signature) || a.Newest.KeyID != signer.KeyID() {
		t.Errorf("checkpoint read back: %+v, want %+v", a.Newest, first)
	}
	for name, bad := range map[string]func(portal.AuditCheckpoint) portal.AuditCheckpoint{
		"a number already taken": func(c portal.AuditCheckpoint) portal.AuditCheckpoint { c.Number--; return c },
		"a number skipped":       func(c portal.AuditCheckpoint) portal.AuditCheckpoint { c.Number++; return c },
		"a row not the head":     func(c portal.AuditCheckpoint) portal.AuditCheckpoint { c.Seq--; return c },
		"another hash":           func(c portal.AuditCheckpoint) portal.AuditCheckpoint { c.Hash = strings.Repeat("0", 64); return c },
		"no signature":           func(c portal.AuditCheckpoint) portal.AuditCheckpoint { c.Signature = nil; return c },
	} {
		_, ok, err := f.CheckpointAudit(f.ctx, func(a portal.AuditAnchor) (portal.AuditCheckpoint, bool, error) {
			c, _ := everyRow.Next(a, t0)
			return bad(signer.Sign(c)), true, nil
		})
		if ok || portal.ErrorCode(err) != portal.EINVALID {
			t.Errorf("%s: appended %v, %v; want EINVALID", name, ok, err)
		}
	}
	second, ok := Sign(t, f, signer, everyRow, t0.Add(3*time.Minute))
	if !ok || second.Number != 2 || second.Seq != 5 {
		t.Fatalf("second checkpoint: %+v %v", second, ok)
	}
	var walked []portal.AuditCheckpoint
	if err := f.WalkCheckpoints(f.ctx, func(c portal.AuditCheckpoint) error { walked = append(walked, c); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(walked) != 2 || walked[0].Number != 1 || walked[1].Number != 2 || walked[1].Hash != second.Hash {
		t.Errorf("WalkCheckpoints: %+v", walked)
	}
	if c := Anchor(t, f, signer.Public(), nil); !c.Intact() || c.Anchor.Number != 2 || c.Unanchored != 0 || c.Checkpoints != 2 {
		t.Errorf("anchored log: %+v", c)
	}
}

// AnchorTampering is a change made behind the store's back to an audit
// log of 10 rows whose rows 4 and 8 were signed (checkpoints 1 and 2):
// SQL in the store's dialect, or SQLFor built from the rows as stored,
// then Then, what an attacker does through the store itself. Expect is a
// head held outside, if any; Problem what verify must say ("" for
// nothing: what the checkpoints cannot show), and Unanchored how many
// rows it then finds after the newest checkpoint (-1: not checked).
type AnchorTampering struct {
	Name       string
	SQL        string
	SQLFor     func(rows []portal.AuditEvent) string
	Then       func(t *testing.T, log AnchoredLog)
	Expect     func(rows []portal.AuditEvent) *portal.AuditHead
	Problem    string
	Unanchored int64
}

// AnchorTamperings are the cases both stores run: each in SQL both
// dialects read.
func AnchorTamperings() []AnchorTampering {
	head8 := func(rows []portal.AuditEvent) *portal.AuditHead {
		h := portal.AuditHead{Seq: 8, Hash: rows[7].Hash}
		return &h
	}
	return []AnchorTampering{
		{Name: "untouched", Unanchored: 2},
		{Name: "newest rows deleted below a checkpoint", SQL: `DELETE FROM audit_log WHERE seq > 6`,
			Problem: "checkpoint 2 signed head row 8 hash %s; the log ends at row 6: 2 rows missing", Unanchored: -1},
		{Name: "newest rows replaced by rows appended by hand", SQL: `DELETE FROM audit_log WHERE seq > 7`,
			Then: func(t *testing.T, log AnchoredLog) { AppendRows(t, log, 3) },
			// The appended rows chain correctly; row 8 is not the row signed.
			Problem: "checkpoint 2 signed row 8 with hash %s; the log's row 8 has hash", Unanchored: -1},
		{Name: "re-hashed from a middle row", SQLFor: rehashFrom(5),
			Problem: "checkpoint 2 signed row 8 with hash %s; the log's row 8 has hash", Unanchored: -1},
		{Name: "a checkpoint deleted", SQL: `DELETE FROM audit_checkpoints WHERE number = 1`,
			Problem: "checkpoint 1 is missing (deleted): the first the log holds is 2", Unanchored: 2},
		{Name: "a checkpoint moved to another row", SQLFor: func(rows []portal.AuditEvent) string {
			return fmt.Sprintf(`UPDATE audit_checkpoints SET seq = 6, hash = '%s' WHERE number = 2`, rows[5].Hash)
		}, Problem: "checkpoint 2 (row 6) has a bad signature", Unanchored: 6},
		{Name: "a checkpoint signed with another key", Then: func(t *testing.T, log AnchoredLog) {
			Sign(t, log, NewSigner(t), everyRow, T0.Add(time.Hour))
		}, Problem: "checkpoint 3 (row 10) was signed by key", Unanchored: 2},
		// What the database alone cannot show: the newest checkpoint
		// deleted with the rows it anchored. A head held outside can.
		{Name: "newest rows and their checkpoint deleted", SQL: `DELETE FROM audit_checkpoints WHERE number = 2; DELETE FROM audit_log WHERE seq > 6`,
			Unanchored: 2},
		{Name: "newest rows and their checkpoint deleted, head held outside", SQL: `DELETE FROM audit_checkpoints WHERE number = 2; DELETE FROM audit_log WHERE seq > 6`,
			Expect: head8, Problem: "the head held outside is row 8 hash %s; the log ends at row 6: 2 rows missing", Unanchored: 2},
		{Name: "re-hashed, head held outside", SQLFor: rehashFrom(5), Expect: head8,
			Problem: "the head held outside is row 8 with hash %s; the log's row 8 has hash", Unanchored: -1},
		{Name: "head held outside matches", Expect: head8, Unanchored: 2},
	}
}

// rehashFrom rewrites row seq's justification and re-hashes it and every
// row after it, so that the chain follows row to row again.
func rehashFrom(seq int64) func(rows []portal.AuditEvent) string {
	return func(rows []portal.AuditEvent) string {
		var sql []string
		prev := rows[seq-2].Hash
		for _, e := range rows[seq-1:] {
			if e.Seq == seq {
				e.Justification = "nothing to see"
			}
			e.PrevHash, e.Hash = prev, e.ComputeHash(prev)
			sql = append(sql, fmt.Sprintf(`UPDATE audit_log SET justification = '%s', prev_hash = '%s', hash = '%s' WHERE seq = %d`,
				e.Justification, e.PrevHash, e.Hash, e.Seq))
			prev = e.Hash
		}
		return strings.Join(sql, "; ")
	}
}

// RunAnchorTampering runs each case on a fresh log (see AnchorTampering),
// with tamper applying SQL as an owner who switched the log's guards off,
// and checks what verify reports.
func RunAnchorTampering(t *testing.T, cases []AnchorTampering, open func(t *testing.T) (log AnchoredLog, tamper func(sql string) error)) {
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			log, tamper := open(t)
			signer := NewSigner(t)
			AppendRows(t, log, 4)
			Sign(t, log, signer, everyRow, T0.Add(time.Minute))
			AppendRows(t, log, 4)
			Sign(t, log, signer, everyRow, T0.Add(2*time.Minute))
			AppendRows(t, log, 2)
			var rows []portal.AuditEvent
			if err := log.WalkAudit(context.Background(), portal.GUID{}, func(e portal.AuditEvent) error { rows = append(rows, e); return nil }); err != nil {
				t.Fatal(err)
			}
			sql := tc.SQL
			if tc.SQLFor != nil {
				sql = tc.SQLFor(rows)
			}
			if sql != "" {
				if err := tamper(sql); err != nil {
					t.Fatalf("%s: %v", sql, err)
				}
			}
			if tc.Then != nil {
				tc.Then(t, log)
			}
			var expect *portal.AuditHead
			if tc.Expect != nil {
				expect = tc.Expect(rows)
			}
			c := Anchor(t, log, signer.Public(), expect)
			if !c.ChainCheck.Intact() {
				t.Fatalf("the chain itself broke (%s): the tampering should leave it following row to row", c.Problem)
			}
			problem := tc.Problem
			if strings.Contains(problem, "%s") {
				problem = fmt.Sprintf(problem, rows[7].Hash)
			}
			switch got := strings.Join(c.Problems, "\n"); {
			case problem == "" && got != "":
				t.Errorf("found %q; want nothing", got)
			case problem != "" && (!strings.Contains(got, problem) || c.Intact()):
				t.Errorf("found %q; want %q", got, problem)
			}
			if tc.Unanchored >= 0 && c.Unanchored != tc.Unanchored {
				t.Errorf("%d rows unanchored, want %d (anchor %+v)", c.Unanchored, tc.Unanchored, c.Anchor)
			}
		})
	}
}

// AppendFromInstances appends 200 rows of two tenants at once through 8
// writers spread over the instances (stores on one database, each its own
// pool) while each instance also signs checkpoints as often as it can,
// and checks that one chain came of it, each tenant's rows numbered 1 to
// 100 without a gap, and checkpoints numbered without a gap, each
// anchoring a later row than the one before.
func AppendFromInstances(t *testing.T, instances ...AnchoredLog) {
	ctx := context.Background()
	signer := NewSigner(t)
	tenants := []portal.GUID{tenantA, tenantB}
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := range 8 {
		wg.Go(func() {
			for i := range 25 {
				ev := portal.AuditEvent{Time: T0, Actor: Admin, TenantID: tenants[(w+i)%2], Action: portal.ActionVerify,
					Detail: fmt.Sprintf("writer %d row %d", w, i)}
				if _, err := instances[w%len(instances)].AppendAudit(ctx, ev); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	var signers sync.WaitGroup
	for s := range 2 * len(instances) {
		signers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, _, err := instances[s%len(instances)].CheckpointAudit(ctx, func(a portal.AuditAnchor) (portal.AuditCheckpoint, bool, error) {
					c, due := everyRow.Next(a, T0)
					return signer.Sign(c), due, nil
				}); err != nil {
					t.Errorf("signer %d: %v", s, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	signers.Wait()
	Sign(t, instances[0], signer, everyRow, T0)
	c := Anchor(t, instances[0], signer.Public(), nil)
	if !c.Intact() || c.Rows != 200 || c.Anchor.Seq != 200 || c.Unanchored != 0 || c.Checkpoints < 2 {
		t.Errorf("chain: %+v", c)
	}
	for _, tenant := range tenants {
		var n int64
		if err := instances[1%len(instances)].WalkAudit(ctx, tenant, func(e portal.AuditEvent) error {
			if n++; e.TenantSeq != n {
				return fmt.Errorf("row %d is tenant row %d, want %d", e.Seq, e.TenantSeq, n)
			}
			return nil
		}); err != nil || n != 100 {
			t.Errorf("tenant %s: %d rows, %v", tenant, n, err)
		}
	}
}

// RunTenantSeqMigration: rows written before rows were numbered per
// tenant are numbered by the migration, in Seq order, per tenant (those
// of no tenant among themselves), and rows appended afterwards go on from
// there. remigrate undoes the migration behind the store's back and opens
// the store again, which migrates.
func RunTenantSeqMigration(t *testing.T, log AnchoredLog, remigrate func(t *testing.T) AnchoredLog) {
	ctx := context.Background()
	tenants := []portal.GUID{tenantA, tenantB, {}}
	for i := range 9 {
		if _, err := log.AppendAudit(ctx, portal.AuditEvent{Time: T0, TenantID: tenants[i%3], Action: portal.ActionSignIn, Phase: portal.PhaseEvent}); err != nil {
			t.Fatal(err)
		}
	}
	log = remigrate(t)
	for _, tenant := range tenants {
		if _, err := log.AppendAudit(ctx, portal.AuditEvent{Time: T0, TenantID: tenant, Action: portal.ActionSignIn, Phase: portal.PhaseEvent}); err != nil {
			t.Fatal(err)
		}
	}
	if c := VerifyChain(t, log); !c.Intact() || c.Rows != 12 {
		t.Errorf("after the migration: %+v", c)
	}
	var got []int64
	if err := log.WalkAudit(ctx, portal.GUID{}, func(e portal.AuditEvent) error { got = append(got, e.TenantSeq); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := []int64{1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4}; !reflect.DeepEqual(got, want) {
		t.Errorf("tenant numbers %v, want %v", got, want)
	}
}
