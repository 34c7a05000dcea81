package web

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/devidp"
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
func TestGraphTokensPerSession(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	ctx := context.Background()
	// Graph, as dev mode will run it: the emulator checks the dev IdP's
	// access tokens.
	emu := graphemu.New(graphemu.Config{Verify: func(_ *http.Request, token string) (portal.GUID, []string, error) {
		g, ok := e.idp.AccessToken(token, time.Now())
		if !ok {
			return portal.GUID{}, nil, errNoToken
		}
		return g.Tenant, g.Scopes, nil
	}})
	defer emu.Close()
	emu.AddUser(devidp.ContosoTenant, graphemu.User{ID: alice, DisplayName: "Alice Smith", UserPrincipalName: "alice@contoso.test"})
	emu.AddUser(devidp.FabrikamTenant, graphemu.User{ID: bob, DisplayName: "Alice Fabrikam", UserPrincipalName: "alice@fabrikam.test"})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	directory := graph.New(srv.URL, nil)

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
