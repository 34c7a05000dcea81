package graphemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/portal"
)

const (
	tokenAFull = "token-a-full" // tenant A, User.Read.All and the grants' permission
	tokenBFull = "token-b-full" // tenant B, the same
)

// readinessHarness adds to the harness tokens that read full profiles and
// grants.
func readinessHarness(t *testing.T) *harness {
	h := newHarness(t)
	h.emu.verify = StaticTokens(map[string]Grant{
		tokenA:        {Tenant: tenantA, Scopes: allScopes},
		tokenB:        {Tenant: tenantB, Scopes: allScopes},
		tokenADir:     {Tenant: tenantA, Scopes: []string{"Directory.Read.All"}},
		tokenANothing: {Tenant: tenantA, Scopes: []string{"User.Read"}},
		tokenAFull:    {Tenant: tenantA, Scopes: []string{"User.Read.All", "DelegatedPermissionGrant.Read.All", "Application.Read.All"}},
		tokenBFull:    {Tenant: tenantB, Scopes: []string{"User.Read.All", "DelegatedPermissionGrant.Read.All", "Application.Read.All"}},
	})
	return h
}

func grantsURL(filter string) string {
	return "/v1.0/oauth2PermissionGrants?$filter=" + url.QueryEscape(filter)
}

// TestGrantList: grants filtered by client and resource, Graph's
// properties, and the permissions that read them.
func TestGrantList(t *testing.T) {
	h := readinessHarness(t)
	api := portal.MustParseGUID("30000000-0000-4000-8000-0000000000a1")
	h.emu.AddServicePrincipal(tenantA, ServicePrincipal{ID: api, AppID: portal.ACSFirstPartyAppID})
	all := h.emu.AddPermissionGrant(tenantA, PermissionGrant{ClientID: spID, ResourceID: api, ConsentType: "AllPrincipals", Scope: "TeamsExtension.ManageCalls"})
	h.emu.AddPermissionGrant(tenantA, PermissionGrant{ClientID: spID, ResourceID: api, ConsentType: "Principal", PrincipalID: alice, Scope: "TeamsExtension.ManageCalls"})
	h.emu.AddPermissionGrant(tenantA, PermissionGrant{ClientID: api, ResourceID: spID, ConsentType: "AllPrincipals", Scope: "x"})

	p := decodePage(t, h.get(grantsURL("clientId eq '"+spID.String()+"' and resourceId eq '"+api.String()+"'"), tokenAFull, false))
	if len(p.Value) != 2 {
		t.Fatalf("grants: %v", p.Value)
	}
	for _, g := range p.Value {
		if g["id"] == all.String() && (g["consentType"] != "AllPrincipals" || g["principalId"] != nil || g["scope"] != "TeamsExtension.ManageCalls") {
			t.Errorf("admin consent: %v", g)
		}
		if g["id"] != all.String() && (g["consentType"] != "Principal" || g["principalId"] != alice.String()) {
			t.Errorf("Alice's consent: %v", g)
		}
	}
	p = decodePage(t, h.get(grantsURL("consentType eq 'Principal'"), tokenADir, false))
	if len(p.Value) != 1 {
		t.Errorf("Principal grants with Directory.Read.All: %v", p.Value)
	}
	// Another tenant's token sees none; a token without the permission is
	// refused; a filter the emulator does not serve is a 400.
	if p := decodePage(t, h.get(grantsURL("clientId eq '"+spID.String()+"'"), tokenBFull, false)); len(p.Value) != 0 {
		t.Errorf("tenant B reads tenant A's grants: %v", p.Value)
	}
	expectError(t, h.get(grantsURL("clientId eq '"+spID.String()+"'"), tokenA, false), http.StatusForbidden, "Authorization_RequestDenied", "")
	expectError(t, h.get(grantsURL("startswith(scope,'Teams')"), tokenAFull, false), http.StatusBadRequest, "Request_UnsupportedQuery", "")
	// Removing a service principal removes its grants, as Entra does.
	h.emu.RemoveObject(tenantA, api)
	if p := decodePage(t, h.get("/v1.0/oauth2PermissionGrants", tokenAFull, false)); len(p.Value) != 0 {
		t.Errorf("grants of a removed service principal: %v", p.Value)
	}
}

// TestUserStates: accountEnabled and assignedPlans on $select, to a token
// that may read full profiles; left out for basic profiles; id in (…) takes
// at most 15 values.
func TestUserStates(t *testing.T) {
	h := readinessHarness(t)
	plan := portal.MustParseGUID("4828c8ec-dc2e-4779-b502-87ac9ce28ab7")
	h.emu.AddUser(tenantA, User{ID: bob, DisplayName: "Bob", UserPrincipalName: "bob@contoso.com", Disabled: true,
		AssignedPlans: []AssignedPlan{{ServicePlanID: plan, Service: "MCOEV", CapabilityStatus: "Enabled"}}})
	filter := "id in ('" + alice.String() + "','" + bob.String() + "','" + dave.String() + "','" + line.String() + "')"
	p := decodePage(t, h.get(usersURL("$filter", filter, "$select", "id,accountEnabled,assignedPlans"), tokenAFull, false))
	if got := p.ids(); len(got) != 3 { // dave is deleted
		t.Fatalf("users: %v", got)
	}
	byID := map[string]map[string]any{}
	for _, u := range p.Value {
		byID[u["id"].(string)] = u
	}
	if u := byID[bob.String()]; u["accountEnabled"] != false || fmt.Sprint(u["assignedPlans"]) != "[map[assignedDateTime:2024-01-01T00:00:00Z capabilityStatus:Enabled service:MCOEV servicePlanId:"+plan.String()+"]]" {
		t.Errorf("Bob: %v", u)
	}
	if u := byID[alice.String()]; u["accountEnabled"] != true || fmt.Sprint(u["assignedPlans"]) != "[]" {
		t.Errorf("Alice: %v", u)
	}
	if u := byID[line.String()]; u["accountEnabled"] != true {
		t.Errorf("the resource account: %v", u)
	}
	// Not returned unless selected.
	if p := decodePage(t, h.get(usersURL("$filter", "id eq '"+bob.String()+"'"), tokenAFull, false)); len(p.Value) != 1 || p.Value[0]["accountEnabled"] != nil {
		t.Errorf("without $select: %v", p.Value)
	}
	// A basic-profile token gets the users without them.
	res := h.get(usersURL("$filter", filter, "$select", "id,accountEnabled,assignedPlans"), tokenA, false)
	if p := decodePage(t, res); len(p.Value) != 3 || p.Value[0]["accountEnabled"] != nil || p.Value[0]["assignedPlans"] != nil || len(p.Value[0]) != 1 {
		t.Errorf("basic profiles: %s", res.body)
	}
	var ids []string
	for i := range 16 {
		ids = append(ids, fmt.Sprintf("'10000000-0000-4000-8000-%012d'", i))
	}
	expectError(t, h.get(usersURL("$filter", "id in ("+strings.Join(ids[:16], ",")+")"), tokenAFull, false), http.StatusBadRequest, "Request_UnsupportedQuery",
		"Too many child clauses specified in search filter expression containing 'OR' operators: 16. Max allowed: 15.")
	if p := decodePage(t, h.get(usersURL("$filter", "id in ("+strings.Join(ids[:15], ",")+")"), tokenAFull, false)); len(p.Value) != 5 {
		t.Errorf("15 IDs: %v", p.ids())
	}
	expectError(t, h.get(usersURL("$filter", "id in ('"+alice.String()+"'"), tokenAFull, false), http.StatusBadRequest, "Request_BadRequest", "")
}

// TestWithhold: a withheld permission is taken out of every token of the
// tenant, and only of that tenant.
func TestWithhold(t *testing.T) {
	h := readinessHarness(t)
	sp := "/v1.0/servicePrincipals(appId='" + appID.String() + "')"
	h.emu.Withhold(tenantA, "application.read.all")
	expectError(t, h.get(sp, tokenA, false), http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
	if res := h.get(sp, tokenADir, false); res.status != http.StatusOK {
		t.Errorf("Directory.Read.All still reads it: %d", res.status)
	}
	if res := h.get("/v1.0/servicePrincipals(appId='"+bAppID.String()+"')", tokenB, false); res.status != http.StatusOK {
		t.Errorf("tenant B: %d", res.status)
	}
	h.emu.Withhold(tenantA)
	if res := h.get(sp, tokenA, false); res.status != http.StatusOK {
		t.Errorf("restored: %d", res.status)
	}
}

// control sends a state route request and decodes its JSON answer.
func (h *harness) control(method, path, body string) (int, map[string]any) {
	h.t.Helper()
	res := h.do(h.request(method, "/_emulator/tenants/"+path, "", body))
	var out map[string]any
	if len(res.body) > 0 {
		if err := json.Unmarshal(res.body, &out); err != nil {
			h.t.Fatalf("%s %s: not JSON: %s", method, path, res.body)
		}
	}
	return res.status, out
}

// TestStateRoutes: each route changes what Graph answers next; bad input
// is refused with a message and changes nothing; one tenant's path never
// reaches another's objects.
func TestStateRoutes(t *testing.T) {
	h := readinessHarness(t)
	a, b := tenantA.String()+"/", tenantB.String()+"/"
	acsApp := portal.ACSFirstPartyAppID.String()

	// Service principals: created, refused twice, disabled, removed.
	status, sp := h.control("POST", b+"servicePrincipals", `{"appId":"`+acsApp+`"}`)
	if status != http.StatusCreated || sp["appId"] != acsApp || sp["accountEnabled"] != true {
		t.Fatalf("POST servicePrincipals: %d %v", status, sp)
	}
	if res := h.get("/v1.0/servicePrincipals(appId='"+acsApp+"')", tokenB, false); res.status != http.StatusOK {
		t.Errorf("the new service principal: %d", res.status)
	}
	if res := h.get("/v1.0/servicePrincipals(appId='"+acsApp+"')", tokenA, false); res.status != http.StatusNotFound {
		t.Errorf("tenant A sees tenant B's new service principal: %d", res.status)
	}
	if status, _ := h.control("POST", b+"servicePrincipals", `{"appId":"`+acsApp+`"}`); status != http.StatusConflict {
		t.Errorf("a second one for the app: %d", status)
	}
	if status, _ := h.control("PATCH", a+"servicePrincipals/"+spID.String(), `{"accountEnabled":false}`); status != http.StatusOK {
		t.Errorf("PATCH servicePrincipals: %d", status)
	}
	if res := h.get("/v1.0/servicePrincipals(appId='"+appID.String()+"')", tokenA, false); !strings.Contains(string(res.body), `"accountEnabled":false`) {
		t.Errorf("disabled: %s", res.body)
	}
	if status, _ := h.control("PATCH", b+"servicePrincipals/"+spID.String(), `{"accountEnabled":true}`); status != http.StatusNotFound {
		t.Errorf("tenant A's service principal through tenant B's path: %d", status)
	}

	// Grants: by app IDs; a Principal grant needs its person; duplicates refused.
	h.emu.AddServicePrincipal(tenantA, ServicePrincipal{ID: portal.MustParseGUID("30000000-0000-4000-8000-0000000000a1"), AppID: portal.ACSFirstPartyAppID})
	status, g := h.control("POST", a+"oauth2PermissionGrants", `{"clientAppId":"`+appID.String()+`","resourceAppId":"`+acsApp+`","consentType":"Principal","principalId":"`+alice.String()+`","scope":"TeamsExtension.ManageCalls"}`)
	if status != http.StatusCreated || g["clientId"] != spID.String() || g["principalId"] != alice.String() {
		t.Fatalf("POST oauth2PermissionGrants: %d %v", status, g)
	}
	if p := decodePage(t, h.get(grantsURL("clientId eq '"+spID.String()+"'"), tokenAFull, false)); len(p.Value) != 1 {
		t.Errorf("the new grant: %v", p.Value)
	}
	for name, body := range map[string]string{
		"duplicate":           `{"clientAppId":"` + appID.String() + `","resourceAppId":"` + acsApp + `","consentType":"Principal","principalId":"` + alice.String() + `","scope":"x"}`,
		"no principal":        `{"clientAppId":"` + appID.String() + `","resourceAppId":"` + acsApp + `","consentType":"Principal","scope":"x"}`,
		"bad type":            `{"clientAppId":"` + appID.String() + `","resourceAppId":"` + acsApp + `","consentType":"Admin","scope":"x"}`,
		"no scope":            `{"clientAppId":"` + appID.String() + `","resourceAppId":"` + acsApp + `","consentType":"AllPrincipals"}`,
		"unknown client":      `{"clientAppId":"` + bAppID.String() + `","resourceAppId":"` + acsApp + `","consentType":"AllPrincipals","scope":"x"}`,
		"another tenant's sp": `{"clientId":"` + bSP.String() + `","resourceAppId":"` + acsApp + `","consentType":"AllPrincipals","scope":"x"}`,
		"unknown property":    `{"clientAppId":"` + appID.String() + `","resourceAppId":"` + acsApp + `","consentType":"AllPrincipals","scope":"x","expiry":"never"}`,
		"not JSON":            `consent please`,
	} {
		status, e := h.control("POST", a+"oauth2PermissionGrants", body)
		if status/100 != 4 || e["error"] == nil {
			t.Errorf("%s: %d %v, want a refusal", name, status, e)
		}
	}
	if p := decodePage(t, h.get("/v1.0/oauth2PermissionGrants", tokenAFull, false)); len(p.Value) != 1 {
		t.Errorf("refused grants changed something: %v", p.Value)
	}
	if status, _ := h.control("DELETE", a+"oauth2PermissionGrants/"+g["id"].(string), ""); status != http.StatusNoContent {
		t.Errorf("DELETE grant: %d", status)
	}
	if p := decodePage(t, h.get("/v1.0/oauth2PermissionGrants", tokenAFull, false)); len(p.Value) != 0 {
		t.Errorf("the deleted grant: %v", p.Value)
	}

	// Users: disabled, licensed, deleted; plans refused without an ID.
	status, u := h.control("PATCH", a+"users/"+alice.String(), `{"accountEnabled":false,"assignedPlans":[{"servicePlanId":"4828c8ec-dc2e-4779-b502-87ac9ce28ab7","service":"MCOEV","capabilityStatus":"Enabled"}]}`)
	if status != http.StatusOK || u["accountEnabled"] != false || len(u["assignedPlans"].([]any)) != 1 {
		t.Errorf("PATCH users: %d %v", status, u)
	}
	if status, _ := h.control("PATCH", a+"users/"+alice.String(), `{"assignedPlans":[{"service":"MCOEV"}]}`); status != http.StatusBadRequest {
		t.Errorf("a plan without an ID: %d", status)
	}
	if status, _ := h.control("PATCH", a+"users/"+line.String(), `{"accountEnabled":false}`); status != http.StatusNotFound {
		t.Errorf("a resource account as a user: %d", status)
	}
	if status, _ := h.control("PATCH", b+"users/"+alice.String(), `{"accountEnabled":true}`); status != http.StatusNotFound {
		t.Errorf("tenant A's user through tenant B's path: %d", status)
	}
	p := decodePage(t, h.get(usersURL("$filter", "id eq '"+alice.String()+"'", "$select", "id,accountEnabled,assignedPlans"), tokenAFull, false))
	if len(p.Value) != 1 || p.Value[0]["accountEnabled"] != false {
		t.Errorf("Alice after PATCH: %v", p.Value)
	}
	if status, _ := h.control("DELETE", a+"users/"+alice.String(), ""); status != http.StatusNoContent {
		t.Errorf("DELETE user: %d", status)
	}
	if status, _ := h.control("DELETE", a+"users/"+alice.String(), ""); status != http.StatusNotFound {
		t.Errorf("DELETE user twice: %d", status)
	}

	// Resource accounts: bound, numbered, app changed; null clears.
	status, ra := h.control("PATCH", a+"resourceAccounts/"+line.String(), `{"acsResourceId":"`+acsResource2+`","phoneNumber":null,"appId":"`+portal.AutoAttendantAppID.String()+`","accountEnabled":false}`)
	if status != http.StatusOK || ra["acsResourceId"] != acsResource2 || ra["phoneNumber"] != nil || ra["appId"] != portal.AutoAttendantAppID.String() {
		t.Errorf("PATCH resourceAccounts: %d %v", status, ra)
	}
	p = decodePage(t, h.get("/beta/admin/teams/resourceAccounts?$filter="+url.QueryEscape("acsResourceId eq '"+acsResource2+"'"), tokenA, false))
	if len(p.Value) != 2 {
		t.Errorf("accounts bound to resource 2: %v", p.ids())
	}
	if status, _ := h.control("PATCH", a+"resourceAccounts/"+line.String(), `{"phoneNumber":"+14255550100"}`); status != http.StatusBadRequest {
		t.Errorf("a number that is not a tel: URI: %d", status)
	}

	// Withheld permissions, through the route.
	if status, _ := h.control("PUT", a+"withheldPermissions", `["Application.Read.All"]`); status != http.StatusOK {
		t.Errorf("PUT withheldPermissions: %d", status)
	}
	expectError(t, h.get("/v1.0/servicePrincipals(appId='"+appID.String()+"')", tokenA, false), http.StatusForbidden, "Authorization_RequestDenied", "")
	if status, _ := h.control("PUT", a+"withheldPermissions", `"all"`); status != http.StatusBadRequest {
		t.Errorf("not an array: %d", status)
	}

	// The tenant's state, as a person checks it.
	status, state := h.control("GET", tenantA.String(), "")
	if status != http.StatusOK || fmt.Sprint(state["withheldPermissions"]) != "[Application.Read.All]" || len(state["servicePrincipals"].([]any)) != 2 {
		t.Errorf("GET tenant: %d %v", status, state)
	}
	if status, _ := h.control("GET", "not-a-guid", ""); status != http.StatusBadRequest {
		t.Errorf("a bad tenant: %d", status)
	}
}

// TestStateRoutesTakeNoFault: a fix applies while Graph is throttled, and
// the scripted fault still reaches the next Graph call.
func TestStateRoutesTakeNoFault(t *testing.T) {
	h := readinessHarness(t)
	h.emu.Script(acsemu.Fault{Status: http.StatusTooManyRequests, RetryAfter: "9"})
	if status, _ := h.control("PATCH", tenantA.String()+"/users/"+alice.String(), `{"accountEnabled":false}`); status != http.StatusOK {
		t.Errorf("PATCH while throttled: %d", status)
	}
	res := h.get(usersURL(), tokenA, false)
	if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") != "9" {
		t.Errorf("the next Graph call: %d", res.status)
	}
	for _, r := range h.emu.Requests() {
		if strings.HasPrefix(r.RequestURI, "/_emulator/") {
			t.Errorf("a state route in the request log: %s", r.RequestURI)
		}
	}
}
