package portal_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/teamsphone/portal/internal/portal"
)

var (
	tenant  = portal.MustParseGUID("1c361ff7-fb44-4685-bb78-1bad6ce5bef3")
	object  = portal.MustParseGUID("e5b7f628-ea94-4fdc-b3d9-1af1fe231111")
	desktop = portal.MustParseGUID("83ecbc78-e1ba-4e8f-a454-5483ef618061")
	mobile  = portal.MustParseGUID("9215f754-3568-4bed-baa4-455c404e6140")
)

func TestParsePrincipalKind(t *testing.T) {
	for in, want := range map[string]portal.PrincipalKind{
		"user": portal.KindUser, "User": portal.KindUser, "USER": portal.KindUser,
		"resourceAccount": portal.KindResourceAccount, "teamsResourceAccount": portal.KindResourceAccount,
		"TEAMSRESOURCEACCOUNT": portal.KindResourceAccount,
	} {
		if got, err := portal.ParsePrincipalKind(in); err != nil || got != want {
			t.Errorf("ParsePrincipalKind(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "users", "application", " user", "teams resource account"} {
		if _, err := portal.ParsePrincipalKind(in); portal.ErrorCode(err) != portal.EINVALID {
			t.Errorf("ParsePrincipalKind(%q): err %v, want EINVALID", in, err)
		}
	}
}

func TestParseClientIDs(t *testing.T) {
	got, err := portal.ParseClientIDs([]string{
		" 9215F754-3568-4BED-BAA4-455C404E6140 ",
		"{83ecbc78-e1ba-4e8f-a454-5483ef618061}",
		"",
		"9215f754-3568-4bed-baa4-455c404e6140",
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []portal.GUID{desktop, mobile}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}

	// All or nothing: one bad value refuses the whole list.
	if ids, err := portal.ParseClientIDs([]string{desktop.String(), "not-a-guid"}); err == nil || ids != nil {
		t.Fatalf("mixed list: got %v, %v; want an error and no list", ids, err)
	}
	// Too many distinct IDs.
	var many []string
	for i := range portal.MaxClientIDs + 1 {
		many = append(many, fmt.Sprintf("00000000-0000-4000-8000-%012x", i+1))
	}
	if _, err := portal.ParseClientIDs(many); portal.ErrorCode(err) != portal.EINVALID {
		t.Fatalf("%d IDs: err %v, want EINVALID", len(many), err)
	}
	// 10,000 copies of one ID is an attack, not a list: refused before parsing.
	flood := slices.Repeat([]string{desktop.String()}, 10000)
	if _, err := portal.ParseClientIDs(flood); portal.ErrorCode(err) != portal.EINVALID {
		t.Fatalf("flood: err %v, want EINVALID", err)
	}
}

func TestAssignmentValidate(t *testing.T) {
	ok := []portal.Assignment{
		{TenantID: tenant, ObjectID: object, Kind: portal.KindUser, ClientIDs: []portal.GUID{desktop}},
		{TenantID: tenant, ObjectID: object, Kind: portal.KindResourceAccount},
	}
	for _, a := range ok {
		if err := a.Validate(); err != nil {
			t.Errorf("%+v: %v", a, err)
		}
	}
	bad := map[string]portal.Assignment{
		"no tenant":         {ObjectID: object, Kind: portal.KindUser, ClientIDs: []portal.GUID{desktop}},
		"no object":         {TenantID: tenant, Kind: portal.KindUser, ClientIDs: []portal.GUID{desktop}},
		"no kind":           {TenantID: tenant, ObjectID: object},
		"user without apps": {TenantID: tenant, ObjectID: object, Kind: portal.KindUser},
		"account with apps": {TenantID: tenant, ObjectID: object, Kind: portal.KindResourceAccount, ClientIDs: []portal.GUID{desktop}},
	}
	for name, a := range bad {
		if err := a.Validate(); portal.ErrorCode(err) != portal.EINVALID {
			t.Errorf("%s: err %v, want EINVALID", name, err)
		}
	}
}

func TestAssignmentEqualComparesClientIDsAsSets(t *testing.T) {
	a := portal.Assignment{TenantID: tenant, ObjectID: object, Kind: portal.KindUser, ClientIDs: []portal.GUID{mobile, desktop}}
	b := portal.Assignment{TenantID: tenant, ObjectID: object, Kind: portal.KindUser, ClientIDs: []portal.GUID{desktop, mobile, desktop}, Spelling: "User"}
	if !a.Equal(b) {
		t.Fatal("same apps in another order should be equal")
	}
	b.ClientIDs = []portal.GUID{desktop}
	if a.Equal(b) {
		t.Fatal("different apps compared equal")
	}
}

func TestRoleNames(t *testing.T) {
	claim := []string{"Admin", "Portal.Auditor", "portal.helpdesk", "Portal.Admin"}
	if got := portal.RolesFromClaim(claim); len(got) != 2 || got[0] != portal.RoleAdmin || got[1] != portal.RoleAuditor {
		t.Errorf("default names: %v", got)
	}
	// Renamed: "Admin" grants admin, "Portal.Admin" no longer does.
	names := portal.RoleNames{portal.RoleAdmin: "Admin", portal.RoleHelpdesk: "Support"}
	if got := names.FromClaim([]string{"Portal.Admin", "Support"}); len(got) != 1 || got[0] != portal.RoleHelpdesk {
		t.Errorf("renamed, old admin name: %v", got)
	}
	if got := names.FromClaim(claim); len(got) != 2 || got[0] != portal.RoleAdmin || got[1] != portal.RoleAuditor {
		t.Errorf("renamed: %v", got)
	}
}
