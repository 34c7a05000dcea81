package web

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/bulk"
	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/entra"
	"github.com/teamsphone/portal/internal/graph"
	"github.com/teamsphone/portal/internal/graphemu"
	"github.com/teamsphone/portal/internal/portal"
)

// sessionKeyHash is the stored key of c's session.
func (e *portalEnv) sessionKeyHash(c *http.Client) []byte {
	e.t.Helper()
	for _, ck := range c.Jar.Cookies(e.srvURL()) {
		if ck.Name == "portal" {
			return hashKey(ck.Value)
		}
	}
	e.t.Fatal("no session cookie")
	return nil
}

// The sign-in's Graph tokens are kept per session, sealed, and serve Graph
// calls as that person — until the session ends.
// withGraph gives the portal a Graph emulator, as dev mode runs it (it
// checks the dev IdP's access tokens), with Alice in Contoso and another
// Alice in Fabrikam.
func (e *portalEnv) withGraph() (*graph.Client, *graphemu.Emulator) {
	emu := graphemu.New(graphemu.Config{Verify: func(_ *http.Request, token string) (portal.GUID, []string, error) {
		g, ok := e.idp.AccessToken(token, time.Now())
		if !ok {
			return portal.GUID{}, nil, errNoToken
		}
		if g.Tenant == devidp.FabrikamTenant {
			// Fabrikam has not consented to app names.
			return g.Tenant, slices.DeleteFunc(slices.Clone(g.Scopes), func(s string) bool { return s == graph.ScopeApps }), nil
		}
		return g.Tenant, g.Scopes, nil
	}})
	e.t.Cleanup(emu.Close)
	emu.AddUser(devidp.ContosoTenant, graphemu.User{ID: alice, DisplayName: "Alice Smith", UserPrincipalName: "alice@contoso.test"})
	emu.AddUser(devidp.ContosoTenant, graphemu.User{ID: carolID, DisplayName: `Alina <script>alert(1)</script>`, UserPrincipalName: "alina@contoso.test"})
	emu.AddUser(devidp.FabrikamTenant, graphemu.User{ID: bob, DisplayName: "Alice Fabrikam", UserPrincipalName: "alice@fabrikam.test"})
	srv := httptest.NewServer(emu)
	e.t.Cleanup(srv.Close)
	directory := graph.New(srv.URL, nil)
	e.accessCfg.Directory, e.accessCfg.ACSResourceID = directory, testACSResourceID
	e.access = access.New(e.accessCfg)
	e.server.deps.Access = e.access
	e.server.deps.Bulk = &bulk.Planner{Access: e.access, Plans: e.db, Limits: bulk.Limits{Now: e.clock.Now}}
	return directory, emu
}

var carolID = portal.MustParseGUID("7c1d9e2f-3a4b-4c5d-8e6f-7a8b9c0d1e02")

// testACSResourceID is the ACS resource the test portal manages, which
// resource accounts are bound to.
const testACSResourceID = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"

func TestGraphTokensPerSession(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	ctx := context.Background()
	directory, _ := e.withGraph()

	c := e.as("helpdesk@contoso.test")
	key := e.sessionKeyHash(c)
	user, _ := devidp.PersonaByHint("helpdesk@contoso.test")
	u := portal.User{TenantID: user.TenantID, ObjectID: user.ObjectID}
	token, err := e.auth.GraphToken(ctx, key, u)
	if err != nil || token == "" {
		t.Fatalf("GraphToken = %q, %v", token, err)
	}
	// Sealed at rest: the database holds no token.
	sealed, err := e.db.GetTokenCache(ctx, key)
	if err != nil || bytes.Contains(sealed, []byte(token)) {
		t.Fatalf("the stored cache (%d bytes, %v) holds the access token in clear", len(sealed), err)
	}
	// The token reads Contoso's directory only.
	found, err := directory.SearchUsers(ctx, token, "alice", 10)
	if err != nil || len(found) != 1 || found[0].ObjectID != alice {
		t.Fatalf("SearchUsers as helpdesk = %+v, %v", found, err)
	}
	// Asked again: the same session's cache answers (no new sign-in).
	if again, err := e.auth.GraphToken(ctx, key, u); err != nil || again == "" {
		t.Errorf("second GraphToken: %v", err)
	}
	// Another person's session cannot use this one's tokens.
	other := e.as("admin@fabrikam.test")
	fab, _ := devidp.PersonaByHint("admin@fabrikam.test")
	if _, err := e.auth.GraphToken(ctx, e.sessionKeyHash(other), portal.User{TenantID: fab.TenantID, ObjectID: user.ObjectID}); err == nil {
		t.Error("a session served another person's tokens")
	}
	// No token in a cookie.
	for _, ck := range c.Jar.Cookies(e.srvURL()) {
		if strings.Contains(ck.Value, token) {
			t.Error("a cookie carries the Graph token")
		}
	}
	// Sign-out ends them with the session.
	e.post(noFollow(c), "/auth/logout", url.Values{})
	if _, err := e.db.GetTokenCache(ctx, key); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("token cache after sign-out: %v", err)
	}
	if _, err := e.auth.GraphToken(ctx, key, u); portal.ErrorCode(err) != portal.EUNAUTHORIZED {
		t.Errorf("GraphToken after sign-out: %v, want unauthorized", err)
	}
}

var errNoToken = portal.Errorf(portal.EUNAUTHORIZED, "unknown token")

// Helpdesk finds a person by name and grants them access, without knowing
// their object ID; Graph failing leaves the form working on IDs.
func TestPeopleFinder(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	_, emu := e.withGraph()
	c := noFollow(e.as("helpdesk@contoso.test"))
	p := e.get(c, "/assignments/new?find=ali")
	results, _ := p.testid("people-results")
	if !strings.Contains(results, "Alice Smith") || !strings.Contains(results, "alice@contoso.test") || strings.Contains(results, "Fabrikam") {
		t.Fatalf("people found: %q", results)
	}
	if strings.Contains(p.body, "<script>alert(1)") {
		t.Error("a display name's HTML was not escaped")
	}
	assertNoncedHX(t, "grant page with the people finder", p)
	// As you type (htmx): the results alone.
	frag := e.do(c, "GET", "/people?find=alice", nil, http.Header{"HX-Request": {"true"}, "HX-Request-Type": {"partial"}})
	if frag.status != 200 || !strings.Contains(frag.body, "Alice Smith") || strings.Contains(frag.body, "<html") {
		t.Errorf("/people fragment: %d %q", frag.status, frag.body)
	}
	// Choosing her fills the grant form.
	href := "/assignments/new?" + url.Values{"objectId": {alice.String()}, "label": {"Alice Smith"}}.Encode()
	if !strings.Contains(p.body, strings.ReplaceAll(href, "&", "&amp;")) {
		t.Fatalf("no link to %s", href)
	}
	form := e.get(c, href)
	if !strings.Contains(form.body, `value="`+alice.String()+`"`) || !strings.Contains(form.body, `value="Alice Smith"`) {
		t.Errorf("the grant form is not filled in")
	}
	grant := url.Values{"objectId": {alice.String()}, "kind": {"user"}, "clientId": {appDesktop.String()}, "label": {"Alice Smith"}}
	if p := e.post(c, "/assignments", grant); p.status != http.StatusSeeOther {
		t.Fatalf("grant: %d %s", p.status, p.body)
	}
	// Graph down: a reason, and the form still there.
	emu.Script(acsemu.Fault{Status: 503})
	p = e.get(c, "/assignments/new?find=ali")
	if msg, _ := p.testid("people-message"); !strings.Contains(msg, "Names are not available") {
		t.Errorf("Graph down: %q", msg)
	}
	if _, ok := p.testid("grant-form"); !ok {
		t.Error("the grant form is gone when Graph is down")
	}
	// Fabrikam's admin finds Fabrikam's Alice only.
	if r, _ := e.get(noFollow(e.as("admin@fabrikam.test")), "/assignments/new?find=alice").testid("people-results"); !strings.Contains(r, "Alice Fabrikam") || strings.Contains(r, "Alice Smith") {
		t.Errorf("Fabrikam's search: %q", r)
	}
	// An auditor may not use it.
	if p := e.get(noFollow(e.as("auditor@contoso.test")), "/people?find=ali"); p.status != http.StatusForbidden {
		t.Errorf("auditor: %d", p.status)
	}
}

// Two instances share one session's Graph tokens through the database:
// a person signed in on one finds people on the other, whose sign-in
// client has never seen them; after sign-out on one, the other serves
// the session nothing.
func TestGraphTokensAcrossInstances(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	e.withGraph()
	authB, err := entra.New(e.authCfg)
	if err != nil {
		t.Fatal(err)
	}
	depsB := e.server.deps
	depsB.Auth = authB
	b := httptestServer(t, New(depsB))

	c := e.as("helpdesk@contoso.test")
	var cookie *http.Cookie
	for _, ck := range c.Jar.Cookies(e.srvURL()) {
		if ck.Name == "portal" {
			cookie = ck
		}
	}
	find := func() string {
		req, _ := http.NewRequest("GET", b+"/people?find=alice", nil)
		req.AddCookie(cookie)
		req.Header.Set("HX-Request", "true")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	if got := find(); !strings.Contains(got, "Alice Smith") {
		t.Fatalf("instance B's people finder for A's session: %q", got)
	}
	e.post(noFollow(c), "/auth/logout", url.Values{})
	if got := find(); strings.Contains(got, "Alice Smith") {
		t.Error("instance B still finds people for a session ended on A")
	}
}
