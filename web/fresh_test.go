package web

import (
	"bytes"
	"context"
	"encoding/gob"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/portal"
)

// The fresh sign-in before the most destructive acts (SECURITY.md,
// "Fresh sign-in"): revoking a resource account, applying a bulk plan that
// revokes.

// formValues are the named inputs and text areas of the form with
// data-testid=id, as a browser would submit them (buttons left out).
func (p page) formValues(id string) url.Values {
	out := url.Values{}
	form := findElement(p.doc, func(n *html.Node) bool { return n.Data == "form" && attr(n, "data-testid") == id })
	if form == nil {
		return nil
	}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && attr(n, "name") != "" {
			switch n.Data {
			case "input":
				out.Add(attr(n, "name"), attr(n, "value"))
			case "textarea":
				text := ""
				if n.FirstChild != nil {
					text = n.FirstChild.Data
				}
				out.Add(attr(n, "name"), text)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(form)
	out.Set("action", attr(form, "action"))
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// submit posts the form with data-testid=id of p, with fields changed,
// to its action.
func (e *portalEnv) submit(c *http.Client, p page, id string, fields url.Values) page {
	e.t.Helper()
	v := p.formValues(id)
	if v == nil {
		e.t.Fatalf("no form %q on %s: %s", id, p.url, p.body)
	}
	action := v.Get("action")
	v.Del("action")
	for k, vs := range fields {
		v[k] = vs
	}
	return e.post(c, action, v)
}

// sessionValues decodes c's stored session.
func (e *portalEnv) sessionValues(c *http.Client) map[any]any {
	e.t.Helper()
	var v map[any]any
	if err := gob.NewDecoder(bytes.NewReader(e.sessionRecord(c).Data)).Decode(&v); err != nil {
		e.t.Fatal(err)
	}
	return v
}

// staleAdmin is the portal with a resource account (room) and a user
// (alice) in the inventory, and Contoso's admin, whose sign-in is now
// eleven minutes old.
func staleAdmin(t *testing.T) (*portalEnv, *http.Client) {
	e := newPortal(t, SessionOptions{})
	e.seedInventory(devidp.ContosoTenant, room, "teamsResourceAccount")
	e.seedInventory(devidp.ContosoTenant, alice, "user", appDesktop)
	c := e.as("admin@contoso.test")
	e.clock.Add(testFreshSignIn + time.Minute)
	return e, c
}

var roomConfirm = "/assignments/" + room.String() + "/delete"

// revokePlan uploads a plan that revokes alice, and returns its address.
func (e *portalEnv) revokePlan(c *http.Client) string {
	e.t.Helper()
	p := e.upload(noFollow(c), "leavers.csv", []byte("objectId,kind,clientIds,action\n"+alice.String()+",,,revoke\n"))
	if p.status != http.StatusSeeOther {
		e.t.Fatalf("upload: %d %s", p.status, p.body)
	}
	return p.header.Get("Location")
}

// A stale session: the confirmations say why and offer to sign in again;
// a POST that comes anyway — plain form, htmx DELETE, bulk apply — is 403
// with the same explanation and what was typed, and changes nothing; each
// refusal is audited as a denial.
func TestStaleSignInIsRefusedAndChangesNothing(t *testing.T) {
	e, c := staleAdmin(t)
	nf := noFollow(c)

	confirm := e.get(c, roomConfirm)
	why, ok := confirm.testid("fresh-signin")
	if confirm.status != http.StatusOK || !ok || !strings.Contains(why, "Confirm it is you: sign in again") || !strings.Contains(why, "10 minutes") {
		t.Fatalf("confirmation: %d %q", confirm.status, why)
	}
	if _, ok := confirm.testid("revoke-submit"); ok {
		t.Error("the stale confirmation still offers to revoke")
	}
	if v := confirm.formValues("revoke-form"); v.Get("action") != "/auth/fresh" || v.Get("return_to") != roomConfirm || v.Get("version") != "1" {
		t.Errorf("the sign-in form: %v", v)
	}

	writes, denials := e.writes(), e.auditCount(portal.ActionDenied)
	for name, p := range map[string]page{
		"plain form": e.post(nf, roomConfirm, url.Values{"version": {"1"}, "justification": {"ticket 42"}}),
		"htmx":       e.do(nf, "DELETE", "/assignments/"+room.String()+"?version=1&justification=ticket+42", nil, http.Header{"Hx-Request": {"true"}}),
	} {
		why, _ := p.testid("fresh-signin")
		if p.status != http.StatusForbidden || !strings.Contains(why, "sign in again") || !strings.Contains(p.body, "ticket 42") || !strings.Contains(p.body, `action="/auth/fresh"`) {
			t.Errorf("%s: %d %q", name, p.status, why)
		}
		if strings.Contains(p.body, "hx-delete") {
			t.Errorf("%s: the refusal still offers an htmx revoke", name)
		}
	}
	if _, held := e.emu.Lookup("127.0.0.1", devidp.ContosoTenant, room); !held || e.writes() != writes || len(e.inventory(devidp.ContosoTenant)) != 2 {
		t.Error("a refused revoke changed ACS or the inventory")
	}
	if got := e.auditCount(portal.ActionDenied); got != denials+2 {
		t.Errorf("denials audited: %d, want %d", got-denials, 2)
	}

	// A user asks nothing, stale or not.
	if confirm := e.get(c, "/assignments/"+alice.String()+"/delete"); !has(confirm, "revoke-submit") || has(confirm, "fresh-signin") {
		t.Error("revoking a user asks for a fresh sign-in")
	}

	// A plan that revokes: the same, and no job.
	planURL := e.revokePlan(c)
	plan := e.get(c, planURL)
	if why, _ := plan.testid("fresh-signin"); !strings.Contains(why, "This plan revokes access for 1 assignment") || has(plan, "apply-submit") {
		t.Errorf("plan: %q", why)
	}
	p := e.post(nf, planURL+"/apply", url.Values{"justification": {"leavers of May"}})
	if why, _ := p.testid("fresh-signin"); p.status != http.StatusForbidden || why == "" || !strings.Contains(p.body, "leavers of May") {
		t.Errorf("apply: %d %q", p.status, why)
	}
	if _, err := e.access.JobForPlan(context.Background(), access.Who{User: portal.User{TenantID: devidp.ContosoTenant, Roles: []portal.Role{portal.RoleAdmin}}}, strings.TrimPrefix(planURL, "/bulk/")); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("a job was queued: %v", err)
	}
	if e.writes() != writes || len(e.inventory(devidp.ContosoTenant)) != 2 {
		t.Error("a refused apply changed something")
	}
}

func has(p page, id string) bool { _, ok := p.testid(id); return ok }

// freshSignIn presses "sign in again" on the page p (whose form is id)
// with fields changed, checks that the portal asks the IdP for a new
// authentication, and returns the IdP's redirect to the callback.
func (e *portalEnv) freshSignIn(c *http.Client, p page, id string, fields url.Values) *url.URL {
	e.t.Helper()
	nf := noFollow(c)
	started := e.submit(nf, p, id, fields)
	if started.status != http.StatusSeeOther {
		e.t.Fatalf("/auth/fresh: %d %s", started.status, started.body)
	}
	authorize, _ := url.Parse(started.header.Get("Location"))
	q := authorize.Query()
	if q.Get("max_age") != strconv.Itoa(int(testFreshSignIn/time.Second)) || q.Get("prompt") != "login" || q.Get("login_hint") != "admin@contoso.test" {
		e.t.Fatalf("the sign-in does not ask for a new authentication: %v", q)
	}
	resp, err := nf.Get(authorize.String())
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	cb, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || cb.Path != "/auth/callback" {
		e.t.Fatalf("the IdP sent the browser to %q", resp.Header.Get("Location"))
	}
	return cb
}

// Signing in again from a confirmation comes back to it with everything
// entered kept, and the act then goes through; its audit rows say when the
// fresh sign-in was. The same for a bulk plan.
func TestFreshSignInReturnsToTheConfirmation(t *testing.T) {
	e, c := staleAdmin(t)
	confirm := e.get(c, roomConfirm)
	cb := e.freshSignIn(c, confirm, "revoke-form", url.Values{"justification": {"ticket 42: number ported"}})
	back := e.get(c, cb.String())
	if back.status != http.StatusOK || back.url.Path != roomConfirm {
		t.Fatalf("after the sign-in: %d at %s", back.status, back.url)
	}
	if v := back.formValues("revoke-form"); v.Get("justification") != "ticket 42: number ported" || v.Get("version") != "1" || v.Get("seen") != confirm.formValues("revoke-form").Get("seen") {
		t.Errorf("what was entered is not kept: %v", v)
	}
	if has(back, "fresh-signin") || !has(back, "revoke-submit") {
		t.Error("still asks for a fresh sign-in")
	}
	if msg, _ := back.testid("flash"); !strings.Contains(msg, "You signed in again") {
		t.Errorf("flash %q", msg)
	}
	done := e.submit(noFollow(c), back, "revoke-form", nil)
	if done.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d %s", done.status, done.body)
	}
	if _, held := e.emu.Lookup("127.0.0.1", devidp.ContosoTenant, room); held {
		t.Error("ACS still holds the resource account")
	}
	var revokes []portal.AuditEvent
	e.db.WalkAudit(context.Background(), portal.GUID{}, func(ev portal.AuditEvent) error {
		if ev.Action == portal.ActionRevoke && ev.ObjectID == room {
			revokes = append(revokes, ev)
		}
		return nil
	})
	want := "signed in afresh at " + e.clock.Now().UTC().Format(portal.AuditTimeFormat)[:16] // to the minute: the sign-in was seconds ago
	if len(revokes) != 2 || !strings.Contains(revokes[0].Detail, want) || revokes[0].Justification != "ticket 42: number ported" {
		t.Errorf("revoke audit rows %+v, want them to note %q", revokes, want)
	}
	if _, ok := e.sessionValues(c)[keyHeld]; ok {
		t.Error("the held confirmation outlives the revoke")
	}

	// A plan that revokes, after the window has passed again.
	e.clock.Add(testFreshSignIn + time.Minute)
	planURL := e.revokePlan(c)
	cb = e.freshSignIn(c, e.get(c, planURL), "apply-form", url.Values{"justification": {"leavers of May"}})
	back = e.get(c, cb.String())
	if back.url.Path != planURL || back.formValues("apply-form").Get("justification") != "leavers of May" || !has(back, "apply-submit") {
		t.Fatalf("back at %s: %v", back.url, back.formValues("apply-form"))
	}
	applied := e.submit(noFollow(c), back, "apply-form", nil)
	if applied.status != http.StatusSeeOther || !strings.HasPrefix(applied.header.Get("Location"), "/bulk/jobs/") {
		t.Fatalf("apply: %d %s", applied.status, applied.body)
	}
	found := false
	e.db.WalkAudit(context.Background(), portal.GUID{}, func(ev portal.AuditEvent) error {
		found = found || ev.Action == portal.ActionBulk && strings.Contains(ev.Detail, "queued") && strings.Contains(ev.Detail, "signed in afresh at")
		return nil
	})
	if !found {
		t.Error("the job's audit row does not note the fresh sign-in")
	}
}

// An IdP that ignores max_age and prompt=login (its auth_time is old), or
// sends no auth_time, does not make a sign-in fresh: the callback refuses
// it as a failed sign-in, back to the confirmation with what was entered
// and why; the session stands, and a revoke is still refused.
func TestIdPIgnoringMaxAgeDoesNotSatisfy(t *testing.T) {
	for _, fault := range []devidp.Fault{devidp.StaleAuthTime, devidp.MissingAuthTime} {
		t.Run(string(fault), func(t *testing.T) {
			e, c := staleAdmin(t)
			failures := e.auditCount(portal.ActionSignInFailure)
			cb := e.freshSignIn(c, e.get(c, roomConfirm), "revoke-form", url.Values{"justification": {"ticket 42"}})
			e.idp.NextTokenFaults(fault)
			back := e.get(c, cb.String())
			if back.url.Path != roomConfirm || back.formValues("revoke-form").Get("justification") != "ticket 42" || !has(back, "fresh-signin") {
				t.Fatalf("after the callback: %s, %v", back.url, back.formValues("revoke-form"))
			}
			if msg, _ := back.testid("flash"); !strings.Contains(msg, "did not ask you to sign in again") {
				t.Errorf("flash %q", msg)
			}
			if got := e.auditCount(portal.ActionSignInFailure); got != failures+1 {
				t.Errorf("sign-in failures audited: %d", got-failures)
			}
			if e.signedInAs(c) == "" {
				t.Error("the session was lost")
			}
			if p := e.submit(noFollow(c), back, "revoke-form", nil); p.status != http.StatusSeeOther {
				// The form goes to /auth/fresh again; a revoke posted
				// directly is refused:
				t.Fatalf("sign in again: %d", p.status)
			}
			if p := e.post(noFollow(c), roomConfirm, url.Values{"version": {"1"}, "justification": {"ticket 42"}}); p.status != http.StatusForbidden {
				t.Errorf("revoke after the stale sign-in: %d", p.status)
			}
			if _, held := e.emu.Lookup("127.0.0.1", devidp.ContosoTenant, room); !held {
				t.Error("ACS lost the resource account")
			}
		})
	}
}

// Someone else answering the fresh sign-in (another account picked at
// Entra) is signed in as themselves, but does not inherit the confirmation:
// they land on the home page, told so, and what was entered is gone.
func TestAnotherPersonDoesNotInheritTheConfirmation(t *testing.T) {
	e, c := staleAdmin(t)
	nf := noFollow(c)
	started := e.submit(nf, e.get(c, roomConfirm), "revoke-form", url.Values{"justification": {"ticket 42"}})
	if _, ok := e.sessionValues(c)[keyHeld]; !ok {
		t.Fatal("nothing held")
	}
	authorize, _ := url.Parse(started.header.Get("Location"))
	resp, err := nf.Get(withQuery(authorize, func(q url.Values) { q.Set("login_hint", "helpdesk@contoso.test") }))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	landed := e.get(c, resp.Header.Get("Location"))
	if landed.url.Path != "/" {
		t.Errorf("landed on %s, want the home page", landed.url)
	}
	if msg, _ := landed.testid("flash"); !strings.Contains(msg, "not as the person who asked") {
		t.Errorf("flash %q", msg)
	}
	if name, _ := landed.testid("user-name"); !strings.Contains(name, "Helpdesk") && !strings.Contains(name, "helpdesk") {
		t.Errorf("signed in as %q", name)
	}
	if _, ok := e.sessionValues(c)[keyHeld]; ok {
		t.Error("the other person's session holds the confirmation")
	}
	if p := e.get(c, roomConfirm); strings.Contains(p.body, "ticket 42") {
		t.Error("the other person sees what was entered")
	}
}

// /auth/fresh takes only local return addresses and bounded fields.
func TestFreshSignInInput(t *testing.T) {
	e, c := staleAdmin(t)
	nf := noFollow(c)
	for name, tc := range map[string]struct {
		form   url.Values
		status int
	}{
		"justification twice": {url.Values{"return_to": {roomConfirm}, "justification": {"a", "b"}}, http.StatusBadRequest},
		"too long":            {url.Values{"return_to": {roomConfirm}, "justification": {strings.Repeat("x", 9000)}}, http.StatusBadRequest},
		"open redirect":       {url.Values{"return_to": {"//evil.example/"}}, http.StatusSeeOther},
	} {
		p := e.post(nf, "/auth/fresh", tc.form)
		if p.status != tc.status {
			t.Errorf("%s: %d, want %d", name, p.status, tc.status)
		}
	}
	if h, _ := e.sessionValues(c)[keyHeld].(heldForm); h.Path != "/" {
		t.Errorf("held for %q, want /", h.Path)
	}
	if p := e.post(noFollow(e.browser()), "/auth/fresh", url.Values{"return_to": {roomConfirm}}); p.status != http.StatusUnauthorized && p.status != http.StatusSeeOther {
		t.Errorf("anonymous: %d", p.status)
	}
}
