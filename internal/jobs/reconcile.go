// Package jobs runs the portal's background work — reconcile, the expiry of
// time-boxed access and bulk jobs — under leases in the database, so that
// with several instances on one database each job runs on one instance at a
// time.
//
// It holds no business rules: every change goes through internal/access as a
// person's would, so background work is authorised and audited like any
// other — reconcile and expiry as named system actors, a bulk job as the
// person who queued it.
package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
)

// reconcileLease names the reconcile job's lease.
const reconcileLease = "job:reconcile"

// Reconciler compares the inventory with ACS on a schedule and on demand.
type Reconciler struct {
	Service *access.Service
	Locks   portal.Locker
	// Every is the schedule (0: on demand only); each scheduled run covers
	// every tenant.
	Every time.Duration
	// LeaseTTL bounds a run whose instance died (default 2 min); the lease
	// is renewed while the run goes on.
	LeaseTTL time.Duration
	// RetryEvery is how soon a requested run is tried again while another
	// instance holds the lease (default 30 s; up to 20 times).
	RetryEvery time.Duration
	Logger     *slog.Logger
	Now        func() time.Time

	once    sync.Once
	holder  string
	trigger chan portal.GUID
	mu      sync.Mutex
	running bool
	queued  map[portal.GUID]int // tenant → runs tried while another instance held the lease
}

// maxRetries bounds how often a requested run is tried again.
const maxRetries = 20

func (r *Reconciler) init() {
	r.once.Do(func() {
		r.holder = newHolder("reconciler")
		r.trigger = make(chan portal.GUID, 64)
		r.queued = map[portal.GUID]int{}
		setDefault(&r.LeaseTTL, 2*time.Minute)
		setDefault(&r.RetryEvery, 30*time.Second)
		if r.Logger == nil {
			r.Logger = slog.New(slog.DiscardHandler)
		}
		if r.Now == nil {
			r.Now = time.Now
		}
	})
}

// Trigger asks for a run over one tenant as soon as possible and reports
// whether the request was taken (false: too many are queued).
// A tenant already queued is not queued twice, so one person pressing the
// button repeatedly cannot crowd out the others.
func (r *Reconciler) Trigger(tenant portal.GUID) bool {
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.queued[tenant]; ok {
		return true
	}
	select {
	case r.trigger <- tenant:
		r.queued[tenant] = 0
		return true
	default:
		return false
	}
}

func (r *Reconciler) setRunning(v bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running = v
}

// Running reports whether this instance is reconciling now.
func (r *Reconciler) Running() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running
}

// Run serves the schedule and the triggers until ctx ends.
func (r *Reconciler) Run(ctx context.Context) {
	r.init()
	var tick <-chan time.Time
	if r.Every > 0 {
		t := time.NewTicker(r.Every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			r.RunOnce(ctx, portal.GUID{})
		case tenant := <-r.trigger:
			_, ran := r.RunOnce(ctx, tenant)
			r.mu.Lock()
			tries := r.queued[tenant]
			if ran || tries >= maxRetries {
				delete(r.queued, tenant)
				r.mu.Unlock()
				continue
			}
			// Another instance is reconciling (maybe every tenant): try
			// again shortly rather than drop the request.
			r.queued[tenant] = tries + 1
			r.mu.Unlock()
			time.AfterFunc(r.RetryEvery, func() {
				select {
				case r.trigger <- tenant:
				case <-ctx.Done():
				}
			})
		}
	}
}

// RunOnce reconciles one tenant (the zero GUID: every tenant) if no
// instance holds the lease, and reports whether it ran.
func (r *Reconciler) RunOnce(ctx context.Context, tenant portal.GUID) (access.ReconcileReport, bool) {
	r.init()
	var rep access.ReconcileReport
	ran := leased(ctx, r.Locks, reconcileLease, r.holder, r.LeaseTTL, r.Now, r.Logger, func(ctx context.Context) {
		ctx = portal.Background(ctx) // nobody waits on its calls: people's go first
		r.setRunning(true)
		defer r.setRunning(false)
		who := access.Who{User: portal.User{TenantID: tenant, Roles: []portal.Role{portal.RoleAdmin}}, System: "reconcile"}
		var err error
		if rep, err = r.Service.Reconcile(ctx, who, tenant); err != nil {
			r.Logger.ErrorContext(ctx, "reconcile failed", "event", "job.reconcile", "err", err, "report", rep.String())
			return
		}
		r.Logger.InfoContext(ctx, "reconcile finished", "event", "job.reconcile", "tenant", tenant.String(),
			"checked", rep.Checked, "drifted", rep.Drifted, "missing", rep.Missing, "failed", rep.Failed, "seconds", rep.Duration().Seconds())
	})
	return rep, ran
}

// leased runs fn while holding the named lease, renewing it; if another
// instance holds it, fn does not run and leased reports false. If the lease
// is lost midway (the database was unreachable past its expiry), fn's
// context ends, so two instances never run the job side by side for long.
func leased(ctx context.Context, locks portal.Locker, name, holder string, ttl time.Duration, now func() time.Time, log *slog.Logger, fn func(context.Context)) bool {
	ok, err := locks.TryLock(ctx, name, holder, now().Add(ttl))
	if err != nil || !ok {
		if err != nil {
			log.WarnContext(ctx, "job: lease not taken", "lease", name, "err", err)
		}
		return false
	}
	runCtx, cancel := context.WithCancel(ctx)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
				if ok, err := locks.TryLock(runCtx, name, holder, now().Add(ttl)); err != nil || !ok {
					log.ErrorContext(ctx, "job: lease lost; stopping", "lease", name, "err", err)
					cancel()
					return
				}
			}
		}
	}()
	defer func() {
		cancel()
		<-renewed
		uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer ucancel()
		locks.Unlock(uctx, name, holder)
	}()
	fn(runCtx)
	return true
}

func newHolder(job string) string {
	var b [8]byte
	rand.Read(b[:])
	return job + "-" + hex.EncodeToString(b[:])
}
