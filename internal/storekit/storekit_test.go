package storekit

import (
	"testing"

	"github.com/teamsphone/portal/internal/portal"
)

func TestPageSizeAndFragments(t *testing.T) {
	for limit, want := range map[int]int{-1: DefaultPageSize, 0: DefaultPageSize, 7: 7, 1000: MaxPageSize} {
		if got := PageSize(limit); got != want {
			t.Errorf("PageSize(%d) = %d, want %d", limit, got, want)
		}
	}
	for in, want := range map[string]string{"e5b7-": "e5b7-", "E5B7": "", "{E5B7F628-EA94-4FDC-B3D9-1AF1FE231111}": "e5b7f628-ea94-4fdc-b3d9-1af1fe231111", "alice": ""} {
		if got := IDFragment(in); got != want {
			t.Errorf("IDFragment(%q) = %q, want %q", in, got, want)
		}
	}
	if got := RolesText([]portal.Role{portal.RoleAdmin, portal.RoleAuditor}); got != "Portal.Admin Portal.Auditor" {
		t.Errorf("RolesText = %q", got)
	}
}
