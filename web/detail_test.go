package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/portal"
)

// A typo'd object ID looks like a grant to ACS, which takes any GUID: the
// form flags an ID the directory does not have, telling a typo from a
// person who has left, and grants only after "Grant anyway" for that very
// ID; the server refuses without it and changes nothing. When Graph
// cannot be asked, the grant goes on and says the ID went unchecked.
func TestGrantToObjectNotInDirectory(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	_, emu := e.withGraph()
	withNamedDirectory(emu)
	helpdesk := noFollow(e.as("helpdesk@contoso.test"))
	admin := noFollow(e.as("admin@contoso.test"))
	typo := portal.MustParseGUID("e5b7f628-ea94-4fdc-b3d9-1af1fe231112") // Alice's, one digit off
	grant := func(id portal.GUID, confirm string) url.Values {
		v := url.Values{"objectId": {id.String()}, "kind": {"user"}, "clientId": {appDesktop.String()}, "justification": {"new agent"}}
		if confirm != "" {
			v.Set("confirmAbsent", confirm)
		}
		return v
	}

	// Never found: refused with the warning, nothing written.
	p := e.post(helpdesk, "/assignments", grant(typo, ""))
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("a typo: %d, want 422", p.status)
	}
	if w, _ := p.testid("absent-warning"); p.attr("absent-warning", "data-presence") != "neverFound" || !strings.Contains(w, "Nobody in your directory has this object ID") || !strings.Contains(w, "Grant anyway") {
		t.Errorf("a typo's warning (%s): %q", p.attr("absent-warning", "data-presence"), w)
	}
	if p.attr("confirm-absent", "value") != typo.String() || !hasAttr(p.byTestID("confirm-absent"), "required") {
		t.Errorf("the confirmation: value %q, required %v", p.attr("confirm-absent", "value"), hasAttr(p.byTestID("confirm-absent"), "required"))
	}
	if v := p.attr("objectId", "value"); v != typo.String() {
		t.Errorf("the form lost what was typed: %q", v)
	}
	// A confirmation of another ID confirms nothing.
	if p := e.post(helpdesk, "/assignments", grant(typo, alice.String())); p.status != http.StatusUnprocessableEntity {
		t.Errorf("confirmed for another ID: %d", p.status)
	}
	if e.writes() != 0 || len(e.inventory(devidp.ContosoTenant)) != 0 {
		t.Fatalf("refused grants changed something: %d writes, %d rows", e.writes(), len(e.inventory(devidp.ContosoTenant)))
	}
	// With htmx: the form alone, with the warning.
	frag := e.do(helpdesk, "POST", "/assignments", strings.NewReader(grant(typo, "").Encode()), http.Header{
		"Content-Type": {"application/x-www-form-urlencoded"}, "HX-Request": {"true"}, "HX-Request-Type": {"partial"}})
	if frag.status != http.StatusUnprocessableEntity || strings.Contains(frag.body, "<html") || !strings.Contains(frag.body, `data-testid="absent-warning"`) {
		t.Errorf("htmx: %d %q", frag.status, frag.body)
	}
	// Confirmed: granted, and the audit log says it was confirmed.
	if p := e.post(helpdesk, "/assignments", grant(typo, strings.ToUpper(typo.String()))); p.status != http.StatusSeeOther {
		t.Fatalf("confirmed: %d %s", p.status, p.body)
	}
	hist, err := e.access.History(context.Background(), contosoReader, typo, 10)
	if err != nil || len(hist.Events) == 0 || !strings.Contains(hist.Events[0].Detail, "directory does not have this object, confirmed") {
		t.Errorf("the grant's audit rows do not say it was confirmed: %+v %v", hist.Events, err)
	}

	// Found: granted at once; her page names her.
	if p := e.post(admin, "/assignments", grant(alice, "")); p.status != http.StatusSeeOther {
		t.Fatalf("a person of the directory: %d %s", p.status, p.body)
	}
	if n, _ := e.get(admin, "/assignments/"+alice.String()).testid("detail-name"); !strings.Contains(n, "Alice Smith") {
		t.Fatalf("her page: %q", n)
	}
	// Gone: Alice leaves; Refresh names notices (her last name is kept);
	// her access is revoked; granting her again says she was there.
	emu.DeleteUser(devidp.ContosoTenant, alice)
	if p := e.post(admin, "/names/refresh", url.Values{}); p.status != http.StatusSeeOther {
		t.Fatalf("refresh: %d", p.status)
	}
	it, _ := e.access.Item(context.Background(), contosoReader, alice)
	if p := e.post(admin, "/assignments/"+alice.String()+"/delete", url.Values{"version": {strconv.FormatInt(it.Version, 10)}, "justification": {"left"}}); p.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d %s", p.status, p.body)
	}
	p = e.post(admin, "/assignments", grant(alice, ""))
	if w, _ := p.testid("absent-warning"); p.status != http.StatusUnprocessableEntity || p.attr("absent-warning", "data-presence") != "gone" ||
		!strings.Contains(w, "has left your directory") || !strings.Contains(w, "Alice Smith") {
		t.Errorf("a person who has left: %d %s %q", p.status, p.attr("absent-warning", "data-presence"), w)
	}

	// Graph refuses (not consented): unknown, never a reason to refuse.
	emu.Withhold(devidp.ContosoTenant, "User.ReadBasic.All")
	other := portal.MustParseGUID("0d1e2f3a-4b5c-4d6e-8f7a-8b9c0d1e2f3a")
	p = e.post(helpdesk, "/assignments", grant(other, ""))
	if p.status != http.StatusSeeOther {
		t.Fatalf("Graph refusing: %d %s", p.status, p.body)
	}
	if f := e.get(helpdesk, p.header.Get("Location")).testids("flash"); !strings.Contains(f[len(f)-1], "Access granted to user "+other.String()) || !strings.Contains(f[len(f)-1], "Whether the directory has this object is unknown") {
		t.Errorf("Graph refusing, the flash: %q", f)
	}
}

// contosoReader is how tests read what they did, as an admin of Contoso.
var contosoReader = access.Who{User: portal.User{TenantID: devidp.ContosoTenant, Roles: []portal.Role{portal.RoleAdmin}}}
