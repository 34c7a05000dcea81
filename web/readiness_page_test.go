package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/testwait"
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

// The home page sums up the tenant's checks as last run without waiting
// for them (they read Graph, which may take seconds): a visit starts a run
// off the request when there is none or it is stale, and a later visit
// shows its results.
func TestHomeSumsUpReadiness(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	admin := e.browser()
	e.signIn(admin, "admin@contoso.test") // lands on the home page
	var failing string
	testwait.For(t, "the home page to show the run it started", func() bool {
		failing, _ = e.get(admin, "/").testid("home-readiness-failing")
		return failing != ""
	})
	if !strings.Contains(failing, "People with access can use it — Unknown") {
		t.Errorf("after a run: %q", failing)
	}
	helpdesk := e.browser()
	e.signIn(helpdesk, "helpdesk@contoso.test")
	if _, ok := e.get(helpdesk, "/").testid("home-readiness"); ok {
		t.Error("the helpdesk agent's home sums up readiness")
	}
}

// An assignment's page loads its own chain after itself (htmx), and links
// to it as a page without JavaScript; another tenant's is not found.
func TestAssignmentReadiness(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	e.seedInventory(devidp.ContosoTenant, alice, "user", appDesktop)
	helpdesk := e.browser()
	e.signIn(helpdesk, "helpdesk@contoso.test")
	p := e.get(helpdesk, "/assignments/"+alice.String())
	if _, ok := p.testid("assignment-readiness-link"); !ok || !strings.Contains(p.body, `hx-get="/assignments/`+alice.String()+`/readiness"`) {
		t.Fatalf("the assignment page has no readiness section:\n%.3000s", p.body)
	}
	page := e.get(helpdesk, "/assignments/"+alice.String()+"/readiness")
	if page.status != 200 || !strings.Contains(page.body, `data-check="acs-access" data-state="pass"`) ||
		!strings.Contains(page.body, `data-check="object" data-state="unknown"`) || !strings.Contains(page.body, "<html") {
		t.Errorf("as a page: %d\n%.3000s", page.status, page.body)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/assignments/"+alice.String()+"/readiness", nil)
	req.Header.Set("HX-Request", "true")
	req.Header.Set("HX-Request-Type", "partial")
	resp, err := helpdesk.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	frag := readPage(t, resp)
	if frag.status != 200 || strings.Contains(frag.body, "<nav") || !strings.Contains(frag.body, `data-loaded="true"`) {
		t.Errorf("as a fragment: %d\n%.2000s", frag.status, frag.body)
	}
	fab := e.browser()
	e.signIn(fab, "admin@fabrikam.test")
	if p := e.get(fab, "/assignments/"+alice.String()+"/readiness"); p.status != 404 {
		t.Errorf("Fabrikam reading Contoso's: %d", p.status)
	}
}

// With the checks run, the list filters the assignments that cannot work
// and counts them, and the export says ready and why for each; here ACS
// refuses the portal, so none can.
func TestNotReadyFilterAndExport(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	e.seedInventory(devidp.ContosoTenant, alice, "user", appDesktop)
	e.seedInventory(devidp.ContosoTenant, room, "teamsResourceAccount")
	auditor := e.browser()
	e.signIn(auditor, "auditor@contoso.test")
	if p := e.get(auditor, "/assignments?ready=maybe"); p.status != 400 {
		t.Errorf("a bad filter value: %d", p.status)
	}
	e.emu.Script(acsemu.Fault{Status: 403, Code: "AuthorizationFailed"})
	if resp, err := auditor.PostForm(e.srv.URL+"/readiness", url.Values{}); err != nil || resp.StatusCode != 200 { // check again
		t.Fatalf("check again: %v", err)
	} else {
		resp.Body.Close()
	}
	if p := e.get(auditor, "/readiness"); !strings.Contains(p.body, `data-check="acs-access" data-state="fail"`) {
		i := strings.Index(p.body, `data-check="acs-access"`)
		t.Fatalf("the probe did not see the refusal:\n%.600s", p.body[max(i, 0):])
	}
	list := e.get(auditor, "/assignments")
	if sel, _ := list.testid("filter-ready"); !strings.Contains(sel, "Not ready (2)") {
		t.Errorf("the filter: %q", sel)
	}
	if p := e.get(auditor, "/assignments?ready=no"); strings.Count(p.body, `data-testid="assignment-row"`) != 2 {
		t.Errorf("not ready: %d rows", strings.Count(p.body, `data-testid="assignment-row"`))
	}
	csv := e.get(auditor, "/assignments.csv").body
	if !strings.Contains(strings.SplitN(csv, "\n", 2)[0], ",ready,readinessReasons") ||
		!strings.Contains(csv, `,no,"The portal can call the ACS API: no. ACS refused the portal (HTTP 403 AuthorizationFailed)`) {
		t.Errorf("export:\n%s", csv)
	}
}
