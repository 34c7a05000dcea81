package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/portal"
)

// runConfig is `portal config check`: it reads the settings exactly as
// `portal serve` would, prints the effective configuration with every
// secret masked, then every problem found, and fails when there is any —
// so an operator can check a deployment's settings before rolling it out.
func runConfig(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprintln(stderr, "usage: portal config check   (reads the PORTAL_* environment like portal serve)")
		return errUsage
	}
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	probe := fs.Bool("probe", true, "also ask ACS whether the portal may call it (a read of a random object ID, at most 5 s)")
	if err := parseFlags(fs, args[1:], stderr); err != nil {
		return err
	}
	cfg, problems := loadServeConfig(getenv)
	for _, l := range cfg.describe(getenv) {
		fmt.Fprintf(stdout, "%-38s %s\n", l[0], l[1])
	}
	if *probe && len(problems) == 0 {
		problems = append(problems, probeACS(ctx, cfg, stdout)...)
	}
	if len(problems) == 0 {
		fmt.Fprintln(stdout, "\nno problems found")
		return nil
	}
	fmt.Fprintf(stdout, "\n%d problem(s):\n", len(problems))
	for _, p := range problems {
		fmt.Fprintln(stdout, "  -", p)
	}
	return errors.New("the configuration has problems; see above")
}

// probeACS asks ACS, with the configured endpoint and credential, whether
// the portal may call it, prints the answer, and returns it as a problem
// when ACS refused. ACS not answering is printed, not a problem: the check
// may run where ACS cannot be reached.
func probeACS(ctx context.Context, cfg serveConfig, stdout io.Writer) []string {
	opts, err := acsOptions(cfg)
	if err != nil {
		return []string{"ACS credential: " + err.Error()}
	}
	client, err := acs.New(opts)
	if err != nil {
		return []string{"ACS client: " + err.Error()}
	}
	c := access.NewReadiness(access.Config{ACS: client}).ProbeACS(ctx, cfg.Tenants[0], 0)
	fmt.Fprintf(stdout, "\n%-38s %s: %s\n", "ACS access (probe)", c.State, c.Reason)
	if c.State != portal.CheckFail {
		return nil
	}
	return []string{"ACS refused the portal. Fix: " + c.Fix}
}

// describe lists the effective settings for people, secrets masked: a
// secret shows only whether it is set and where it came from.
func (c serveConfig) describe(getenv func(string) string) [][2]string {
	secret := func(name string) string {
		switch {
		case getenv(name+"_FILE") != "":
			return "set, from the file " + getenv(name+"_FILE")
		case getenv(name) != "":
			return "set"
		}
		return "(not set)"
	}
	orNone := func(v string) string {
		if v == "" {
			return "(not set)"
		}
		return v
	}
	var out [][2]string
	add := func(k, v string) { out = append(out, [2]string{k, v}) }
	add("PORTAL_ADDR", c.Addr)
	add("PORTAL_METRICS_ADDR", orNone(c.MetricsAddr))
	add("PORTAL_BASE_URL", orNone(c.BaseURL))
	add("PORTAL_ENTRA_AUTHORITY_HOST", c.EntraHost)
	var tenants []string
	for _, t := range c.Tenants {
		tenants = append(tenants, t.String())
	}
	add("tenants allowed to sign in", orNone(strings.Join(tenants, ", ")))
	add("PORTAL_ENTRA_CLIENT_ID", orNone(c.ClientID))
	switch {
	case c.ClientSecret != "":
		add("Entra credential", "client secret, "+secret("PORTAL_ENTRA_CLIENT_SECRET"))
	case c.CertificatePEM != nil:
		add("Entra credential", "certificate from "+getenv("PORTAL_ENTRA_CLIENT_CERTIFICATE_FILE"))
	case c.Federated && c.FederatedID != "":
		add("Entra credential", "federated: the user-assigned managed identity "+c.FederatedID)
	case c.Federated:
		add("Entra credential", "federated: the system-assigned managed identity")
	default:
		add("Entra credential", "(none)")
	}
	var roles []string
	for _, r := range []string{"ADMIN", "HELPDESK", "AUDITOR"} {
		if v := getenv("PORTAL_ROLE_" + r); v != "" {
			roles = append(roles, strings.ToLower(r)+"="+v)
		}
	}
	add("app role values", orNone(strings.Join(roles, ", "))+" (defaults: Portal.Admin, Portal.Helpdesk, Portal.Auditor)")
	switch {
	case c.ACSConnection != nil:
		add("ACS", c.ACSConnection.Endpoint+" with an access key (connection string "+secret("PORTAL_ACS_CONNECTION_STRING")+")")
	case c.ManagedIdentity != "":
		add("ACS", orNone(c.ACSEndpoint)+" with the user-assigned managed identity "+c.ManagedIdentity)
	default:
		add("ACS", orNone(c.ACSEndpoint)+" with the system-assigned managed identity")
	}
	add("PORTAL_ACS_API_VERSION", c.ACSAPIVersion+" (published: "+strings.Join(acs.APIVersions, ", ")+")")
	add("PORTAL_ACS_RESOURCE_ACCOUNT_SPELLING", c.ACSSpelling+" (the principalType sent for resource accounts)")
	if getenv("PORTAL_DATABASE_URL_FILE") != "" {
		add("PORTAL_DATABASE_URL", "from the file "+getenv("PORTAL_DATABASE_URL_FILE")+": "+maskURL(c.Database.SQLitePath+c.Database.PostgresURL))
	} else {
		add("PORTAL_DATABASE_URL", maskURL(getenv("PORTAL_DATABASE_URL")))
	}
	add("database pool", c.Database.pool())
	if c.Database.MigrationURL != "" {
		add("PORTAL_DATABASE_MIGRATION_URL", maskURL(c.Database.MigrationURL)+" (migrates at start)")
	} else if c.Database.PostgresURL != "" {
		add("PORTAL_DATABASE_MIGRATION_URL", "(not set: run portal migrate before a new version starts)")
	}
	add("sessions", fmt.Sprintf("idle %v, absolute %v", c.SessionIdle, c.SessionAbsolute))
	var proxies []string
	for _, p := range c.TrustedProxies {
		proxies = append(proxies, p.String())
	}
	add("PORTAL_TRUSTED_PROXIES", orNone(strings.Join(proxies, ", ")))
	limits := c.Limits
	limits.Defaults()
	add("limits", fmt.Sprintf("%d failed sign-ins a minute per client, %d changes a minute per session", limits.FailedSignInsPerMinute, limits.MutationsPerMinute))
	var apps []string
	for _, a := range c.KnownApps {
		apps = append(apps, a.Name+" ("+a.ID.String()+")")
	}
	add("PORTAL_KNOWN_APPS", orNone(strings.Join(apps, "; ")))
	if c.Graph {
		add("PORTAL_GRAPH", "true (token cache key "+secret("PORTAL_TOKEN_CACHE_KEY")+")")
	} else {
		add("PORTAL_GRAPH", "false (IDs only)")
	}
	add("PORTAL_ACS_RESOURCE_ID", orNone(c.ACSResourceID))
	add("PORTAL_REQUIRE_JUSTIFICATION", fmt.Sprint(c.RequireJustification))
	reconcile := "on demand only"
	if c.ReconcileEvery > 0 {
		reconcile = "every " + c.ReconcileEvery.String()
	}
	add("PORTAL_RECONCILE_INTERVAL", reconcile)
	add("PORTAL_EXPIRY_GRACE", c.ExpiryGrace.String())
	add("PORTAL_FRESH_SIGNIN_MAX_AGE", c.FreshSignIn.String())
	if key := getenv("PORTAL_AUDIT_SIGNING_KEY_FILE"); key != "" && c.Checkpoints.Keys != nil {
		add("PORTAL_AUDIT_SIGNING_KEY_FILE", fmt.Sprintf("%s: signs with key %s; verifies %s", key, c.Checkpoints.Signer.KeyID(), c.Checkpoints.Keys.IDs()))
	} else {
		add("PORTAL_AUDIT_SIGNING_KEY_FILE", orNone(key))
	}
	add("audit checkpoints", fmt.Sprintf("every %s rows, and every %s with rows appended", portal.Count(c.Checkpoints.Policy.Rows), c.Checkpoints.Policy.Every))
	return out
}

// maskURL hides a database URL's password (and an unparseable URL whole).
func maskURL(v string) string {
	if v == "" {
		return "(not set)"
	}
	if strings.HasPrefix(v, "sqlite:") {
		return v
	}
	u, err := url.Parse(v)
	if err != nil {
		return "(set, but not a URL)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			q.Set(k, "xxxxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}
