package access_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/portal"
)

// The probe of the portal's own access to ACS: 404 for a random object
// proves it authorised, 401/403 that it is not (with ACS's own code and
// message, and the fix), anything else proves nothing.
func TestProbeACS(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name      string
		faults    []acsemu.Fault
		state     portal.CheckState
		reason    []string
		fix       string
		wantNoFix bool
	}{
		{name: "authorised", state: portal.CheckPass, reason: []string{"authorised caller", "x-ms-client-request-id"}, wantNoFix: true},
		{name: "subscription not allowed", faults: []acsemu.Fault{{Status: 403, Code: "SubscriptionNotAllowed", Message: "The subscription is not allowed."}},
			state: portal.CheckFail, reason: []string{"HTTP 403 SubscriptionNotAllowed", "The subscription is not allowed"}, fix: "not enabled for Teams Phone extensibility"},
		{name: "no role", faults: []acsemu.Fault{{Status: 403, Code: "AuthorizationFailed"}},
			state: portal.CheckFail, reason: []string{"HTTP 403 AuthorizationFailed"}, fix: "teamsExtension/*"},
		{name: "bad credential", faults: []acsemu.Fault{{Status: 401, Code: "Denied", Message: "Denied by the resource provider."}},
			state: portal.CheckFail, reason: []string{"HTTP 401 Denied", "Denied by the resource provider"}, fix: "PORTAL_ACS_CONNECTION_STRING"},
		{name: "ACS down", faults: []acsemu.Fault{{Status: 503}, {Status: 503}, {Status: 503}},
			state: portal.CheckUnknown, reason: []string{"not known", "HTTP 503"}, wantNoFix: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.emu.Script(tc.faults...)
			c := e.svc.ProbeACS(ctx, contoso, 0)
			if c.State != tc.state || c.Name != access.CheckACSAccess || c.CheckedAt.IsZero() {
				t.Fatalf("check = %+v, want state %s", c, tc.state)
			}
			for _, r := range tc.reason {
				if !strings.Contains(c.Reason, r) {
					t.Errorf("reason %q lacks %q", c.Reason, r)
				}
			}
			if !strings.Contains(c.Fix, tc.fix) || tc.wantNoFix && c.Fix != "" {
				t.Errorf("fix %q, want it to hold %q", c.Fix, tc.fix)
			}
			if tc.state == portal.CheckFail && strings.Contains(c.Reason, c.Fix) {
				t.Errorf("the reason repeats the fix: %q", c.Reason)
			}
		})
	}
}

// A probe is reused while young enough: every instance's /readyz and every
// admin's home page do not each call ACS.
func TestProbeACSCached(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if c := e.svc.ProbeACS(ctx, contoso, time.Hour); c.State != portal.CheckPass {
		t.Fatalf("first probe: %+v", c)
	}
	e.emu.Script(acsemu.Fault{Status: 403, Code: "SubscriptionNotAllowed"})
	if c := e.svc.ProbeACS(ctx, contoso, time.Hour); c.State != portal.CheckPass {
		t.Fatalf("a probe an hour may reuse called ACS again: %+v", c)
	}
	if c := e.svc.ProbeACS(ctx, contoso, 0); c.State != portal.CheckFail {
		t.Fatalf("a fresh probe did not see the refusal: %+v", c)
	}
	// A probe cut short by its caller still completes for the next one.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if c := e.svc.ProbeACS(cancelled, contoso, 0); c.State != portal.CheckPass {
		t.Fatalf("a probe whose caller went away: %+v", c)
	}
}

// Admins and auditors see the check; helpdesk agents are not its audience.
func TestACSAccessRoles(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	for _, who := range []access.Who{admin, auditor} {
		if c, err := e.svc.ACSAccess(ctx, who, time.Minute); err != nil || c.State != portal.CheckPass {
			t.Errorf("%v: %+v, %v", who.User.Roles, c, err)
		}
	}
	if _, err := e.svc.ACSAccess(ctx, helpdesk, time.Minute); portal.ErrorCode(err) != portal.EFORBIDDEN {
		t.Errorf("helpdesk: %v, want EFORBIDDEN", err)
	}
}
