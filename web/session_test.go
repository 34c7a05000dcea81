package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/static"
)

func cookieNamed(c *http.Client, e *portalEnv, name string) *http.Cookie {
	u, _ := http.NewRequest("GET", e.srv.URL, nil)
	for _, ck := range c.Jar.Cookies(u.URL) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// SECURITY.md, P0-7 (Sessions): server-side sessions.
func TestSessionLifecycle(t *testing.T) {
	e := newPortal(t, SessionOptions{Idle: time.Hour, Absolute: 3 * time.Hour})

	t.Run("pre-login cookie is worthless after sign-in", func(t *testing.T) {
		c := e.browser()
		e.startSignIn(c, "admin@contoso.test")
		pre := cookieNamed(c, e, "portal")
		if pre == nil {
			t.Fatal("no pre-login cookie")
		}
		e.signIn(c, "admin@contoso.test")
		if post := cookieNamed(c, e, "portal"); post == nil || post.Value == pre.Value {
			t.Fatal("session key not renewed at sign-in")
		}
		attacker := e.browser()
		attacker.Jar.SetCookies(e.srvURL(), []*http.Cookie{{Name: "portal", Value: pre.Value}})
		if who := e.signedInAs(attacker); who != "" {
			t.Fatalf("pre-login cookie signed in as %q", who)
		}
	})

	t.Run("logout ends the session on the server", func(t *testing.T) {
		c := e.browser()
		e.signIn(c, "admin@contoso.test")
		stolen := cookieNamed(c, e, "portal")
		e.logout(c)
		if who := e.signedInAs(c); who != "" {
			t.Fatalf("still signed in as %q", who)
		}
		replay := e.browser()
		replay.Jar.SetCookies(e.srvURL(), []*http.Cookie{{Name: "portal", Value: stolen.Value}})
		if who := e.signedInAs(replay); who != "" {
			t.Fatalf("replayed cookie signed in as %q", who)
		}
	})

	t.Run("tampered cookies are anonymous, never an error", func(t *testing.T) {
		for _, v := range []string{"x", strings.Repeat("A", 43), strings.Repeat("%", 43), strings.Repeat("z", 3000)} {
			c := e.browser()
			c.Jar.SetCookies(e.srvURL(), []*http.Cookie{{Name: "portal", Value: v}})
			if p := e.get(c, "/"); p.status != 200 {
				t.Fatalf("cookie %q: status %d", v[:1], p.status)
			}
		}
	})

	t.Run("idle and absolute timeouts", func(t *testing.T) {
		c := e.browser()
		e.signIn(c, "admin@contoso.test")
		e.clock.Add(59 * time.Minute)
		if e.signedInAs(c) == "" {
			t.Fatal("signed out before the idle timeout")
		}
		e.clock.Add(59 * time.Minute) // seen 59 minutes ago: still fine
		if e.signedInAs(c) == "" {
			t.Fatal("signed out though used within the idle timeout")
		}
		e.clock.Add(61 * time.Minute)
		if who := e.signedInAs(c); who != "" {
			t.Fatalf("idle session still signed in as %q", who)
		}
		c = e.browser()
		e.signIn(c, "admin@contoso.test")
		for range 4 {
			e.clock.Add(50 * time.Minute)
			e.signedInAs(c)
		}
		if who := e.signedInAs(c); who != "" {
			t.Fatalf("session older than the absolute timeout still signed in as %q", who)
		}
	})
}

func TestCookieAttributesPerMode(t *testing.T) {
	for _, secure := range []bool{false, true} {
		e := newPortal(t, SessionOptions{Secure: secure})
		resp, err := noFollow(e.browser()).Get(e.srv.URL + "/auth/login?login_hint=admin@contoso.test")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		set := resp.Header.Get("Set-Cookie")
		want := []string{"HttpOnly", "SameSite=Lax", "Path=/"}
		name := "portal="
		if secure {
			want = append(want, "Secure")
			name = "__Host-portal="
		}
		if !strings.HasPrefix(set, name) {
			t.Errorf("secure=%v: cookie %q", secure, set)
		}
		for _, w := range want {
			if !strings.Contains(set, w) {
				t.Errorf("secure=%v: cookie %q lacks %s", secure, set, w)
			}
		}
		if strings.Contains(set, "Domain=") || len(set) > 200 {
			t.Errorf("secure=%v: cookie %q", secure, set)
		}
		if !secure && strings.Contains(set, "Secure") {
			t.Errorf("dev cookie is Secure: %q", set)
		}
	}
}

// SECURITY.md, P0-6 (CSRF: no cross-origin state change, no state change on
// GET): unsafe cross-origin requests are refused; logout is POST only.
func TestCrossOriginRequestsAreRefused(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	c := e.browser()
	e.signIn(c, "admin@contoso.test")
	for name, hdr := range map[string][2]string{
		"cross-site":  {"Sec-Fetch-Site", "cross-site"},
		"same-site":   {"Sec-Fetch-Site", "same-site"},
		"null origin": {"Origin", "null"},
		"foreign":     {"Origin", "https://evil.example"},
	} {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/auth/logout", nil)
		req.Header.Set(hdr[0], hdr[1])
		resp, err := noFollow(c).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", name, resp.StatusCode)
		}
	}
	if e.signedInAs(c) == "" {
		t.Fatal("a refused logout signed the person out")
	}
	// GET /auth/logout (an <img src>) does nothing.
	if p := e.get(c, "/auth/logout"); p.status != http.StatusMethodNotAllowed {
		t.Fatalf("GET /auth/logout: %d", p.status)
	}
	if e.signedInAs(c) == "" {
		t.Fatal("GET signed the person out")
	}
}

// Mass-assignment headers never make anyone somebody.
func TestIdentityHeadersAreIgnored(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/", nil)
	for _, h := range []string{"X-User-Id", "X-Forwarded-User", "X-MS-CLIENT-PRINCIPAL", "X-MS-CLIENT-PRINCIPAL-ID"} {
		req.Header.Set(h, "369f18b8-e505-4795-b1cf-e40cfc95f82e")
	}
	resp, err := e.browser().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	p := readPage(t, resp)
	if _, ok := p.testid("user-name"); ok {
		t.Fatal("headers signed someone in")
	}
}

// SECURITY.md, P1 (Security headers on every response): on every kind of
// response.
func TestSecurityHeadersEverywhere(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	c := e.browser()
	e.signIn(c, "admin@contoso.test")
	check := func(name string, h http.Header) {
		t.Helper()
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self' 'nonce-", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %s", name, csp, want)
			}
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "same-origin" || h.Get("X-Request-ID") == "" {
			t.Errorf("%s: headers %v", name, h)
		}
	}
	for _, path := range []string{"/", "/no-such-page", "/healthz", "/readyz"} {
		p := e.get(c, path)
		check(path, p.header)
		if p.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", path, p.header.Get("Cache-Control"))
		}
	}
	// Fragments (htmx) and static files carry them too.
	for _, path := range []string{"/assignments?q=x", "/lookup"} {
		req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
		req.Header.Set("HX-Request", "true")
		req.Header.Set("HX-Request-Type", "partial")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		check("fragment "+path, resp.Header)
	}
	resp, err := c.Get(e.srv.URL + static.Path("app.css"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	check("static", resp.Header)

	req, _ := http.NewRequest("TRACE", e.srv.URL+"/", nil)
	resp, _ = c.Do(req)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("TRACE: %d", resp.StatusCode)
	}
	check("TRACE", resp.Header)

	// A panic becomes the generic error page with the request ID.
	rec := e.server.requestID(e.server.securityHeaders(e.server.recoverer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom: SELECT * FROM secrets") }))))
	srv := httptestServer(t, rec)
	resp, err = http.Get(srv + "/")
	if err != nil {
		t.Fatal(err)
	}
	p := readPage(t, resp)
	if p.status != 500 || strings.Contains(p.body, "SELECT") || strings.Contains(p.body, "goroutine") {
		t.Fatalf("panic page: %d %q", p.status, p.body)
	}
	if id, ok := p.testid("request-id"); !ok || id != p.header.Get("X-Request-ID") {
		t.Fatalf("request ID %q shown, header %q", id, p.header.Get("X-Request-ID"))
	}
	check("panic", p.header)
}

// Dead sessions are pruned; live ones stay.
func TestPruneSessions(t *testing.T) {
	e := newPortal(t, SessionOptions{Idle: time.Hour, Absolute: 3 * time.Hour})
	old, live := e.browser(), e.browser()
	e.signIn(old, "admin@contoso.test")
	e.clock.Add(50 * time.Minute)
	e.signIn(live, "auditor@contoso.test")
	e.clock.Add(20 * time.Minute) // old: idle 70 min; live: 20 min
	n, err := e.server.PruneSessions(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("pruned %d, %v; want 1", n, err)
	}
	if e.signedInAs(live) == "" {
		t.Error("a live session was pruned")
	}
}

// A client that posts forms and never follows the redirects (a script)
// never reads its flash messages: the session keeps the newest few instead
// of growing with every request.
func TestUnreadFlashesAreBounded(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	c := noFollow(e.as("admin@contoso.test"))
	var sizes []int
	for i := range 40 {
		form := url.Values{"objectId": {portal.MustParseGUID(fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1)).String()}, "kind": {"user"}, "clientId": {appDesktop.String()}}
		if p := e.post(c, "/assignments", form); p.status != http.StatusSeeOther {
			t.Fatalf("grant %d: %d %s", i, p.status, p.body)
		}
		if i == 9 || i == 39 {
			sizes = append(sizes, e.sessionBytes(c))
		}
	}
	if sizes[1] > sizes[0]+64 {
		t.Errorf("the session grew from %d to %d bytes over 30 unread flashes", sizes[0], sizes[1])
	}
	// The next page shows the newest ones, and they are gone after.
	p := e.get(c, "/assignments")
	if n := strings.Count(p.body, `data-testid="flash"`); n != maxFlashes {
		t.Errorf("%d flashes shown, want the newest %d", n, maxFlashes)
	}
}

// sessionBytes is the size of c's stored session record.
func (e *portalEnv) sessionBytes(c *http.Client) int {
	e.t.Helper()
	return len(e.sessionRecord(c).Data)
}

// sessionRecord is c's stored session.
func (e *portalEnv) sessionRecord(c *http.Client) portal.SessionRecord {
	e.t.Helper()
	for _, ck := range c.Jar.Cookies(e.srvURL()) {
		if ck.Name == "portal" {
			rec, err := e.db.GetSession(context.Background(), hashKey(ck.Value))
			if err != nil {
				e.t.Fatal(err)
			}
			return rec
		}
	}
	e.t.Fatal("no session cookie")
	return portal.SessionRecord{}
}

// X-Forwarded-For is believed only from a trusted proxy, and only as far
// as trusted proxies vouch for it.
func TestClientIP(t *testing.T) {
	s := &Server{deps: Deps{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}}}
	for _, tc := range []struct {
		remote, xff, want string
	}{
		{"203.0.113.9:5555", "", "203.0.113.9"},
		{"203.0.113.9:5555", "1.2.3.4", "203.0.113.9"},             // not from a proxy: the header is the client's own
		{"10.1.2.3:443", "198.51.100.7", "198.51.100.7"},           // the load balancer saw 198.51.100.7
		{"10.1.2.3:443", "6.6.6.6, 198.51.100.7", "198.51.100.7"},  // a forged left part is ignored
		{"10.1.2.3:443", "198.51.100.7, 10.9.9.9", "198.51.100.7"}, // two trusted hops
		{"10.1.2.3:443", "10.9.9.9", "10.1.2.3"},                   // nothing but proxies: the peer
		{"10.1.2.3:443", "junk, 198.51.100.7", "198.51.100.7"},     // garbage to the left is never reached
		{"10.1.2.3:443", "198.51.100.7, junk", "10.1.2.3"},         // garbage at the right end: trust nothing
		{"[fd00::1]:443", "2001:db8::5", "2001:db8::5"},            // IPv6
		{"[::ffff:10.1.2.3]:443", "198.51.100.7", "198.51.100.7"},  // a v4-mapped proxy
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := s.clientIP(r); got != tc.want {
			t.Errorf("from %s with X-Forwarded-For %q: %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}

// RFC 9110: HEAD works wherever GET does, under the same policy and
// without a body; a 405 says which methods the resource has.
func TestHeadAndAllow(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	admin := e.as("admin@contoso.test")
	do := func(c *http.Client, method, path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, e.srv.URL+path, nil)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := noFollow(c).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for path, want := range map[string]int{"/healthz": 200, "/assignments": 200, "/audit": 200, "/assignments.csv": 200, "/no-such-page": 404} {
		get, _ := do(admin, http.MethodGet, path)
		head, body := do(admin, http.MethodHead, path)
		if head.StatusCode != want || get.StatusCode != want || body != "" || head.Header.Get("Content-Type") != get.Header.Get("Content-Type") {
			t.Errorf("HEAD %s: %d %q (%s), GET %d", path, head.StatusCode, body, head.Header.Get("Content-Type"), get.StatusCode)
		}
	}
	// HEAD is refused where GET is: signed out, and for a role without it.
	if resp, _ := do(e.browser(), http.MethodHead, "/assignments"); resp.StatusCode == 200 {
		t.Errorf("HEAD /assignments signed out: %d", resp.StatusCode)
	}
	if resp, _ := do(e.as("helpdesk@contoso.test"), http.MethodHead, "/audit"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("HEAD /audit as helpdesk: %d", resp.StatusCode)
	}
	for path, want := range map[string]string{
		"/healthz":                       "GET, HEAD",
		"/assignments":                   "GET, HEAD, POST",
		"/auth/logout":                   "POST",
		"/assignments/" + alice.String(): "GET, HEAD, POST, DELETE",
	} {
		method := http.MethodPatch
		if resp, _ := do(admin, method, path); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != want {
			t.Errorf("%s %s: %d, Allow %q, want %q", method, path, resp.StatusCode, resp.Header.Get("Allow"), want)
		}
	}
}

// A list request reads its tenant's audit head with its session (one
// round trip for both): a change another instance commits shows on the
// next request all the same, whatever the list held.
func TestListSeesOtherInstancesWithTheSessionsHead(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	fillBench(t, e, 3)
	c := e.browser()
	e.signIn(c, "auditor@contoso.test")
	count := func() int {
		t.Helper()
		p := e.get(c, "/assignments")
		if p.status != http.StatusOK {
			t.Fatalf("list: %d", p.status)
		}
		return strings.Count(p.body, `data-testid="assignment-row"`)
	}
	for range 3 { // the first learns the session's tenant; the next read the head with it
		if n := count(); n != 3 {
			t.Fatalf("%d rows, want 3", n)
		}
	}
	now := time.Now()
	actor := portal.Actor{TenantID: devidp.ContosoTenant, Name: "the other instance"}
	obj := portal.MustParseGUID("0a0b0c0d-0000-4000-8000-00000000000d")
	a := portal.Assignment{TenantID: devidp.ContosoTenant, ObjectID: obj, Kind: portal.KindUser, ClientIDs: []portal.GUID{appDesktop}}
	ev := portal.AuditEvent{Time: now, Actor: actor, TenantID: a.TenantID, ObjectID: obj, Kind: a.Kind, Action: portal.ActionAdopt, Phase: portal.PhaseEvent, Outcome: portal.OutcomeSuccess}
	item := portal.InventoryItem{Assignment: a, CreatedAt: now, UpdatedAt: now, CreatedBy: actor, UpdatedBy: actor, State: portal.StateInSync}
	if _, _, err := e.db.Commit(context.Background(), ev, portal.InventoryChange{Op: portal.InventoryPut, Item: item}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 4 {
		t.Fatalf("after another instance's change: %d rows, want 4", n)
	}
}
