package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/entra"
	"github.com/teamsphone/portal/internal/sqlite"
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
	db, err := sqlite.Open(ctx, cfg.DatabasePath)
	if err != nil {
		return err
	}
	defer db.Close()

	cred, err := confidential.NewCredFromSecret(cfg.ClientSecret)
	if err != nil {
		return err
	}
	tenant := "organizations"
	if len(cfg.Tenants) == 1 {
		tenant = cfg.Tenants[0].String()
	}
	auth, err := entra.New(entra.Config{
		Authority:      cfg.EntraHost + "/" + tenant,
		ClientID:       cfg.ClientID,
		Credential:     cred,
		RedirectURL:    cfg.BaseURL + "/auth/callback",
		AllowedTenants: cfg.Tenants,
	})
	if err != nil {
		return err
	}
	acsClient, err := newACSClient(cfg)
	if err != nil {
		return err
	}
	service := access.New(access.Config{ACS: acsClient, Store: db, RequireJustification: cfg.RequireJustification, Logger: logger})
	srv := web.HTTPServer(web.New(web.Deps{
		Auth:          auth,
		Sessions:      db,
		Access:        service,
		KnownApps:     cfg.KnownApps,
		SignOutOrigin: cfg.EntraHost,
		Logger:        logger,
		BaseURL:       cfg.BaseURL,
		Session:       web.SessionOptions{Secure: true, Idle: cfg.SessionIdle, Absolute: cfg.SessionAbsolute},
		HSTS:          strings.HasPrefix(cfg.BaseURL, "https://"),
		Ready:         func(ctx context.Context) error { return db.Ping(ctx) },
	}))
	logger.Info("portal serving", "addr", ln.Addr().String(), "base_url", cfg.BaseURL)
	return serveUntilDone(ctx, srv, ln)
}

// newACSClient talks to ACS with the connection string's access key, or
// else with the managed identity (system- or user-assigned).
func newACSClient(cfg serveConfig) (*acs.Client, error) {
	if cfg.ACSConnection != nil {
		return acs.New(acs.Options{Endpoint: cfg.ACSConnection.Endpoint, AccessKey: cfg.ACSConnection.AccessKey})
	}
	cred, err := acs.NewCredential(acs.CredentialOptions{ManagedIdentityClientID: cfg.ManagedIdentity})
	if err != nil {
		return nil, err
	}
	return acs.New(acs.Options{Endpoint: cfg.ACSEndpoint, Credential: cred})
}
