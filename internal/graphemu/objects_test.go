package graphemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/teamsphone/portal/internal/portal"
)

// getByIDsBody is a getByIds request body.
func getByIDsBody(types []string, ids ...string) string {
	b, _ := json.Marshal(struct {
		IDs   []string `json:"ids"`
		Types []string `json:"types,omitempty"`
	}{ids, types})
	return string(b)
}

// TestGetByIDs: known objects come back with their type; unknown, deleted
// and other tenants' IDs are left out without an error; each once.
func TestGetByIDs(t *testing.T) {
	h := newHarness(t)
	ids := []string{
		alice.String(), dave.String(), "99999999-0000-4000-8000-000000000000", line.String(),
		spID.String(), bUser.String(), strings.ToUpper(alice.String()),
	}
	tests := []struct {
		types []string
		want  []string // "type id", in request order
	}{
		{[]string{"user"}, []string{"user " + alice.String(), "user " + line.String()}},
		{[]string{"user", "servicePrincipal"}, []string{"user " + alice.String(), "user " + line.String(), "servicePrincipal " + spID.String()}},
		{[]string{"servicePrincipal"}, []string{"servicePrincipal " + spID.String()}},
		{[]string{"microsoft.graph.servicePrincipal"}, []string{"servicePrincipal " + spID.String()}},
		{nil, []string{"user " + alice.String(), "user " + line.String(), "servicePrincipal " + spID.String()}},
		{[]string{"group"}, nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.types, ","), func(t *testing.T) {
			p := decodePage(t, h.post("/v1.0/directoryObjects/getByIds", tokenA, getByIDsBody(tt.types, ids...)))
			var got []string
			for _, v := range p.Value {
				typ, _ := v["@odata.type"].(string)
				got = append(got, strings.TrimPrefix(typ, "#microsoft.graph.")+" "+v["id"].(string))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}

	// The objects carry their names.
	p := decodePage(t, h.post("/v1.0/directoryObjects/getByIds", tokenA, getByIDsBody([]string{"user", "servicePrincipal"}, alice.String(), spID.String())))
	if len(p.Value) != 2 {
		t.Fatalf("got %d objects: %v", len(p.Value), p.Value)
	}
	if p.Value[0]["displayName"] != "Alice Smith" || p.Value[0]["userPrincipalName"] != "alice.smith@contoso.com" {
		t.Errorf("user = %v", p.Value[0])
	}
	if p.Value[1]["displayName"] != "Contoso Contact Center" || p.Value[1]["appId"] != appID.String() {
		t.Errorf("service principal = %v", p.Value[1])
	}
}

// TestGetByIDsLimits: at most 1000 IDs; malformed bodies and IDs are 400s;
// an empty list finds nothing.
func TestGetByIDsLimits(t *testing.T) {
	h := newHarness(t)
	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("bbbbbbbb-0000-4000-8000-%012d", i+1)
		}
		return out
	}
	res := h.post("/v1.0/directoryObjects/getByIds", tokenA, getByIDsBody([]string{"user"}, append(many(999), alice.String())...))
	if p := decodePage(t, res); len(p.Value) != 1 {
		t.Errorf("1000 IDs: %d objects, want Alice", len(p.Value))
	}
	expectError(t, h.post("/v1.0/directoryObjects/getByIds", tokenA, getByIDsBody([]string{"user"}, many(1001)...)),
		http.StatusBadRequest, "Request_BadRequest", "")

	for _, body := range []string{
		``, `not json`, `{"ids":"` + alice.String() + `"}`, `{"ids":[1]}`,
		getByIDsBody(nil, "not-a-guid"), getByIDsBody(nil, "{"+alice.String()+"}"),
		getByIDsBody([]string{"spaceship"}, alice.String()),
	} {
		expectError(t, h.post("/v1.0/directoryObjects/getByIds", tokenA, body), http.StatusBadRequest, "Request_BadRequest", "")
	}

	if p := decodePage(t, h.post("/v1.0/directoryObjects/getByIds", tokenA, `{"ids":[]}`)); len(p.Value) != 0 {
		t.Errorf("no IDs found %v", p.Value)
	}
}

// TestGetByIDsScopes: Directory.Read.All is enough, as is
// User.ReadBasic.All; User.Read alone is not.
func TestGetByIDsScopes(t *testing.T) {
	h := newHarness(t)
	body := getByIDsBody([]string{"user"}, alice.String())
	for _, token := range []string{tokenA, tokenADir} {
		if p := decodePage(t, h.post("/v1.0/directoryObjects/getByIds", token, body)); len(p.Value) != 1 {
			t.Errorf("%s: %d objects", token, len(p.Value))
		}
	}
	expectError(t, h.post("/v1.0/directoryObjects/getByIds", tokenANothing, body), http.StatusForbidden,
		"Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
}

// TestResourceAccounts: the tenant's accounts, filtered by ACS resource or
// app, with the phone number as Graph stores it; paging via next links.
func TestResourceAccounts(t *testing.T) {
	h := newHarness(t)
	const path = "/beta/admin/teams/resourceAccounts"

	p := decodePage(t, h.get(path, tokenA, false))
	if got, want := p.ids(), sortedIDs(line, line2); !slices.Equal(got, want) {
		t.Errorf("all: %v, want %v", got, want)
	}
	if !strings.HasSuffix(p.Context, "/beta/$metadata#admin/teams/resourceAccounts") {
		t.Errorf("@odata.context = %q", p.Context)
	}

	p = decodePage(t, h.get(path+"?$filter="+url.QueryEscape("acsResourceId eq '"+acsResource1+"'"), tokenA, false))
	if len(p.Value) != 1 {
		t.Fatalf("by ACS resource: %v", p.Value)
	}
	want := map[string]any{
		"id": line.String(), "displayName": "Ali Line", "userPrincipalName": "ra_line@contoso.com",
		"appId": raApp.String(), "phoneNumber": "tel:+14255550100", "acsResourceId": acsResource1,
	}
	for k, v := range want {
		if p.Value[0][k] != v {
			t.Errorf("%s = %v, want %v", k, p.Value[0][k], v)
		}
	}

	// GUIDs compare without case.
	p = decodePage(t, h.get(path+"?$filter="+url.QueryEscape("acsResourceId eq '"+strings.ToUpper(acsResource2)+"'"), tokenA, false))
	if got := p.ids(); !slices.Equal(got, []string{line2.String()}) {
		t.Errorf("by upper-case ACS resource: %v", got)
	}
	p = decodePage(t, h.get(path+"?$filter="+url.QueryEscape("appId eq '"+raApp.String()+"'"), tokenA, false))
	if len(p.Value) != 2 {
		t.Errorf("by app: %v", p.ids())
	}
	p = decodePage(t, h.get(path+"?$filter="+url.QueryEscape("acsResourceId eq 'no-such-resource'"), tokenA, false))
	if len(p.Value) != 0 {
		t.Errorf("unknown ACS resource: %v", p.ids())
	}

	// Paging: one per page, two pages, the filter carried forward.
	for i := range 3 {
		h.emu.AddResourceAccount(tenantA, ResourceAccount{ID: portal.MustParseGUID(fmt.Sprintf("20000000-0000-4000-8000-1000000000%02d", i)),
			DisplayName: "Extra", UserPrincipalName: "extra@contoso.com", ACSResourceID: acsResource2})
	}
	target := path + "?$top=2&$filter=" + url.QueryEscape("acsResourceId eq '"+acsResource2+"'")
	var got []string
	for pages := 0; target != ""; pages++ {
		if pages > 5 {
			t.Fatal("next links loop")
		}
		p := decodePage(t, h.get(target, tokenA, false))
		got = append(got, p.ids()...)
		target = p.Next
	}
	if len(got) != 4 || slices.Contains(got, line.String()) {
		t.Errorf("paged by ACS resource 2: %v, want line2 and the three extras", got)
	}

	for _, bad := range []string{"$filter=" + url.QueryEscape("displayName eq 'x'"), "$filter=" + url.QueryEscape("startswith(acsResourceId,'6a')"), "$top=1000", "$select=id"} {
		res := h.get(path+"?"+bad, tokenA, false)
		if res.status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", bad, res.status)
		}
	}
}

// TestResourceAccountsScope: the Teams permission is needed; directory
// permissions do not reach the Teams admin API.
func TestResourceAccountsScope(t *testing.T) {
	h := newHarness(t)
	for _, token := range []string{tokenADir, tokenANothing} {
		expectError(t, h.get("/beta/admin/teams/resourceAccounts", token, false), http.StatusForbidden,
			"Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
	}
}

// TestServicePrincipal: found by appId, or Graph's 404.
func TestServicePrincipal(t *testing.T) {
	h := newHarness(t)
	res := h.get("/v1.0/servicePrincipals(appId='"+appID.String()+"')", tokenA, false)
	if res.status != http.StatusOK {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	var sp map[string]any
	if err := json.Unmarshal(res.body, &sp); err != nil {
		t.Fatal(err)
	}
	if sp["id"] != spID.String() || sp["appId"] != appID.String() || sp["displayName"] != "Contoso Contact Center" {
		t.Errorf("service principal = %v", sp)
	}

	// Quotes percent-encoded, as some clients send them, and $select.
	res = h.get("/v1.0/servicePrincipals(appId=%27"+appID.String()+"%27)?$select=displayName", tokenA, false)
	if res.status != http.StatusOK || !strings.Contains(string(res.body), `"displayName":"Contoso Contact Center"`) || strings.Contains(string(res.body), `"appId"`) {
		t.Errorf("encoded quotes with $select: %d %s", res.status, res.body)
	}

	for _, app := range []string{"99999999-0000-4000-8000-000000000000", "not-a-guid", bAppID.String()} {
		expectError(t, h.get("/v1.0/servicePrincipals(appId='"+app+"')", tokenA, false), http.StatusNotFound, "Request_ResourceNotFound",
			"Resource '"+app+"' does not exist or one of its queried reference-property objects are not present.")
	}
	expectError(t, h.get("/v1.0/servicePrincipals(appId='"+appID.String()+"')", tokenANothing, false), http.StatusForbidden,
		"Authorization_RequestDenied", "")
	// Directory.Read.All also reads service principals, as in Graph.
	if res := h.get("/v1.0/servicePrincipals(appId='"+appID.String()+"')", tokenADir, false); res.status != http.StatusOK {
		t.Errorf("Directory.Read.All: status %d", res.status)
	}
}
