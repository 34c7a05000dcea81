// Package entra signs people in with Microsoft Entra ID: MSAL Go's
// confidential client for the authorization-code flow, around the portal's
// own state, nonce and PKCE (MSAL adds none of them), and go-oidc to verify
// the ID token (MSAL only decodes it). The result is a portal.User.
//
// It decides who someone is, never what they may do: roles are read from
// the verified token's roles claim and handed on, and web's route policies
// and internal/access apply them. Tokens stay on the server: Graph tokens
// are kept per session in a sealed cache (Sealer), and none is put in a
// cookie, a URL or a log line.
package entra

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/teamsphone/portal/internal/portal"
)

// LoginLifetime bounds how long a sign-in may take between leaving the portal
// and coming back: a state older than this is refused.
const LoginLifetime = portal.SignInLifetime

// maxIDToken bounds the raw ID token verified; real ones are a few KB.
const maxIDToken = 32 << 10

// Config configures an Authenticator.
type Config struct {
	// Authority is https://<host>/<tenant ID>, or https://<host>/organizations
	// for several tenants (then AllowedTenants lists them).
	Authority string
	ClientID  string
	// Credential proves the portal's identity to Entra: a client secret, a
	// certificate, or a federated assertion from a managed identity.
	Credential confidential.Credential
	// RedirectURL is the portal's /auth/callback, from configuration — never
	// from the request's Host header.
	RedirectURL string
	// AllowedTenants are the tenants whose people may sign in.
	AllowedTenants []portal.GUID
	// RoleNames are the app role values that grant the portal's roles,
	// where they differ from the roles' own names.
	RoleNames portal.RoleNames
	// Scopes asked for besides openid and profile (default User.Read).
	Scopes []string
	// HTTPClient talks to Entra (default http.DefaultClient).
	HTTPClient *http.Client
	// DevIdP disables MSAL's instance discovery, which would otherwise ask
	// login.microsoftonline.com about an unknown authority host.
	DevIdP bool
	// Graph, when set, makes the sign-in also obtain delegated Microsoft
	// Graph permission (its Scopes, instead of Scopes above), kept per
	// session, sealed, for GraphToken. Nil: sign-in asks for nothing more
	// than before (a tenant that has not consented keeps signing in).
	Graph *GraphConfig
	Now   func() time.Time
}

// GraphConfig is how the signed-in person's Graph tokens are kept.
type GraphConfig struct {
	Scopes []string // e.g. https://graph.microsoft.com/User.ReadBasic.All
	Caches portal.TokenCacheStore
	Sealer *Sealer
}

// Authenticator runs sign-ins. It is safe for concurrent use. It reaches
// Entra only when a sign-in starts, so the portal starts even while Entra is
// unreachable.
type Authenticator struct {
	cfg Config
	app confidential.Client

	mu       sync.Mutex
	resolved *provider

	// graphTokens remembers each session's Graph access token until
	// shortly before it expires, so that a page's names cost no MSAL
	// client, no cache read and no decryption (see GraphToken).
	graphTokens tokenMemo
}

var _ portal.Authenticator = (*Authenticator)(nil)

// provider is what the discovery document tells.
type provider struct {
	issuer     string // may hold the {tenantid} template
	endSession string
	verifier   *oidc.IDTokenVerifier
}

// New checks cfg and builds the MSAL client. It does not contact Entra.
func New(cfg Config) (*Authenticator, error) {
	u, err := url.Parse(cfg.Authority)
	if err != nil || u.Scheme != "https" || u.Host == "" || strings.Trim(u.Path, "/") == "" || strings.Contains(strings.Trim(u.Path, "/"), "/") {
		return nil, portal.Errorf(portal.EINVALID, "The Entra authority must look like https://login.microsoftonline.com/<tenant ID or organizations>.")
	}
	cfg.Authority = strings.TrimRight(cfg.Authority, "/")
	if _, err := portal.ParseGUID(cfg.ClientID); err != nil {
		return nil, portal.Errorf(portal.EINVALID, "The Entra client ID is not a GUID.")
	}
	if len(cfg.AllowedTenants) == 0 {
		return nil, portal.Errorf(portal.EINVALID, "At least one allowed tenant is needed.")
	}
	if cfg.RedirectURL == "" {
		return nil, portal.Errorf(portal.EINVALID, "The sign-in redirect URL is missing.")
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{"User.Read"}
	}
	if g := cfg.Graph; g != nil {
		if len(g.Scopes) == 0 || g.Caches == nil || g.Sealer == nil {
			return nil, portal.Errorf(portal.EINVALID, "Graph access needs its scopes, a token cache store and a sealer.")
		}
		cfg.Scopes = g.Scopes
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &Authenticator{cfg: cfg}
	app, err := a.client(forgetfulCache{})
	if err != nil {
		return nil, err
	}
	a.app = app
	return a, nil
}

// client builds an MSAL client over a token cache. The shared one forgets
// everything; Graph calls get one of their own over a session's cache,
// because MSAL's in-memory cache must not mix people.
func (a *Authenticator) client(c cache.ExportReplace) (confidential.Client, error) {
	opts := []confidential.Option{confidential.WithHTTPClient(a.cfg.HTTPClient), confidential.WithCache(c)}
	if a.cfg.DevIdP {
		opts = append(opts, confidential.WithInstanceDiscovery(false))
	}
	app, err := confidential.New(a.cfg.Authority, a.cfg.ClientID, a.cfg.Credential, opts...)
	if err != nil {
		return app, portal.Wrap(err, portal.EINVALID, "The Entra client could not be set up: check the authority and credential.")
	}
	return app, nil
}

// BeginSignIn starts a sign-in: it returns the URL to send the browser to
// and the SignIn to keep in the session until the callback. A maxAge > 0
// asks Entra to make the person authenticate again (max_age and
// prompt=login; OpenID Connect Core 3.1.2.1): Entra then sends an
// auth_time no older than maxAge, which the caller still checks.
func (a *Authenticator) BeginSignIn(ctx context.Context, loginHint, returnTo string, maxAge time.Duration) (string, portal.SignIn, error) {
	l := portal.SignIn{State: randomToken(), Nonce: randomToken(), Verifier: randomToken(), ReturnTo: returnTo, Started: a.cfg.Now(), MaxAge: maxAge}
	var opts []confidential.AuthCodeURLOption
	if loginHint != "" {
		opts = append(opts, confidential.WithLoginHint(loginHint))
	}
	u, err := a.app.AuthCodeURL(ctx, a.cfg.ClientID, a.cfg.RedirectURL, a.authorizeScopes(), opts...)
	if err != nil {
		return "", portal.SignIn{}, portal.Wrap(errors.New(sanitize(err)), portal.EUNAVAILABLE, "Microsoft Entra ID could not be reached to start the sign-in.")
	}
	parsed, err := url.Parse(u)
	if err != nil {
		return "", portal.SignIn{}, portal.Wrap(err, portal.EINTERNAL, "The sign-in address could not be built.")
	}
	q := parsed.Query()
	challenge := sha256.Sum256([]byte(l.Verifier))
	q.Set("state", l.State)
	q.Set("nonce", l.Nonce)
	q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(challenge[:]))
	q.Set("code_challenge_method", "S256")
	// A GET callback: a form_post would be a cross-site POST, which
	// SameSite=Lax cookies and cross-origin protection both (rightly) stop.
	q.Set("response_mode", "query")
	if maxAge > 0 {
		// Both: max_age is the standard's, and Entra's own documentation
		// promises a new authentication for prompt=login.
		q.Set("max_age", strconv.FormatInt(int64(max(maxAge/time.Second, 1)), 10))
		q.Set("prompt", "login")
	}
	parsed.RawQuery = q.Encode()
	return parsed.String(), l, nil
}

func (a *Authenticator) authorizeScopes() []string {
	return append([]string{"openid", "profile"}, a.cfg.Scopes...)
}

// CompleteSignIn finishes a sign-in from the callback's query and the
// SignIn kept since BeginSignIn. Every failure is an EUNAUTHORIZED error with a message safe
// to show; its cause (for logs) never holds a token or a code.
func (a *Authenticator) CompleteSignIn(ctx context.Context, query url.Values, l portal.SignIn) (portal.User, portal.SignInTokens, error) {
	fail := func(reason string) (portal.User, portal.SignInTokens, error) {
		return portal.User{}, nil, portal.Wrap(errors.New(reason), portal.EUNAUTHORIZED, "The sign-in could not be completed. Please sign in again.")
	}
	if len(query["state"]) != 1 || len(query["code"]) > 1 {
		return fail("state or code missing or repeated")
	}
	if l.State == "" || subtle.ConstantTimeCompare([]byte(query.Get("state")), []byte(l.State)) != 1 {
		return fail("state does not match this browser's sign-in")
	}
	if a.cfg.Now().Sub(l.Started) > LoginLifetime || a.cfg.Now().Before(l.Started.Add(-time.Minute)) {
		return fail("sign-in took longer than " + LoginLifetime.String())
	}
	if e := query.Get("error"); e != "" {
		// Entra's own words (error_description) are attacker-reachable
		// input: log only the short error code, bounded and cleaned.
		return portal.User{}, nil, portal.Wrap(fmt.Errorf("identity provider returned error %q", cleanCode(e)), portal.EUNAUTHORIZED,
			"Microsoft Entra ID did not sign you in ("+cleanCode(e)+"). Please try again or ask an administrator.")
	}
	code := query.Get("code")
	if code == "" || len(code) > 4096 {
		return fail("authorization code missing or oversized")
	}
	p, err := a.provider(ctx)
	if err != nil {
		return portal.User{}, nil, err
	}
	// With Graph, the code is redeemed on a client of this sign-in's own,
	// whose cache (the Graph tokens) goes to the new session (KeepTokens).
	app, kept := a.app, &heldCache{}
	if a.cfg.Graph != nil {
		if app, err = a.client(kept); err != nil {
			return portal.User{}, nil, err
		}
	}
	res, err := app.AcquireTokenByAuthCode(ctx, code, a.cfg.RedirectURL, a.cfg.Scopes, confidential.WithChallenge(l.Verifier))
	if err != nil {
		return fail("token redemption failed: " + sanitize(err))
	}
	raw := res.IDToken.RawToken
	if raw == "" {
		return fail("token response had no id_token")
	}
	u, err := a.verify(ctx, p, raw, l.Nonce)
	if err != nil {
		return u, nil, err
	}
	return u, kept.data, nil
}

// claims are the ID token claims the portal reads itself (MSAL's IDToken
// lacks roles and nonce).
type claims struct {
	Issuer            string   `json:"iss"`
	TenantID          string   `json:"tid"`
	ObjectID          string   `json:"oid"`
	Nonce             string   `json:"nonce"`
	Name              string   `json:"name"`
	PreferredUsername string   `json:"preferred_username"`
	Roles             []string `json:"roles"`
	// AuthTime is when the person last authenticated to Entra (seconds
	// since 1970), 0 when the token has no auth_time.
	AuthTime int64 `json:"auth_time"`
}

// verify checks the raw ID token: signature against the tenant's JWKS
// (RS256 only), aud, exp and nbf (go-oidc), then issuer for the token's own
// tenant, tenant allowlist, nonce and oid (here).
func (a *Authenticator) verify(ctx context.Context, p *provider, raw, nonce string) (portal.User, error) {
	fail := func(reason string) (portal.User, error) {
		return portal.User{}, portal.Wrap(errors.New("ID token rejected: "+reason), portal.EUNAUTHORIZED, "The sign-in could not be verified. Please sign in again.")
	}
	if len(raw) > maxIDToken {
		return fail("oversized")
	}
	tok, err := p.verifier.Verify(oidc.ClientContext(ctx, a.cfg.HTTPClient), raw)
	if err != nil {
		return fail(err.Error())
	}
	var c claims
	if err := tok.Claims(&c); err != nil {
		return fail("claims unreadable")
	}
	tid, err := portal.ParseGUID(c.TenantID)
	if err != nil || !slices.Contains(a.cfg.AllowedTenants, tid) {
		return fail("tenant not allowed")
	}
	if want := strings.ReplaceAll(p.issuer, "{tenantid}", tid.String()); c.Issuer != want {
		return fail("issuer is not the token tenant's")
	}
	if nonce == "" || subtle.ConstantTimeCompare([]byte(c.Nonce), []byte(nonce)) != 1 {
		return fail("nonce does not match")
	}
	oid, err := portal.ParseGUID(c.ObjectID)
	if err != nil {
		return fail("no oid")
	}
	u := portal.User{
		TenantID: tid,
		ObjectID: oid,
		Name:     c.Name,
		UPN:      c.PreferredUsername,
		Roles:    a.cfg.RoleNames.FromClaim(c.Roles),
	}
	// auth_time, not iat: iat is when this token was issued, which a
	// silent single sign-on makes "now" however long ago the person last
	// proved who they are. Entra sends auth_time only as an optional claim
	// (or when max_age is asked for): without it AuthTime stays zero, which
	// is never a fresh sign-in (portal.User.SignedInWithin).
	if c.AuthTime > 0 {
		u.AuthTime = time.Unix(c.AuthTime, 0).UTC()
	}
	if u.Name == "" {
		u.Name = u.UPN
	}
	return u, nil
}

// EndSessionURL is where the browser goes after the portal has ended its own
// session, so Entra ends its session too; "" if Entra is unreachable.
func (a *Authenticator) EndSessionURL(ctx context.Context, postLogout string) string {
	p, err := a.provider(ctx)
	if err != nil || p.endSession == "" {
		return ""
	}
	u, err := url.Parse(p.endSession)
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Set("post_logout_redirect_uri", postLogout)
	u.RawQuery = q.Encode()
	return u.String()
}

// Ready reports whether Entra's discovery document can be had (for /readyz).
func (a *Authenticator) Ready(ctx context.Context) error {
	_, err := a.provider(ctx)
	return err
}

// provider fetches the discovery document once and keeps it. go-oidc's
// NewProvider cannot be used for "organizations": its issuer is the
// {tenantid} template, which NewProvider's exact check refuses.
func (a *Authenticator) provider(ctx context.Context) (*provider, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.resolved != nil {
		return a.resolved, nil
	}
	var doc struct {
		Issuer     string `json:"issuer"`
		JWKSURI    string `json:"jwks_uri"`
		EndSession string `json:"end_session_endpoint"`
	}
	unreachable := func(err error) (*provider, error) {
		return nil, portal.Wrap(err, portal.EUNAVAILABLE, "Microsoft Entra ID could not be reached. Please try again in a minute.")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.cfg.Authority+"/v2.0/.well-known/openid-configuration", nil)
	if err != nil {
		return unreachable(err)
	}
	resp, err := a.cfg.HTTPClient.Do(req)
	if err != nil {
		return unreachable(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return unreachable(fmt.Errorf("discovery: HTTP %d", resp.StatusCode))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil {
		return unreachable(fmt.Errorf("discovery: %w", err))
	}
	if !strings.HasPrefix(doc.Issuer, "https://") || !strings.HasPrefix(doc.JWKSURI, "https://") {
		return unreachable(errors.New("discovery: issuer or jwks_uri missing or not https"))
	}
	keys := oidc.NewRemoteKeySet(oidc.ClientContext(context.WithoutCancel(ctx), a.cfg.HTTPClient), doc.JWKSURI)
	a.resolved = &provider{
		issuer:     doc.Issuer,
		endSession: doc.EndSession,
		verifier: oidc.NewVerifier("", keys, &oidc.Config{
			ClientID:             a.cfg.ClientID,
			SkipIssuerCheck:      true, // checked against the token's own tenant in verify
			SupportedSigningAlgs: []string{oidc.RS256},
			Now:                  a.cfg.Now,
		}),
	}
	return a.resolved, nil
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

var aadsts = regexp.MustCompile(`AADSTS\d{4,6}`)

// sanitize reduces an MSAL error to what may be logged: MSAL quotes whole
// token responses (tokens included) in its decode errors.
func sanitize(err error) string {
	if codes := aadsts.FindAllString(err.Error(), 3); len(codes) > 0 {
		return "entra error " + strings.Join(codes, ",")
	}
	var opErr interface{ Timeout() bool }
	if errors.As(err, &opErr) && opErr.Timeout() {
		return "timeout talking to entra"
	}
	return fmt.Sprintf("msal error of type %T", errors.Unwrap(err))
}

var codeChars = regexp.MustCompile(`[^a-z_]`)

func cleanCode(s string) string {
	s = codeChars.ReplaceAllString(strings.ToLower(s), "")
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}

// forgetfulCache keeps MSAL from piling up every signed-in person's tokens
// in memory: the portal needs only the ID token of the sign-in at hand, and
// MSAL's in-memory cache would otherwise grow with every person who ever
// signed in, for the life of the process. Before each operation it empties
// the cache; nothing is exported.
type forgetfulCache struct{}

func (forgetfulCache) Replace(_ context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	return u.Unmarshal([]byte("{}"))
}

func (forgetfulCache) Export(context.Context, cache.Marshaler, cache.ExportHints) error { return nil }
