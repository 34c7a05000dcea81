package devidp

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

const (
	// codeTTL is how long an authorization code can be redeemed (Entra: 10 minutes).
	codeTTL = 10 * time.Minute
	// codeKeep is how long a spent or expired code is remembered, so that a
	// late replay gets "already redeemed" or "expired" rather than "unknown".
	codeKeep = time.Hour
	// tokenLifetime is the ID token's lifetime; expires_in is one second less, as Entra says it.
	tokenLifetime = time.Hour
	// maxTokenForm bounds the token request body.
	maxTokenForm = 64 << 10

	clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// authCode is what the IdP remembers about an authorization code.
type authCode struct {
	clientID, redirectURI, nonce, challenge string
	tenant                                  tenantPath
	persona                                 Persona
	scope                                   string // from authorize, normalized
	issued                                  time.Time
	authTime                                time.Time // when the persona last authenticated (auth_time)
	redeemed                                bool
	refreshToken                            string // issued on redemption; revoked when the code is replayed
}

// refreshGrant is what a refresh token stands for.
type refreshGrant struct {
	clientID string
	tenant   tenantPath
	persona  Persona
	scope    string
	authTime time.Time // a refreshed ID token keeps the sign-in's auth_time
}

// tokenResponse is the token endpoint's success answer, with Entra's names.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope"`
	ExpiresIn    int    `json:"expires_in"`
	ExtExpiresIn int    `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token,omitempty"`
	ClientInfo   string `json:"client_info"`
}

// issueCode stores c under a new random code and returns the code.
func (p *IdP) issueCode(c authCode) string {
	code := randomToken()
	now := p.now()
	c.issued = now
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, old := range p.codes {
		if now.Sub(old.issued) > codeKeep {
			delete(p.codes, k)
		}
	}
	p.codes[code] = &c
	return code
}

// Codes returns how many authorization codes are neither redeemed nor
// expired, by Config.Now: 0 after a portal has redeemed every code it got.
func (p *IdP) Codes() int {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.codes {
		if !c.redeemed && now.Sub(c.issued) < codeTTL {
			n++
		}
	}
	return n
}

// handleToken serves POST /{tenant}/oauth2/v2.0/token for the
// authorization_code and refresh_token grants. The client authenticates with
// client_secret or (with AcceptAnyAssertion) client_assertion; failures are
// 401 invalid_client, grant problems 400 invalid_grant.
func (p *IdP) handleToken(w http.ResponseWriter, r *http.Request) {
	t, ok := parseTenant(r.PathValue("tenant"))
	if !ok {
		writeTenantNotFound(w, r.PathValue("tenant"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenForm)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: The request body must be a form (application/x-www-form-urlencoded) of at most 64 KiB.")
		return
	}
	f := r.PostForm
	for k, vs := range f {
		if len(vs) > 1 {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "AADSTS90015: The parameter '"+truncate(k, 40)+"' appears more than once.")
			return
		}
	}
	if msg := p.authenticateClient(f.Get("client_id"), f.Get("client_secret"), f.Get("client_assertion"), f.Get("client_assertion_type")); msg != "" {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", msg)
		return
	}
	switch f.Get("grant_type") {
	case "authorization_code":
		p.redeemCode(w, t, f.Get("code"), f.Get("redirect_uri"), f.Get("code_verifier"), f.Get("scope"))
	case "refresh_token":
		p.redeemRefreshToken(w, t, f.Get("refresh_token"), f.Get("scope"))
	case "":
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'grant_type'.")
	default:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "AADSTS70003: The dev IdP supports grant_type authorization_code and refresh_token only.")
	}
}

// authenticateClient returns "" when the client proved who it is, and the
// error description otherwise.
func (p *IdP) authenticateClient(clientID, secret, assertion, assertionType string) string {
	switch {
	case clientID != p.clientID:
		return "AADSTS700016: Application with identifier '" + truncate(clientID, 80) + "' was not found in the directory."
	case secret != "" && assertion != "":
		return "AADSTS90023: Send client_secret or client_assertion, not both."
	case secret != "":
		if p.clientSecret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(p.clientSecret)) != 1 {
			return "AADSTS7000215: Invalid client secret provided."
		}
		return ""
	case assertion != "":
		if assertionType != clientAssertionType {
			return "AADSTS700024: client_assertion_type must be " + clientAssertionType + "."
		}
		if !p.acceptAnyAssertion {
			return "AADSTS700027: The client assertion is not accepted: the dev IdP is configured for a client secret."
		}
		return ""
	default:
		return "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'."
	}
}

func (p *IdP) redeemCode(w http.ResponseWriter, t tenantPath, code, redirectURI, verifier, scope string) {
	if code == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'code'.")
		return
	}
	now := p.now()
	refresh := randomToken()
	p.mu.Lock()
	c, msg := p.spendCode(now, t, code, redirectURI, verifier, refresh)
	p.mu.Unlock()
	if msg != "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", msg)
		return
	}
	scope = normalizeScope(scope)
	if scope == "" {
		scope = c.scope
	}
	p.respondWithTokens(w, now, c.persona, c.authTime, c.nonce, scope, refresh)
}

// spendCode marks the code redeemed, whatever the outcome of the checks after
// finding it: a code that met a wrong verifier or redirect URI is burnt, as a
// stolen code should be. A replayed code also revokes the refresh token its
// first redemption got. Called with p.mu held.
func (p *IdP) spendCode(now time.Time, t tenantPath, code, redirectURI, verifier, refresh string) (authCode, string) {
	c, ok := p.codes[code]
	switch {
	case !ok:
		return authCode{}, "AADSTS70000: The provided authorization code is invalid: unknown to this IdP."
	case c.redeemed:
		delete(p.refreshGrants, c.refreshToken)
		return authCode{}, "AADSTS54005: OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token."
	}
	c.redeemed = true
	switch {
	case now.Sub(c.issued) >= codeTTL:
		return authCode{}, "AADSTS70008: The provided authorization code or refresh token has expired due to inactivity."
	case c.clientID != p.clientID:
		return authCode{}, "AADSTS70000: The provided authorization code was issued to another client."
	case c.redirectURI != redirectURI:
		return authCode{}, "AADSTS50148: The redirect_uri '" + truncate(redirectURI, 200) + "' differs from the one of the authorization request."
	case !t.admits(c.persona):
		return authCode{}, "AADSTS70000: The provided authorization code was issued for another tenant."
	case verifier == "":
		return authCode{}, "AADSTS501481: The Code_Verifier is missing."
	case !s256Matches(verifier, c.challenge):
		return authCode{}, "AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the authorization request."
	}
	c.refreshToken = refresh
	p.refreshGrants[refresh] = refreshGrant{clientID: c.clientID, tenant: c.tenant, persona: c.persona, scope: c.scope, authTime: c.authTime}
	return *c, ""
}

func (p *IdP) redeemRefreshToken(w http.ResponseWriter, t tenantPath, token, scope string) {
	if token == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'refresh_token'.")
		return
	}
	now := p.now()
	refresh := randomToken()
	p.mu.Lock()
	g, ok := p.refreshGrants[token]
	if ok && g.clientID == p.clientID && t.admits(g.persona) {
		p.refreshGrants[refresh] = g
	}
	p.mu.Unlock()
	switch {
	case !ok:
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "AADSTS9002313: Invalid request. The refresh token is unknown or revoked.")
		return
	case g.clientID != p.clientID:
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "AADSTS700025: The refresh token was issued to another client.")
		return
	case !t.admits(g.persona):
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "AADSTS700082: The refresh token was issued for another tenant.")
		return
	}
	scope = normalizeScope(scope)
	if scope == "" {
		scope = g.scope
	}
	p.respondWithTokens(w, now, g.persona, g.authTime, "", scope, refresh)
}

// respondWithTokens answers 200 with fresh tokens for the persona, applying
// the next queued fault to the ID token.
func (p *IdP) respondWithTokens(w http.ResponseWriter, now time.Time, persona Persona, authTime time.Time, nonce, scope, refresh string) {
	fault := p.nextFault()
	info, _ := json.Marshal(struct {
		UID  string `json:"uid"`
		UTID string `json:"utid"`
	}{persona.ObjectID.String(), persona.TenantID.String()})
	resp := tokenResponse{
		TokenType:    "Bearer",
		Scope:        scope,
		ExpiresIn:    int(tokenLifetime/time.Second) - 1,
		ExtExpiresIn: int(tokenLifetime/time.Second) - 1,
		AccessToken:  randomToken(),
		RefreshToken: refresh,
		ClientInfo:   base64.RawURLEncoding.EncodeToString(info),
	}
	p.remember(now, resp.AccessToken, AccessGrant{Tenant: persona.TenantID, ObjectID: persona.ObjectID, Scopes: strings.Fields(scope), Expires: now.Add(tokenLifetime)})
	if fault != NoIDToken {
		resp.IDToken = p.idToken(now, persona, authTime, nonce, fault)
	}
	writeJSON(w, http.StatusOK, resp)
}

// s256Matches reports whether base64url(sha256(verifier)) is the challenge.
func s256Matches(verifier, challenge string) bool {
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// randomToken returns 32 random bytes, base64url without padding: codes,
// access tokens and refresh tokens alike.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// AccessGrant is what an access token the dev IdP issued stands for.
type AccessGrant struct {
	Tenant   portal.GUID
	ObjectID portal.GUID // the persona
	Scopes   []string    // as granted, e.g. https://graph.microsoft.com/User.ReadBasic.All
	Expires  time.Time
}

// remember keeps an issued access token, dropping expired ones on the way
// so the map stays as small as the live tokens.
func (p *IdP) remember(now time.Time, token string, g AccessGrant) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for t, old := range p.accessTokens {
		if !now.Before(old.Expires) {
			delete(p.accessTokens, t)
		}
	}
	p.accessTokens[token] = g
}

// AccessToken says what an access token this IdP issued stands for, and
// false for any other or an expired one: dev mode's Graph emulator checks
// bearer tokens with it, as Graph checks Entra's.
func (p *IdP) AccessToken(token string, now time.Time) (AccessGrant, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g, ok := p.accessTokens[token]
	if !ok || !now.Before(g.Expires) {
		return AccessGrant{}, false
	}
	return g, true
}
