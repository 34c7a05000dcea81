package main

import (
	"cmp"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/bulk"
	"github.com/teamsphone/portal/internal/jobs"
	"github.com/teamsphone/portal/internal/metrics"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/web"
)

// adapters is what a mode brings to the one portal: its addresses, already
// bound (so a bad one has failed before anything started), the adapters to
// the world outside (real Entra, ACS, Graph and database for serve; the
// emulators and the dev data folder for dev) and its settings.
type adapters struct {
	Listener, MetricsListener net.Listener // MetricsListener nil: no /metrics
	Store                     store
	// ACS says how to reach ACS; assemble adds the metrics observer. A
	// Credential in it is also what readiness asks a token of.
	ACS       acs.Options
	Auth      portal.Authenticator
	Directory portal.Directory // nil: IDs only
	Logger    *slog.Logger

	BaseURL, SignOutOrigin, ACSResourceID string // an https BaseURL turns HSTS on
	Session                               web.SessionOptions
	TrustedProxies                        []netip.Prefix
	Limits                                web.Limits
	KnownApps                             []portal.KnownApp
	TenantNames                           map[portal.GUID]string
	// ProbeTenant is the tenant in which the portal's access to ACS is
	// probed at start and by /readyz (the first allowed one).
	ProbeTenant                 portal.GUID
	ReconcileEvery, ExpiryGrace time.Duration
	// FreshSignIn is how recent a sign-in the most destructive acts ask
	// for (access.Config.FreshSignIn); 0 is defaultFreshSignIn, never none.
	FreshSignIn                   time.Duration
	RequireJustification, DevMode bool
	// Checkpoints sign the audit log's head and verify it on the audit
	// page; both modes have a key.
	Checkpoints checkpointSettings
}

// app is the assembled portal, not yet running.
type app struct {
	// Access runs the use cases; dev seeds its demo data through it
	// before Run.
	Access *access.Service

	listener   net.Listener
	server     *http.Server
	background []func(context.Context)
}

// assemble builds the portal from a's adapters: metrics, the ACS client,
// the use cases, the background jobs and the web server. Nothing runs
// until Run.
func assemble(a adapters) (*app, error) {
	db, logger := a.Store, a.Logger
	var service *access.Service // made below; scrapes come after
	m := metrics.New(metrics.Sources{AuditRows: db.AuditRows, ActiveSessions: db.SessionCount, JobRows: db.ActiveJobRows,
		AuditCheckpoint: func(ctx context.Context) (int64, int64, time.Time, error) {
			a, err := db.AuditAnchor(ctx)
			return a.Newest.Number, a.Newest.Seq, a.Newest.Time, err
		},
		ListIndex: func() (tenants, rows, bytes int64) {
			lm := service.ListMemory()
			return int64(lm.Tenants), int64(lm.Rows), int64(lm.Bytes)
		},
		ACSAccess: func(ctx context.Context) string {
			if a.ProbeTenant.IsZero() {
				return ""
			}
			return string(service.ProbeACS(ctx, a.ProbeTenant, time.Minute).State)
		}})
	a.ACS.Observer = m
	acsClient, err := acs.New(a.ACS)
	if err != nil {
		return nil, err
	}
	service = access.New(access.Config{ACS: acsClient, Store: db, RequireJustification: a.RequireJustification, Logger: logger,
		FreshSignIn:             cmp.Or(a.FreshSignIn, defaultFreshSignIn),
		ResourceAccountSpelling: a.ACS.ResourceAccountSpelling,
		Directory:               a.Directory, ACSResourceID: a.ACSResourceID, KnownApps: a.KnownApps, CheckpointKeys: a.Checkpoints.Keys,
		ReadinessDirectory: readinessDirectory(a.Directory)})
	reconciler := &jobs.Reconciler{Service: service, Locks: db, Every: a.ReconcileEvery, Logger: logger}
	expirer := &jobs.Expirer{Service: service, Locks: db, Grace: a.ExpiryGrace, Logger: logger}
	bulkRunner := &jobs.BulkRunner{Service: service, Jobs: db, Logger: logger, Observer: m}
	checkpointer := &jobs.Checkpointer{Service: service, Signer: a.Checkpoints.Signer, Policy: a.Checkpoints.Policy, Logger: logger}
	site := web.New(web.Deps{
		ExpiryGrace:    a.ExpiryGrace,
		Auth:           a.Auth,
		Sessions:       db,
		Access:         service,
		Reconciler:     reconciler,
		Jobs:           bulkRunner,
		Bulk:           &bulk.Planner{Access: service, Plans: db},
		KnownApps:      a.KnownApps,
		SignOutOrigin:  a.SignOutOrigin,
		Logger:         logger,
		BaseURL:        a.BaseURL,
		TenantNames:    a.TenantNames,
		Session:        a.Session,
		HSTS:           strings.HasPrefix(a.BaseURL, "https://"),
		TrustedProxies: a.TrustedProxies,
		Limits:         a.Limits,
		DevMode:        a.DevMode,
		Metrics:        m,
		Ready:          readiness(db, a.ACS.Credential),
		ProbeTenant:    a.ProbeTenant,
	})
	p := &app{Access: service, listener: a.Listener, server: web.HTTPServer(site), background: []func(context.Context){
		reconciler.Run,
		expirer.Run,
		bulkRunner.Run,
		func(ctx context.Context) { pruneSessions(ctx, site, 10*time.Minute, logger) },
		site.RunSummaries,
		func(ctx context.Context) { probeAtStart(ctx, service, a.ProbeTenant, logger) },
	}}
	if a.Checkpoints.Keys != nil { // both modes have a key; a zero signer cannot sign
		p.background = append(p.background, checkpointer.Run)
	}
	if mln := a.MetricsListener; mln != nil {
		p.background = append(p.background, func(ctx context.Context) { serveUntilDone(ctx, metricsServer(m), mln) })
	}
	return p, nil
}

// readinessDirectory is the Graph adapter's reads for the readiness
// checks, when it makes them (nil: those checks say unknown).
func readinessDirectory(d portal.Directory) portal.ReadinessDirectory {
	rd, _ := d.(portal.ReadinessDirectory)
	return rd
}

// probeAtStart says in the log, once the portal runs, whether it may call
// ACS (ProbeACS itself warns, with ACS's answer and the fix, when not).
func probeAtStart(ctx context.Context, service *access.Service, tenant portal.GUID, logger *slog.Logger) {
	if tenant.IsZero() {
		return
	}
	if c := service.ProbeACS(ctx, tenant, 0); c.State == portal.CheckPass {
		logger.InfoContext(ctx, "the portal may call ACS", "event", "readiness.acs", "tenant", tenant.String())
	}
}

// Run serves until ctx ends or serving fails. The background work (jobs,
// session pruning, /metrics) stops then too, and Run waits for it before
// returning, so the caller may close the store then: no job writes to a
// closed database.
func (p *app) Run(ctx context.Context) error {
	var background sync.WaitGroup
	defer background.Wait()
	ctx, stop := context.WithCancel(ctx)
	defer stop() // before the Wait above: a server that failed stops the rest
	for _, work := range p.background {
		background.Go(func() { work(ctx) })
	}
	return serveUntilDone(ctx, p.server, p.listener)
}

// metricsServer serves /metrics alone, on the address the operator gave
// for it (never the portal's public one).
func metricsServer(m *metrics.Metrics) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
}
