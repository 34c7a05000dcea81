package web

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/acsemu"
)

// When ACS refuses the portal, admins and auditors read it on the home
// page with ACS's own code and the fix; helpdesk agents are not told
// there; /readyz stays ready (the page that says what to fix must stay
// up) and reports the probe's state alone.
func TestHomeShowsACSRefusal(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	e.emu.Script(acsemu.Fault{Status: 403, Code: "SubscriptionNotAllowed", Message: "The subscription is not allowed."})
	admin := e.browser()
	e.signIn(admin, "admin@contoso.test")
	p := e.get(admin, "/")
	reason, ok := p.testid("check-reason")
	fix, _ := p.testid("check-fix")
	if !ok || !strings.Contains(reason, "HTTP 403 SubscriptionNotAllowed") || !strings.Contains(reason, "The subscription is not allowed") ||
		!strings.Contains(fix, "not enabled for Teams Phone extensibility") {
		t.Fatalf("admin's home: reason %q, fix %q\n%.2000s", reason, fix, p.body)
	}
	auditor := e.browser()
	e.signIn(auditor, "auditor@contoso.test")
	if _, ok := e.get(auditor, "/").testid("failing-check"); !ok {
		t.Error("the auditor's home does not show the failing check")
	}
	helpdesk := e.browser()
	e.signIn(helpdesk, "helpdesk@contoso.test")
	if _, ok := e.get(helpdesk, "/").testid("failing-check"); ok {
		t.Error("the helpdesk agent's home shows the check")
	}

	resp, err := e.browser().Get(e.srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ready\nacs: fail\n" {
		t.Errorf("/readyz: %d %q", resp.StatusCode, body)
	}

	// Fixed (the script is spent): the next probe, once the last is old
	// enough, passes, and the banner goes.
	e.clock.Add(homeProbeAge + time.Second)
	if _, ok := e.get(admin, "/").testid("failing-check"); ok {
		t.Error("the banner stayed after ACS let the portal in again")
	}
}
