package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/bulk"
	"github.com/teamsphone/portal/internal/entra"
	"github.com/teamsphone/portal/internal/graph"
	"github.com/teamsphone/portal/internal/jobs"
	"github.com/teamsphone/portal/internal/metrics"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/web"
)

// runServe runs the portal for real. Every setting comes from the
// environment (see loadServeConfig); a missing or bad one stops it with one
// line per problem.
func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	cfg, problems := loadServeConfig(getenv)
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, "portal serve:", p)
		}
		return errors.New("configuration is incomplete; see the lines above")
	}
	logger := slog.New(slog.NewJSONHandler(stdout, nil))

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	db, err := cfg.Database.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()

	cred, err := entraCredential(cfg)
	if err != nil {
		return err
	}
	tenant := "organizations"
	if len(cfg.Tenants) == 1 {
		tenant = cfg.Tenants[0].String()
	}
	var graphCfg *entra.GraphConfig
	var directory portal.Directory // nil: IDs only
	if cfg.Graph {
		directory = graph.New(graph.DefaultBase, nil)
		sealer, err := entra.NewSealer(cfg.TokenCacheKey)
		if err != nil {
			return err
		}
		graphCfg = &entra.GraphConfig{Scopes: graphScopes, Caches: db, Sealer: sealer}
	}
	auth, err := entra.New(entra.Config{
		Authority:      cfg.EntraHost + "/" + tenant,
		ClientID:       cfg.ClientID,
		Credential:     cred,
		RedirectURL:    cfg.BaseURL + "/auth/callback",
		AllowedTenants: cfg.Tenants,
		RoleNames:      cfg.RoleNames,
		Graph:          graphCfg,
	})
	if err != nil {
		return err
	}
	m := metrics.New(metrics.Sources{AuditRows: db.AuditRows, ActiveSessions: db.SessionCount, JobRows: db.ActiveJobRows})
	acsClient, acsCred, err := newACSClient(cfg, m)
	if err != nil {
		return err
	}
	service := access.New(access.Config{ACS: acsClient, Store: db, RequireJustification: cfg.RequireJustification, Logger: logger,
		Directory: directory, ACSResourceID: cfg.ACSResourceID})
	reconciler := &jobs.Reconciler{Service: service, Locks: db, Every: cfg.ReconcileEvery, Logger: logger}
	// Background work stops with ctx; wait for it before the deferred
	// db.Close, so no job writes to a closed database.
	var background sync.WaitGroup
	defer background.Wait()
	background.Go(func() { reconciler.Run(ctx) })
	background.Go(func() { (&jobs.Expirer{Service: service, Locks: db, Grace: cfg.ExpiryGrace, Logger: logger}).Run(ctx) })
	bulkRunner := &jobs.BulkRunner{Service: service, Jobs: db, Logger: logger, Observer: m}
	background.Go(func() { bulkRunner.Run(ctx) })
	site := web.New(web.Deps{
		ExpiryGrace:    cfg.ExpiryGrace,
		Auth:           auth,
		Sessions:       db,
		Access:         service,
		Reconciler:     reconciler,
		Jobs:           bulkRunner,
		Bulk:           &bulk.Planner{Access: service, Plans: db},
		KnownApps:      cfg.KnownApps,
		SignOutOrigin:  cfg.EntraHost,
		Logger:         logger,
		BaseURL:        cfg.BaseURL,
		Session:        web.SessionOptions{Secure: true, Idle: cfg.SessionIdle, Absolute: cfg.SessionAbsolute},
		HSTS:           strings.HasPrefix(cfg.BaseURL, "https://"),
		TrustedProxies: cfg.TrustedProxies,
		Metrics:        m,
		Ready:          readiness(db, acsCred),
	})
	background.Go(func() { pruneSessions(ctx, site, 10*time.Minute, logger) })
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("PORTAL_METRICS_ADDR: %w", err)
		}
		msrv := metricsServer(m)
		background.Go(func() { serveUntilDone(ctx, msrv, mln) })
		logger.Info("metrics serving", "addr", mln.Addr().String())
	}
	srv := web.HTTPServer(site)
	logger.Info("portal serving", "addr", ln.Addr().String(), "base_url", cfg.BaseURL)
	return serveUntilDone(ctx, srv, ln)
}

// newACSClient talks to ACS with the connection string's access key, or
// else with the managed identity (system- or user-assigned), which it also
// returns for the readiness probe (nil with an access key).
func newACSClient(cfg serveConfig, observer acs.CallObserver) (*acs.Client, azcore.TokenCredential, error) {
	if cfg.ACSConnection != nil {
		c, err := acs.New(acs.Options{Endpoint: cfg.ACSConnection.Endpoint, AccessKey: cfg.ACSConnection.AccessKey, Observer: observer})
		return c, nil, err
	}
	cred, err := acs.NewCredential(acs.CredentialOptions{ManagedIdentityClientID: cfg.ManagedIdentity})
	if err != nil {
		return nil, nil, err
	}
	c, err := acs.New(acs.Options{Endpoint: cfg.ACSEndpoint, Credential: cred, Observer: observer})
	return c, cred, err
}

// readyStore is what readiness asks of the database.
type readyStore interface {
	Ping(ctx context.Context) error
	MigrationsCurrent(ctx context.Context) (bool, error)
}

// readiness reports whether this instance can serve: its database answers
// and holds every migration this binary knows (an instance older than the
// schema, or newer, must not take traffic), and — with a managed identity —
// a token for ACS can be had (nil cred: an access key, nothing to fetch).
// azidentity caches the token, so a probe costs a network call only when it
// is due for renewal.
func readiness(db readyStore, cred azcore.TokenCredential) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if err := db.Ping(ctx); err != nil {
			return portal.Wrap(err, portal.EUNAVAILABLE, "the database does not answer")
		}
		current, err := db.MigrationsCurrent(ctx)
		if err != nil {
			return portal.Wrap(err, portal.EUNAVAILABLE, "the database's migrations cannot be read")
		}
		if !current {
			return portal.Errorf(portal.EUNAVAILABLE, "the database's schema is not this version's")
		}
		if cred != nil {
			tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if _, err := cred.GetToken(tctx, policy.TokenRequestOptions{Scopes: []string{acs.Scope}}); err != nil {
				return portal.Wrap(err, portal.EUNAVAILABLE, "no token for ACS can be had with the managed identity")
			}
		}
		return nil
	}
}

// entraCredential is how the portal proves itself to Entra when it redeems
// a sign-in's code: a client secret, a certificate, or a token of its
// managed identity presented as a federated assertion (no secret to rotate).
func entraCredential(cfg serveConfig) (confidential.Credential, error) {
	switch {
	case cfg.CertificatePEM != nil:
		certs, key, err := confidential.CertFromPEM(cfg.CertificatePEM, cfg.CertificatePW)
		if err != nil {
			return confidential.Credential{}, err
		}
		return confidential.NewCredFromCert(certs, key)
	case cfg.Federated:
		mi, err := acs.NewCredential(acs.CredentialOptions{ManagedIdentityClientID: cfg.FederatedID})
		if err != nil {
			return confidential.Credential{}, err
		}
		return confidential.NewCredFromAssertionCallback(func(ctx context.Context, _ confidential.AssertionRequestOptions) (string, error) {
			tok, err := mi.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"api://AzureADTokenExchange/.default"}})
			return tok.Token, err
		}), nil
	}
	return confidential.NewCredFromSecret(cfg.ClientSecret)
}

// metricsServer serves /metrics alone, on the address the operator gave
// for it (never the portal's public one).
func metricsServer(m *metrics.Metrics) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
}
