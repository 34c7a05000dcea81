package storekit

import (
	"testing"

	"github.com/teamsphone/portal/internal/portal"
)

func TestCountCells(t *testing.T) {
	c := CountCells{{"user", "in_sync"}: 3, {"user", "drifted"}: 1, {"resourceAccount", "in_sync"}: 2}
	tot := c.Totals()
	if tot.All != 6 || tot.Users != 4 || tot.ResourceAccounts != 2 || tot.ByState[portal.StateInSync] != 5 || tot.ByState[portal.StateMissing] != 0 {
		t.Errorf("Totals = %+v", tot)
	}
	if n := c.Matching(portal.KindUser, portal.StateInSync); n != 3 {
		t.Errorf("Matching(user, in sync) = %d", n)
	}
	if n := c.Matching(portal.KindUnknown, ""); n != 6 {
		t.Errorf("Matching(any) = %d", n)
	}
}

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
