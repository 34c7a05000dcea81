package portal

import (
	"context"
	"time"
)

// VerifyState says how an inventory row compared with ACS when it was last
// checked. ACS has no list operation, so the inventory is the only record of
// who has access; verification is how the portal finds out it was wrong.
type VerifyState string

const (
	// StateUnverified: never compared with ACS (or the last attempt failed).
	StateUnverified VerifyState = "unverified"
	// StateInSync: ACS held exactly what the inventory records.
	StateInSync VerifyState = "in_sync"
	// StateDrifted: ACS held an assignment that differs (kind or client IDs).
	StateDrifted VerifyState = "drifted"
	// StateMissing: ACS held no assignment (404).
	StateMissing VerifyState = "missing"
)

// VerifyStates lists the states in the order pages show them.
var VerifyStates = []VerifyState{StateInSync, StateDrifted, StateMissing, StateUnverified}

// ParseVerifyState reads a state's wire name; "" is not a state.
func ParseVerifyState(s string) (VerifyState, error) {
	for _, v := range VerifyStates {
		if string(v) == s {
			return v, nil
		}
	}
	return "", Errorf(EINVALID, "Unknown verification state %q.", truncate(s, 40))
}

// Label is the state as people read it.
func (s VerifyState) Label() string {
	switch s {
	case StateInSync:
		return "In sync"
	case StateDrifted:
		return "Drifted"
	case StateMissing:
		return "Missing in ACS"
	case StateUnverified:
		return "Unverified"
	}
	return string(s)
}

// Actor is who made a change: a signed-in person, or the portal itself
// (a background job) with a zero ObjectID and a Name saying which job.
type Actor struct {
	TenantID GUID
	ObjectID GUID
	Name     string
}

// IsSystem reports whether the actor is the portal itself.
func (a Actor) IsSystem() bool { return a.ObjectID.IsZero() }

// ActorOf is the actor for a signed-in person.
func ActorOf(u User) Actor { return Actor{TenantID: u.TenantID, ObjectID: u.ObjectID, Name: u.Name} }

// InventoryItem is one assignment the portal knows about: what it granted or
// adopted, who did so and when, and how it compared with ACS last time.
type InventoryItem struct {
	// Assignment is what the portal believes ACS holds. Spelling is empty.
	Assignment
	// Label is an optional name typed by the person who granted it
	// ("Alice Smith, London desk"), for search and display only.
	Label     string
	CreatedAt time.Time
	CreatedBy Actor
	UpdatedAt time.Time
	UpdatedBy Actor
	// State and VerifiedAt are the last verification's result and time
	// (zero time: never verified).
	State      VerifyState
	VerifiedAt time.Time
	// Observed is what ACS held at the last verification when it differed
	// from the inventory (StateDrifted); nil otherwise.
	Observed *Assignment
	// ExpiresAt, when set, is when the access ends by itself: the expiry
	// job revokes it then (after a configured grace).
	ExpiresAt time.Time
	// Version increases by one with every change to the assignment or label
	// (not with verification). Edit forms carry it, so a change based on an
	// out-of-date page is refused rather than lost.
	Version int64
}

// InventorySort names a sort order of the inventory list.
type InventorySort string

const (
	SortUpdated  InventorySort = "updated"  // most recently changed first (default)
	SortObjectID InventorySort = "object"   // by object ID
	SortLabel    InventorySort = "label"    // by label, unlabelled last
	SortKind     InventorySort = "kind"     // users, then resource accounts
	SortState    InventorySort = "state"    // by verification state
	SortVerified InventorySort = "verified" // least recently verified first
)

// InventorySorts lists the sort orders a list page offers.
var InventorySorts = []InventorySort{SortUpdated, SortObjectID, SortLabel, SortKind, SortState, SortVerified}

// InventoryFilter selects a page of one tenant's inventory.
type InventoryFilter struct {
	TenantID GUID // required: every query is scoped to one tenant
	// Query matches, case-insensitively and literally, part of the object
	// ID, the label or any client ID; the access service's list also
	// matches the cached display name, UPN and phone number of the object
	// and the names of its apps.
	Query string
	Kind  PrincipalKind // KindUnknown: any
	State VerifyState   // "": any
	Sort  InventorySort // "": SortUpdated
	Desc  bool          // reverse the sort's natural order
	// Objects, when not nil, keeps only these objects (the readiness
	// checks' "not ready" set); an empty non-nil slice keeps none.
	Objects []GUID
	// Offset and Limit page the result; Limit 0 means the store's default (50).
	Offset, Limit int
}

// InventoryCounts are the tenant's totals, before the filter's Query, Kind
// and State apply, so a page can show them beside the filters.
type InventoryCounts struct {
	All              int
	Users            int
	ResourceAccounts int
	ByState          map[VerifyState]int
}

// InventoryPage is one page of a filtered inventory.
type InventoryPage struct {
	Items []InventoryItem
	// Matched counts every row the filter matches (all pages).
	Matched int
	Counts  InventoryCounts
	// Stamp identifies the state of the tenant's inventory the page was
	// read from (its audit head; see InventoryChanges); 0 when unknown.
	// Equal stamps mean equal inventories, so a rendering can be reused.
	Stamp int64
	// NamesRev, when the list comes from the access service's cache, is
	// the names revision its search matched names at (see NameStore).
	NamesRev int64
	// Names and Apps, when the list comes from the access service's cache,
	// are the cached directory names of the page's objects and of its
	// rows' apps, at NamesRev (an ID never named is absent), so that
	// showing the page reads no names again.
	Names, Apps map[GUID]DirectoryName
}

// InventoryOp is what a commit does to the inventory.
type InventoryOp int

const (
	// InventoryKeep leaves the inventory alone (the audit row is the change).
	InventoryKeep InventoryOp = iota
	// InventoryPut creates the row or replaces its assignment and label,
	// bumping Version; CreatedAt/CreatedBy of an existing row are kept.
	InventoryPut
	// InventoryDelete removes the row.
	InventoryDelete
	// InventoryVerified records a verification: State, VerifiedAt and
	// Observed only; Version is unchanged.
	InventoryVerified
)

// InventoryChange is the inventory half of a commit.
type InventoryChange struct {
	Op   InventoryOp
	Item InventoryItem
	// IfVersion, when not 0, makes an InventoryVerified apply only while
	// the row is still at that version (ECONFLICT otherwise, and nothing is
	// written): a background check must not record what it saw over a
	// change made meanwhile.
	IfVersion int64
	// Lease, when set, fences the commit with the assignment's lock: it is
	// written only while Holder still holds Name (ECONFLICT, ErrLeaseLost,
	// and nothing written otherwise). A change paused past its lease (a
	// stalled instance) whose lock another change took over must not
	// overwrite what that one recorded. A lease that lapsed but that nobody
	// took stays good: every writer takes the lock first, so nothing else
	// changed the assignment meanwhile — and no clock, the instances' or
	// the database's, needs to agree for the fence to hold.
	Lease Lease
	// Step, when set, is the bulk job line the commit belongs to. It is
	// fenced by the job's hold (ECONFLICT, nothing written, when Holder no
	// longer runs the job), and it records on the job's row, in the same
	// transaction: an intent's Seq (so a resume finds the intent the line
	// left open), or, with Step.Result set, the line's result (so the row
	// is done exactly when its outcome is recorded).
	Step *JobStep
}

// Lease names a lock (Locker) and the holder a commit must still be.
type Lease struct {
	Name, Holder string
}

// Errors of a fenced commit (see InventoryChange.Lease and Step, and
// Store.Commit). Both are ECONFLICT: someone else now owns the change.
var (
	ErrLeaseLost = Errorf(ECONFLICT, "This change took too long: its hold on the assignment lapsed and another change took it over. Nothing was recorded; the assignment is checked with ACS shortly.")
	ErrSettled   = Errorf(ECONFLICT, "This change was already recorded as settled (its instance had stopped answering). Nothing more was recorded.")
)

// JobStep is one line of a bulk job, applied by the instance holding the
// job (Holder, as ClaimJob was given it).
type JobStep struct {
	Job    string
	Holder string
	Line   int
	// Result, when set, finishes the line with the commit: its row is done
	// with this result. Nil for an intent, and for an outcome after which
	// the line is tried again (ACS throttled or unavailable).
	Result *RowResult
}

// Inventory reads the portal's list of assignments.
type Inventory interface {
	// GetItem returns the row for (tenant, object), or an ENOTFOUND error;
	// a row of another tenant is not found, exactly like a missing one.
	GetItem(ctx context.Context, tenant, object GUID) (InventoryItem, error)
	// GetItems returns the tenant's rows of the objects ids names, in one
	// read from one snapshot, for a cache that learned which rows changed
	// (InventoryChanges). An ID without a row (or whose row is another
	// tenant's) is absent from the map, which is never nil; duplicates are
	// read once. Any number of IDs may be asked for at once.
	GetItems(ctx context.Context, tenant GUID, ids []GUID) (map[GUID]InventoryItem, error)
	// AllItems calls fn for every row of tenant (the zero GUID: of every
	// tenant) in (tenant, object) order, for the list's index and
	// reconcile, without holding them all in memory; an error from fn
	// stops it and is returned as is. The rows are read a chunk at a time,
	// each chunk a short read of its own, and fn runs while the store holds
	// nothing of the database, so a slow fn keeps no connection or snapshot
	// from anyone. There is no one snapshot, then:
	// each row comes at most once, in order, and every row that nobody
	// changed during the walk comes; a row changed meanwhile may come as it
	// was or as it is, and one added or removed meanwhile may or may not.
	// Whoever needs an exact copy reads the audit head first and applies
	// the changes after it (see InventoryChanges).
	AllItems(ctx context.Context, tenant GUID, fn func(InventoryItem) error) error
	// InventoryChanges returns the tenant's audit head (the Seq of its newest
	// audit row, 0 for none) and, when that is past after, the distinct
	// objects whose inventory rows audit rows after it may have changed
	// (grant, edit, revoke, adopt, verify, re-apply, accept; not sign-ins
	// or refusals), and reload when a reconcile summary lies among them (a
	// reconcile touches verification times without rows of their own).
	// Every inventory change is committed with an audit row, so a copy of
	// the inventory read at head h is current while the head stays h:
	// caches use this to stay exact across instances.
	InventoryChanges(ctx context.Context, tenant GUID, after int64) (changed []GUID, reload bool, head int64, err error)
	// ExpiringItems returns up to limit rows of every tenant whose ExpiresAt
	// is at or before t, the earliest first.
	ExpiringItems(ctx context.Context, t time.Time, limit int) ([]InventoryItem, error)
	// TouchVerified sets VerifiedAt of the tenant's rows named, where they
	// are still at the given versions, without an audit row or a new
	// version: a check that found what the row already says changes
	// nothing worth auditing. Rows gone or changed meanwhile are skipped.
	TouchVerified(ctx context.Context, tenant GUID, versions map[GUID]int64, at time.Time) error
}

// Locker serialises writes to one assignment across every portal instance
// (ACS has no ETag, so the portal must not race itself). Locks are leases in
// the database: one that is not released (a crash) lapses at its expiry.
type Locker interface {
	// TryLock takes the named lock for holder until the given time and
	// reports whether it got it: it does if the lock is free, if its lease
	// has lapsed (its expiry is at or before the store's clock), or if
	// holder already holds it, in which case the lease is set to the new
	// time. until is rounded up to the millisecond, so a lease never lapses
	// before the time asked for. An empty name or holder is EINVALID.
	TryLock(ctx context.Context, name, holder string, until time.Time) (bool, error)
	// Renew extends holder's lease to until, rounded up as TryLock does,
	// and reports whether holder still held the lock (its lease lapsed or
	// not: one nobody took is still its). Unlike TryLock it never takes a
	// lock that is free: a change whose lock was taken over and released
	// meanwhile must not get it back, or its fenced commits (see
	// InventoryChange.Lease) would pass.
	Renew(ctx context.Context, name, holder string, until time.Time) (bool, error)
	// Unlock releases the lock if holder still holds it; otherwise (never
	// taken, lapsed and taken over, already released) it does nothing and
	// is not an error.
	Unlock(ctx context.Context, name, holder string) error
}

// Store is everything the use cases need from the portal's database.
type Store interface {
	Inventory
	AuditLog
	AuditCheckpoints
	Locker
	PlanStore
	JobStore
	NameStore
	// Commit appends ev to the audit log (sealed after the head, as
	// AppendAudit does, and serialised with every append) and applies
	// change to the inventory, in one transaction: either both happen or
	// neither. It returns the appended event and, for InventoryPut and
	// InventoryVerified, the row as stored.
	//
	//   - InventoryPut creates the row (Version 1) or replaces its
	//     assignment, label, updated time and actor, state, verification
	//     time, observed assignment and expiry (Version + 1), keeping
	//     CreatedAt and CreatedBy of an existing row. A new row whose
	//     CreatedAt (CreatedBy) is zero takes its UpdatedAt (UpdatedBy).
	//     Client IDs are stored normalised; State "" is stored as
	//     StateUnverified; the label and names are kept as AppendAudit keeps
	//     text.
	//   - InventoryDelete removes the row; a row that is already gone is not
	//     an error (the audit row is still appended).
	//   - InventoryVerified sets State, VerifiedAt and Observed only; Version
	//     is unchanged. If the row is gone it is ENOTFOUND, and if IfVersion
	//     is set and the row is at another version ECONFLICT; either way
	//     nothing is written, audit row included: a verification must not
	//     resurrect or misreport a revoked assignment.
	//   - InventoryKeep writes the audit row alone.
	//
	// An outcome row (PhaseOutcome) must cite an intent that no outcome has
	// cited yet (ECONFLICT, nothing written, otherwise): every intent ends
	// with exactly one outcome, also when a paused change and the sweep
	// that settled its intent both try. change.Lease and change.Step fence
	// the commit and record the step on its job row (see InventoryChange).
	//
	// Except for InventoryKeep, the change must name a tenant and object,
	// and ev must name the same ones (EINVALID otherwise), so an audit row
	// can never describe one assignment while another changes. A Put must
	// have a known Kind and a known or empty State.
	Commit(ctx context.Context, ev AuditEvent, change InventoryChange) (AuditEvent, InventoryItem, error)
	// OpenIntents returns intent rows that no outcome cites yet (changes
	// whose end was never recorded: an instance killed or paused mid-change,
	// or one in flight right now), oldest first, up to limit: with job "",
	// those written before the given time, of every tenant; with a job, the
	// intents its lines that are not done left open, whenever written.
	OpenIntents(ctx context.Context, job string, before time.Time, limit int) ([]OpenIntent, error)
}

// OpenIntent is an intent row no outcome cites, and the bulk job line that
// wrote it (Line 0: none).
type OpenIntent struct {
	AuditEvent
	Job  string
	Line int
}

// expiryLayouts are the ways people and spreadsheets write when access
// ends, all read as UTC: a browser's datetime-local value (with or without
// seconds), RFC 3339, a space instead of the T, or a bare date.
var expiryLayouts = []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"}

// ParseExpiry reads an expiry as typed in a form or a CSV cell. A bare date
// means the end of that day. It reports false for anything else; whether
// the time is acceptable (ahead, not too far) is the use case's to say.
func ParseExpiry(v string) (time.Time, bool) {
	for _, l := range expiryLayouts {
		if t, err := time.Parse(l, v); err == nil {
			if l == "2006-01-02" {
				t = t.AddDate(0, 0, 1)
			}
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
