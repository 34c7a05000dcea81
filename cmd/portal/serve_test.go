package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/pgtest"
	"github.com/teamsphone/portal/internal/portal"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// portal serve with missing or bad settings exits non-zero with one line per
// problem and never a stack trace.
func TestServeRefusesIncompleteSettings(t *testing.T) {
	for name, tc := range map[string]struct {
		env  map[string]string
		want []string
	}{
		"nothing set": {map[string]string{}, []string{"PORTAL_BASE_URL", "PORTAL_ENTRA_TENANT_ID", "PORTAL_ENTRA_CLIENT_ID", "PORTAL_ENTRA_CLIENT_SECRET", "PORTAL_ACS_ENDPOINT", "PORTAL_DATABASE_URL", "PORTAL_AUDIT_SIGNING_KEY_FILE is missing"}},
		"malformed": {map[string]string{
			"PORTAL_BASE_URL":                  "http://portal.example.com",
			"PORTAL_ENTRA_TENANT_ID":           "contoso",
			"PORTAL_ENTRA_CLIENT_ID":           "b40eb512",
			"PORTAL_ENTRA_CLIENT_SECRET":       "s3cret-value",
			"PORTAL_ACS_CONNECTION_STRING":     "endpoint=http://x.communication.azure.com/;accesskey=c2VjcmV0",
			"PORTAL_DATABASE_URL":              "mysql://x",
			"PORTAL_SESSION_IDLE_TIMEOUT":      "forever",
			"PORTAL_TRUSTED_PROXIES":           "10.0.0.0/8, not-an-ip",
			"PORTAL_ROLE_HELPDESK":             "Portal.Admin",
			"PORTAL_GRAPH":                     "true",
			"PORTAL_TOKEN_CACHE_KEY":           "c2hvcnQ=",
			"PORTAL_ACS_RESOURCE_ID":           "/subscriptions/x/resourceGroups/y",
			"PORTAL_AUDIT_SIGNING_KEY_FILE":    "/nonexistent/audit-signing-key.pem",
			"PORTAL_AUDIT_CHECKPOINT_ROWS":     "0",
			"PORTAL_AUDIT_CHECKPOINT_INTERVAL": "1s",
			"PORTAL_FRESH_SIGNIN_MAX_AGE":      "0",
		}, []string{"PORTAL_AUDIT_SIGNING_KEY_FILE: cannot read", "PORTAL_AUDIT_CHECKPOINT_ROWS", "PORTAL_AUDIT_CHECKPOINT_INTERVAL", "PORTAL_BASE_URL", "tenant ID \"contoso\"", "PORTAL_ENTRA_CLIENT_ID", "PORTAL_ACS_CONNECTION_STRING", "PORTAL_DATABASE_URL", "PORTAL_SESSION_IDLE_TIMEOUT",
			"PORTAL_TRUSTED_PROXIES", "PORTAL_ROLE_HELPDESK", "PORTAL_TOKEN_CACHE_KEY", "PORTAL_ACS_RESOURCE_ID", "PORTAL_FRESH_SIGNIN_MAX_AGE"}},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), []string{"serve"}, envOf(tc.env), &out, &errOut)
			if err == nil || exitCode(err) == 0 {
				t.Fatalf("err %v", err)
			}
			lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
			if len(lines) != len(tc.want) {
				t.Errorf("%d lines, want %d:\n%s", len(lines), len(tc.want), errOut.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("no line about %s:\n%s", w, errOut.String())
				}
			}
			if strings.Contains(errOut.String(), "goroutine") || strings.Contains(errOut.String(), "s3cret-value") || strings.Contains(errOut.String(), "c2VjcmV0") {
				t.Errorf("leaks a stack or a secret:\n%s", errOut.String())
			}
		})
	}
}

// serveBriefly runs portal serve with env until it says it is serving, then
// stops it, and fails t unless it started and shut down cleanly. It returns
// what serve wrote to stdout. It waits for the "portal serving" line rather
// than stopping after a fixed time: a slow machine may still be migrating
// the database when a short deadline ends it.
func serveBriefly(t *testing.T, env map[string]string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, envOf(env), &out, &errOut) }()
	var err error
	returned := false
	waitFor(t, "portal serve to say it is serving", func() bool {
		select {
		case err = <-done:
			returned = true
			return true
		default:
			return strings.Contains(out.String(), `"msg":"portal serving"`)
		}
	}, func() string { return out.String() + errOut.String() })
	if !returned {
		cancel()
		select {
		case err = <-done:
		case <-time.After(patience):
			t.Fatalf("portal serve did not stop within %v of its context ending", patience)
		}
	}
	if err != nil {
		t.Fatalf("err %v\n%s", err, errOut.String())
	}
	return out.String()
}

func TestServeStartsWithCompleteSettings(t *testing.T) {
	// Serve briefly, then stop: what matters is that the settings pass and
	// the server starts and shuts down cleanly.
	env := map[string]string{
		"PORTAL_ADDR":                   "127.0.0.1:0",
		"PORTAL_BASE_URL":               "https://portal.example.com",
		"PORTAL_ENTRA_TENANT_ID":        "1c361ff7-fb44-4685-bb78-1bad6ce5bef3",
		"PORTAL_ENTRA_CLIENT_ID":        "b40eb512-a78a-485a-a591-76f8fcfa070a",
		"PORTAL_ENTRA_CLIENT_SECRET":    "s3cret-value",
		"PORTAL_ACS_CONNECTION_STRING":  "endpoint=https://x.communication.azure.com/;accesskey=c2VjcmV0",
		"PORTAL_DATABASE_URL":           "sqlite:" + t.TempDir() + "/portal.db",
		"PORTAL_AUDIT_SIGNING_KEY_FILE": auditKeyFile(t),
	}
	serveBriefly(t, env)
}

// portal serve on PostgreSQL: it migrates with the migration role, then
// serves as its own.
func TestServeOnPostgres(t *testing.T) {
	schema := pgtest.FreshSchema(t)
	env := map[string]string{
		"PORTAL_ADDR":                   "127.0.0.1:0",
		"PORTAL_BASE_URL":               "https://portal.example.com",
		"PORTAL_ENTRA_TENANT_ID":        "1c361ff7-fb44-4685-bb78-1bad6ce5bef3",
		"PORTAL_ENTRA_CLIENT_ID":        "b40eb512-a78a-485a-a591-76f8fcfa070a",
		"PORTAL_ENTRA_CLIENT_SECRET":    "s3cret-value",
		"PORTAL_ACS_CONNECTION_STRING":  "endpoint=https://x.communication.azure.com/;accesskey=c2VjcmV0",
		"PORTAL_DATABASE_URL":           schema,
		"PORTAL_DATABASE_MIGRATION_URL": schema,
		"PORTAL_METRICS_ADDR":           "127.0.0.1:0",
		"PORTAL_GRAPH":                  "true",
		"PORTAL_TOKEN_CACHE_KEY":        "dGVhbXMtcGhvbmUtcG9ydGFsLXRlc3QtY2FjaGVrZXk=",
		"PORTAL_AUDIT_SIGNING_KEY_FILE": auditKeyFile(t),
	}
	if out := serveBriefly(t, env); !strings.Contains(out, "metrics serving") {
		t.Errorf("no metrics listener:\n%s", out)
	}
	if err := pgtest.Exec(t, schema, `SELECT 1 FROM audit_log LIMIT 1`); err != nil {
		t.Errorf("not migrated: %v", err)
	}
}

// selfSignedPEM writes a certificate and its private key, as an app
// registration's certificate credential is kept.
func selfSignedPEM(t *testing.T) string {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "portal"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(key))})
	path := filepath.Join(t.TempDir(), "portal.pem")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// auditKeyFile writes a checkpoint signing key, as an operator makes one
// with openssl, and returns its path.
func auditKeyFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit-signing-key.pem")
	if _, err := devCheckpointKey(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// The checkpoint signing key must be an Ed25519 private key: a certificate's
// RSA key, or text that is no key, stops serve with a line saying how to
// make one.
func TestAuditKeySettings(t *testing.T) {
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	os.WriteFile(garbage, []byte("not a key"), 0o600)
	for file, want := range map[string]string{
		selfSignedPEM(t): "its private key is not an Ed25519 key (make one with: openssl genpkey -algorithm ed25519)",
		garbage:          "holds no Ed25519 private key in PEM",
		auditKeyFile(t):  "",
	} {
		_, problems := loadServeConfig(envOf(map[string]string{"PORTAL_AUDIT_SIGNING_KEY_FILE": file}))
		got := ""
		for _, p := range problems {
			if strings.Contains(p, "PORTAL_AUDIT_SIGNING_KEY_FILE") {
				got = p
			}
		}
		if want == "" && got != "" || want != "" && !strings.Contains(strings.ToLower(got), strings.ToLower(want)) {
			t.Errorf("%s: %q, want %q", file, got, want)
		}
	}
}

// Sign-in by client secret, certificate or federated credential: exactly one.
func TestEntraCredentialSettings(t *testing.T) {
	base := map[string]string{
		"PORTAL_BASE_URL":               "https://portal.example.com",
		"PORTAL_ENTRA_TENANT_ID":        "1c361ff7-fb44-4685-bb78-1bad6ce5bef3",
		"PORTAL_ENTRA_CLIENT_ID":        "b40eb512-a78a-485a-a591-76f8fcfa070a",
		"PORTAL_ACS_CONNECTION_STRING":  "endpoint=https://x.communication.azure.com/;accesskey=c2VjcmV0",
		"PORTAL_DATABASE_URL":           "sqlite:/tmp/x.db",
		"PORTAL_AUDIT_SIGNING_KEY_FILE": auditKeyFile(t),
	}
	cert := selfSignedPEM(t)
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	os.WriteFile(garbage, []byte("not a certificate"), 0o600)
	for name, tc := range map[string]struct {
		env     map[string]string
		problem string // "" for none
	}{
		"secret":                {map[string]string{"PORTAL_ENTRA_CLIENT_SECRET": "s"}, ""},
		"certificate":           {map[string]string{"PORTAL_ENTRA_CLIENT_CERTIFICATE_FILE": cert}, ""},
		"federated":             {map[string]string{"PORTAL_ENTRA_FEDERATED_CREDENTIAL": "managed-identity"}, ""},
		"none":                  {map[string]string{}, "credential is missing"},
		"two":                   {map[string]string{"PORTAL_ENTRA_CLIENT_SECRET": "s", "PORTAL_ENTRA_CLIENT_CERTIFICATE_FILE": cert}, "only one"},
		"unreadable cert":       {map[string]string{"PORTAL_ENTRA_CLIENT_CERTIFICATE_FILE": "/nonexistent.pem"}, "cannot read"},
		"not a cert":            {map[string]string{"PORTAL_ENTRA_CLIENT_CERTIFICATE_FILE": garbage}, "no usable certificate"},
		"unknown federation":    {map[string]string{"PORTAL_ENTRA_FEDERATED_CREDENTIAL": "github"}, "managed-identity"},
		"known apps":            {map[string]string{"PORTAL_ENTRA_CLIENT_SECRET": "s", "PORTAL_KNOWN_APPS": "83ecbc78-e1ba-4e8f-a454-5483ef618061=Desk; 9215f754-3568-4bed-baa4-455c404e6140 = Mobile"}, ""},
		"bad known apps":        {map[string]string{"PORTAL_ENTRA_CLIENT_SECRET": "s", "PORTAL_KNOWN_APPS": "desk=Desk"}, "PORTAL_KNOWN_APPS"},
		"bad justification":     {map[string]string{"PORTAL_ENTRA_CLIENT_SECRET": "s", "PORTAL_REQUIRE_JUSTIFICATION": "maybe"}, "PORTAL_REQUIRE_JUSTIFICATION"},
		"require justification": {map[string]string{"PORTAL_ENTRA_CLIENT_SECRET": "s", "PORTAL_REQUIRE_JUSTIFICATION": "true"}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			cfg, problems := loadServeConfig(envOf(env))
			got := strings.Join(problems, "\n")
			if tc.problem == "" && got != "" || tc.problem != "" && !strings.Contains(got, tc.problem) {
				t.Fatalf("problems %q, want %q", got, tc.problem)
			}
			if tc.problem != "" {
				return
			}
			if _, err := entraCredential(cfg); err != nil {
				t.Errorf("credential: %v", err)
			}
			if name == "known apps" && (len(cfg.KnownApps) != 2 || cfg.KnownApps[1].Name != "Mobile") {
				t.Errorf("known apps = %+v", cfg.KnownApps)
			}
			if name == "require justification" && !cfg.RequireJustification {
				t.Error("justification not required")
			}
		})
	}
}

func TestHealthcheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Write([]byte("ok"))
			return
		}
		http.Error(w, "not ready: the database does not answer", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	var out, errOut strings.Builder
	if err := run(context.Background(), []string{"healthcheck", "-addr", addr}, noEnv, &out, &errOut); err != nil || !strings.Contains(out.String(), "ok") {
		t.Errorf("healthcheck of a live portal: %v %q", err, out.String())
	}
	err := run(context.Background(), []string{"healthcheck", "-addr", addr, "-path", "/readyz"}, noEnv, &out, &errOut)
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "database") {
		t.Errorf("healthcheck of an unready portal: %v (exit %d)", err, exitCode(err))
	}
	if err := run(context.Background(), []string{"healthcheck", "-addr", "127.0.0.1:1"}, noEnv, &out, &errOut); err == nil {
		t.Error("healthcheck of nothing succeeded")
	}
}

type fakeReadyStore struct {
	pingErr error
	current bool
}

func (f fakeReadyStore) Ping(context.Context) error                      { return f.pingErr }
func (f fakeReadyStore) MigrationsCurrent(context.Context) (bool, error) { return f.current, nil }

type fakeCred struct{ err error }

func (f fakeCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "t", ExpiresOn: time.Now().Add(time.Hour)}, f.err
}

// /readyz says why an instance must not take traffic: the database, its
// schema, or no token for ACS from the managed identity.
func TestReadiness(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		store fakeReadyStore
		cred  azcore.TokenCredential
		want  string
	}{
		{"ready with an access key", fakeReadyStore{current: true}, nil, ""},
		{"ready with a managed identity", fakeReadyStore{current: true}, fakeCred{}, ""},
		{"database down", fakeReadyStore{pingErr: errors.New("refused")}, nil, "database does not answer"},
		{"old schema", fakeReadyStore{current: false}, nil, "schema"},
		{"no ACS token", fakeReadyStore{current: true}, fakeCred{err: errors.New("IMDS unreachable")}, "token for ACS"},
	} {
		err := readiness(tc.store, tc.cred)(ctx)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(portal.ErrorMessage(err), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// portal config check prints the effective settings without a secret in
// them and exits non-zero on any problem.
func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	secretFile := dir + "/secret"
	os.WriteFile(secretFile, []byte("file-s3cret\n"), 0o600)
	env := map[string]string{
		"PORTAL_BASE_URL":                 "https://portal.example.com",
		"PORTAL_ENTRA_TENANT_ID":          "1c361ff7-fb44-4685-bb78-1bad6ce5bef3",
		"PORTAL_ENTRA_CLIENT_ID":          "b40eb512-a78a-485a-a591-76f8fcfa070a",
		"PORTAL_ENTRA_CLIENT_SECRET_FILE": secretFile,
		"PORTAL_ACS_CONNECTION_STRING":    "endpoint=https://x.communication.azure.com/;accesskey=c2VjcmV0",
		"PORTAL_DATABASE_URL":             "sqlite:" + dir + "/portal.db",
		"PORTAL_TRUSTED_PROXIES":          "10.0.0.0/8",
		"PORTAL_ROLE_ADMIN":               "Admin",
		"PORTAL_AUDIT_SIGNING_KEY_FILE":   auditKeyFile(t),
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"config", "check", "-probe=false"}, envOf(env), &out, &errOut); err != nil {
		t.Fatalf("good settings: %v\n%s", err, out.String())
	}
	for _, want := range []string{"no problems found", "client secret, set, from the file " + secretFile, "10.0.0.0/8", "admin=Admin", "with an access key",
		"PORTAL_ACS_API_VERSION                 2025-06-30", "PORTAL_ACS_RESOURCE_ACCOUNT_SPELLING   teamsResourceAccount (the",
		"10 failed sign-ins a minute per client, 120 changes a minute per session", "PORTAL_FRESH_SIGNIN_MAX_AGE            10m0s",
		"audit checkpoints                      every 1,000 rows, and every 5m0s with rows appended"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	env["PORTAL_ACS_API_VERSION"], env["PORTAL_ACS_RESOURCE_ACCOUNT_SPELLING"] = "2026-09-23", "resourceAccount"
	out.Reset()
	if err := run(context.Background(), []string{"config", "check", "-probe=false"}, envOf(env), &out, &errOut); err != nil ||
		!strings.Contains(out.String(), "2026-09-23 (published") || !strings.Contains(out.String(), "resourceAccount (the principalType") {
		t.Errorf("API version and spelling set: %v\n%s", err, out.String())
	}
	env["PORTAL_ACS_API_VERSION"], env["PORTAL_ACS_RESOURCE_ACCOUNT_SPELLING"] = "latest", "room"
	out.Reset()
	if err := run(context.Background(), []string{"config", "check", "-probe=false"}, envOf(env), &out, &errOut); err == nil ||
		!strings.Contains(out.String(), "PORTAL_ACS_API_VERSION: ") || !strings.Contains(out.String(), "PORTAL_ACS_RESOURCE_ACCOUNT_SPELLING must be") {
		t.Errorf("bad API version and spelling: %v\n%s", err, out.String())
	}
	delete(env, "PORTAL_ACS_API_VERSION")
	delete(env, "PORTAL_ACS_RESOURCE_ACCOUNT_SPELLING")
	env["PORTAL_DATABASE_URL"] = "postgres://portal:pw-s3cret@db.example.com/portal"
	env["PORTAL_SESSION_IDLE_TIMEOUT"] = "soon"
	env["PORTAL_LIMIT_CHANGES_PER_MINUTE"] = "0"
	out.Reset()
	err := run(context.Background(), []string{"config", "check", "-probe=false"}, envOf(env), &out, &errOut)
	if err == nil || exitCode(err) == 0 || !strings.Contains(out.String(), "PORTAL_SESSION_IDLE_TIMEOUT") || !strings.Contains(out.String(), "PORTAL_LIMIT_CHANGES_PER_MINUTE must be") {
		t.Errorf("bad settings: %v\n%s", err, out.String())
	}
	for _, secret := range []string{"file-s3cret", "pw-s3cret", "c2VjcmV0"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("config check printed a secret (%s):\n%s", secret, out.String())
		}
	}
}

// portal config check asks ACS whether the portal may call it: it passes
// against an emulator that lets it in, and fails, naming ACS's code and
// the fix, against one that answers 403 SubscriptionNotAllowed.
func TestConfigCheckProbesACS(t *testing.T) {
	key := "c2VjcmV0LWtleS1mb3ItdGhlLWVtdWxhdG9y"
	raw, _ := base64.StdEncoding.DecodeString(key)
	emu, err := acsemu.New(acsemu.Config{AccessKey: raw})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	t.Cleanup(emu.Close)
	dir := t.TempDir()
	env := map[string]string{
		"PORTAL_BASE_URL":               "https://portal.example.com",
		"PORTAL_ENTRA_TENANT_ID":        "1c361ff7-fb44-4685-bb78-1bad6ce5bef3",
		"PORTAL_ENTRA_CLIENT_ID":        "b40eb512-a78a-485a-a591-76f8fcfa070a",
		"PORTAL_ENTRA_CLIENT_SECRET":    "s3cret",
		"PORTAL_ACS_CONNECTION_STRING":  "endpoint=" + srv.URL + "/;accesskey=" + key,
		"PORTAL_AUDIT_SIGNING_KEY_FILE": auditKeyFile(t),
		"PORTAL_DATABASE_URL":           "sqlite:" + dir + "/portal.db",
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"config", "check"}, envOf(env), &out, &errOut); err != nil ||
		!strings.Contains(out.String(), "ACS access (probe)                     pass: ") {
		t.Fatalf("emulator lets the portal in: %v\n%s", err, out.String())
	}
	emu.Script(acsemu.Fault{Status: 403, Code: "SubscriptionNotAllowed", Message: "The subscription is not allowed."})
	out.Reset()
	err = run(context.Background(), []string{"config", "check"}, envOf(env), &out, &errOut)
	for _, want := range []string{"fail: ACS refused the portal (HTTP 403 SubscriptionNotAllowed): The subscription is not allowed.",
		"1 problem(s)", "ACS refused the portal. Fix: The Azure subscription of this ACS resource is not enabled"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if err == nil || exitCode(err) == 0 {
		t.Errorf("a refused probe passed the check: %v", err)
	}
}
