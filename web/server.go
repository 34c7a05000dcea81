// Package web is the portal's HTTP layer: one chi route table (routes.go),
// middleware, server-side sessions and handlers that parse, authorise, call
// a use case and render a templ component. It never imports a database
// driver or the ACS client: it talks to the domain's interfaces.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/bulk"
	"github.com/teamsphone/portal/internal/portal"
)

// Deps are what the HTTP layer needs. All are required but Ready and
// KnownApps.
type Deps struct {
	Auth     portal.Authenticator
	Sessions portal.SessionStore
	// Access runs the use cases: every read and change of assignments and
	// the audit log goes through it.
	Access *access.Service
	// KnownApps are the calling-client apps forms offer by name.
	KnownApps []portal.KnownApp
	// Bulk makes plans of uploaded files (nil: no bulk).
	Bulk *bulk.Planner
	// Metrics, if set, counts every answered request by route.
	Metrics RequestObserver
	// Jobs is woken when a bulk job is queued (nil: it is found by polling).
	Jobs JobRunner
	// Reconciler starts reconcile runs (nil: no "Reconcile now").
	Reconciler Reconciler
	// ExpiryGrace is how long ended access stays before the expiry job
	// revokes it (shown on the expiries page).
	ExpiryGrace time.Duration
	Logger      *slog.Logger
	// BaseURL is the portal's public origin (https://portal.example.com),
	// from configuration: redirects are built from it, never from Host.
	BaseURL string
	// TenantNames names the allowed tenants for display.
	TenantNames map[portal.GUID]string
	// Session cookie and timeouts.
	Session SessionOptions
	// SignOutOrigin is the identity provider's origin
	// (https://login.microsoftonline.com), which the CSP's form-action must
	// allow for sign-out's redirect; it comes from configuration.
	SignOutOrigin string
	// TrustedProxies are the address ranges of the proxies in front of the
	// portal (load balancer, ingress): only from them is X-Forwarded-For
	// believed, to find the client's address for the audit log.
	TrustedProxies []netip.Prefix
	// DevMode shows the dev banner on every page.
	DevMode bool
	// HSTS sends Strict-Transport-Security (serve mode behind https).
	HSTS bool
	// Ready reports whether the portal can serve (database, ACS credential,
	// migrations); nil means always ready.
	Ready func(ctx context.Context) error
	// ProbeTenant is the tenant /readyz probes the portal's access to ACS
	// in (the first allowed one); zero: no probe.
	ProbeTenant portal.GUID
	Now         func() time.Time
	// Limits bound floods from one client (defaults when zero).
	Limits Limits
}

// RequestObserver hears of every answered request (metrics). route is the
// route pattern ("/assignments/{objectId}"), "" when none matched.
type RequestObserver interface {
	ObserveRequest(route, method string, status int, d time.Duration)
}

// Server is the portal's HTTP handler.
type Server struct {
	deps     Deps
	log      *slog.Logger
	sessions *sessionStore
	results  resultsCache
	handler  http.Handler
	// policies records every route's access policy, keyed "METHOD pattern",
	// so a test can prove that no route lacks one.
	policies map[string]policy
	// signInFailures counts failed sign-ins per client address, and
	// mutations changes per session (see Limits).
	signInFailures, mutations flood
}

// New builds the Server and its routes.
func New(d Deps) *Server {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Session.Idle <= 0 {
		d.Session.Idle = 8 * time.Hour
	}
	if d.Session.Absolute <= 0 {
		d.Session.Absolute = 24 * time.Hour
	}
	d.Limits.Defaults()
	s := &Server{
		deps:     d,
		log:      d.Logger,
		sessions: &sessionStore{db: d.Sessions, opts: d.Session, now: d.Now, log: d.Logger},
		policies: map[string]policy{},
	}
	s.signInFailures.limit, s.mutations.limit = d.Limits.FailedSignInsPerMinute, d.Limits.MutationsPerMinute
	s.handler = s.routes()
	return s
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// HTTPServer wraps h in an http.Server with the timeouts a public server
// needs, so a slow client cannot hold connections open.
func HTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// One change may make three ACS calls (GET, PUT, a settling GET),
		// each allowed 60 s: the answer must not be cut off before it.
		WriteTimeout:   4 * time.Minute,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
	}
}
