package devidp

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// codeChallengeLen is the length of an S256 code_challenge: base64url without
// padding of a SHA-256 hash.
const codeChallengeLen = 43

// handleAuthorize serves GET /{tenant}/oauth2/v2.0/authorize.
//
// It checks the client and the redirect URI first and shows an error page when
// either is wrong: the browser is never sent to an unregistered address. Other
// errors go back to the redirect URI as error, error_description and state, as
// Entra sends them. A login_hint naming a persona of this tenant signs that
// persona in at once (302 with code and state); otherwise, or with
// prompt=select_account, it shows the persona picker. The ID token's
// auth_time is that of the persona's single sign-on session, unless
// prompt=login or max_age asks for a newer one (authenticate).
func (p *IdP) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	t, ok := parseTenant(r.PathValue("tenant"))
	if !ok {
		p.renderError(w, "AADSTS90002: Tenant '"+truncate(r.PathValue("tenant"), 80)+"' not found. The dev IdP knows tenant GUIDs, 'organizations' and 'common'.")
		return
	}
	for k, vs := range q {
		if len(vs) > 1 {
			p.renderError(w, "AADSTS90015: The parameter '"+truncate(k, 40)+"' appears more than once; each may appear once only.")
			return
		}
	}
	if q.Get("client_id") != p.clientID {
		p.renderError(w, "AADSTS700016: Application with identifier '"+truncate(q.Get("client_id"), 80)+"' was not found in the directory. The dev IdP knows only "+p.clientID+".")
		return
	}
	redirectURI := q.Get("redirect_uri")
	if !p.redirectURIRegistered(redirectURI) {
		p.renderError(w, "AADSTS50011: The redirect URI '"+truncate(redirectURI, 200)+"' specified in the request does not match the redirect URIs configured for the application '"+p.clientID+"'.")
		return
	}
	target, err := url.Parse(redirectURI)
	if err != nil || !target.IsAbs() {
		p.renderError(w, "AADSTS50011: The registered redirect URI '"+truncate(redirectURI, 200)+"' is not an absolute URL.")
		return
	}

	// From here on the redirect URI is trusted: errors go back to the app.
	state := q.Get("state")
	fail := func(code, description string) {
		redirectTo(w, r, target, url.Values{"error": {code}, "error_description": {description}}, state)
	}
	challenge, prompt := q.Get("code_challenge"), q.Get("prompt")
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "AADSTS700054: The dev IdP supports response_type=code only.")
		return
	case q.Get("response_mode") != "" && q.Get("response_mode") != "query":
		fail("invalid_request", "AADSTS900144: The dev IdP supports response_mode=query only.")
		return
	case strings.TrimSpace(q.Get("scope")) == "":
		fail("invalid_request", "AADSTS900144: The request body must contain the following parameter: 'scope'.")
		return
	case challenge == "":
		fail("invalid_request", "AADSTS9002325: Proof Key for Code Exchange is required for this application: send code_challenge and code_challenge_method=S256.")
		return
	case q.Get("code_challenge_method") != "S256":
		fail("invalid_request", "AADSTS501491: The dev IdP supports code_challenge_method=S256 only.")
		return
	case len(challenge) != codeChallengeLen || !isBase64URL(challenge):
		fail("invalid_request", "AADSTS501491: code_challenge is not the base64url SHA-256 of a code verifier (43 characters).")
		return
	case prompt != "" && prompt != "login" && prompt != "select_account" && prompt != "consent" && prompt != "none":
		fail("invalid_request", "AADSTS90023: Invalid prompt value '"+truncate(prompt, 40)+"'.")
		return
	}
	maxAge, hasMaxAge, ok := parseMaxAge(q.Get("max_age"))
	if !ok {
		fail("invalid_request", "AADSTS90023: max_age must be a whole number of seconds, 0 or more.")
		return
	}

	hint := q.Get("login_hint")
	if prompt == "select_account" {
		p.renderPicker(w, r, t, "")
		return
	}
	if hint == "" {
		if prompt == "none" {
			fail("login_required", "AADSTS50058: A silent sign-in request was sent but no user is signed in; send a login_hint.")
			return
		}
		p.renderPicker(w, r, t, "")
		return
	}
	persona, found := findPersona(p.personas, hint)
	if !found || !t.admits(persona) {
		if prompt == "none" {
			fail("login_required", "AADSTS50058: The login_hint does not name a persona of this tenant.")
			return
		}
		msg := fmt.Sprintf("No persona has the login hint %q. Pick one below.", truncate(hint, 100))
		if found {
			msg = fmt.Sprintf("%s belongs to %s, not to tenant %s. Pick a persona of this tenant below.", persona.LoginHint, persona.TenantName, t)
		}
		p.renderPicker(w, r, t, msg)
		return
	}
	code := p.issueCode(authCode{
		authTime:    p.authenticate(persona, prompt == "login", maxAge, hasMaxAge),
		clientID:    p.clientID,
		redirectURI: redirectURI,
		nonce:       q.Get("nonce"),
		challenge:   challenge,
		tenant:      t,
		persona:     persona,
		scope:       normalizeScope(q.Get("scope")),
	})
	redirectTo(w, r, target, url.Values{"code": {code}}, state)
}

// authenticate returns when persona authenticated for this sign-in, as
// the ID token's auth_time: the time of the persona's single sign-on
// session when there is one and it may be reused, now otherwise (the
// persona "typed their password"). forceLogin (prompt=login) and a max_age
// the session is older than both ask for a new authentication, as OpenID
// Connect Core 3.1.2.1 says.
func (p *IdP) authenticate(persona Persona, forceLogin bool, maxAge time.Duration, hasMaxAge bool) time.Time {
	now := p.now()
	key := strings.ToLower(persona.LoginHint)
	p.mu.Lock()
	defer p.mu.Unlock()
	at, known := p.authenticated[key]
	if !known || forceLogin || hasMaxAge && now.Sub(at) > maxAge {
		at = now
		p.authenticated[key] = at
	}
	return at
}

// parseMaxAge reads max_age: false for anything but a non-negative whole
// number of seconds; has is false when it is absent.
func parseMaxAge(s string) (d time.Duration, has, ok bool) {
	if s == "" {
		return 0, false, true
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 0 {
		return 0, false, false
	}
	return time.Duration(n) * time.Second, true, true
}

// handleLogout serves GET /{tenant}/oauth2/v2.0/logout. A registered
// post_logout_redirect_uri gets a 302 back (with state, when sent); anything
// else gets the signed-out page. The single sign-on sessions end: the next
// sign-in of any persona authenticates anew (the IdP knows no browsers, so
// it cannot tell whose session this was).
func (p *IdP) handleLogout(w http.ResponseWriter, r *http.Request) {
	if _, ok := parseTenant(r.PathValue("tenant")); !ok {
		p.renderError(w, "AADSTS90002: Tenant '"+truncate(r.PathValue("tenant"), 80)+"' not found.")
		return
	}
	p.mu.Lock()
	clear(p.authenticated)
	p.mu.Unlock()
	q := r.URL.Query()
	back := q.Get("post_logout_redirect_uri")
	if back != "" && p.postLogoutURIRegistered(back) {
		if target, err := url.Parse(back); err == nil && target.IsAbs() {
			redirectTo(w, r, target, url.Values{}, q.Get("state"))
			return
		}
	}
	view := pageView{Title: "You are signed out", Heading: "You are signed out"}
	if back != "" {
		view.Message = fmt.Sprintf("%s is not a registered post-logout redirect URI, so you stay here.", truncate(back, 200))
	}
	p.renderPage(w, http.StatusOK, view)
}

// redirectTo answers 302 to target with params (and a non-empty state, as
// sent) added to its query.
func redirectTo(w http.ResponseWriter, r *http.Request, target *url.URL, params url.Values, state string) {
	u := *target
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	if state != "" {
		q.Set("state", state)
	}
	u.RawQuery = q.Encode()
	setPageHeaders(w)
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// personaLink is one persona on the picker page.
type personaLink struct {
	Persona
	Href  string
	Roles string
}

// pageView is the view model of every page the IdP renders.
type pageView struct {
	Title    string
	Heading  string
	Message  string        // shown as an alert; empty for none
	Error    bool          // Message is an error that stops the sign-in
	Tenant   string        // picker only
	Personas []personaLink // picker only
}

// renderPicker shows the personas this tenant admits, each a link to the same
// authorize request with its login_hint (and without prompt, so that
// select_account does not loop).
func (p *IdP) renderPicker(w http.ResponseWriter, r *http.Request, t tenantPath, message string) {
	view := pageView{Title: "Sign in", Heading: "Pick an account", Message: message, Tenant: t.String()}
	for _, persona := range p.personas {
		if !t.admits(persona) {
			continue
		}
		q := r.URL.Query()
		q.Set("login_hint", persona.LoginHint)
		q.Del("prompt")
		roles := strings.Join(persona.Roles, ", ")
		if roles == "" {
			roles = "no app role"
		}
		view.Personas = append(view.Personas, personaLink{
			Persona: persona,
			Href:    r.URL.EscapedPath() + "?" + q.Encode(),
			Roles:   roles,
		})
	}
	p.renderPage(w, http.StatusOK, view)
}

// renderError shows a sign-in error page (400) and never redirects.
func (p *IdP) renderError(w http.ResponseWriter, message string) {
	p.renderPage(w, http.StatusBadRequest, pageView{Title: "Sign-in error", Heading: "Sorry, but we’re having trouble signing you in", Message: message, Error: true})
}

func (p *IdP) renderPage(w http.ResponseWriter, status int, view pageView) {
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, view); err != nil {
		http.Error(w, "devidp: rendering the page failed", http.StatusInternalServerError)
		return
	}
	setPageHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// setPageHeaders keeps the pages out of caches, frames and Referer headers
// (the URLs carry state, nonce and codes).
func setPageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
}

// pageTemplate is well-formed XML as well as HTML, so tests can parse it with
// encoding/xml. It has no script at all.
var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>{{.Title}} · dev IdP</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; color: #1b1b1b; }
.banner { background: #fff4ce; padding: .5rem .75rem; border-radius: .25rem; }
.alert { background: #fde7e9; padding: .5rem .75rem; border-radius: .25rem; }
ul { list-style: none; padding: 0; }
li a { display: block; padding: .75rem; margin: .5rem 0; border: 1px solid #ccc; border-radius: .25rem; color: inherit; text-decoration: none; }
li a:hover, li a:focus { border-color: #0f6cbd; }
.upn, .meta { display: block; color: #555; font-size: .9rem; }
</style>
</head>
<body>
<main>
<p class="banner" data-testid="dev-banner">Development identity provider, not Microsoft Entra ID.</p>
<h1>{{.Heading}}</h1>
{{- with .Message}}
<p class="alert" role="alert" data-testid="message">{{.}}</p>
{{- end}}
{{- if .Tenant}}
<p>Tenant: <code data-testid="tenant">{{.Tenant}}</code></p>
{{- if .Personas}}
<ul data-testid="personas">
{{- range .Personas}}
<li><a href="{{.Href}}" data-testid="persona" data-login-hint="{{.LoginHint}}"><strong class="name">{{.Name}}</strong><span class="upn">{{.LoginHint}}</span><span class="meta">{{.TenantName}} · {{.Roles}}</span></a></li>
{{- end}}
</ul>
{{- else}}
<p data-testid="no-personas">No persona belongs to this tenant.</p>
{{- end}}
{{- end}}
</main>
</body>
</html>
`))

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// normalizeScope returns the scopes space-separated, once each, in order.
func normalizeScope(s string) string {
	var out []string
	seen := map[string]bool{}
	for _, f := range strings.Fields(s) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return strings.Join(out, " ")
}
