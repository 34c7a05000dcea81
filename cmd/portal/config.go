package main

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"

	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/jobs"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/web"
)

// serveConfig is every setting of `portal serve`, read from PORTAL_*
// environment variables (a secret may instead come from NAME_FILE, a
// mounted file) and validated before anything starts.
type serveConfig struct {
	Addr        string        // PORTAL_ADDR, default :8080
	MetricsAddr string        // PORTAL_METRICS_ADDR: Prometheus /metrics on its own address ("" for none)
	BaseURL     string        // PORTAL_BASE_URL, https://portal.example.com
	EntraHost   string        // PORTAL_ENTRA_AUTHORITY_HOST, default https://login.microsoftonline.com
	Tenants     []portal.GUID // PORTAL_ENTRA_TENANT_ID, or PORTAL_ENTRA_ALLOWED_TENANTS (comma-separated)
	ClientID    string        // PORTAL_ENTRA_CLIENT_ID
	// Exactly one way for the portal to prove itself to Entra at sign-in:
	ClientSecret    string // PORTAL_ENTRA_CLIENT_SECRET (or _FILE)
	CertificatePEM  []byte // PORTAL_ENTRA_CLIENT_CERTIFICATE_FILE: certificate and private key, PEM
	CertificatePW   string // PORTAL_ENTRA_CLIENT_CERTIFICATE_PASSWORD (or _FILE), for an encrypted key
	Federated       bool   // PORTAL_ENTRA_FEDERATED_CREDENTIAL=managed-identity
	FederatedID     string // PORTAL_ENTRA_FEDERATED_IDENTITY_CLIENT_ID: a user-assigned identity for it
	ACSEndpoint     string // PORTAL_ACS_ENDPOINT (managed identity)
	ACSConnection   *acs.ConnectionString
	ManagedIdentity string // PORTAL_ACS_MANAGED_IDENTITY_CLIENT_ID: a user-assigned identity
	// PORTAL_ACS_API_VERSION: the api-version sent to ACS (default
	// 2025-06-30); PORTAL_ACS_RESOURCE_ACCOUNT_SPELLING: the principalType
	// sent for resource accounts, teamsResourceAccount (default) or
	// resourceAccount (the OpenAPI spec's).
	ACSAPIVersion string
	ACSSpelling   string
	// PORTAL_DATABASE_URL (or _FILE: a PostgreSQL URL holds a password):
	// sqlite:PATH or postgres://…; PORTAL_DATABASE_MIGRATION_URL (or
	// _FILE), for PostgreSQL, a role owning the schema to migrate with.
	Database        database
	SessionIdle     time.Duration
	SessionAbsolute time.Duration
	// PORTAL_KNOWN_APPS: calling-client apps offered by name,
	// "appId=Name;appId=Name".
	KnownApps []portal.KnownApp
	// PORTAL_REQUIRE_JUSTIFICATION=true refuses changes without a reason.
	RequireJustification bool
	// PORTAL_RECONCILE_INTERVAL: how often the whole inventory is compared
	// with ACS (default 24h; 0 for on demand only).
	ReconcileEvery time.Duration
	// PORTAL_EXPIRY_GRACE: how long ended time-boxed access stays before
	// it is revoked (default 0).
	ExpiryGrace time.Duration
	// PORTAL_FRESH_SIGNIN_MAX_AGE: how recent a sign-in revoking a
	// resource account or applying a bulk plan that revokes asks for
	// (default 10m; 1s to 24h, never off).
	FreshSignIn time.Duration
	// PORTAL_TRUSTED_PROXIES: comma-separated CIDR ranges of the proxies
	// in front of the portal, whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// PORTAL_LIMIT_FAILED_SIGNINS_PER_MINUTE (per client address, default
	// 10) and PORTAL_LIMIT_CHANGES_PER_MINUTE (per session, default 120).
	Limits web.Limits
	// PORTAL_GRAPH=true: sign-in also asks for delegated Graph permission
	// (names for IDs); PORTAL_TOKEN_CACHE_KEY (or _FILE), base64 of 32
	// random bytes, seals each session's Graph tokens at rest.
	Graph         bool
	TokenCacheKey []byte
	// PORTAL_ACS_RESOURCE_ID: the ACS resource's immutable resource ID (a
	// GUID, "immutableResourceId" in its properties); with Graph on, the
	// resource-account picker lists only the accounts bound to it.
	ACSResourceID string
	// PORTAL_ROLE_ADMIN, PORTAL_ROLE_HELPDESK, PORTAL_ROLE_AUDITOR: the app
	// role values of the Entra app registration, when not the defaults
	// (Portal.Admin, Portal.Helpdesk, Portal.Auditor).
	RoleNames portal.RoleNames
	// PORTAL_AUDIT_SIGNING_KEY_FILE: a PEM file whose Ed25519 private key
	// signs the audit log's checkpoints (required: without it, rows removed
	// from the end of the log go unseen); public keys beside it (earlier
	// keys) are accepted when checkpoints are verified.
	Checkpoints checkpointSettings
}

// checkpointSettings say how the audit log's head is signed.
type checkpointSettings struct {
	Signer portal.CheckpointSigner
	Keys   portal.CheckpointKeys // the signer's public key and any earlier ones
	// PORTAL_AUDIT_CHECKPOINT_ROWS (default 1,000) and
	// PORTAL_AUDIT_CHECKPOINT_INTERVAL (default 5m): a checkpoint is
	// signed after that many rows, and that long after the last one if
	// any row was appended since.
	Policy portal.CheckpointPolicy
}

// readCheckpointKey reads the signing key file: its first Ed25519 private
// key signs; every key in it verifies.
func readCheckpointKey(path string) (checkpointSettings, error) {
	var c checkpointSettings
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("cannot read %s", path)
	}
	if c.Signer, err = portal.ParseCheckpointSigner(b); err != nil {
		return c, fmt.Errorf("%s: %s", path, portal.ErrorMessage(err))
	}
	if c.Keys, err = portal.ParseCheckpointKeys(b); err != nil {
		return c, fmt.Errorf("%s: %s", path, portal.ErrorMessage(err))
	}
	return c, nil
}

// checkpointPolicy reads PORTAL_AUDIT_CHECKPOINT_ROWS and _INTERVAL.
func checkpointPolicy(getenv func(string) string, bad func(string, ...any)) portal.CheckpointPolicy {
	p := portal.CheckpointPolicy{Rows: jobs.DefaultCheckpointRows, Every: jobs.DefaultCheckpointEvery}
	if v := strings.TrimSpace(getenv("PORTAL_AUDIT_CHECKPOINT_ROWS")); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			bad("PORTAL_AUDIT_CHECKPOINT_ROWS must be a whole number of 1 or more, not %q", v)
		}
		p.Rows = n
	}
	if v := strings.TrimSpace(getenv("PORTAL_AUDIT_CHECKPOINT_INTERVAL")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 10*time.Second {
			bad("PORTAL_AUDIT_CHECKPOINT_INTERVAL must be a duration of at least 10s, like 5m, not %q", v)
		}
		p.Every = d
	}
	return p
}

// loadServeConfig reads and checks the settings. It returns every problem,
// one sentence each, rather than stopping at the first.
func loadServeConfig(getenv func(string) string) (serveConfig, []string) {
	var c serveConfig
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	secret := func(name string) string {
		if f := getenv(name + "_FILE"); f != "" {
			if _, err := os.Stat(f); err != nil {
				bad("%s_FILE: cannot read %s", name, f)
				return ""
			}
		}
		return fileOrEnv(getenv, name)
	}

	c.Addr = orDefault(getenv("PORTAL_ADDR"), ":8080")
	if c.MetricsAddr = getenv("PORTAL_METRICS_ADDR"); c.MetricsAddr != "" {
		// (Port 0 picks a free port, so two of them never collide.)
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil || c.MetricsAddr == c.Addr && port != "0" {
			bad("PORTAL_METRICS_ADDR must be a listen address like :9090, other than PORTAL_ADDR")
		}
	}
	c.BaseURL = strings.TrimRight(getenv("PORTAL_BASE_URL"), "/")
	if u, err := url.Parse(c.BaseURL); c.BaseURL == "" || err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		bad("PORTAL_BASE_URL must be the portal's https origin, like https://portal.example.com")
	}
	c.EntraHost = strings.TrimRight(orDefault(getenv("PORTAL_ENTRA_AUTHORITY_HOST"), "https://login.microsoftonline.com"), "/")
	if u, err := url.Parse(c.EntraHost); err != nil || u.Scheme != "https" || u.Host == "" {
		bad("PORTAL_ENTRA_AUTHORITY_HOST must be an https URL")
	}
	single, list := getenv("PORTAL_ENTRA_TENANT_ID"), getenv("PORTAL_ENTRA_ALLOWED_TENANTS")
	switch {
	case single != "" && list != "":
		bad("set PORTAL_ENTRA_TENANT_ID or PORTAL_ENTRA_ALLOWED_TENANTS, not both")
	case single == "" && list == "":
		bad("PORTAL_ENTRA_TENANT_ID is missing (or PORTAL_ENTRA_ALLOWED_TENANTS for several tenants)")
	default:
		for _, s := range strings.Split(single+list, ",") {
			if g, err := portal.ParseGUID(strings.TrimSpace(s)); err != nil {
				bad("tenant ID %q is not a GUID", strings.TrimSpace(s))
			} else {
				c.Tenants = append(c.Tenants, g)
			}
		}
	}
	c.ClientID = getenv("PORTAL_ENTRA_CLIENT_ID")
	if _, err := portal.ParseGUID(c.ClientID); err != nil {
		bad("PORTAL_ENTRA_CLIENT_ID must be the app registration's application (client) ID, a GUID")
	}
	c.ClientSecret = secret("PORTAL_ENTRA_CLIENT_SECRET")
	if f := getenv("PORTAL_ENTRA_CLIENT_CERTIFICATE_FILE"); f != "" {
		pem, err := os.ReadFile(f)
		c.CertificatePW = secret("PORTAL_ENTRA_CLIENT_CERTIFICATE_PASSWORD")
		if err != nil {
			bad("PORTAL_ENTRA_CLIENT_CERTIFICATE_FILE: cannot read %s", f)
		} else if _, _, err := confidential.CertFromPEM(pem, c.CertificatePW); err != nil {
			bad("PORTAL_ENTRA_CLIENT_CERTIFICATE_FILE: %s holds no usable certificate and private key (PEM)", f)
		} else {
			c.CertificatePEM = pem
		}
	}
	switch v := getenv("PORTAL_ENTRA_FEDERATED_CREDENTIAL"); v {
	case "":
	case "managed-identity":
		c.Federated = true
		c.FederatedID = getenv("PORTAL_ENTRA_FEDERATED_IDENTITY_CLIENT_ID")
	default:
		bad("PORTAL_ENTRA_FEDERATED_CREDENTIAL: the only kind is managed-identity")
	}
	switch n := countTrue(c.ClientSecret != "", getenv("PORTAL_ENTRA_CLIENT_CERTIFICATE_FILE") != "", c.Federated); {
	case n == 0:
		bad("the portal's Entra credential is missing: set PORTAL_ENTRA_CLIENT_SECRET (or _FILE), PORTAL_ENTRA_CLIENT_CERTIFICATE_FILE, or PORTAL_ENTRA_FEDERATED_CREDENTIAL=managed-identity")
	case n > 1:
		bad("set only one Entra credential: a client secret, a certificate, or a federated credential")
	}

	c.ACSEndpoint = getenv("PORTAL_ACS_ENDPOINT")
	if cs := secret("PORTAL_ACS_CONNECTION_STRING"); cs != "" {
		parsed, err := acs.ParseConnectionString(cs)
		if err != nil {
			bad("PORTAL_ACS_CONNECTION_STRING: %s", portal.ErrorMessage(err))
		} else {
			c.ACSConnection = &parsed
		}
		if c.ACSEndpoint != "" {
			bad("set PORTAL_ACS_ENDPOINT (managed identity) or PORTAL_ACS_CONNECTION_STRING (access key), not both")
		}
	} else if c.ACSEndpoint == "" {
		bad("PORTAL_ACS_ENDPOINT is missing (or PORTAL_ACS_CONNECTION_STRING to use an access key)")
	} else if _, err := acs.NormalizeEndpoint(c.ACSEndpoint); err != nil {
		bad("PORTAL_ACS_ENDPOINT: %s", portal.ErrorMessage(err))
	}
	c.ManagedIdentity = getenv("PORTAL_ACS_MANAGED_IDENTITY_CLIENT_ID")
	c.ACSAPIVersion = cmp.Or(strings.TrimSpace(getenv("PORTAL_ACS_API_VERSION")), acs.APIVersion)
	if err := acs.CheckAPIVersion(c.ACSAPIVersion); err != nil {
		bad("PORTAL_ACS_API_VERSION: %s", portal.ErrorMessage(err))
	}
	switch c.ACSSpelling = cmp.Or(strings.TrimSpace(getenv("PORTAL_ACS_RESOURCE_ACCOUNT_SPELLING")), "teamsResourceAccount"); c.ACSSpelling {
	case "teamsResourceAccount", "resourceAccount":
	default:
		bad("PORTAL_ACS_RESOURCE_ACCOUNT_SPELLING must be teamsResourceAccount or resourceAccount, not %q", c.ACSSpelling)
	}

	if db, err := parseDatabase(secret("PORTAL_DATABASE_URL")); err != nil {
		bad("PORTAL_DATABASE_URL: %s (e.g. sqlite:/var/lib/portal/portal.db or postgres://portal@db.example.com/portal)", err)
	} else {
		c.Database = db
	}
	if m := secret("PORTAL_DATABASE_MIGRATION_URL"); m != "" {
		if mdb, err := parseDatabase(m); err != nil || mdb.PostgresURL == "" || c.Database.PostgresURL == "" {
			bad("PORTAL_DATABASE_MIGRATION_URL is for PostgreSQL: a postgres:// URL of a role that owns the schema, beside a postgres:// PORTAL_DATABASE_URL")
		} else {
			c.Database.MigrationURL = m
		}
	}

	c.SessionIdle = duration(getenv, "PORTAL_SESSION_IDLE_TIMEOUT", 8*time.Hour, bad)
	c.SessionAbsolute = duration(getenv, "PORTAL_SESSION_ABSOLUTE_TIMEOUT", 24*time.Hour, bad)
	c.KnownApps = knownApps(getenv("PORTAL_KNOWN_APPS"), bad)
	if v := getenv("PORTAL_EXPIRY_GRACE"); v != "" && v != "0" {
		c.ExpiryGrace = duration(getenv, "PORTAL_EXPIRY_GRACE", 0, bad)
	}
	c.FreshSignIn = defaultFreshSignIn
	if v := strings.TrimSpace(getenv("PORTAL_FRESH_SIGNIN_MAX_AGE")); v != "" {
		d, err := time.ParseDuration(v)
		if err == nil {
			err = checkFreshSignIn(d)
		}
		if err != nil {
			bad("PORTAL_FRESH_SIGNIN_MAX_AGE must be a duration from 1s to 24h, like 10m (a fresh sign-in cannot be turned off)")
		}
		c.FreshSignIn = d
	}
	switch v := getenv("PORTAL_RECONCILE_INTERVAL"); v {
	case "":
		c.ReconcileEvery = 24 * time.Hour
	case "0":
	default:
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Minute {
			bad("PORTAL_RECONCILE_INTERVAL must be a duration of at least 1m, like 24h, or 0 for on demand only")
		}
		c.ReconcileEvery = d
	}
	for _, v := range strings.Split(getenv("PORTAL_TRUSTED_PROXIES"), ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		p, err := netip.ParsePrefix(v)
		if err != nil {
			if a, aerr := netip.ParseAddr(v); aerr == nil {
				p, err = a.Prefix(a.BitLen())
			}
		}
		if err != nil {
			bad("PORTAL_TRUSTED_PROXIES: %q is not an address or CIDR range like 10.0.0.0/8", v)
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, p.Masked())
	}
	for name, dst := range map[string]*int{
		"PORTAL_LIMIT_FAILED_SIGNINS_PER_MINUTE": &c.Limits.FailedSignInsPerMinute,
		"PORTAL_LIMIT_CHANGES_PER_MINUTE":        &c.Limits.MutationsPerMinute,
	} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				bad("%s must be a whole number of 1 or more, not %q", name, v)
				continue
			}
			*dst = n
		}
	}
	seenRole := map[string]portal.Role{}
	for _, r := range portal.AllRoles {
		name := "PORTAL_ROLE_" + strings.ToUpper(r.Label())
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			v = string(r)
		} else {
			if c.RoleNames == nil {
				c.RoleNames = portal.RoleNames{}
			}
			c.RoleNames[r] = v
		}
		if other, dup := seenRole[v]; dup {
			bad("%s: %q already names the %s role; each role needs its own app role", name, v, other.Label())
		}
		seenRole[v] = r
	}
	switch v := strings.ToLower(getenv("PORTAL_GRAPH")); v {
	case "", "false", "0", "no":
	case "true", "1", "yes":
		c.Graph = true
		key, err := base64.StdEncoding.DecodeString(secret("PORTAL_TOKEN_CACHE_KEY"))
		if err != nil || len(key) != 32 {
			bad("PORTAL_TOKEN_CACHE_KEY (or _FILE) must be base64 of 32 random bytes (openssl rand -base64 32): it seals each session's Graph tokens")
		}
		c.TokenCacheKey = key
	default:
		bad("PORTAL_GRAPH must be true or false")
	}
	if v := strings.TrimSpace(getenv("PORTAL_ACS_RESOURCE_ID")); v != "" {
		id, err := portal.ParseGUID(v)
		if err != nil {
			bad("PORTAL_ACS_RESOURCE_ID must be the ACS resource's immutable resource ID, a GUID (az communication show --query immutableResourceId)")
		}
		c.ACSResourceID = id.String()
	}
	if f := getenv("PORTAL_AUDIT_SIGNING_KEY_FILE"); f == "" {
		bad("PORTAL_AUDIT_SIGNING_KEY_FILE is missing: a PEM file with an Ed25519 private key that signs the audit log's checkpoints, kept outside the database (make one with: openssl genpkey -algorithm ed25519 -out audit-signing-key.pem)")
	} else if cp, err := readCheckpointKey(f); err != nil {
		bad("PORTAL_AUDIT_SIGNING_KEY_FILE: %v", err)
	} else {
		c.Checkpoints = cp
	}
	c.Checkpoints.Policy = checkpointPolicy(getenv, bad)
	switch v := strings.ToLower(getenv("PORTAL_REQUIRE_JUSTIFICATION")); v {
	case "", "false", "0", "no":
	case "true", "1", "yes":
		c.RequireJustification = true
	default:
		bad("PORTAL_REQUIRE_JUSTIFICATION must be true or false")
	}
	return c, problems
}

// knownApps parses "appId=Name;appId=Name".
func knownApps(v string, bad func(string, ...any)) []portal.KnownApp {
	var apps []portal.KnownApp
	seen := map[portal.GUID]bool{}
	for _, entry := range strings.Split(v, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		id, name, ok := strings.Cut(entry, "=")
		g, err := portal.ParseGUID(strings.TrimSpace(id))
		name = strings.TrimSpace(name)
		switch {
		case !ok || err != nil || name == "":
			bad("PORTAL_KNOWN_APPS: %q is not appId=Name", entry)
		case seen[g]:
			bad("PORTAL_KNOWN_APPS: app %s is named twice", g)
		default:
			seen[g] = true
			apps = append(apps, portal.KnownApp{ID: g, Name: name})
		}
	}
	return apps
}

func countTrue(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func duration(getenv func(string) string, name string, def time.Duration, bad func(string, ...any)) time.Duration {
	v := getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		bad("%s must be a positive duration like 8h or 30m", name)
		return def
	}
	return d
}

// defaultFreshSignIn is how recent a sign-in the most destructive acts ask
// for unless configured.
const defaultFreshSignIn = 10 * time.Minute

// checkFreshSignIn refuses a fresh sign-in window that is off or absurd:
// under a second (Entra's max_age counts seconds) or over a day (longer
// than a session lives, so no protection at all).
func checkFreshSignIn(d time.Duration) error {
	if d < time.Second || d > 24*time.Hour {
		return fmt.Errorf("%s is not between 1s and 24h", d)
	}
	return nil
}

// fileOrEnv is the setting name, read from the file NAME_FILE names when
// that is set (a secret mounted as a file), else from the environment; ""
// when neither is, or the file cannot be read.
func fileOrEnv(getenv func(string) string, name string) string {
	if f := getenv(name + "_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	return getenv(name)
}
