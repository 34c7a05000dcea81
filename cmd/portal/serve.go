package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"

	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/entra"
	"github.com/teamsphone/portal/internal/graph"
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
	var mln net.Listener
	if cfg.MetricsAddr != "" {
		if mln, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			return fmt.Errorf("PORTAL_METRICS_ADDR: %w", err)
		}
		defer mln.Close()
	}
	db, err := cfg.Database.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()

	auth, err := entraAuthenticator(cfg, db)
	if err != nil {
		return err
	}
	var directory portal.Directory // nil: IDs only
	if cfg.Graph {
		directory = graph.New(graph.DefaultBase, nil)
	}
	acsOpts, err := acsOptions(cfg)
	if err != nil {
		return err
	}
	p, err := assemble(adapters{
		Listener: ln, MetricsListener: mln, Store: db, ACS: acsOpts, Auth: auth, Directory: directory, Logger: logger,
		BaseURL: cfg.BaseURL, SignOutOrigin: cfg.EntraHost, ACSResourceID: cfg.ACSResourceID,
		Session: web.SessionOptions{Secure: true, Idle: cfg.SessionIdle, Absolute: cfg.SessionAbsolute}, TrustedProxies: cfg.TrustedProxies,
		Limits:    cfg.Limits,
		KnownApps: cfg.KnownApps, ProbeTenant: cfg.Tenants[0], ReconcileEvery: cfg.ReconcileEvery, ExpiryGrace: cfg.ExpiryGrace, FreshSignIn: cfg.FreshSignIn, RequireJustification: cfg.RequireJustification,
		Checkpoints: cfg.Checkpoints,
	})
	if err != nil {
		return err
	}
	if mln != nil {
		logger.Info("metrics serving", "addr", mln.Addr().String())
	}
	logger.Info("portal serving", "addr", ln.Addr().String(), "base_url", cfg.BaseURL)
	return p.Run(ctx)
}

// entraAuthenticator signs people in with Entra ID, in the one configured
// tenant or in any of the allowed ones; with Graph on, it also keeps each
// session's Graph tokens, sealed, in caches.
func entraAuthenticator(cfg serveConfig, caches portal.TokenCacheStore) (*entra.Authenticator, error) {
	cred, err := entraCredential(cfg)
	if err != nil {
		return nil, err
	}
	tenant := "organizations"
	if len(cfg.Tenants) == 1 {
		tenant = cfg.Tenants[0].String()
	}
	var graphCfg *entra.GraphConfig
	if cfg.Graph {
		sealer, err := entra.NewSealer(cfg.TokenCacheKey)
		if err != nil {
			return nil, err
		}
		graphCfg = &entra.GraphConfig{Scopes: graphScopes, Caches: caches, Sealer: sealer}
	}
	return entra.New(entra.Config{
		Authority:      cfg.EntraHost + "/" + tenant,
		ClientID:       cfg.ClientID,
		Credential:     cred,
		RedirectURL:    cfg.BaseURL + "/auth/callback",
		AllowedTenants: cfg.Tenants,
		RoleNames:      cfg.RoleNames,
		Graph:          graphCfg,
	})
}

// acsOptions reach ACS with the connection string's access key, or else
// with the managed identity (system- or user-assigned), whose token
// readiness then also asks for.
func acsOptions(cfg serveConfig) (acs.Options, error) {
	if cfg.ACSConnection != nil {
		return acs.Options{Endpoint: cfg.ACSConnection.Endpoint, AccessKey: cfg.ACSConnection.AccessKey,
			APIVersion: cfg.ACSAPIVersion, ResourceAccountSpelling: cfg.ACSSpelling}, nil
	}
	cred, err := acs.NewCredential(acs.CredentialOptions{ManagedIdentityClientID: cfg.ManagedIdentity})
	if err != nil {
		return acs.Options{}, err
	}
	return acs.Options{Endpoint: cfg.ACSEndpoint, Credential: cred, APIVersion: cfg.ACSAPIVersion, ResourceAccountSpelling: cfg.ACSSpelling}, nil
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
