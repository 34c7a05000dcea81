// Package storekit is what the SQLite and PostgreSQL stores share besides
// their SQL, so that both answer alike from one copy: the checks they make
// before writing, how they keep text (Text) and seal audit rows, how rows
// are encoded (Writer) and decoded (Reader) in driver-neutral values — each
// store converting only its own driver's types, through Values and
// Columns — and the errors and page sizes they answer with. It holds no
// SQL and imports no driver.
package storekit

import (
	"errors"
	"strings"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// Page sizes of ListAudit: a filter's Limit of 0 or less takes the
// default, and no page holds more than the maximum.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// CheckChange refuses an inventory change that does not fit its audit
// row (another assignment, no kind, an unknown state) before a store writes
// either: the two are written together or not at all.
func CheckChange(ev portal.AuditEvent, change portal.InventoryChange) error {
	it := change.Item
	switch change.Op {
	case portal.InventoryKeep:
		return nil
	case portal.InventoryPut, portal.InventoryDelete, portal.InventoryVerified:
	default:
		return portal.Errorf(portal.EINVALID, "Unknown change to the inventory.")
	}
	if it.TenantID.IsZero() || it.ObjectID.IsZero() {
		return portal.Errorf(portal.EINVALID, "The change names no assignment.")
	}
	if ev.TenantID != it.TenantID || ev.ObjectID != it.ObjectID {
		return portal.Errorf(portal.EINVALID, "The audit row and the change name different assignments.")
	}
	if change.Op == portal.InventoryPut && it.Kind != portal.KindUser && it.Kind != portal.KindResourceAccount {
		return portal.Errorf(portal.EINVALID, "The kind of principal is missing.")
	}
	if change.Op != portal.InventoryDelete && it.State != "" {
		if _, err := portal.ParseVerifyState(string(it.State)); err != nil {
			return err
		}
	}
	return nil
}

// StateOrUnverified is how a row without a verification state is stored.
func StateOrUnverified(s portal.VerifyState) portal.VerifyState {
	if s == "" {
		return portal.StateUnverified
	}
	return s
}

// IDFragment returns the part of a GUID that s could be: s itself if it is
// made of hex digits and dashes, the canonical form if s is a whole GUID
// (braces allowed), and "" if s cannot be part of any GUID.
func IDFragment(s string) string {
	if g, err := portal.ParseGUID(s); err == nil {
		return g.String()
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || c == '-') {
			return ""
		}
	}
	return s
}

// CeilMillis rounds t up to a whole millisecond, in UTC, so that
// comparing times kept to the millisecond with it compares the times
// exactly: a row at 10 ms is not at or after 10.5 ms, and is before it.
func CeilMillis(t time.Time) time.Time {
	c := t.Truncate(time.Millisecond)
	if t.After(c) {
		c = c.Add(time.Millisecond)
	}
	return c.UTC()
}

// PageSize is the page size a filter's Limit asks for, within bounds.
func PageSize(limit int) int {
	switch {
	case limit <= 0:
		return DefaultPageSize
	case limit > MaxPageSize:
		return MaxPageSize
	}
	return limit
}

// RolesText is how a job's roles are stored: space-separated, each
// without spaces.
func RolesText(roles []portal.Role) string {
	var b strings.Builder
	for _, r := range roles {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strings.ReplaceAll(string(r), " ", ""))
	}
	return b.String()
}

// CheckNames refuses, before a store writes any, names it must not cache
// for tenant: another tenant's (each tenant's names are shown to that
// tenant's people only), or without a known space, an ID or a known kind.
func CheckNames(tenant portal.GUID, names []portal.DirectoryName) error {
	for _, n := range names {
		if tenant.IsZero() || n.TenantID != tenant {
			return portal.Errorf(portal.EINVALID, "A directory name is not of the tenant it is cached for.")
		}
		if n.Space != portal.SpaceObject && n.Space != portal.SpaceApp {
			return portal.Errorf(portal.EINVALID, "A directory name has no known kind of ID.")
		}
		if n.ID.IsZero() {
			return portal.Errorf(portal.EINVALID, "A directory name has no ID.")
		}
		switch n.Kind {
		case portal.KindUnknown, portal.KindUser, portal.KindResourceAccount:
		default:
			return portal.Errorf(portal.EINVALID, "A directory name names an unknown kind of principal.")
		}
	}
	return nil
}

// Answers both stores give alike.
var (
	ErrNoItem    = portal.Errorf(portal.ENOTFOUND, "The portal has no record of that assignment.")
	ErrNoJob     = portal.Errorf(portal.ENOTFOUND, "There is no such job.")
	ErrNoPlan    = portal.Errorf(portal.ENOTFOUND, "There is no such plan.")
	ErrNotHeld   = portal.Errorf(portal.ECONFLICT, "This instance no longer holds the job.")
	ErrRowDone   = portal.Errorf(portal.ECONFLICT, "This line of the job already has its outcome.")
	ErrApplied   = portal.Errorf(portal.ECONFLICT, "This plan has already been applied.")
	ErrUnapplied = portal.Errorf(portal.ENOTFOUND, "This plan has not been applied.")
	ErrNoSession = portal.Errorf(portal.ENOTFOUND, "No such session.")
	ErrEnded     = portal.Errorf(portal.ENOTFOUND, "The session has ended.")
	ErrNoTokens  = portal.Errorf(portal.ENOTFOUND, "This session has no token cache.")
)

// NoRow maps noRows, a driver's error for a single-row read that found
// none, to notFound; any other error (or nil) is returned as is.
func NoRow(err, noRows, notFound error) error {
	if errors.Is(err, noRows) {
		return notFound
	}
	return err
}

// Scoped picks a query over every tenant (tenant is the zero GUID) or
// over one, which takes tenant as its one argument, bound as arg.
func Scoped(tenant portal.GUID, every, one string, arg any) (string, []any) {
	if tenant.IsZero() {
		return every, nil
	}
	return one, []any{arg}
}

// CitedIntents returns the Seqs of the intents evs' outcome rows cite:
// those a page of one row per change reads with it.
func CitedIntents(evs []portal.AuditEvent) []int64 {
	var out []int64
	for _, e := range evs {
		if e.Phase == portal.PhaseOutcome && e.IntentSeq > 0 {
			out = append(out, e.IntentSeq)
		}
	}
	return out
}

// BySeq maps evs by Seq.
func BySeq(evs []portal.AuditEvent) map[int64]portal.AuditEvent {
	out := make(map[int64]portal.AuditEvent, len(evs))
	for _, e := range evs {
		out[e.Seq] = e
	}
	return out
}

// NotVerified is why an InventoryVerified changed no row, as exists (a
// row of one boolean: whether the row exists) tells: the row is gone
// (ENOTFOUND), or it is at another version than ifVersion asked for
// (ECONFLICT).
func NotVerified(exists Scanner, ifVersion int64) error {
	var found bool
	if err := exists.Scan(&found); err != nil {
		return err
	}
	if found && ifVersion != 0 {
		return portal.Errorf(portal.ECONFLICT, "The assignment changed while it was being checked.")
	}
	return portal.Errorf(portal.ENOTFOUND, "The portal has no record of that assignment: it was removed meanwhile.")
}

// NotCancellable is why a job in state s cannot be cancelled.
func NotCancellable(s portal.JobState) error {
	return portal.Errorf(portal.EINVALID, "The job has already %s.",
		map[portal.JobState]string{portal.JobDone: "finished", portal.JobCancelled: "been cancelled"}[s])
}

// NotResumable is why a job was not resumed, as the row of its state
// tells: none (noRows, the driver's error) is ErrNoJob, any state but
// interrupted EINVALID.
func NotResumable(state Scanner, noRows error) error {
	var s string
	if err := state.Scan(&s); err != nil {
		return NoRow(err, noRows, ErrNoJob)
	}
	return portal.Errorf(portal.EINVALID, "Only an interrupted job can be resumed; this one is %s.", s)
}

// Changed maps the outcome of a statement that changed n rows: a failure
// (err) with Unavailable, and no row changed to none.
func Changed(n int64, err error, none error, what string) error {
	if err != nil {
		return Unavailable(err, what)
	}
	if n == 0 {
		return none
	}
	return nil
}

// Count reads a count of one row (for metrics); what names the work.
func Count(row Scanner, what string) (n int64, err error) {
	return n, Unavailable(row.Scan(&n), what)
}

// TryLock is Locker.TryLock around take, which runs the store's one
// statement and reports how many rows it inserted or took over.
func TryLock(name, holder string, take func() (int64, error)) (bool, error) {
	if name == "" || holder == "" {
		return false, portal.Errorf(portal.EINVALID, "A lock needs a name and a holder.")
	}
	n, err := take()
	return n == 1 && err == nil, Unavailable(err, "take a lock")
}

// NextCheckpoint runs next on a (read under the audit lock) and checks
// what it returns before a store appends it: numbered right after the
// newest checkpoint, anchoring the head as a holds it, signed. False:
// nothing to append.
func NextCheckpoint(a portal.AuditAnchor, next func(portal.AuditAnchor) (portal.AuditCheckpoint, bool, error)) (portal.AuditCheckpoint, bool, error) {
	c, ok, err := next(a)
	switch {
	case err != nil || !ok:
		return portal.AuditCheckpoint{}, false, err
	case c.Number != a.Newest.Number+1 || c.Head() != a.Head || len(c.Signature) == 0 || c.KeyID == "":
		return portal.AuditCheckpoint{}, false, portal.Errorf(portal.EINVALID, "A checkpoint must be signed, follow the newest and anchor the head.")
	}
	return c, true, nil
}
