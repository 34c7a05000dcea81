package graphemu

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/teamsphone/portal/internal/portal"
)

// TestTenantIsolation: a token of tenant B never sees tenant A's objects,
// by any call, and the other way round.
func TestTenantIsolation(t *testing.T) {
	h := newHarness(t)

	// Tenant B searches for what only A has, and finds only its own Alina.
	p := decodePage(t, h.get(usersURL("$search", `"displayName:ali" OR "userPrincipalName:ali"`), tokenB, true))
	if got := p.ids(); !slices.Equal(got, []string{bUser.String()}) {
		t.Errorf("B's search: %v, want only B's user", got)
	}
	p = decodePage(t, h.get(usersURL("$top", "999"), tokenB, false))
	if got, want := p.ids(), sortedIDs(bUser, bLine); !slices.Equal(got, want) {
		t.Errorf("B's list: %v, want %v", got, want)
	}
	expectError(t, h.get("/v1.0/users/"+alice.String(), tokenB, false), http.StatusNotFound, "Request_ResourceNotFound", "")
	expectError(t, h.get("/v1.0/users/alice.smith@contoso.com", tokenB, false), http.StatusNotFound, "Request_ResourceNotFound", "")
	p = decodePage(t, h.post("/v1.0/directoryObjects/getByIds", tokenB, getByIDsBody(nil, alice.String(), line.String(), spID.String(), bUser.String())))
	if got := p.ids(); !slices.Equal(got, []string{bUser.String()}) {
		t.Errorf("B's getByIds: %v, want only B's user", got)
	}
	// Both tenants have an account bound to ACS resource 1: each sees its own.
	p = decodePage(t, h.get("/beta/admin/teams/resourceAccounts?$filter=acsResourceId%20eq%20'"+acsResource1+"'", tokenB, false))
	if got := p.ids(); !slices.Equal(got, []string{bLine.String()}) {
		t.Errorf("B's resource accounts: %v", got)
	}
	p = decodePage(t, h.get("/beta/admin/teams/resourceAccounts?$filter=acsResourceId%20eq%20'"+acsResource1+"'", tokenA, false))
	if got := p.ids(); !slices.Equal(got, []string{line.String()}) {
		t.Errorf("A's resource accounts: %v", got)
	}
	expectError(t, h.get("/v1.0/servicePrincipals(appId='"+appID.String()+"')", tokenB, false), http.StatusNotFound, "Request_ResourceNotFound", "")
	expectError(t, h.get("/v1.0/servicePrincipals(appId='"+bAppID.String()+"')", tokenA, false), http.StatusNotFound, "Request_ResourceNotFound", "")

	// A skip token made for tenant A's list pages tenant B's own list: the
	// token names a position, not data.
	first := decodePage(t, h.get(usersURL("$top", "1"), tokenA, false))
	if first.Next == "" {
		t.Fatal("no next link")
	}
	for _, id := range decodePage(t, h.get(first.Next, tokenB, false)).ids() {
		if id != bUser.String() && id != bLine.String() {
			t.Errorf("B followed A's next link and saw %s", id)
		}
	}
}

// TestAuthentication: no token, a wrong scheme or an unknown token is
// Graph's 401, before anything else is looked at.
func TestAuthentication(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name, auth, target, message string
	}{
		{"none", "", "/v1.0/users", msgTokenEmpty},
		{"unknown token", "Bearer forged", "/v1.0/users", msgTokenInvalid},
		{"empty bearer", "Bearer ", "/v1.0/users", msgTokenInvalid},
		{"basic", "Basic dXNlcjpwYXNz", "/v1.0/users", msgTokenInvalid},
		{"unknown route", "Bearer forged", "/v1.0/groups", msgTokenInvalid},
		{"other tenant's data", "Bearer forged", "/v1.0/users/" + alice.String(), msgTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := h.request(http.MethodGet, tt.target, "", "")
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			res := h.do(req)
			expectError(t, res, http.StatusUnauthorized, "InvalidAuthenticationToken", tt.message)
			if !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("WWW-Authenticate = %q", res.header.Get("WWW-Authenticate"))
			}
		})
	}

	// "bearer" in any case is the scheme.
	req := h.request(http.MethodGet, "/v1.0/users", "", "")
	req.Header.Set("Authorization", "bearer "+tokenA)
	if res := h.do(req); res.status != http.StatusOK {
		t.Errorf("lower-case scheme: status %d", res.status)
	}
}

// TestVerifierOutcomes: a Config without Verify refuses everything; a
// verifier that returns no tenant or an error is refused too.
func TestVerifierOutcomes(t *testing.T) {
	for name, verify := range map[string]func(*http.Request, string) (portal.GUID, []string, error){
		"nil":         nil,
		"zero tenant": func(*http.Request, string) (portal.GUID, []string, error) { return portal.GUID{}, allScopes, nil },
		"error": func(*http.Request, string) (portal.GUID, []string, error) {
			return tenantA, allScopes, errors.New("expired")
		},
	} {
		t.Run(name, func(t *testing.T) {
			emu := New(Config{Verify: verify})
			emu.AddUser(tenantA, User{ID: alice, DisplayName: "Alice"})
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/v1.0/users", nil)
			req.Header.Set("Authorization", "Bearer anything")
			emu.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized || strings.Contains(rec.Body.String(), alice.String()) {
				t.Errorf("status %d: %s", rec.Code, rec.Body)
			}
			if got := emu.Requests()[0].Auth; got != "bad" {
				t.Errorf("logged auth %q, want bad", got)
			}
		})
	}
}

// TestMissingScope: each call needs its permission; without it, 403.
func TestMissingScope(t *testing.T) {
	h := newHarness(t)
	calls := []struct{ method, target, body string }{
		{http.MethodGet, "/v1.0/users", ""},
		{http.MethodGet, "/v1.0/users/" + alice.String(), ""},
		{http.MethodPost, "/v1.0/directoryObjects/getByIds", getByIDsBody(nil, alice.String())},
		{http.MethodGet, "/beta/admin/teams/resourceAccounts", ""},
		{http.MethodGet, "/v1.0/servicePrincipals(appId='" + appID.String() + "')", ""},
	}
	for _, c := range calls {
		t.Run(c.target, func(t *testing.T) {
			res := h.do(h.request(c.method, c.target, tokenANothing, c.body))
			expectError(t, res, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
			if strings.Contains(string(res.body), "Alice") {
				t.Errorf("a 403 leaked data: %s", res.body)
			}
		})
	}
	// Scopes as requested from Entra (full URIs) count as well.
	emu := New(Config{Verify: StaticTokens(map[string]Grant{"t": {Tenant: tenantA, Scopes: []string{"https://graph.microsoft.com/user.readbasic.all"}}})})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/v1.0/users", nil)
	req.Header.Set("Authorization", "Bearer t")
	emu.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("full-URI scope: status %d: %s", rec.Code, rec.Body)
	}
}

// TestRouting: unknown paths are 404, wrong methods 405 with Allow, and
// query options the emulator does not implement are refused.
func TestRouting(t *testing.T) {
	h := newHarness(t)
	for _, target := range []string{"/v1.0/groups", "/v1.0/users/" + alice.String() + "/manager", "/beta/users", "/V1.0/users", "/v1.0/servicePrincipals/" + spID.String()} {
		expectError(t, h.get(target, tokenA, false), http.StatusNotFound, "Request_ResourceNotFound", "")
	}
	for _, c := range []struct{ method, target, allow string }{
		{http.MethodPost, "/v1.0/users", "GET"},
		{http.MethodDelete, "/v1.0/users/" + alice.String(), "GET"},
		{http.MethodGet, "/v1.0/directoryObjects/getByIds", "POST"},
		{http.MethodPut, "/beta/admin/teams/resourceAccounts", "GET"},
	} {
		res := h.do(h.request(c.method, c.target, tokenA, ""))
		expectError(t, res, http.StatusMethodNotAllowed, "Request_BadRequest", "")
		if got := res.header.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow = %q, want %q", c.method, c.target, got, c.allow)
		}
	}
	// getByIds under its namespaced name too.
	if p := decodePage(t, h.post("/v1.0/directoryObjects/microsoft.graph.getByIds", tokenA, getByIDsBody(nil, alice.String()))); len(p.Value) != 1 {
		t.Errorf("microsoft.graph.getByIds: %v", p.Value)
	}
	expectError(t, h.get(usersURL("$orderby", "displayName"), tokenA, true), http.StatusBadRequest, "Request_UnsupportedQuery", "")
	expectError(t, h.get("/v1.0/users?$top=1&$top=2", tokenA, false), http.StatusBadRequest, "Request_BadRequest", "")
}

// TestRequestIDs: client-request-id is echoed (or set to the request-id
// when none was sent), and every answer has a fresh request-id.
func TestRequestIDs(t *testing.T) {
	h := newHarness(t)
	req := h.request(http.MethodGet, "/v1.0/users/"+alice.String(), tokenA, "")
	req.Header.Set("client-request-id", "my-id-1")
	res := h.do(req)
	if got := res.header.Get("client-request-id"); got != "my-id-1" {
		t.Errorf("client-request-id = %q, want it echoed", got)
	}
	first := res.header.Get("request-id")
	if !guidPattern.MatchString(first) {
		t.Errorf("request-id = %q", first)
	}
	if _, err := http.ParseTime(res.header.Get("Date")); err != nil {
		t.Errorf("Date = %q", res.header.Get("Date"))
	}
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}

	res = h.get("/v1.0/users/"+alice.String(), tokenA, false)
	if id := res.header.Get("request-id"); id == first || res.header.Get("client-request-id") != id {
		t.Errorf("request-id %q (first %q), client-request-id %q", id, first, res.header.Get("client-request-id"))
	}
}

// TestStaticTokens: exactly the given tokens, with copies of their grants.
func TestStaticTokens(t *testing.T) {
	scopes := []string{"User.ReadBasic.All"}
	verify := StaticTokens(map[string]Grant{
		"good":      {Tenant: tenantA, Scopes: scopes},
		"":          {Tenant: tenantA, Scopes: scopes},
		"no-tenant": {Scopes: scopes},
	})
	scopes[0] = "changed"
	tenant, got, err := verify(nil, "good")
	if err != nil || tenant != tenantA || !slices.Equal(got, []string{"User.ReadBasic.All"}) {
		t.Errorf("good: %v %v %v", tenant, got, err)
	}
	got[0] = "changed again"
	if _, again, _ := verify(nil, "good"); again[0] != "User.ReadBasic.All" {
		t.Error("a caller changed the grant")
	}
	for _, token := range []string{"", "no-tenant", "goo", "good ", "GOOD"} {
		if _, _, err := verify(nil, token); err == nil {
			t.Errorf("%q accepted", token)
		}
	}
}
