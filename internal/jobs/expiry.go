package jobs

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
)

const expiryLease = "job:expiry"

// Expirer revokes time-boxed access when its time is up, and settles the
// changes whose instance stopped mid-change (access.Changes.SettleIntents).
type Expirer struct {
	Service *access.Service
	Locks   portal.Locker
	// Every is how often it looks (default 1 min).
	Every time.Duration
	// Grace is how long after its end an assignment is left alone, so a
	// renewal made at the last minute wins (default 0).
	Grace    time.Duration
	LeaseTTL time.Duration // default 2 min
	Logger   *slog.Logger
	Now      func() time.Time

	once   sync.Once
	holder string
}

func (x *Expirer) init() {
	x.once.Do(func() {
		x.holder = newHolder("expirer")
		setDefault(&x.Every, time.Minute)
		setDefault(&x.LeaseTTL, 2*time.Minute)
		if x.Logger == nil {
			x.Logger = slog.New(slog.DiscardHandler)
		}
		if x.Now == nil {
			x.Now = time.Now
		}
	})
}

// Run looks for ended access every interval until ctx ends.
func (x *Expirer) Run(ctx context.Context) {
	x.init()
	t := time.NewTicker(x.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			x.RunOnce(ctx)
		}
	}
}

// RunOnce revokes what has ended if no instance holds the lease, and
// reports whether it ran.
func (x *Expirer) RunOnce(ctx context.Context) (access.ExpiryReport, bool) {
	x.init()
	var rep access.ExpiryReport
	ran := leased(ctx, x.Locks, expiryLease, x.holder, x.LeaseTTL, x.Now, x.Logger, func(ctx context.Context) {
		ctx = portal.Background(ctx) // nobody waits on its calls: people's go first
		who := access.Who{User: portal.User{Roles: []portal.Role{portal.RoleAdmin}}, System: "expiry"}
		// Changes whose instance died mid-change are settled here too:
		// this job runs on one instance at a time, every minute.
		if n, err := x.Service.SettleIntents(ctx); err != nil {
			x.Logger.WarnContext(ctx, "some open intents not settled; the next run tries again", "event", "job.settle", "settled", n, "err", err)
		} else if n > 0 {
			x.Logger.InfoContext(ctx, "open intents settled", "event", "job.settle", "settled", n)
		}
		var err error
		if rep, err = x.Service.Expire(ctx, who, x.Grace); err != nil {
			x.Logger.ErrorContext(ctx, "expiry failed", "event", "job.expiry", "err", err)
			return
		}
		if rep.Revoked > 0 || rep.Failed > 0 {
			x.Logger.InfoContext(ctx, "expired access revoked", "event", "job.expiry", "revoked", rep.Revoked, "failed", rep.Failed)
		}
	})
	return rep, ran
}
