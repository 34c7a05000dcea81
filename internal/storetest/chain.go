package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// What the stores' own tests share with the suite: a tenant, an actor and
// a time to write rows with.
var (
	Tenant = tenantA
	Admin  = portal.Actor{TenantID: tenantA, ObjectID: portal.MustParseGUID("e5b7f628-ea94-4fdc-b3d9-1af1fe231111"), Name: "Alice Admin"}
	T0     = t0
)

// GUID returns a GUID derived from kind and n: stable across runs,
// scattered in order.
func GUID(kind string, n int) portal.GUID {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s %d", kind, n))
	var g portal.GUID
	copy(g[:], sum[:16])
	return g
}

// AppendRows appends n audit rows of Tenant, each with a distinct
// justification.
func AppendRows(t testing.TB, log portal.AuditLog, n int) {
	t.Helper()
	for i := range n {
		if _, err := log.AppendAudit(context.Background(), portal.AuditEvent{
			Time: T0.Add(time.Duration(i) * time.Second), Actor: Admin, TenantID: Tenant, ObjectID: GUID("object", i),
			Kind: portal.KindUser, Action: portal.ActionEdit, Phase: portal.PhaseOutcome, Outcome: portal.OutcomeSuccess,
			Justification: fmt.Sprintf("ticket %d", 4700+i),
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// VerifyChain walks the whole log as `portal audit verify` does.
func VerifyChain(t testing.TB, log portal.AuditLog) portal.ChainCheck {
	t.Helper()
	var c portal.ChainCheck
	if err := log.WalkAudit(context.Background(), portal.GUID{}, func(ev portal.AuditEvent) error {
		c.Check(ev)
		return nil
	}); err != nil {
		t.Fatalf("WalkAudit: %v", err)
	}
	return c
}

// Tampering is a change made to the audit log behind the store's back, in
// the store's own SQL, and the first row the chain check must then find
// broken (0: none) and why.
type Tampering struct {
	Name, SQL string
	Broken    int64
	Problem   string
}

// RunTampering appends 8 rows to a fresh log for each case, applies the
// case with tamper (as someone who switched the log's guards off), and
// checks that the chain check names the first row that no longer follows.
func RunTampering(t *testing.T, cases []Tampering, open func(t *testing.T) (log portal.AuditLog, tamper func(sql string) error)) {
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			log, tamper := open(t)
			AppendRows(t, log, 8)
			if c := VerifyChain(t, log); !c.Intact() || c.Rows != 8 {
				t.Fatalf("before tampering: %+v", c)
			}
			if err := tamper(tc.SQL); err != nil {
				t.Fatal(err)
			}
			c := VerifyChain(t, log)
			if c.BrokenSeq != tc.Broken || !strings.Contains(c.Problem, tc.Problem) {
				t.Errorf("chain check: broken at %d (%s); want %d (%s)", c.BrokenSeq, c.Problem, tc.Broken, tc.Problem)
			}
		})
	}
}

// SafeErrors checks that each error, from a store whose database is gone,
// is EUNAVAILABLE with a sentence for people: never SQL, a driver's name
// or a connection string.
func SafeErrors(t *testing.T, errs ...error) {
	t.Helper()
	for i, err := range errs {
		msg := portal.ErrorMessage(err)
		if portal.ErrorCode(err) != portal.EUNAVAILABLE || !strings.HasPrefix(msg, "The portal's database could not ") ||
			strings.Contains(msg, "sql") || strings.Contains(msg, "SELECT") || strings.Contains(msg, "postgres") {
			t.Errorf("call %d: %v (%q)", i+1, err, msg)
		}
	}
}

// SessionsAndStore is a store's sessions and the rest of it.
type SessionsAndStore interface {
	portal.SessionStore
	portal.Store
}

// RunSessions is the contract for sessions: replaced in place keeping
// their creation, read back in UTC, pruned by idleness, binary keys and
// data kept whole; and read with a tenant's audit head, which is the head
// InventoryChanges reads, whatever other tenants wrote.
func RunSessions(t *testing.T, db SessionsAndStore) {
	ctx := context.Background()
	runSessionHead(t, db)
	key := []byte("0123456789abcdef0123456789abcdef")
	if _, err := db.GetSession(ctx, key); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Fatalf("missing session: %v", err)
	}
	if err := db.PutSession(ctx, portal.SessionRecord{KeyHash: key, Data: []byte("a"), CreatedAt: t0, SeenAt: t0}); err != nil {
		t.Fatal(err)
	}
	// Replacing keeps the creation time: the absolute timeout counts from it.
	if err := db.PutSession(ctx, portal.SessionRecord{KeyHash: key, Data: []byte("b"), CreatedAt: t0.Add(time.Hour), SeenAt: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	s, err := db.GetSession(ctx, key)
	if err != nil || !bytes.Equal(s.Data, []byte("b")) || !s.CreatedAt.Equal(t0) || !s.SeenAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("got %+v, %v", s, err)
	}
	if s.SeenAt.Location() != time.UTC {
		t.Errorf("times read back in %v, want UTC", s.SeenAt.Location())
	}
	if n, err := db.DeleteSessionsSeenBefore(ctx, t0.Add(30*time.Second)); err != nil || n != 0 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	if n, err := db.DeleteSessionsSeenBefore(ctx, t0.Add(2*time.Minute)); err != nil || n != 1 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	if _, err := db.GetSession(ctx, key); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Fatalf("pruned session: %v", err)
	}
	if err := db.DeleteSession(ctx, key); err != nil {
		t.Fatalf("deleting a missing session: %v", err)
	}
	// Binary keys and data, and an ended session.
	bin := []byte{0, 0xff, 0xfe, 0}
	if err := db.PutSession(ctx, portal.SessionRecord{KeyHash: bin, Data: bin, CreatedAt: t0, SeenAt: t0}); err != nil {
		t.Fatal(err)
	}
	if s, err := db.GetSession(ctx, bin); err != nil || !bytes.Equal(s.Data, bin) {
		t.Fatalf("binary session: %+v, %v", s, err)
	}
	if err := db.DeleteSession(ctx, bin); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetSession(ctx, bin); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Fatalf("deleted session: %v", err)
	}
}

func runSessionHead(t *testing.T, db SessionsAndStore) {
	t.Helper()
	ctx := context.Background()
	key := []byte("head-of-tenant-a-and-session-key")
	if _, _, err := db.GetSessionAndHead(ctx, key, tenantA); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Fatalf("missing session with a head: %v", err)
	}
	if err := db.PutSession(ctx, portal.SessionRecord{KeyHash: key, Data: []byte("s"), CreatedAt: t0, SeenAt: t0}); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		for _, tenant := range []portal.GUID{tenantA, tenantB} {
			_, _, want, err := db.InventoryChanges(ctx, tenant, 0)
			if err != nil {
				t.Fatal(err)
			}
			s, head, err := db.GetSessionAndHead(ctx, key, tenant)
			if err != nil || head != want || !bytes.Equal(s.Data, []byte("s")) || !s.CreatedAt.Equal(t0) {
				t.Fatalf("%s, tenant %v: %+v, head %d, %v; want head %d", when, tenant, s, head, err, want)
			}
		}
	}
	check("no audit rows")
	actor := portal.Actor{TenantID: tenantA, Name: "contract"}
	for i, tenant := range []portal.GUID{tenantA, tenantA, tenantB} {
		obj := portal.MustParseGUID(fmt.Sprintf("5e551011-0000-4000-8000-%012d", i))
		a := portal.Assignment{TenantID: tenant, ObjectID: obj, Kind: portal.KindUser}
		ev := portal.AuditEvent{Time: t0, Actor: actor, TenantID: tenant, ObjectID: obj, Kind: a.Kind, Action: portal.ActionAdopt, Phase: portal.PhaseEvent, Outcome: portal.OutcomeSuccess}
		item := portal.InventoryItem{Assignment: a, CreatedAt: t0, UpdatedAt: t0, CreatedBy: actor, UpdatedBy: actor}
		if _, _, err := db.Commit(ctx, ev, portal.InventoryChange{Op: portal.InventoryPut, Item: item}); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("after %d changes", i+1))
	}
	if err := db.DeleteSession(ctx, key); err != nil {
		t.Fatal(err)
	}
}
