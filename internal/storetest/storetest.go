// Package storetest is the contract every portal.Store must meet, as one
// suite that each store's own tests run against a real database: SQLite
// now, PostgreSQL later. It imports only the domain and the standard
// library, so it cannot depend on how a store is built.
//
// The suite pins down what the interface comments leave to the store, so
// that both stores answer alike: how text and times are kept, how audit
// filters match, when a lease lapses.
package storetest

import (
	"context"
	"crypto/sha256"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/testclock"
)

// Opener returns a new, empty store, closed when t ends. The store must
// read the current time only from now (lock leases lapse by it); the suite
// moves that clock instead of sleeping.
type Opener func(t *testing.T, now func() time.Time) portal.Store

// Run runs the contract suite, opening a fresh store for every subtest.
func Run(t *testing.T, open Opener) {
	for _, tc := range []struct {
		name string
		test func(*testing.T, *fixture)
	}{
		{"InventoryPutGetDelete", testPutGetDelete},
		{"InventoryPutDefaults", testPutDefaults},
		{"InventoryVerified", testVerified},
		{"InventoryVerifiedIfVersion", testVerifiedIfVersion},
		{"TouchVerified", testTouchVerified},
		{"ExpiringItems", testExpiringItems},
		{"CommitIsAtomic", testCommitAtomic},
		{"CommitRefusesInconsistentChange", testCommitRefuses},
		{"TenantIsolation", testTenantIsolation},
		{"AllItems", testAllItems},
		{"GetItems", testGetItems},
		{"AllItemsUnderChanges", testAllItemsUnderChanges},
		{"WalkAuditUnderAppends", testWalkAuditUnderAppends},
		{"InventoryChanges", testInventoryChanges},
		{"AuditAppendAndVerify", testAuditAppend},
		{"AuditHostileTextKeepsChain", testAuditHostileText},
		{"AuditConcurrentAppendsStayLinear", testAuditConcurrent},
		{"AuditCheckpoints", testCheckpoints},
		{"ListAuditFilters", testListAudit},
		{"ListAuditOnePerChange", testListAuditOnePerChange},
		{"Locks", testLocks},
		{"Renew", testRenew},
		{"CommitFencedByLease", testCommitFencedByLease},
		{"CommitJobStep", testCommitJobStep},
		{"OpenIntents", testOpenIntents},
		{"Plans", testPlans},
		{"JobLifecycle", testJobLifecycle},
		{"JobInterrupted", testJobInterrupted},
		{"JobQueueOrder", testJobQueueOrder},
		{"JobRate", testJobRate},
		{"JobReleaseWithOpenRows", testJobReleaseWithOpenRows},
		{"JobCounts", testJobCounts},
		{"JobPause", testJobPause},
		{"JobRowsAt", testJobRowsAt},
		{"NamesPutGet", testNamesPutGet},
		{"NamesTenantIsolation", testNamesTenantIsolation},
		{"NameSpaces", testNameSpaces},
		{"NamesRevision", testNamesRevision},
		{"SearchNames", testSearchNames},
		{"PutNamesRefuses", testPutNamesRefuses},
		{"AllNames", testAllNames},
		{"NamesSince", testNamesSince},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := testclock.New(t0)
			tc.test(t, &fixture{Store: open(t, clock.Now), clock: clock, ctx: context.Background()})
		})
	}
}

// fixture is one subtest's store, clock and helpers.
type fixture struct {
	portal.Store
	clock *testclock.Clock
	ctx   context.Context
}

// t0 is an arbitrary fixed time on a millisecond.
var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

var (
	tenantA = portal.MustParseGUID("1c361ff7-fb44-4685-bb78-1bad6ce5bef3")
	tenantB = portal.MustParseGUID("72f988bf-86f1-41af-91ab-2d7cd011db47")
	alice   = portal.Actor{TenantID: tenantA, ObjectID: id("alice"), Name: "Alice Admin"}
	bob     = portal.Actor{TenantID: tenantA, ObjectID: id("bob"), Name: "Bob Helpdesk"}
	carol   = portal.Actor{TenantID: tenantB, ObjectID: id("carol"), Name: "Carol Other-Tenant"}
	system  = portal.Actor{Name: "verify job"}
)

// id returns a GUID derived from tag: stable across runs, scattered in
// order, so object-ID order differs from the order rows are written in.
func id(tag string) portal.GUID {
	sum := sha256.Sum256([]byte(tag))
	var g portal.GUID
	copy(g[:], sum[:16])
	return g
}

func ids(tags ...string) []portal.GUID {
	var out []portal.GUID
	for _, tag := range tags {
		out = append(out, id(tag))
	}
	return out
}

// userItem is a user assignment in tenant, created and last changed by
// alice at t0.
func userItem(tenant portal.GUID, tag, label string, clients ...string) portal.InventoryItem {
	return portal.InventoryItem{
		Assignment: portal.Assignment{TenantID: tenant, ObjectID: id(tag), Kind: portal.KindUser, ClientIDs: ids(clients...)},
		Label:      label,
		CreatedAt:  t0, CreatedBy: alice, UpdatedAt: t0, UpdatedBy: alice,
		State: portal.StateUnverified,
	}
}

func resourceItem(tenant portal.GUID, tag, label string) portal.InventoryItem {
	it := userItem(tenant, tag, label)
	it.Kind, it.ClientIDs = portal.KindResourceAccount, nil
	return it
}

// eventFor is the audit row of a change to it.
func eventFor(it portal.InventoryItem, action portal.AuditAction) portal.AuditEvent {
	return portal.AuditEvent{
		Time: it.UpdatedAt, Actor: it.UpdatedBy, ClientIP: "192.0.2.10",
		TenantID: it.TenantID, ObjectID: it.ObjectID, Kind: it.Kind,
		Action: action, Phase: portal.PhaseOutcome, Outcome: portal.OutcomeSuccess,
		After: portal.StateOf(it.Assignment, it.Label), Justification: "ticket 4711",
	}
}

// commit applies op to it with a matching audit row and fails the test on error.
func (f *fixture) commit(t *testing.T, op portal.InventoryOp, it portal.InventoryItem) (portal.AuditEvent, portal.InventoryItem) {
	t.Helper()
	action := map[portal.InventoryOp]portal.AuditAction{portal.InventoryPut: portal.ActionGrant,
		portal.InventoryDelete: portal.ActionRevoke, portal.InventoryVerified: portal.ActionVerify}[op]
	ev, got, err := f.Commit(f.ctx, eventFor(it, action), portal.InventoryChange{Op: op, Item: it})
	if err != nil {
		t.Fatalf("Commit(%v, %s): %v", op, it.Label, err)
	}
	return ev, got
}

func (f *fixture) put(t *testing.T, items ...portal.InventoryItem) {
	t.Helper()
	for _, it := range items {
		f.commit(t, portal.InventoryPut, it)
	}
}

// walk returns every audit row of tenant in Seq order.
func (f *fixture) walk(t *testing.T, tenant portal.GUID) []portal.AuditEvent {
	t.Helper()
	var out []portal.AuditEvent
	if err := f.WalkAudit(f.ctx, tenant, func(ev portal.AuditEvent) error {
		out = append(out, ev)
		return nil
	}); err != nil {
		t.Fatalf("WalkAudit: %v", err)
	}
	return out
}

// verifyChain checks the whole log with portal.ChainCheck and returns it.
func (f *fixture) verifyChain(t *testing.T) portal.ChainCheck {
	t.Helper()
	var c portal.ChainCheck
	for _, ev := range f.walk(t, portal.GUID{}) {
		c.Check(ev)
	}
	if !c.Intact() {
		t.Fatalf("audit chain broken at row %d: %s", c.BrokenSeq, c.Problem)
	}
	return c
}

// normItem makes items comparable with reflect.DeepEqual whatever time zone
// or empty-slice representation a store returns.
func normItem(it portal.InventoryItem) portal.InventoryItem {
	it.CreatedAt, it.UpdatedAt, it.VerifiedAt = it.CreatedAt.UTC(), it.UpdatedAt.UTC(), it.VerifiedAt.UTC()
	if len(it.ClientIDs) == 0 {
		it.ClientIDs = nil
	}
	if it.Observed != nil {
		o := *it.Observed
		if len(o.ClientIDs) == 0 {
			o.ClientIDs = nil
		}
		it.Observed = &o
	}
	return it
}

func sameItem(t *testing.T, what string, got, want portal.InventoryItem) {
	t.Helper()
	if g, w := normItem(got), normItem(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func sameSet(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}
