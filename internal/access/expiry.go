package access

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// checkExpiry is portal.CheckExpiry at the service's now.
func (s *Changes) checkExpiry(t time.Time) error { return portal.CheckExpiry(t, s.now()) }

// ExpiryReport is what one expiry run did.
type ExpiryReport struct {
	Revoked int
	Failed  int // ACS or the database failed; the next run tries again
}

// expiryBatch is how many ended assignments one run reads; those waiting
// after a failure are skipped, so a few that keep failing cannot hold up
// the rest.
const expiryBatch = 1000

// expiryBackoff spaces retries of a revoke that failed: a row ACS keeps
// refusing would otherwise add two audit rows every minute for ever.
type expiryBackoff struct {
	mu   sync.Mutex
	wait map[string]backoff
}

type backoff struct {
	until time.Time
	next  time.Duration
}

func (b *expiryBackoff) waiting(key string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return now.Before(b.wait[key].until)
}

func (b *expiryBackoff) failed(key string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.wait == nil {
		b.wait = map[string]backoff{}
	}
	w := b.wait[key]
	w.next = min(max(2*w.next, time.Minute), time.Hour)
	w.until = now.Add(w.next)
	b.wait[key] = w
}

func (b *expiryBackoff) done(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.wait, key)
}

// Expire revokes every assignment whose time is up (ExpiresAt + grace at or
// before now), as who (a system actor), with the original grant's
// justification in the audit log. A revoke that fails is retried by the
// next run.
func (s *Changes) Expire(ctx context.Context, who Who, grace time.Duration) (ExpiryReport, error) {
	var rep ExpiryReport
	items, err := s.store.ExpiringItems(ctx, s.now().Add(-grace), expiryBatch)
	if err != nil {
		return rep, err
	}
	for _, it := range items {
		key := lockName(it.TenantID, it.ObjectID)
		if s.expiry.waiting(key, s.now()) {
			continue
		}
		w := who
		w.User.TenantID = it.TenantID
		why := s.grantJustification(ctx, it)
		_, err := s.revoke(ctx, w, RevokeRequest{ObjectID: it.ObjectID, Version: it.Version}, why, false)
		switch {
		case err == nil:
			rep.Revoked++
			s.expiry.done(key)
		case portal.ErrorCode(err) == portal.ENOTFOUND, portal.ErrorCode(err) == portal.ECONFLICT:
			// Revoked or changed meanwhile: the next run sees the new state.
		default:
			rep.Failed++
			s.expiry.failed(key, s.now())
			s.log.WarnContext(ctx, "expiry: revoke failed", "tid", it.TenantID.String(), "oid", it.ObjectID.String(), "err", err)
		}
	}
	return rep, nil
}

// grantJustification is the reason given when the access was granted (or
// last changed, or adopted), for the expiry's audit row.
func (s *Changes) grantJustification(ctx context.Context, it portal.InventoryItem) string {
	page, err := s.store.ListAudit(ctx, portal.AuditFilter{TenantID: it.TenantID, ObjectID: it.ObjectID, Limit: 50})
	if err == nil {
		for _, ev := range page.Events {
			if (ev.Action == portal.ActionGrant || ev.Action == portal.ActionEdit || ev.Action == portal.ActionEditInventory || ev.Action == portal.ActionAdopt) && ev.Justification != "" {
				return ev.Justification
			}
		}
	}
	return "Time-boxed access ended."
}

// Upcoming lists the person's tenant's assignments that have an expiry,
// the soonest first.
func (s *Reads) Upcoming(ctx context.Context, who Who) ([]portal.InventoryItem, error) {
	if err := mayRead(who.User); err != nil {
		return nil, err
	}
	var out []portal.InventoryItem
	err := s.lists.each(ctx, who.User.TenantID, func(it portal.InventoryItem) {
		if !it.ExpiresAt.IsZero() {
			out = append(out, it)
		}
	})
	slices.SortFunc(out, func(a, b portal.InventoryItem) int { return a.ExpiresAt.Compare(b.ExpiresAt) })
	return out, err
}
