package web

import (
	"net/url"
	"strings"
	"testing"
)

// The readiness page: admins and auditors read every check; helpdesk
// agents may not; "Check again" runs them now. Without Graph (this
// harness has none), the checks that need it say unknown and why, never
// fail or pass.
func TestReadinessPage(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	admin := e.browser()
	e.signIn(admin, "admin@contoso.test")
	p := e.get(admin, "/readiness")
	if p.status != 200 {
		t.Fatalf("admin: %d", p.status)
	}
	if !strings.Contains(p.body, `data-check="acs-access" data-state="pass"`) || !strings.Contains(p.body, `data-check="people" data-state="unknown"`) ||
		!strings.Contains(p.body, "PORTAL_GRAPH") || strings.Contains(p.body, `data-state="fail"`) {
		t.Errorf("admin's page:\n%.3000s", p.body)
	}
	if sum, _ := p.testid("readiness-summary"); !strings.Contains(sum, "1 of 5 checks pass") {
		t.Errorf("summary %q", sum)
	}
	auditor := e.browser()
	e.signIn(auditor, "auditor@contoso.test")
	if p := e.get(auditor, "/readiness"); p.status != 200 {
		t.Errorf("auditor: %d", p.status)
	}
	resp, err := auditor.PostForm(e.srv.URL+"/readiness", url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	if got := readPage(t, resp); got.status != 200 || !strings.Contains(got.body, `data-testid="check-again"`) {
		t.Errorf("check again: %d", got.status)
	}
	helpdesk := e.browser()
	e.signIn(helpdesk, "helpdesk@contoso.test")
	if p := e.get(helpdesk, "/readiness"); p.status != 403 {
		t.Errorf("helpdesk: %d, want 403", p.status)
	}
}

// The home page sums up the tenant's checks as last run, without running
// them (they read Graph, which may take seconds).
func TestHomeSumsUpReadiness(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	admin := e.browser()
	e.signIn(admin, "admin@contoso.test")
	if s, _ := e.get(admin, "/").testid("home-readiness"); !strings.Contains(s, "has not been checked lately") {
		t.Errorf("before any run: %q", s)
	}
	e.get(admin, "/readiness")
	failing, _ := e.get(admin, "/").testid("home-readiness-failing")
	if !strings.Contains(failing, "People with access can use it — Unknown") {
		t.Errorf("after a run: %q", failing)
	}
	helpdesk := e.browser()
	e.signIn(helpdesk, "helpdesk@contoso.test")
	if _, ok := e.get(helpdesk, "/").testid("home-readiness"); ok {
		t.Error("the helpdesk agent's home sums up readiness")
	}
}
