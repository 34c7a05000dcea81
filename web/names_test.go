package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/graphemu"
	"github.com/teamsphone/portal/internal/portal"
)

var (
	appNamed   = portal.MustParseGUID("5d3c8f1a-2b4e-4c6d-9e8f-0a1b2c3d4e51") // has a service principal in Contoso
	appOrphan  = portal.MustParseGUID("6e4d9a2b-3c5f-4d7e-8f9a-1b2c3d4e5f62") // has none
	chenGone   = portal.MustParseGUID("8f5eab3c-4d6a-4e8f-9a0b-2c3d4e5f6a73") // deleted from Contoso's directory
	unboundRA  = portal.MustParseGUID("9a6fbc4d-5e7b-4f9a-8b1c-3d4e5f6a7b84") // a resource account of another ACS resource
	mainLineNo = "+14255550100"
)

// withNamedDirectory fills the Graph emulator's Contoso with the people,
// resource accounts and apps the names tests show.
func withNamedDirectory(emu *graphemu.Emulator) {
	emu.AddResourceAccount(devidp.ContosoTenant, graphemu.ResourceAccount{ID: room, DisplayName: "Main line", UserPrincipalName: "mainline@contoso.test",
		AppID: appDesktop, PhoneNumber: "tel:" + mainLineNo, ACSResourceID: testACSResourceID})
	emu.AddResourceAccount(devidp.ContosoTenant, graphemu.ResourceAccount{ID: unboundRA, DisplayName: "Other line", UserPrincipalName: "other@contoso.test",
		AppID: appDesktop, PhoneNumber: "tel:+14255550199", ACSResourceID: "11111111-2222-4333-8444-555555555555"})
	emu.AddUser(devidp.ContosoTenant, graphemu.User{ID: chenGone, DisplayName: "Chen Wei", UserPrincipalName: "chen@contoso.test", Deleted: true})
	emu.AddServicePrincipal(devidp.ContosoTenant, graphemu.ServicePrincipal{ID: portal.MustParseGUID("0b7c8d9e-6f1a-4b2c-9d3e-4f5a6b7c8d95"), AppID: appNamed, DisplayName: "Fabulous Dialer"})
	emu.AddServicePrincipal(devidp.ContosoTenant, graphemu.ServicePrincipal{ID: portal.MustParseGUID("1c8d9e0f-7a2b-4c3d-8e4f-5a6b7c8d9ea6"), AppID: appDesktop, DisplayName: "Agent Desktop (Graph)"})
}

// Auditors read names, not GUIDs, wherever an object ID appears: list,
// detail, audit, drift, exports; deleted people and apps without a service
// principal are flagged; names are searchable; display names with markup
// are text; and a tenant never sees another's names.
func TestNamesWhereIDsAppear(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	_, emu := e.withGraph()
	withNamedDirectory(emu)
	admin := noFollow(e.as("admin@contoso.test"))
	for _, g := range []url.Values{
		{"objectId": {alice.String()}, "kind": {"user"}, "clientId": {appDesktop.String(), appNamed.String() + "\n" + appOrphan.String()}},
		{"objectId": {carolID.String()}, "kind": {"user"}, "clientId": {appDesktop.String()}},
		// Not in the directory: granted only when confirmed.
		{"objectId": {chenGone.String()}, "kind": {"user"}, "clientId": {appDesktop.String()}, "confirmAbsent": {chenGone.String()}},
		{"objectId": {room.String()}, "kind": {"resourceAccount"}},
		// Bob is a person of Fabrikam ("Alice Fabrikam"): in Contoso's
		// directory he is nobody.
		{"objectId": {bob.String()}, "kind": {"user"}, "clientId": {appDesktop.String()}, "confirmAbsent": {bob.String()}},
	} {
		if p := e.post(admin, "/assignments", g); p.status != http.StatusSeeOther {
			t.Fatalf("grant %s: %d %s", g.Get("objectId"), p.status, p.body)
		}
	}

	// The admin's list asks Graph for the names, and, being a Teams admin,
	// for the resource accounts' numbers; the auditor reads them from the
	// cache.
	e.get(admin, "/assignments")
	auditor := noFollow(e.as("auditor@contoso.test"))
	list := e.get(auditor, "/assignments")
	for _, want := range []string{"Alice Smith", "alice@contoso.test", "Main line", mainLineNo} {
		if !strings.Contains(list.body, want) {
			t.Errorf("the list lacks %q", want)
		}
	}
	if strings.Contains(list.body, "<script>alert(1)") || !strings.Contains(list.body, "Alina &lt;script&gt;") {
		t.Error("a display name's markup was not rendered as text")
	}
	if strings.Contains(list.body, "Alice Fabrikam") {
		t.Error("Contoso's list shows a Fabrikam name")
	}
	if n := strings.Count(list.body, `data-testid="principal-deleted"`); n != 2 {
		t.Errorf("%d rows flagged not in directory, want 2 (Chen Wei deleted, Bob of another tenant)", n)
	}
	if strings.Contains(list.body, "Chen Wei") {
		t.Error("a deleted person's old name is shown")
	}
	// Apps: the operator's name, the service principal's, and a flag.
	if !strings.Contains(list.body, "Fabulous Dialer") || strings.Count(list.body, `data-testid="no-service-principal"`) != 1 {
		t.Errorf("app names: Fabulous Dialer shown %v, flags %d", strings.Contains(list.body, "Fabulous Dialer"), strings.Count(list.body, `data-testid="no-service-principal"`))
	}
	assertNoncedHX(t, "list with names", list)

	// Searchable by name and user name (names reach the list's search
	// within a second).
	e.clock.Add(time.Second)
	for q, want := range map[string]portal.GUID{"alice smith": alice, "mainline@": room, "alina <script>": carolID} {
		res := e.get(auditor, "/assignments?"+url.Values{"q": {q}}.Encode())
		if n := strings.Count(res.body, `data-testid="assignment-row"`); n != 1 || !strings.Contains(res.body, `data-object-id="`+want.String()+`"`) {
			t.Errorf("search %q: %d rows", q, n)
		}
	}

	// Detail, audit and exports.
	if d := e.get(auditor, "/assignments/"+room.String()); !strings.Contains(d.body, mainLineNo) || !strings.Contains(d.body, "Main line") {
		t.Error("the resource account's page lacks its name or number")
	}
	audit := e.get(auditor, "/audit")
	if !strings.Contains(audit.body, "Alice Smith") || !strings.Contains(audit.body, "Main line") {
		t.Error("the audit log does not name its targets")
	}
	byName := e.get(auditor, "/audit?"+url.Values{"target": {"alice smith"}}.Encode())
	if byName.status != 200 || strings.Count(byName.body, `data-testid="history-row"`) == 0 || strings.Contains(byName.body, carolID.String()) {
		t.Errorf("audit by target name: %d, %d rows", byName.status, strings.Count(byName.body, `data-testid="history-row"`))
	}
	several := e.get(auditor, "/audit?"+url.Values{"target": {"ali"}}.Encode())
	if c, _ := several.testid("audit-candidates"); !strings.Contains(c, "Alice Smith") || !strings.Contains(c, "Alina") {
		t.Errorf("a name matching two people: candidates %q", c)
	}
	if p := e.get(auditor, "/audit?"+url.Values{"target": {"nobody here"}}.Encode()); p.status != http.StatusBadRequest {
		t.Errorf("an unknown target name: %d", p.status)
	}
	csv := e.get(auditor, "/assignments.csv").body
	if !strings.Contains(csv, "displayName,userPrincipalName,phoneNumber,inDirectory") || !strings.Contains(csv, "Alice Smith,alice@contoso.test,,yes") ||
		!strings.Contains(csv, "Main line,mainline@contoso.test,'"+mainLineNo+",yes") || !strings.Contains(csv, ",,,no,") ||
		!strings.Contains(csv, "(no service principal)") {
		t.Errorf("assignments.csv names:\n%s", csv)
	}
	if a := e.get(auditor, "/audit.csv").body; !strings.Contains(a, "objectDisplayName") || !strings.Contains(a, "Alice Smith,alice@contoso.test") {
		t.Error("audit.csv does not name its objects")
	}

	// Revoking the resource account names its number.
	if c, _ := e.get(admin, "/assignments/"+room.String()+"/delete").testid("revoke-phone"); c != mainLineNo {
		t.Errorf("revoke confirmation phone = %q", c)
	}

	// Fabrikam sees its own names only: Bob is Alice Fabrikam there.
	fab := noFollow(e.as("admin@fabrikam.test"))
	if p := e.post(fab, "/assignments", url.Values{"objectId": {bob.String()}, "kind": {"user"}, "clientId": {appDesktop.String()}}); p.status != http.StatusSeeOther {
		t.Fatalf("Fabrikam grant: %d", p.status)
	}
	fl := e.get(fab, "/assignments")
	if !strings.Contains(fl.body, "Alice Fabrikam") || strings.Contains(fl.body, "Alice Smith") || strings.Contains(fl.body, "Main line") {
		t.Error("Fabrikam's list shows another tenant's names, or not its own")
	}
	// Fabrikam has not consented to app names: said once, then IDs quietly.
	if note, _ := fl.testid("names-note"); !strings.Contains(note, "consented") {
		t.Errorf("Fabrikam's note on app names: %q", note)
	}
	if note, _ := e.get(fab, "/assignments/"+bob.String()).testid("names-note"); note != "" {
		t.Errorf("the refusal is repeated on every page: %q", note)
	}
}

// Graph failing — throttled, no consent, down — leaves pages on IDs with
// a reason, stops asking while throttled, and never blocks a grant.
func TestNamesWhenGraphFails(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	_, emu := e.withGraph()
	helpdesk := noFollow(e.as("helpdesk@contoso.test"))

	emu.SetRates(acsemu.Rates{Throttle: 1, RetryAfter: "60"})
	grant := url.Values{"objectId": {alice.String()}, "kind": {"user"}, "clientId": {appDesktop.String()}}
	if p := e.post(helpdesk, "/assignments", grant); p.status != http.StatusSeeOther {
		t.Fatalf("a grant with Graph throttled: %d %s", p.status, p.body)
	}
	list := e.get(helpdesk, "/assignments")
	note, _ := list.testid("names-note")
	if !strings.Contains(note, "slow down") || !strings.Contains(list.body, alice.String()) || strings.Contains(list.body, "Alice Smith") {
		t.Errorf("throttled: note %q", note)
	}
	// Reloading the list says it again (a reused rendering has no note).
	if note, _ := e.get(helpdesk, "/assignments").testid("names-note"); !strings.Contains(note, "slow down") {
		t.Errorf("the list reloaded while throttled: note %q", note)
	}
	asked := len(emu.Requests())
	e.get(helpdesk, "/assignments/"+alice.String())
	finder := e.get(helpdesk, "/assignments/new?find=alice")
	if n := len(emu.Requests()); n != asked {
		t.Errorf("Graph asked %d more times while it asked the portal to wait", n-asked)
	}
	if msg, _ := finder.testid("people-message"); !strings.Contains(msg, "slow down") {
		t.Errorf("the people finder while throttled: %q", msg)
	}
	// The wait counts down.
	e.clock.Add(20 * time.Second)
	if note, _ := e.get(helpdesk, "/assignments/"+alice.String()).testid("names-note"); !strings.Contains(note, "back in 40s") {
		t.Errorf("20 s into a 60 s wait: %q", note)
	}
	// Once the wait is over, names come.
	emu.SetRates(acsemu.Rates{})
	e.clock.Add(41 * time.Second)
	if d := e.get(helpdesk, "/assignments/"+alice.String()); !strings.Contains(d.body, "Alice Smith") {
		t.Error("no name after Graph recovered")
	}
	if l := e.get(helpdesk, "/assignments"); !strings.Contains(l.body, "Alice Smith") {
		t.Error("the list shows no name after Graph recovered")
	}

	// No consent (403) and Graph down (503): a reason, IDs, a working revoke.
	for _, status := range []int{http.StatusForbidden, http.StatusServiceUnavailable} {
		emu.SetRates(acsemu.Rates{})
		emu.Script(acsemu.Fault{Status: status}, acsemu.Fault{Status: status}, acsemu.Fault{Status: status})
		id := portal.MustParseGUID("3c2b1a09-8f7e-4d6c-9b5a-" + strings.Repeat("0", 9) + map[int]string{403: "403", 503: "503"}[status])
		if p := e.post(helpdesk, "/assignments", url.Values{"objectId": {id.String()}, "kind": {"user"}, "clientId": {appDesktop.String()}}); p.status != http.StatusSeeOther {
			t.Fatalf("grant with Graph %d: %d", status, p.status)
		}
		d := e.get(helpdesk, "/assignments/"+id.String())
		if note, _ := d.testid("names-note"); note == "" || strings.Contains(d.body, `data-testid="principal-deleted"`) {
			t.Errorf("Graph %d: note %q; flagged deleted %v", status, note, strings.Contains(d.body, `data-testid="principal-deleted"`))
		}
		if p := e.post(helpdesk, "/assignments/"+id.String()+"/delete", url.Values{"version": {"1"}}); p.status != http.StatusSeeOther {
			t.Errorf("revoke with Graph %d: %d %s", status, p.status, p.body)
		}
	}
}

// "Refresh names" asks Graph again at once: a person deleted since is
// flagged without waiting a day.
func TestRefreshNamesOnDemand(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	_, emu := e.withGraph()
	auditor := e.as("auditor@contoso.test")
	admin := noFollow(e.as("admin@contoso.test"))
	if p := e.post(admin, "/assignments", url.Values{"objectId": {alice.String()}, "kind": {"user"}, "clientId": {appDesktop.String()}}); p.status != http.StatusSeeOther {
		t.Fatalf("grant: %d", p.status)
	}
	if l := e.get(auditor, "/assignments"); !strings.Contains(l.body, "Alice Smith") {
		t.Fatal("no name before the refresh")
	}
	emu.DeleteUser(devidp.ContosoTenant, alice)
	if l := e.get(auditor, "/assignments"); !strings.Contains(l.body, "Alice Smith") {
		t.Fatal("the cached name should still show until a refresh")
	}
	// Auditors press nothing: no button, and the route refuses them.
	if l := e.get(auditor, "/assignments"); l.byTestID("refresh-names") != nil {
		t.Error("an auditor is offered Refresh names")
	}
	if p := e.post(noFollow(auditor), "/names/refresh", url.Values{}); p.status != http.StatusForbidden {
		t.Errorf("an auditor's refresh: %d", p.status)
	}
	helpdesk := e.as("helpdesk@contoso.test")
	if l := e.get(helpdesk, "/assignments"); l.byTestID("refresh-names") == nil {
		t.Error("helpdesk is not offered Refresh names")
	}
	p := e.post(helpdesk, "/names/refresh", url.Values{})
	if f, _ := p.testid("flash"); !strings.Contains(f, "No longer in the directory: 1") {
		t.Errorf("refresh flash %q", f)
	}
	if l := e.get(auditor, "/assignments"); strings.Contains(l.body, "Alice Smith") || !strings.Contains(l.body, `data-testid="principal-deleted"`) {
		t.Error("after the refresh, the deleted person is not flagged")
	}
}

// Admins pick a resource account bound to this ACS resource, with its
// number, and the grant form is filled in; others are not offered it.
func TestResourceAccountPicker(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	_, emu := e.withGraph()
	withNamedDirectory(emu)
	admin := noFollow(e.as("admin@contoso.test"))

	form := e.get(admin, "/assignments/new")
	if _, ok := form.testid("account-picker"); !ok {
		t.Fatal("no resource-account picker for an admin")
	}
	listed := e.get(admin, "/assignments/new?accounts=1")
	res, _ := listed.testid("account-results")
	if !strings.Contains(res, "Main line") || !strings.Contains(res, mainLineNo) || strings.Contains(res, "Other line") {
		t.Errorf("accounts listed: %q", res)
	}
	assertNoncedHX(t, "grant form with resource accounts", listed)
	frag := e.do(admin, "GET", "/resource-accounts", nil, http.Header{"HX-Request": {"true"}})
	if frag.status != 200 || !strings.Contains(frag.body, "Main line") || strings.Contains(frag.body, "<html") {
		t.Errorf("/resource-accounts fragment: %d", frag.status)
	}
	// Choosing it fills the form as a resource account.
	href := "/assignments/new?" + url.Values{"kind": {"resourceAccount"}, "label": {"Main line"}, "objectId": {room.String()}}.Encode()
	if !strings.Contains(listed.body, strings.ReplaceAll(href, "&", "&amp;")) {
		t.Fatalf("no link to %s", href)
	}
	filled := e.get(admin, href)
	if !strings.Contains(filled.body, `value="`+room.String()+`"`) || !strings.Contains(filled.body, `value="resourceAccount" checked`) {
		t.Error("the grant form is not filled in as a resource account")
	}

	// Helpdesk and auditors are not offered it, and may not ask.
	hd := noFollow(e.as("helpdesk@contoso.test"))
	if _, ok := e.get(hd, "/assignments/new").testid("account-picker"); ok {
		t.Error("helpdesk is offered resource accounts")
	}
	if p := e.get(hd, "/resource-accounts"); p.status != http.StatusForbidden {
		t.Errorf("helpdesk /resource-accounts: %d", p.status)
	}

	// Graph refusing (no consent, not a Teams admin): a reason, the form.
	emu.Script(acsemu.Fault{Status: http.StatusForbidden})
	p := e.get(admin, "/assignments/new?accounts=1")
	if msg, _ := p.testid("accounts-message"); !strings.Contains(msg, "Type the object ID") {
		t.Errorf("Graph refusing: %q", msg)
	}
	if _, ok := p.testid("grant-form"); !ok {
		t.Error("the grant form is gone when Graph refuses")
	}
}
