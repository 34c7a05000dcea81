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

// TestSearchNeedsConsistencyLevel: $search without "ConsistencyLevel:
// eventual" is Graph's 400; with it, the same URL finds people.
func TestSearchNeedsConsistencyLevel(t *testing.T) {
	h := newHarness(t)
	target := usersURL("$search", `"displayName:ali"`)

	res := h.get(target, tokenA, false)
	expectError(t, res, http.StatusBadRequest, "Request_UnsupportedQuery", msgSearchNeedsEventual)

	// Any case of the header's value is accepted, as Graph does.
	req := h.request(http.MethodGet, target, tokenA, "")
	req.Header.Set("ConsistencyLevel", "Eventual")
	if got := decodePage(t, h.do(req)).ids(); len(got) == 0 {
		t.Fatal("with ConsistencyLevel, $search found nobody")
	}
}

// TestSearch: displayName matches a term that starts a word, UPN and mail
// match from the start, all without case; deleted users never appear;
// resource accounts are users and do.
func TestSearch(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		search string
		want   []portal.GUID
	}{
		{`"displayName:ali" OR "userPrincipalName:ali"`, []portal.GUID{alice, bob, carol, line}},
		{`"displayName:ali"`, []portal.GUID{alice, bob, line}},
		{`"userPrincipalName:ali"`, []portal.GUID{alice, carol}},
		{`"displayName:ALI"`, []portal.GUID{alice, bob, line}},
		{`"displayName:smith"`, []portal.GUID{alice}},
		{`"displayName:mith"`, nil}, // not the start of a word
		{`"displayName:ali sm"`, []portal.GUID{alice}},
		{`"displayName:ali" AND "userPrincipalName:bob"`, []portal.GUID{bob}},
		{`"displayName:ali" AND "userPrincipalName:bob" OR "displayName:malia"`, []portal.GUID{bob, malia}},
		{`"mail:alice@"`, []portal.GUID{alice}},
		{`"displayName:deleted"`, nil}, // Dave is in the recycle bin
		{`"displayName:o'brien"`, []portal.GUID{sean}},
		{`"displayName:\"quoted\""`, nil}, // an escaped quote is part of the term
	}
	for _, tt := range tests {
		t.Run(tt.search, func(t *testing.T) {
			p := decodePage(t, h.get(usersURL("$search", tt.search), tokenA, true))
			if got, want := p.ids(), sortedIDs(tt.want...); !slices.Equal(got, want) {
				t.Errorf("ids = %v, want %v", got, want)
			}
		})
	}
}

// TestSearchSyntax: malformed $search is a 400, never an empty success.
func TestSearchSyntax(t *testing.T) {
	h := newHarness(t)
	tests := []struct{ search, code string }{
		{`displayName:ali`, "Request_BadRequest"},                // unquoted
		{`"displayName:ali`, "Request_BadRequest"},               // unterminated
		{`"ali"`, "Request_BadRequest"},                          // no property
		{`"displayName:"`, "Request_BadRequest"},                 // no term
		{`"displayName:ali" XOR "mail:a"`, "Request_BadRequest"}, // no such operator
		{`"displayName:ali" OR`, "Request_BadRequest"},           // dangling operator
		{`"jobTitle:boss"`, "Request_UnsupportedQuery"},          // property not searchable here
	}
	for _, tt := range tests {
		t.Run(tt.search, func(t *testing.T) {
			expectError(t, h.get(usersURL("$search", tt.search), tokenA, true), http.StatusBadRequest, tt.code, "")
		})
	}
}

// TestFilterStartsWith: startswith on displayName and userPrincipalName,
// without case, with quotes escaped by doubling.
func TestFilterStartsWith(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		filter string
		want   []portal.GUID
	}{
		{`startswith(displayName,'ali')`, []portal.GUID{alice, line}},
		{`startswith(displayName,'ALI')`, []portal.GUID{alice, line}},
		{`startsWith(displayName, 'Ali')`, []portal.GUID{alice, line}},
		{`startswith(userPrincipalName,'ali')`, []portal.GUID{alice, carol}},
		{`startswith(displayName,'Seán O''Brien')`, []portal.GUID{sean}},
		{`startswith(displayName,'O''Brien')`, nil}, // not the start of the name
		{`startswith(displayName,'bob') or startswith(userPrincipalName,'malia')`, []portal.GUID{bob, malia}},
		{`startswith(displayName,'a') and startswith(userPrincipalName,'alice')`, []portal.GUID{alice}},
		{`startswith(displayName,'Ali Deleted')`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			// No ConsistencyLevel: startswith works by default in Graph.
			p := decodePage(t, h.get(usersURL("$filter", tt.filter), tokenA, false))
			if got, want := p.ids(), sortedIDs(tt.want...); !slices.Equal(got, want) {
				t.Errorf("ids = %v, want %v", got, want)
			}
		})
	}
}

// TestFilterErrors: broken or unsupported filters are 400s.
func TestFilterErrors(t *testing.T) {
	h := newHarness(t)
	tests := []struct{ filter, code string }{
		{`startswith(displayName,'O'Brien')`, "Request_BadRequest"}, // quote not doubled
		{`startswith(displayName,'ali'`, "Request_BadRequest"},
		{`startswith(displayName,'ali`, "Request_BadRequest"},
		{`startswith(displayName,ali)`, "Request_BadRequest"},
		{`endswith(mail,'@contoso.com')`, "Request_UnsupportedQuery"},
		{`startswith(jobTitle,'boss')`, "Request_UnsupportedQuery"},
		{`displayName eq 'Alice Smith'`, "Request_UnsupportedQuery"},
		{`displayName ne 'Alice Smith'`, "Request_UnsupportedQuery"},
		{`startswith(displayName,'a') or`, "Request_BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			expectError(t, h.get(usersURL("$filter", tt.filter), tokenA, false), http.StatusBadRequest, tt.code, "")
		})
	}
}

// TestSelect: $select picks and orders the properties; an empty mail is
// null; an unknown property is a 400.
func TestSelect(t *testing.T) {
	h := newHarness(t)
	res := h.get(usersURL("$filter", "startswith(displayName,'bob')", "$select", "displayName,id"), tokenA, false)
	p := decodePage(t, res)
	if !strings.HasSuffix(p.Context, "/v1.0/$metadata#users(displayName,id)") {
		t.Errorf("@odata.context = %q", p.Context)
	}
	if want := fmt.Sprintf(`"value":[{"displayName":"Bob Alistair","id":"%s"}]`, bob); !strings.Contains(string(res.body), want) {
		t.Errorf("body %s does not contain %s", res.body, want)
	}

	res = h.get(usersURL("$filter", "startswith(displayName,'bob')"), tokenA, false)
	if !strings.Contains(string(res.body), `"mail":null`) {
		t.Errorf("a user without mail should have mail null: %s", res.body)
	}

	expectError(t, h.get(usersURL("$select", "id,jobTitle"), tokenA, false), http.StatusBadRequest, "Request_BadRequest",
		"Could not find a property named 'jobTitle' on type 'microsoft.graph.user'.")
}

// seedMany adds n users named "Person NNN" to tenant A.
func seedMany(h *harness, n int) []portal.GUID {
	var ids []portal.GUID
	for i := range n {
		id := portal.MustParseGUID(fmt.Sprintf("aaaaaaaa-0000-4000-8000-%012d", i+1))
		h.emu.AddUser(tenantA, User{ID: id, DisplayName: fmt.Sprintf("Person %03d", i), UserPrincipalName: fmt.Sprintf("person%03d@contoso.com", i)})
		ids = append(ids, id)
	}
	return ids
}

// TestPagingFollowsNextLink: following @odata.nextLink from page to page
// returns every matching user exactly once, keeps the query, and ends with
// a page without a next link.
func TestPagingFollowsNextLink(t *testing.T) {
	h := newHarness(t)
	want := sortedIDs(seedMany(h, 25)...)

	target := usersURL("$search", `"displayName:person"`, "$select", "id,displayName", "$top", "7", "$count", "true")
	var got []string
	pages := 0
	for target != "" {
		pages++
		if pages > 10 {
			t.Fatal("more than 10 pages: the next links loop")
		}
		p := decodePage(t, h.get(target, tokenA, true))
		if p.Count == nil || *p.Count != 25 {
			t.Errorf("page %d: @odata.count = %v, want 25", pages, p.Count)
		}
		if len(p.Value) > 7 {
			t.Errorf("page %d has %d items, more than $top", pages, len(p.Value))
		}
		for _, v := range p.Value {
			if _, ok := v["userPrincipalName"]; ok {
				t.Errorf("page %d: $select was not carried forward: %v", pages, v)
			}
		}
		got = append(got, p.ids()...)
		if p.Next != "" {
			u, err := url.Parse(p.Next)
			if err != nil || u.Scheme+"://"+u.Host != h.srv.URL || u.Path != "/v1.0/users" || u.Query().Get("$skiptoken") == "" {
				t.Fatalf("next link %q does not lead back to the emulator's /v1.0/users with a $skiptoken", p.Next)
			}
		}
		target = p.Next
	}
	if pages != 4 {
		t.Errorf("%d pages, want 4 (7+7+7+4)", pages)
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged ids = %v\nwant %v", got, want)
	}
}

// TestPagingSkipTokenIsChecked: a skip token the emulator did not make is
// a 400.
func TestPagingSkipTokenIsChecked(t *testing.T) {
	h := newHarness(t)
	expectError(t, h.get(usersURL("$skiptoken", "not-a-token"), tokenA, false), http.StatusBadRequest, "Request_BadRequest", "")
}

// TestTop: $top defaults to 100, accepts 1 to 999, and anything else is a
// 400 rather than a smaller page.
func TestTop(t *testing.T) {
	h := newHarness(t)
	seedMany(h, 150)

	p := decodePage(t, h.get(usersURL(), tokenA, false))
	if len(p.Value) != 100 || p.Next == "" {
		t.Errorf("default page: %d items, next %q; want 100 and a next link", len(p.Value), p.Next)
	}
	p = decodePage(t, h.get(usersURL("$top", "999"), tokenA, false))
	if len(p.Value) != 150+7 || p.Next != "" { // 150 + Alice, Bob, Malia, Carol, Seán and two resource accounts
		t.Errorf("$top=999: %d items, next %q; want 157 and no next link", len(p.Value), p.Next)
	}
	p = decodePage(t, h.get(usersURL("$top", "1"), tokenA, false))
	if len(p.Value) != 1 || p.Next == "" {
		t.Errorf("$top=1: %d items, next %q", len(p.Value), p.Next)
	}
	for _, top := range []string{"1000", "0", "-1", "abc"} {
		expectError(t, h.get(usersURL("$top", top), tokenA, false), http.StatusBadRequest, "Request_UnsupportedQuery",
			"Invalid page size specified: '"+top+"'. Must be between 1 and 999 inclusive.")
	}
}

// TestCount: @odata.count is the number of all matches, and only with
// ConsistencyLevel; without it Graph silently leaves it out.
func TestCount(t *testing.T) {
	h := newHarness(t)
	target := usersURL("$filter", "startswith(displayName,'ali')", "$count", "true", "$top", "1")
	p := decodePage(t, h.get(target, tokenA, true))
	if p.Count == nil || *p.Count != 2 || len(p.Value) != 1 {
		t.Errorf("count %v with %d items, want 2 with 1", p.Count, len(p.Value))
	}
	p = decodePage(t, h.get(target, tokenA, false))
	if p.Count != nil {
		t.Errorf("without ConsistencyLevel @odata.count = %d, want it absent", *p.Count)
	}
}

// TestUserGet: a user by ID or UPN; 404 for unknown and deleted ones.
func TestUserGet(t *testing.T) {
	h := newHarness(t)
	res := h.get("/v1.0/users/"+alice.String(), tokenA, false)
	if res.status != http.StatusOK {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	var u map[string]any
	if err := json.Unmarshal(res.body, &u); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": alice.String(), "displayName": "Alice Smith", "userPrincipalName": "alice.smith@contoso.com", "mail": "alice@contoso.com"}
	for k, v := range want {
		if u[k] != v {
			t.Errorf("%s = %v, want %v", k, u[k], v)
		}
	}
	if !strings.HasSuffix(u["@odata.context"].(string), "/v1.0/$metadata#users/$entity") {
		t.Errorf("@odata.context = %v", u["@odata.context"])
	}

	res = h.get("/v1.0/users/ALICE.SMITH@contoso.com?$select=id", tokenA, false)
	if res.status != http.StatusOK || !strings.Contains(string(res.body), `"id":"`+alice.String()+`"`) || strings.Contains(string(res.body), "displayName") {
		t.Errorf("by UPN with $select=id: %d %s", res.status, res.body)
	}

	// Upper case and braces name the same object.
	res = h.get("/v1.0/users/"+strings.ToUpper(alice.String()), tokenA, false)
	if res.status != http.StatusOK {
		t.Errorf("upper-case ID: status %d", res.status)
	}

	for _, id := range []string{dave.String(), "99999999-0000-4000-8000-000000000000", "nobody@contoso.com"} {
		expectError(t, h.get("/v1.0/users/"+id, tokenA, false), http.StatusNotFound, "Request_ResourceNotFound",
			"Resource '"+id+"' does not exist or one of its queried reference-property objects are not present.")
	}
}

// TestDeleteUser: a user deleted after seeding disappears from every call.
func TestDeleteUser(t *testing.T) {
	h := newHarness(t)
	if !h.emu.DeleteUser(tenantA, bob) {
		t.Fatal("DeleteUser(bob) = false")
	}
	if h.emu.DeleteUser(tenantA, bob) {
		t.Error("deleting twice reports a deletion")
	}
	if h.emu.DeleteUser(tenantB, alice) {
		t.Error("DeleteUser in the wrong tenant reports a deletion")
	}
	expectError(t, h.get("/v1.0/users/"+bob.String(), tokenA, false), http.StatusNotFound, "Request_ResourceNotFound", "")
	p := decodePage(t, h.get(usersURL("$search", `"displayName:bob"`), tokenA, true))
	if len(p.Value) != 0 {
		t.Errorf("search still finds a deleted user: %v", p.ids())
	}
	// Alice in tenant A was not touched by the wrong-tenant call.
	if res := h.get("/v1.0/users/"+alice.String(), tokenA, false); res.status != http.StatusOK {
		t.Errorf("alice: status %d", res.status)
	}
}

// TestHTMLVerbatim: a display name with HTML comes back as it is, as raw
// characters in the JSON (escaping is the renderer's job).
func TestHTMLVerbatim(t *testing.T) {
	h := newHarness(t)
	evil := portal.MustParseGUID("66666666-0000-4000-8000-000000000001")
	name := `<img src=x onerror="alert(1)"> & <b>Eve</b>`
	h.emu.AddUser(tenantA, User{ID: evil, DisplayName: name, UserPrincipalName: "eve@contoso.com"})

	for _, res := range []result{
		h.get("/v1.0/users/"+evil.String(), tokenA, false),
		h.get(usersURL("$search", `"displayName:<img"`), tokenA, true),
		h.post("/v1.0/directoryObjects/getByIds", tokenA, `{"ids":["`+evil.String()+`"]}`),
	} {
		if res.status != http.StatusOK {
			t.Fatalf("status %d: %s", res.status, res.body)
		}
		if !strings.Contains(string(res.body), `<img src=x onerror=\"alert(1)\"> & <b>Eve</b>`) {
			t.Errorf("the name is not in the body as raw characters: %s", res.body)
		}
		if !strings.Contains(string(res.body), `"displayName":`) {
			t.Fatalf("no displayName: %s", res.body)
		}
		var decoded struct {
			DisplayName string           `json:"displayName"`
			Value       []map[string]any `json:"value"`
		}
		if err := json.Unmarshal(res.body, &decoded); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		got := decoded.DisplayName
		if len(decoded.Value) == 1 {
			got, _ = decoded.Value[0]["displayName"].(string)
		}
		if got != name {
			t.Errorf("decoded displayName = %q, want %q", got, name)
		}
	}
}
