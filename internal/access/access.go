// Package access holds the portal's use cases — grant, edit, revoke, adopt,
// verify and look up an assignment — and the flow every change follows:
//
//	authorise → take the assignment's lock → write the audit intent →
//	call ACS (GET, compare, PUT or DELETE) → write the audit outcome and the
//	inventory in one transaction → release the lock.
//
// If the intent cannot be written, ACS is not called (fail closed). The
// tenant always comes from the signed-in person, never from their input.
// Handlers and background jobs both call this package; it talks only to the
// domain's interfaces.
//
// The use cases are split by concern — Changes, Reads, Names, Jobs — each
// holding only the stores and adapters it uses; Service is all of them.
// Input is validated by the domain (its errors name the field), the role by
// the use case that acts, which records a refusal.
package access

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// Config wires a Service.
type Config struct {
	ACS   portal.ACS
	Store portal.Store
	// RequireJustification refuses changes without a typed reason.
	RequireJustification bool
	// ResourceAccountSpelling is the principalType the ACS client sends for
	// resource accounts (default teamsResourceAccount); verification notes
	// when ACS spells it otherwise.
	ResourceAccountSpelling string
	// LockWait is how long a change waits for another change to the same
	// assignment to finish before giving up with a conflict (default 5 s).
	LockWait time.Duration
	// LockTTL bounds a lock whose holder died (default 15 s, as long as a
	// bulk job's heartbeat): a job resumed after a crash waits that long
	// for the rows that were in flight. A live holder renews it every
	// third of that while its change runs.
	LockTTL time.Duration
	Logger  *slog.Logger
	Now     func() time.Time
	// Directory, when set, names people, resource accounts and apps
	// through Microsoft Graph (see names.go).
	Directory portal.Directory
	// ReadinessDirectory, when set, reads the chain around assignments
	// from Microsoft Graph for the readiness checks (see readiness.go).
	ReadinessDirectory portal.ReadinessDirectory
	// KnownApps are the calling-client apps configured by name: the
	// readiness checks cover them as well as those in use, and the list's
	// search matches their names.
	KnownApps []portal.KnownApp
	// FreshSignIn is how recent a person's sign-in must be to revoke a
	// resource account or apply a bulk plan that revokes (see fresh.go);
	// 0 asks for none (the portal's configuration never leaves it 0).
	FreshSignIn time.Duration
	// ACSResourceID is the immutable resource ID of the ACS resource,
	// which resource accounts are bound to; "" lists every resource
	// account of the tenant.
	ACSResourceID string
	// CheckpointKeys verify the audit log's checkpoints on the audit page
	// (nil: signatures are not checked, and the page says so).
	CheckpointKeys portal.CheckpointKeys
}

// Service is every use case of the portal, by concern. Handlers use it
// whole; each concern depends only on the stores and adapters it uses.
type Service struct {
	*Changes   // grant, edit, revoke, adopt, verify, repair, bulk rows, expiry, reconcile
	*Reads     // the inventory, lookups, history, the audit log, drift and expiries
	*Names     // names from Microsoft Graph, the people finder, resource accounts
	*Jobs      // bulk plans and jobs
	*Readiness // whether access will work: the portal's own access to ACS
}

// core is what every use case shares: the clock, the log, whether changes
// need a justification, and the audit log, where refusals and single
// events are recorded.
type core struct {
	now        func() time.Time
	log        *slog.Logger
	requireWhy bool
	audit      portal.AuditLog
	// recorded, when set, counts the audit rows written (see
	// Changes.recording).
	recorded *atomic.Int32
	// freshWindow is Config.FreshSignIn.
	freshWindow time.Duration
}

// The stores each concern uses: a narrow view of portal.Store.
type (
	changeStore interface {
		portal.Inventory
		portal.AuditLog
		portal.Locker
		Commit(ctx context.Context, ev portal.AuditEvent, change portal.InventoryChange) (portal.AuditEvent, portal.InventoryItem, error)
		OpenIntents(ctx context.Context, job string, before time.Time, limit int) ([]portal.OpenIntent, error)
	}
	readStore interface {
		portal.Inventory
		portal.AuditLog
		portal.AuditCheckpoints
	}
	jobStore interface {
		portal.Inventory
		portal.PlanStore
		portal.JobStore
	}
	// listStore is what the list index reads: rows, and names to
	// search them by.
	listStore interface {
		portal.Inventory
		portal.NameStore
	}
)

// New returns a Service; ACS and Store are required.
func New(cfg Config) *Service {
	if cfg.LockWait <= 0 {
		cfg.LockWait = 5 * time.Second
	}
	if cfg.LockTTL <= 0 {
		cfg.LockTTL = 15 * time.Second
	}
	c := cfg.core()
	lists := newListCache(cfg.Store, cfg.Now, cfg.KnownApps)
	pause := &graphPause{}
	return &Service{
		Changes: &Changes{core: c, acs: cfg.ACS, store: cfg.Store, lockWait: cfg.LockWait, lockTTL: cfg.LockTTL,
			spelling: cfg.ResourceAccountSpelling, expiry: &expiryBackoff{}},
		Reads: &Reads{core: c, acs: cfg.ACS, store: cfg.Store, lists: lists, chain: &chainCache{keys: cfg.CheckpointKeys}},
		Names: &Names{core: c, dir: cfg.Directory, store: cfg.Store, lists: lists, acsResourceID: cfg.ACSResourceID,
			graphPause: pause, appsRefused: &graphPause{}, renewing: &sync.Map{}},
		Jobs:      &Jobs{core: c, store: cfg.Store},
		Readiness: newReadiness(c, cfg, lists, pause),
	}
}

// core is what every use case shares, from cfg with its defaults.
func (cfg *Config) core() core {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return core{now: cfg.Now, log: cfg.Logger, requireWhy: cfg.RequireJustification, audit: cfg.Store, freshWindow: cfg.FreshSignIn}
}

// RequireJustification reports whether changes need a typed reason (forms
// mark the field required).
func (s *Service) RequireJustification() bool { return s.Changes.RequireJustification() }

// FreshSignInWindow is how recent a sign-in the most destructive acts ask
// for (0: none).
func (s *Service) FreshSignInWindow() time.Duration { return s.Changes.FreshSignInWindow() }

// CleanJustification is core.CleanJustification, for handlers that check
// a justification before a use case that stores it (a bulk repair).
func (s *Service) CleanJustification(v string) (string, error) {
	return s.Changes.CleanJustification(v)
}

// RequireJustification reports whether changes need a typed reason (forms
// mark the field required).
func (s *core) RequireJustification() bool { return s.requireWhy }

// Who is the person (or job) asking, and from where.
type Who struct {
	User     portal.User
	ClientIP string
	// System names a background job acting on its own ("expiry"); User then
	// carries only the tenant and the job's roles.
	System string
	// Via says where a change came from when not from a form, e.g. "bulk
	// job 3f2a…, line 12"; the audit rows of the change carry it.
	Via string
	// Step, for a bulk job's line, is that line (job, holder, line): each
	// of the change's commits is fenced by the job's hold and recorded on
	// the line's row (see Changes.ApplyRow).
	Step *portal.JobStep
}

func (w Who) actor() portal.Actor {
	if w.System != "" {
		return portal.Actor{TenantID: w.User.TenantID, Name: "System (" + w.System + ")"}
	}
	return portal.ActorOf(w.User)
}

// CleanJustification validates a justification as typed and refuses an
// empty one when configuration requires it.
func (s *core) CleanJustification(v string) (string, error) {
	v, err := portal.CleanJustification(v)
	if err == nil && v == "" && s.requireWhy {
		err = portal.Invalid(portal.FieldJustification, "Please say why: a justification is required for every change.")
	}
	return v, err
}

// MayChange reports whether u may change an assignment of kind k: admins
// anything, helpdesk users only, auditors nothing. The error is EFORBIDDEN
// and says why.
func MayChange(u portal.User, k portal.PrincipalKind) error {
	switch {
	case u.Has(portal.RoleAdmin):
		return nil
	case u.Has(portal.RoleHelpdesk) && k == portal.KindUser:
		return nil
	case u.Has(portal.RoleHelpdesk):
		return portal.Errorf(portal.EFORBIDDEN, "Helpdesk staff may change user assignments only; ask an admin to change a resource account.")
	}
	return portal.Errorf(portal.EFORBIDDEN, "Your role may read assignments but not change them.")
}

// MayChangeItem is MayChange for an inventory row, also for what the last
// verification saw in ACS: a helpdesk agent must not overwrite or delete a
// resource account that ACS holds where the inventory says user.
func MayChangeItem(u portal.User, it portal.InventoryItem) error {
	if err := MayChange(u, it.Kind); err != nil {
		return err
	}
	if it.Observed != nil && it.Observed.Kind != portal.KindUnknown {
		return MayChange(u, it.Observed.Kind)
	}
	return nil
}

// Seen fingerprints what a page shows of a row — its version, and what its
// last verification found (state, and what ACS held) — so a change made
// from that page is refused when either moved, even if only a background
// verification moved it. The verification's time is left out: finding the
// same again changes nothing the page relied on.
func Seen(it portal.InventoryItem) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d|%s|", it.Version, it.State)
	if it.Observed != nil {
		fmt.Fprintf(h, "%s|%s|%v", it.Observed.Kind, it.Observed.Spelling, portal.NormalizeClientIDs(it.Observed.ClientIDs))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// checkSeen refuses a change whose page showed another state of the row.
func checkSeen(seen string, item portal.InventoryItem, proposed portal.Assignment) error {
	if seen == "" || seen == Seen(item) {
		return nil
	}
	return conflict("This assignment was changed or verified again after you opened the page. Nothing was changed: review the current state and try again.", &Conflict{Item: &item, Proposed: proposed})
}

// MayRead reports whether u may see the tenant's assignments and audit log.
func MayRead(u portal.User) bool {
	return u.HasAny(portal.RoleAdmin, portal.RoleHelpdesk, portal.RoleAuditor)
}

// Conflict is the cause inside an ECONFLICT error from Edit, Revoke or
// Grant: what the person's page was based on no longer holds. Pages show
// both states and change nothing.
type Conflict struct {
	Reason string
	// Item is the inventory row as it is now (nil: none).
	Item *portal.InventoryItem
	// ACS is what ACS holds now (nil: none, or not asked).
	ACS *portal.Assignment
	// Proposed is what the person asked for.
	Proposed portal.Assignment
}

func (c *Conflict) Error() string { return "conflict: " + c.Reason }

func conflict(reason string, c *Conflict) error {
	c.Reason = reason
	return portal.Wrap(c, portal.ECONFLICT, reason)
}

// AsConflict finds the Conflict inside err.
func AsConflict(err error) (*Conflict, bool) {
	var c *Conflict
	ok := errors.As(err, &c)
	return c, ok
}

// Result is what a change did.
type Result struct {
	// Item is the inventory row afterwards (zero after a revoke).
	Item    portal.InventoryItem
	Outcome portal.AuditOutcome
	// Created is true when ACS created the assignment (201) rather than
	// replaced it.
	Created bool
	// Detail is a sentence for the person.
	Detail string
	Call   portal.ACSCall
	// Action is the audit action the change was recorded as: an edit of
	// the end date or label alone is ActionEditInventory, not ActionEdit.
	Action portal.AuditAction
	// Change is what the change did to the assignment (Edit), as its
	// audit row records it: before → after.
	Change portal.StateChange
	// SeenBefore is the row's fingerprint (Seen) just before the change
	// (Verify): a page that showed it has missed no change but this one.
	SeenBefore string
}

// lockName is the lock for one assignment: tenant and object, canonical.
func lockName(tenant, object portal.GUID) string {
	return "assignment:" + tenant.String() + ":" + object.String()
}

func newHolder() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ErrBusy is inside the error of a change that gave up waiting for another
// change to the same assignment (or for the lease of one that died).
var ErrBusy = errors.New("access: the assignment is being changed")

// withLock runs fn holding the assignment's lock, waiting up to LockWait for
// another change to finish. The lock is released with a context of its own,
// so a cancelled request still frees it. fn's context carries the lease:
// every commit made with it is fenced by it (see commit), so a change that
// outlived its lease — its instance paused past LockTTL, and another change
// took the lock — records nothing.
func (s *Changes) withLock(ctx context.Context, tenant, object portal.GUID, fn func(ctx context.Context) error) error {
	name, holder := lockName(tenant, object), newHolder()
	deadline := time.Now().Add(s.lockWait)
	wait := 20 * time.Millisecond
	for {
		ok, err := s.store.TryLock(ctx, name, holder, s.now().Add(s.lockTTL))
		if err != nil {
			return err
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			return portal.Wrap(ErrBusy, portal.ECONFLICT, "Someone else is changing this assignment right now. Wait a moment and try again.")
		}
		select {
		case <-ctx.Done():
			return portal.Wrap(ctx.Err(), portal.EUNAVAILABLE, "The request was cancelled while waiting for another change to this assignment.")
		case <-time.After(wait):
		}
		wait = min(wait*2, 250*time.Millisecond)
	}
	// Keep the lease while the change runs: one change may make several
	// ACS calls, each allowed its own deadline, so no fixed TTL is safe.
	stop := make(chan struct{})
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		t := time.NewTicker(s.lockTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				// Renew, not TryLock: a lock taken over (this instance
				// was paused) and released since must not come back to
				// this change, whose commits it fences.
				ok, err := s.store.Renew(rctx, name, holder, s.now().Add(s.lockTTL))
				cancel()
				if err != nil || !ok {
					s.log.ErrorContext(ctx, "assignment lock not renewed", "lock", name, "err", err)
				}
			}
		}
	}()
	defer func() {
		close(stop)
		<-renewed
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.store.Unlock(uctx, name, holder); err != nil {
			s.log.WarnContext(ctx, "unlock failed; the lease will lapse", "lock", name, "err", err)
		}
	}()
	return fn(context.WithValue(ctx, leaseKey{}, portal.Lease{Name: name, Holder: holder}))
}

// leaseKey and stepKey carry, in a change's context, the lease it holds
// (withLock) and the bulk job line it applies (ApplyRow), for commit.
type (
	leaseKey struct{}
	stepKey  struct{}
)

// lineStep is the bulk job line a change applies, and the words (Who.Via)
// its audit rows' details end with.
type lineStep struct {
	step portal.JobStep
	via  string
}

// acsCode returns the ACS error code inside err, if any.
func acsCode(err error) string {
	var c interface{ ACSErrorCode() string }
	if errors.As(err, &c) {
		return c.ACSErrorCode()
	}
	return ""
}

// definiteFailure reports whether a failed ACS write certainly changed
// nothing: ACS answered with a 4xx. Without an answer (timeout, reset) or
// after a 5xx, the write may have been applied, and must be settled by a GET.
func definiteFailure(call portal.ACSCall) bool {
	return call.Status >= 400 && call.Status < 500
}

// rowToChange loads the row a change (action) to object is about, inside
// its lock, and checks in order: that it exists, that who may change it
// (recording a refusal), and that the person's page was made from this very
// row — version, and fingerprint when given (stale: ECONFLICT with what is
// there now). proposed is what the person asked for, for the conflict page
// (nil: the row's own assignment).
func (s *Changes) rowToChange(ctx context.Context, who Who, action portal.AuditAction, object portal.GUID, version int64, seen string, proposed *portal.Assignment) (portal.InventoryItem, error) {
	item, err := s.store.GetItem(ctx, who.User.TenantID, object)
	if err != nil {
		return item, notInInventory(err)
	}
	if err := MayChangeItem(who.User, item); err != nil {
		s.denied(ctx, who, action, item.ObjectID, item.Kind, err)
		return item, err
	}
	p := item.Assignment
	if proposed != nil {
		p = *proposed
	}
	if version != item.Version {
		return item, conflict("This assignment was changed after you opened the page. Nothing was changed: review the current state and try again.", &Conflict{Item: &item, Proposed: p})
	}
	return item, checkSeen(seen, item, p)
}

// appendAudit and commit are the store's, counting rows when recorded is
// set.
func (s *core) appendAudit(ctx context.Context, ev portal.AuditEvent) (portal.AuditEvent, error) {
	stored, err := s.audit.AppendAudit(ctx, ev)
	if err == nil && s.recorded != nil {
		s.recorded.Add(1)
	}
	return stored, err
}

// commit fences the commit with the lease and the job line ctx carries
// (withLock, ApplyRow), and records it on the line's job row: an intent's
// Seq, or, for an outcome or event that ends the line, the line's result —
// in the same transaction as the audit row and the inventory change. That
// is why a bulk line has exactly one outcome even when its instance is
// killed right after it: there is no moment when ACS and the inventory
// show the line applied but its job row does not, so a resumed job never
// tries it again, and never records it a second time as "no change". (The
// other way, a resume that looks for the line's outcome in the audit log,
// would have to tell which of a line's audit rows decided it, and it could
// not fence a stale runner out.)
func (s *Changes) commit(ctx context.Context, ev portal.AuditEvent, change portal.InventoryChange) (portal.AuditEvent, portal.InventoryItem, error) {
	return s.commitLine(ctx, ev, change, true)
}

// commitLine is commit; ends says whether an outcome or event ends its
// bulk line (false: the line is tried again).
func (s *Changes) commitLine(ctx context.Context, ev portal.AuditEvent, change portal.InventoryChange, ends bool) (portal.AuditEvent, portal.InventoryItem, error) {
	change.Lease, _ = ctx.Value(leaseKey{}).(portal.Lease)
	if l, ok := ctx.Value(stepKey{}).(lineStep); ok {
		step := l.step
		if ends && ev.Phase != portal.PhaseIntent {
			detail := ev.Detail
			if detail == l.via {
				detail = ""
			}
			detail = lineDetail(strings.TrimSuffix(detail, " ("+l.via+")"), ev.ACSStatus == 201) // 201: ACS created it
			step.Result = &portal.RowResult{Outcome: ev.Outcome, Detail: detail, RequestID: ev.RequestID, At: ev.Time}
		}
		change.Step = &step
	}
	stored, item, err := s.store.Commit(ctx, ev, change)
	if err == nil && s.recorded != nil {
		s.recorded.Add(1)
	}
	return stored, item, err
}
