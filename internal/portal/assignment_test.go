package portal_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

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

// Validate names every problem at once, each with its field, so a form
// can show each beside what was typed.
func TestValidateNamesEveryField(t *testing.T) {
	fields := func(err error) []string {
		var out []string
		for _, p := range portal.Problems(err) {
			if p.Code != portal.EINVALID {
				t.Errorf("%q is %s, want EINVALID", p.Message, p.Code)
			}
			out = append(out, p.Field)
		}
		return out
	}
	for name, tc := range map[string]struct {
		a    portal.Assignment
		want []string
	}{
		"good user":                    {portal.Assignment{TenantID: tenant, ObjectID: object, Kind: portal.KindUser, ClientIDs: []portal.GUID{desktop}}, nil},
		"good resource account":        {portal.Assignment{TenantID: tenant, ObjectID: object, Kind: portal.KindResourceAccount}, nil},
		"nothing":                      {portal.Assignment{}, []string{"", portal.FieldObjectID, portal.FieldKind}},
		"user without apps":            {portal.Assignment{TenantID: tenant, Kind: portal.KindUser}, []string{portal.FieldObjectID, portal.FieldClientIDs}},
		"resource account with an app": {portal.Assignment{TenantID: tenant, ObjectID: object, Kind: portal.KindResourceAccount, ClientIDs: []portal.GUID{desktop}}, []string{portal.FieldClientIDs}},
	} {
		if got := fields(tc.a.Validate()); !slices.Equal(got, tc.want) {
			t.Errorf("%s: problems of %v, want %v", name, got, tc.want)
		}
	}
	many := make([]portal.GUID, portal.MaxClientIDs+1)
	for i := range many {
		many[i] = portal.MustParseGUID(fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1))
	}
	if err := portal.KindUser.CheckClientIDs(many); portal.ErrorCode(err) != portal.EINVALID || portal.Problems(err)[0].Field != portal.FieldClientIDs {
		t.Errorf("%d apps: %v", len(many), err)
	}
	if err := portal.KindUnknown.CheckClientIDs(many); err != nil {
		t.Errorf("an unknown kind's apps: %v (the kind is the problem)", err)
	}
}

// The text rules and the expiry's: each refusal names its field.
func TestTextAndExpiryRules(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		err   error
		field string
	}{
		{second(portal.CleanLabel(strings.Repeat("x", portal.MaxLabel+1))), portal.FieldLabel},
		{second(portal.CleanLabel("a\r\nb")), portal.FieldLabel},
		{second(portal.CleanLabel("\xff")), portal.FieldLabel},
		{second(portal.CleanJustification(strings.Repeat("x", portal.MaxJustification+1))), portal.FieldJustification},
		{second(portal.CleanJustification("a\x00b")), portal.FieldJustification},
		// Bidirectional overrides and isolates ("Trojan Source"): refused.
		{second(portal.CleanLabel("Alice \u202eecilA")), portal.FieldLabel},
		{second(portal.CleanLabel("x\u2066y")), portal.FieldLabel},
		{second(portal.CleanJustification("CHG-1 \u202a\u2069")), portal.FieldJustification},
		{portal.CheckExpiry(now, now), portal.FieldExpiresAt},
		{portal.CheckExpiry(now.Add(portal.MaxExpiry+time.Hour), now), portal.FieldExpiresAt},
	} {
		if p := portal.Problems(tc.err); len(p) != 1 || p[0].Field != tc.field || p[0].Code != portal.EINVALID {
			t.Errorf("%v: want one EINVALID problem of %q", tc.err, tc.field)
		}
	}
	if v, err := portal.CleanLabel("שלום Alice \u200f"); err != nil || v == "" {
		t.Errorf("right-to-left text and marks are fine: %q, %v", v, err)
	}
	if v, err := portal.CleanJustification("  CHG-1\n\tline two "); err != nil || v != "CHG-1\n\tline two" {
		t.Errorf("a multi-line justification: %q, %v", v, err)
	}
	if err := portal.CheckExpiry(time.Time{}, now); err != nil {
		t.Errorf("no expiry: %v", err)
	}
	if err := portal.CheckExpiry(now.Add(time.Hour), now); err != nil {
		t.Errorf("an hour ahead: %v", err)
	}
}

func second(_ string, err error) error { return err }
