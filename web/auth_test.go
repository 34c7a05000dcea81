package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/portal"
)

func TestEveryPersonaSignsIn(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	for _, tc := range []struct {
		hint, name, role, tenant string
		status                   int
	}{
		{"admin@contoso.test", "Adele Admin", "Admin", "Contoso", 200},
		{"helpdesk@contoso.test", "Hugo Helpdesk", "Helpdesk", "Contoso", 200},
		{"auditor@contoso.test", "Aude Auditor", "Auditor", "Contoso", 200},
		{"admin@fabrikam.test", "Fabian Admin", "Admin", "Fabrikam", 200},
		{"norole@contoso.test", "Nora Norole", "", "Contoso", 403},
	} {
		t.Run(tc.hint, func(t *testing.T) {
			p := e.signIn(e.browser(), tc.hint)
			if p.status != tc.status || p.url.Path != "/" {
				t.Fatalf("landed on %s with %d", p.url, p.status)
			}
			name, _ := p.testid("user-name")
			role, hasRole := p.testid("user-role")
			tenant, _ := p.testid("user-tenant")
			if name != tc.name || role != tc.role || tenant != tc.tenant {
				t.Fatalf("shows %q / %q / %q", name, role, tenant)
			}
			_, noAccess := p.testid("no-access")
			if noAccess != (tc.role == "") || hasRole == (tc.role == "") {
				t.Fatalf("no-access page shown: %v, role shown: %v", noAccess, hasRole)
			}
		})
	}
}

func TestReturnToIsHonouredOnlyForLocalPaths(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	p := e.get(e.browser(), "/auth/login?login_hint=admin@contoso.test&return_to="+url.QueryEscape("/no-access?x=1"))
	if p.url.Path != "/no-access" || p.url.RawQuery != "x=1" {
		t.Fatalf("landed on %s", p.url)
	}
	p = e.get(e.browser(), "/auth/login?login_hint=admin@contoso.test&return_to="+url.QueryEscape("//evil.example/"))
	if p.url.Host != strings.TrimPrefix(e.srv.URL, "http://") || p.url.Path != "/" {
		t.Fatalf("landed on %s", p.url)
	}
}

// SECURITY.md, P0-11 (Post-login redirect only to local paths): the
// open-redirect corpus falls back to "/".
func TestSafeReturnTo(t *testing.T) {
	for _, in := range []string{
		"//evil.com", "/\\evil.com", "/\t/evil.com", "https://evil.com", "https://portal@evil.com",
		"javascript:alert(1)", "%2F%2Fevil.com", "\\\\evil.com", "/%2F/evil.com", "/%2f%2fevil.com", "", "evil.com",
		"/\r\nSet-Cookie:x=y", "/ok path",
	} {
		if got := safeReturnTo(in); got != "/" {
			t.Errorf("safeReturnTo(%q) = %q, want /", in, got)
		}
	}
	for in, want := range map[string]string{"/": "/", "/assignments?q=a%20b": "/assignments?q=a%20b", "/no-access": "/no-access"} {
		if got := safeReturnTo(in); got != want {
			t.Errorf("safeReturnTo(%q) = %q, want %q", in, got, want)
		}
	}
}

// startSignIn takes a browser to the IdP and back up to, not into, the
// portal's callback, and returns the callback URL it was sent to.
func (e *portalEnv) startSignIn(c *http.Client, hint string) *url.URL {
	e.t.Helper()
	nf := noFollow(c)
	resp, err := nf.Get(e.srv.URL + "/auth/login?login_hint=" + url.QueryEscape(hint))
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = nf.Get(resp.Header.Get("Location"))
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	cb, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || cb.Path != "/auth/callback" {
		e.t.Fatalf("IdP sent the browser to %q", resp.Header.Get("Location"))
	}
	return cb
}

func withQuery(u *url.URL, change func(url.Values)) string {
	q := u.Query()
	change(q)
	cp := *u
	cp.RawQuery = q.Encode()
	return cp.String()
}

// SECURITY.md, P0-1 (Sign-in transaction integrity): each attack ends in a
// 4xx, no session, and a logged auth.failure.
func TestSignInTransactionAttacks(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	cases := map[string]func(t *testing.T) (c *http.Client, target string){
		"missing state": func(t *testing.T) (*http.Client, string) {
			c := e.browser()
			cb := e.startSignIn(c, "admin@contoso.test")
			return c, withQuery(cb, func(q url.Values) { q.Del("state") })
		},
		"wrong state": func(t *testing.T) (*http.Client, string) {
			c := e.browser()
			cb := e.startSignIn(c, "admin@contoso.test")
			return c, withQuery(cb, func(q url.Values) { q.Set("state", "x"+q.Get("state")) })
		},
		"repeated state": func(t *testing.T) (*http.Client, string) {
			c := e.browser()
			cb := e.startSignIn(c, "admin@contoso.test")
			return c, withQuery(cb, func(q url.Values) { q.Add("state", q.Get("state")) })
		},
		"replayed callback": func(t *testing.T) (*http.Client, string) {
			c := e.browser()
			cb := e.startSignIn(c, "admin@contoso.test")
			if p := e.get(c, cb.String()); p.status != 200 {
				t.Fatalf("first use: %d", p.status)
			}
			// Sign out, then present the same callback again.
			e.logout(c)
			return c, cb.String()
		},
		"other browser": func(t *testing.T) (*http.Client, string) {
			cb := e.startSignIn(e.browser(), "admin@contoso.test")
			other := e.browser()
			e.startSignIn(other, "helpdesk@contoso.test") // it has a sign-in of its own under way
			return other, cb.String()
		},
		"expired state": func(t *testing.T) (*http.Client, string) {
			c := e.browser()
			cb := e.startSignIn(c, "admin@contoso.test")
			e.clock.Add(11 * time.Minute)
			t.Cleanup(func() { e.clock.Add(-11 * time.Minute) })
			return c, cb.String()
		},
		"error from the IdP": func(t *testing.T) (*http.Client, string) {
			c := e.browser()
			cb := e.startSignIn(c, "admin@contoso.test")
			return c, withQuery(cb, func(q url.Values) {
				q.Del("code")
				q.Set("error", "access_denied")
				q.Set("error_description", "<script>alert(1)</script>")
			})
		},
		"100 KB code": func(t *testing.T) (*http.Client, string) {
			c := e.browser()
			cb := e.startSignIn(c, "admin@contoso.test")
			return c, withQuery(cb, func(q url.Values) { q.Set("code", strings.Repeat("A", 100<<10)) })
		},
		"forged code": func(t *testing.T) (*http.Client, string) {
			c := e.browser()
			cb := e.startSignIn(c, "admin@contoso.test")
			return c, withQuery(cb, func(q url.Values) { q.Set("code", "forged") })
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			failuresBefore := strings.Count(e.logs.String(), `"auth.failure"`)
			auditBefore := e.auditCount(portal.ActionSignInFailure)
			c, target := setup(t)
			p := e.get(noFollow(c), target)
			if p.status < 400 || p.status >= 500 {
				t.Fatalf("status %d, want 4xx", p.status)
			}
			if strings.Contains(p.body, "<script>alert(1)") {
				t.Fatal("the IdP's error text was echoed unescaped")
			}
			if who := e.signedInAs(c); who != "" {
				t.Fatalf("signed in as %q after the attack", who)
			}
			if n := strings.Count(e.logs.String(), `"auth.failure"`) - failuresBefore; n != 1 {
				t.Fatalf("%d auth.failure log lines, want 1", n)
			}
			if n := e.auditCount(portal.ActionSignInFailure) - auditBefore; n != 1 {
				t.Fatalf("%d sign_in_failure audit rows, want 1", n)
			}
		})
	}
}

func (e *portalEnv) logout(c *http.Client) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/auth/logout", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := noFollow(c).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("logout: %d", resp.StatusCode)
	}
}

// SECURITY.md, P0-2 (ID token validated by the portal) and P0-3 (Roles only
// from the verified token): every bad ID token is refused; bad roles sign in
// with no role.
func TestBadIDTokensAreRejected(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	for _, f := range []devidp.Fault{
		devidp.WrongIssuer, devidp.WrongAudience, devidp.ForeignTenant, devidp.IssuerTenantMismatch,
		devidp.Expired, devidp.NotYetValid, devidp.WrongNonce, devidp.MissingNonce, devidp.AlgNone,
		devidp.HS256WithPublicKey, devidp.UnknownKid, devidp.ForeignKey, devidp.Truncated,
		devidp.HugePayload, devidp.MissingOID, devidp.NoIDToken,
	} {
		t.Run(string(f), func(t *testing.T) {
			c := e.browser()
			e.idp.NextTokenFaults(f)
			p := e.signIn(c, "admin@contoso.test")
			if p.status < 400 || p.status >= 500 {
				t.Fatalf("status %d, want 4xx", p.status)
			}
			if who := e.signedInAs(c); who != "" {
				t.Fatalf("signed in as %q with a %s token", who, f)
			}
		})
	}
	for _, f := range []devidp.Fault{devidp.RolesMissing, devidp.RolesEmpty, devidp.RolesWrongCase, devidp.RolesPadded, devidp.RolesUnknown} {
		t.Run(string(f), func(t *testing.T) {
			c := e.browser()
			e.idp.NextTokenFaults(f)
			p := e.signIn(c, "admin@contoso.test")
			if _, ok := p.testid("no-access"); !ok || p.status != http.StatusForbidden {
				t.Fatalf("status %d, no-access page %v", p.status, ok)
			}
			if _, ok := p.testid("user-role"); ok {
				t.Fatal("a role is shown")
			}
		})
	}
	// A good token still works after all that.
	if who := e.signedInAs(func() *http.Client { c := e.browser(); e.signIn(c, "admin@contoso.test"); return c }()); who != "Adele Admin" {
		t.Fatalf("good token: signed in as %q", who)
	}
}

// SECURITY.md, P0-5 (Deny by default): every route has an explicit policy.
func TestEveryRouteHasAPolicy(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	mux := e.server.handler.(chi.Routes)
	n := 0
	err := chi.Walk(mux, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		n++
		if _, ok := e.server.policies[method+" "+route]; !ok {
			t.Errorf("%s %s has no policy", method, route)
		}
		return nil
	})
	if err != nil || n < 5 {
		t.Fatalf("walked %d routes: %v", n, err)
	}
	// The role policy itself: exact roles only.
	p := rolePolicy(portal.RoleAdmin, portal.RoleHelpdesk)
	for _, tc := range []struct {
		u    *portal.User
		want bool
	}{
		{nil, false},
		{&portal.User{}, false},
		{&portal.User{Roles: []portal.Role{portal.RoleAuditor}}, false},
		{&portal.User{Roles: []portal.Role{portal.RoleHelpdesk}}, true},
	} {
		if got := p.allows(tc.u); got != tc.want {
			t.Errorf("allows(%+v) = %v", tc.u, got)
		}
	}
}

// auditCount counts the audit rows of one action, every tenant's.
func (e *portalEnv) auditCount(action portal.AuditAction) int {
	n := 0
	e.db.WalkAudit(context.Background(), portal.GUID{}, func(ev portal.AuditEvent) error {
		if ev.Action == action {
			n++
		}
		return nil
	})
	return n
}

// Issue 14: a callback for no sign-in of this browser changes nothing (a
// link from another site cannot sign anyone out); two tabs' sign-ins each
// finish; a tab whose sign-in is spent gets "sign in again", and the
// session stands.
func TestSignInsPerState(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	c := e.browser()
	first := e.startSignIn(c, "admin@contoso.test")
	if p := e.get(c, first.String()); p.status != 200 {
		t.Fatalf("sign-in: %d", p.status)
	}
	junk := withQuery(first, func(q url.Values) { q.Set("state", "never-issued") })
	for _, target := range []string{junk, first.String(), e.srv.URL + "/auth/callback"} {
		if p := e.get(noFollow(c), target); p.status < 400 || p.status >= 500 || !strings.Contains(p.body, "sign in again") {
			t.Fatalf("%s: %d %s", target, p.status, p.body)
		}
		if who := e.signedInAs(c); who == "" {
			t.Fatalf("signed out by a callback for no sign-in of this browser (%s)", target)
		}
	}

	// Two tabs start signing in; the second finishes first, then the first.
	tabs := e.browser()
	a := e.startSignIn(tabs, "helpdesk@contoso.test")
	b := e.startSignIn(tabs, "admin@contoso.test")
	if p := e.get(noFollow(tabs), b.String()); p.status != http.StatusSeeOther {
		t.Fatalf("tab b: %d %s", p.status, p.body)
	}
	if who := e.signedInAs(tabs); who == "" {
		t.Fatal("tab b did not sign in")
	}
	if p := e.get(noFollow(tabs), a.String()); p.status != http.StatusSeeOther {
		t.Fatalf("tab a, after b: %d %s", p.status, p.body)
	}
	if who := e.signedInAs(tabs); !strings.Contains(strings.ToLower(who), "help") {
		t.Fatalf("after tab a: signed in as %q", who)
	}
	// Tab b's link again: spent; the session stands.
	if p := e.get(noFollow(tabs), b.String()); p.status < 400 {
		t.Fatalf("tab b's link reused: %d", p.status)
	}
	if who := e.signedInAs(tabs); who == "" {
		t.Fatal("a spent link signed the browser out")
	}

	// At most a few sign-ins are kept: the oldest goes.
	many := e.browser()
	oldest := e.startSignIn(many, "admin@contoso.test")
	for range maxPendingSignIns {
		e.startSignIn(many, "admin@contoso.test")
	}
	if p := e.get(noFollow(many), oldest.String()); p.status < 400 {
		t.Fatalf("the oldest of %d sign-ins: %d", maxPendingSignIns+1, p.status)
	}
}

// Issue 14, floods: failed sign-ins past the limit get 429 with
// Retry-After and a readable page, and one summary audit row instead of a
// row each; a session's changes past its limit get 429 too.
func TestFloodsAreLimited(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	limit := 10
	e.server.deps.Limits = Limits{FailedSignInsPerMinute: limit, MutationsPerMinute: 30}
	e.server.signInFailures.limit, e.server.mutations.limit = limit, 30
	before := e.auditCount(portal.ActionSignInFailure)
	junk := e.srv.URL + "/auth/callback?state=junk&code=x"
	c := e.browser()
	var last page
	for range limit + 50 {
		last = e.get(noFollow(c), junk)
	}
	if last.status != http.StatusTooManyRequests || last.header.Get("Retry-After") == "" || !strings.Contains(last.body, "Too many sign-ins failed") {
		t.Fatalf("past the limit: %d, Retry-After %q", last.status, last.header.Get("Retry-After"))
	}
	if n := e.auditCount(portal.ActionSignInFailure) - before; n != limit {
		t.Fatalf("%d failed sign-ins audited during the flood, want %d", n, limit)
	}
	// The minute ends: one row sums up the rest, and sign-ins work again.
	e.clock.Add(time.Minute)
	e.server.writeSummaries(context.Background(), e.clock.Now())
	if n := e.auditCount(portal.ActionSignInFailure) - before; n != limit+1 {
		t.Fatalf("%d rows after the summary, want %d", n, limit+1)
	}
	var summary string
	e.db.WalkAudit(context.Background(), portal.GUID{}, func(ev portal.AuditEvent) error {
		if ev.Action == portal.ActionSignInFailure {
			summary = ev.Detail
		}
		return nil
	})
	if !strings.Contains(summary, "50 more failed sign-ins from 127.0.0.1") {
		t.Errorf("summary row: %q", summary)
	}
	e.signIn(c, "admin@contoso.test")
	if who := e.signedInAs(c); who == "" {
		t.Error("a good sign-in after the minute ended")
	}

	// A session's changes.
	admin := noFollow(e.as("admin@contoso.test"))
	limited := false
	for i := range e.server.deps.Limits.MutationsPerMinute + 1 {
		p := e.post(admin, "/names/refresh", url.Values{})
		if p.status == http.StatusTooManyRequests {
			limited = i == e.server.deps.Limits.MutationsPerMinute && p.header.Get("Retry-After") != ""
			break
		}
	}
	if !limited {
		t.Error("a session's changes past the limit were not answered 429")
	}
	if p := e.get(admin, "/assignments"); p.status != http.StatusOK {
		t.Errorf("reading while changes are limited: %d", p.status)
	}
}
