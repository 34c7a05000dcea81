package web

import (
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/portal"
)

var (
	alice = portal.MustParseGUID("e5b7f628-ea94-4fdc-b3d9-1af1fe231111")
	bob   = portal.MustParseGUID("4b7f3b1e-2f0c-4e6a-9d0c-5a1b2c3d4e01")
	room  = portal.MustParseGUID("2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c03")
)

func (e *portalEnv) post(c *http.Client, path string, form url.Values) page {
	e.t.Helper()
	resp, err := c.PostForm(e.srv.URL+path, form)
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	return readPage(e.t, resp)
}

func (e *portalEnv) do(c *http.Client, method, path string, body io.Reader, header http.Header) page {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, body)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return readPage(e.t, resp)
}

// as returns a browser signed in as persona.
func (e *portalEnv) as(persona string) *http.Client {
	e.t.Helper()
	c := e.browser()
	e.signIn(c, persona)
	if e.signedInAs(c) == "" && persona != "norole@contoso.test" {
		e.t.Fatalf("%s did not sign in", persona)
	}
	return c
}

// seedACS puts an assignment in ACS only, as if made outside the portal.
func (e *portalEnv) seedACS(tenant portal.GUID, object portal.GUID, spelling string, apps ...portal.GUID) {
	e.t.Helper()
	var ids []string
	for _, a := range apps {
		ids = append(ids, a.String())
	}
	if err := e.emu.Seed(acsemu.Stored{Host: "127.0.0.1", TenantID: tenant, ObjectID: object, PrincipalType: spelling, ClientIDs: ids}); err != nil {
		e.t.Fatal(err)
	}
}

// seedInventory puts assignments in ACS and adopts them, as an admin would.
func (e *portalEnv) seedInventory(tenant portal.GUID, object portal.GUID, spelling string, apps ...portal.GUID) {
	e.t.Helper()
	e.seedACS(tenant, object, spelling, apps...)
	c := e.as(map[portal.GUID]string{devidp.ContosoTenant: "admin@contoso.test", devidp.FabrikamTenant: "admin@fabrikam.test"}[tenant])
	if p := e.post(noFollow(c), "/assignments/"+object.String()+"/adopt", url.Values{"label": {"seed"}}); p.status != http.StatusSeeOther {
		e.t.Fatalf("adopt: %d %s", p.status, p.body)
	}
}

func (e *portalEnv) writes() int {
	n := 0
	for _, r := range e.emu.Requests() {
		if r.Method == http.MethodPut || r.Method == http.MethodDelete {
			n++
		}
	}
	return n
}

func (e *portalEnv) inventory(tenant portal.GUID) []portal.InventoryItem {
	var out []portal.InventoryItem
	e.db.AllItems(context.Background(), tenant, func(it portal.InventoryItem) error {
		out = append(out, it)
		return nil
	})
	return out
}

// SECURITY.md, P0-5 (Deny by default) and the role table: route × persona →
// status.
func TestRoutesByRole(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	e.seedInventory(devidp.ContosoTenant, alice, "user", appDesktop)
	e.seedInventory(devidp.ContosoTenant, room, "teamsResourceAccount")
	e.emu.Seed(acsemu.Stored{Host: "127.0.0.1", TenantID: devidp.ContosoTenant, ObjectID: bob, PrincipalType: "user", ClientIDs: []string{appMobile.String()}})

	a, r := alice.String(), room.String()
	type call struct {
		method, path string
		form         url.Values
	}
	// The same apps and label as now: a no-op, so the order of personas
	// does not matter.
	edit := url.Values{"version": {"1"}, "clientId": {appDesktop.String()}, "label": {"seed"}}
	routes := []call{
		{"GET", "/assignments", nil},
		{"GET", "/assignments/" + a, nil},
		{"GET", "/lookup?objectId=" + bob.String(), nil},
		{"GET", "/assignments/new", nil},
		{"GET", "/audit", nil},
		{"GET", "/audit.csv", nil},
		{"GET", "/assignments.csv", nil},
		{"GET", "/assignments/" + r + "/delete", nil},
		{"POST", "/assignments/" + a, edit},
		{"POST", "/assignments/" + r + "/verify", url.Values{}},
	}
	want := map[string][]int{
		"admin@contoso.test":    {200, 200, 200, 200, 200, 200, 200, 200, 303, 303},
		"helpdesk@contoso.test": {200, 200, 200, 200, 403, 403, 403, 403, 303, 403},
		"auditor@contoso.test":  {200, 200, 200, 403, 200, 200, 200, 403, 403, 403},
		"norole@contoso.test":   {403, 403, 403, 403, 403, 403, 403, 403, 403, 403},
	}
	for persona, statuses := range want {
		c := noFollow(e.as(persona))
		for i, rt := range routes {
			var p page
			if rt.method == "GET" {
				p = e.get(c, rt.path)
			} else {
				p = e.post(c, rt.path, rt.form)
			}
			if p.status != statuses[i] {
				t.Errorf("%s %s %s: %d, want %d", persona, rt.method, rt.path, p.status, statuses[i])
			}
		}
	}
	// Signed out: GETs go to sign-in, POSTs are refused.
	anon := noFollow(e.browser())
	for _, rt := range routes {
		var p page
		if rt.method == "GET" {
			p = e.get(anon, rt.path)
			if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/auth/login?return_to=") {
				t.Errorf("anonymous GET %s: %d %s", rt.path, p.status, p.header.Get("Location"))
			}
		} else if p = e.post(anon, rt.path, rt.form); p.status != http.StatusUnauthorized {
			t.Errorf("anonymous POST %s: %d", rt.path, p.status)
		}
	}
	// Every refusal of a signed-in person is audited.
	var denials int
	e.db.WalkAudit(context.Background(), portal.GUID{}, func(ev portal.AuditEvent) error {
		if ev.Action == portal.ActionDenied {
			denials++
		}
		return nil
	})
	// helpdesk 5 (three audit routes, the resource account's revoke page
	// and verify), auditor 4, norole 10.
	if denials != 5+4+10 {
		t.Errorf("%d denials audited", denials)
	}
}

// The whole admin job through plain forms: grant, edit, verify, revoke.
func TestAdminJobWithPlainForms(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	c := e.as("admin@contoso.test")
	nf := noFollow(c)

	p := e.post(nf, "/assignments", url.Values{"objectId": {strings.ToUpper(alice.String())}, "kind": {"user"},
		"clientId": {appDesktop.String(), "  "}, "label": {"Alice Smith"}, "justification": {"INC-1"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/assignments/"+alice.String() {
		t.Fatalf("grant: %d %s", p.status, p.header.Get("Location"))
	}
	detail := e.get(c, "/assignments/"+alice.String())
	if msg, _ := detail.testid("flash"); !strings.Contains(msg, "Access granted") {
		t.Errorf("flash = %q", msg)
	}
	if label, _ := detail.testid("detail-label"); label != "Alice Smith" {
		t.Errorf("label = %q", label)
	}
	if apps, _ := detail.testid("detail-apps"); !strings.Contains(apps, "Contoso Agent Desktop") {
		t.Errorf("apps = %q", apps)
	}

	// Edit with the text area (one ID per line) and a ticked box.
	p = e.post(nf, "/assignments/"+alice.String(), url.Values{"version": {"1"}, "label": {"Alice Smith"},
		"clientId": {appDesktop.String(), appMobile.String() + "\n"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", p.status, p.body)
	}
	if got := e.inventory(devidp.ContosoTenant); len(got) != 1 || len(got[0].ClientIDs) != 2 || got[0].Version != 2 {
		t.Fatalf("inventory = %+v", got)
	}

	// Changed behind the portal's back; Verify now shows the drift.
	e.emu.Seed(acsemu.Stored{Host: "127.0.0.1", TenantID: devidp.ContosoTenant, ObjectID: alice, PrincipalType: "user", ClientIDs: []string{appMobile.String()}})
	if p = e.post(nf, "/assignments/"+alice.String()+"/verify", url.Values{}); p.status != http.StatusSeeOther {
		t.Fatalf("verify: %d", p.status)
	}
	detail = e.get(c, "/assignments/"+alice.String())
	if st, _ := detail.testid("state"); st != "Drifted" {
		t.Errorf("state after verify = %q", st)
	}
	if _, ok := detail.testid("observed"); !ok {
		t.Error("the page does not show what ACS holds")
	}

	// Revoke: the confirmation says what happens, then it is gone.
	confirm := e.get(c, "/assignments/"+alice.String()+"/delete")
	if txt, _ := confirm.testid("revoke-consequence"); !strings.Contains(txt, "revoked at once") {
		t.Errorf("confirmation = %q", txt)
	}
	if p = e.post(nf, "/assignments/"+alice.String()+"/delete", url.Values{"version": {"2"}, "justification": {"leaver"}}); p.status != http.StatusSeeOther || p.header.Get("Location") != "/assignments" {
		t.Fatalf("revoke: %d %s", p.status, p.body)
	}
	if _, ok := e.emu.Lookup("127.0.0.1", devidp.ContosoTenant, alice); ok {
		t.Error("ACS still holds it")
	}
	list := e.get(c, "/assignments")
	if _, ok := list.testid("empty-state"); !ok {
		t.Error("no empty state after the last revoke")
	}
}

// SECURITY.md, P0-10 (Input validation): bad input → a clear 4xx and nothing
// changed.
func TestBadGrantInput(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	c := noFollow(e.as("admin@contoso.test"))
	good := func() url.Values {
		return url.Values{"objectId": {alice.String()}, "kind": {"user"}, "clientId": {appDesktop.String()}}
	}
	with := func(change func(url.Values)) url.Values { v := good(); change(v); return v }
	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = appDesktop.String()
		}
		return out
	}
	badIDs := []string{"{" + alice.String() + "}x", "urn:uuid:" + alice.String(), strings.ReplaceAll(alice.String(), "-", ""),
		"00000000-0000-0000-0000-000000000000", alice.String()[:35], alice.String() + "0", alice.String() + " %20", alice.String() + "\x00",
		"е5b7f628-ea94-4fdc-b3d9-1af1fe231111", "e5b7f628-ea94-4fdc-b3d9-1af1fe23111\u200b", "\u202e" + alice.String(), "..", "", strings.Repeat("a", 10240),
		"../../other", "１c361ff7-fb44-4685-bb78-1bad6ce5bef3"}
	cases := map[string]url.Values{
		"kind unknown":           with(func(v url.Values) { v.Set("kind", "admin") }),
		"kind missing":           with(func(v url.Values) { v.Del("kind") }),
		"user without apps":      with(func(v url.Values) { v.Del("clientId") }),
		"empty clientId":         with(func(v url.Values) { v["clientId"] = []string{""} }),
		"one bad app":            with(func(v url.Values) { v.Add("clientId", "not-a-guid") }),
		"resource with apps":     with(func(v url.Values) { v.Set("kind", "resourceAccount") }),
		"objectId twice":         with(func(v url.Values) { v.Add("objectId", bob.String()) }),
		"label twice":            with(func(v url.Values) { v["label"] = []string{"a", "b"} }),
		"1000 clientIds":         with(func(v url.Values) { v["clientId"] = many(1000) }),
		"10001 clientIds":        with(func(v url.Values) { v["clientId"] = many(10001) }),
		"huge justification":     with(func(v url.Values) { v.Set("justification", strings.Repeat("x", 5000)) }),
		"NUL in label":           with(func(v url.Values) { v.Set("label", "a\x00b") }),
		"invalid UTF-8 label":    with(func(v url.Values) { v.Set("label", "\xff\xfe") }),
		"CR/LF in label":         with(func(v url.Values) { v.Set("label", "a\r\nb") }),
		"51 distinct apps":       with(func(v url.Values) { v["clientId"] = distinctGUIDs(51) }),
		"tenant in form ignored": with(func(v url.Values) { v.Set("objectId", "bad"); v.Set("tenantId", devidp.FabrikamTenant.String()) }),
	}
	for _, id := range badIDs {
		cases["objectId "+strconv.Quote(id[:min(len(id), 20)])] = with(func(v url.Values) { v.Set("objectId", id) })
	}
	for name, form := range cases {
		p := e.post(c, "/assignments", form)
		if p.status < 400 || p.status >= 500 {
			t.Errorf("%s: status %d", name, p.status)
			continue
		}
		if p.status != http.StatusRequestEntityTooLarge && !strings.Contains(p.body, "error") && !strings.Contains(p.body, "Error") {
			t.Errorf("%s: no message shown", name)
		}
	}
	if n := e.writes(); n != 0 {
		t.Errorf("ACS saw %d writes", n)
	}
	if inv := e.inventory(portal.GUID{}); len(inv) != 0 {
		t.Errorf("inventory = %+v", inv)
	}
	// Not a form: 415-ish refusal, nothing changed.
	p := e.do(c, "POST", "/assignments", strings.NewReader("objectId="+alice.String()), http.Header{"Content-Type": {"text/plain"}})
	if p.status != http.StatusBadRequest {
		t.Errorf("text/plain: %d", p.status)
	}
	// A body over the limit.
	p = e.do(c, "POST", "/assignments", strings.NewReader("label="+strings.Repeat("x", 70<<10)), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	if p.status < 400 || p.status >= 500 {
		t.Errorf("70 KiB body: %d", p.status)
	}
	// ?role=admin on the query string of a POST means nothing.
	p = e.post(c, "/assignments?objectId="+alice.String()+"&kind=user&clientId="+appDesktop.String(), url.Values{})
	if p.status != http.StatusUnprocessableEntity || e.writes() != 0 {
		t.Errorf("fields from the query string were read: %d", p.status)
	}
}

func distinctGUIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = portal.MustParseGUID("00000000-0000-4000-8000-" + strconv.FormatInt(int64(100000000000+i), 10)).String()
	}
	return out
}

// Paths with traversal and odd encodings never reach ACS as anything but
// one canonical GUID.
func TestObjectIDInPath(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	c := noFollow(e.as("admin@contoso.test"))
	for _, path := range []string{"..%2F..%2Fother", "%2e%2e", "%252e%252e", "A%2FB", "..;", "%C0%AE%C0%AE", alice.String() + "%20", "{" + alice.String() + "}x"} {
		p := e.get(c, "/assignments/"+path)
		if p.status != http.StatusBadRequest && p.status != http.StatusNotFound {
			t.Errorf("GET /assignments/%s: %d", path, p.status)
		}
		p = e.post(c, "/assignments/"+path+"/verify", url.Values{})
		if p.status != http.StatusBadRequest && p.status != http.StatusNotFound {
			t.Errorf("POST /assignments/%s/verify: %d", path, p.status)
		}
	}
	for _, r := range e.emu.Requests() {
		if _, err := portal.ParseGUID(r.ObjectSegment); err != nil || r.ObjectSegment != strings.ToLower(r.ObjectSegment) {
			t.Errorf("ACS saw object segment %q", r.ObjectSegment)
		}
	}
}

// SECURITY.md, P0-4 (Tenant isolation): another tenant's object looks exactly
// like a missing one, and ACS never hears of the other tenant.
func TestTenantIsolationMatrix(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	e.seedInventory(devidp.ContosoTenant, alice, "user", appDesktop)
	e.emu.ResetRequests()
	missing := portal.MustParseGUID("11111111-2222-4333-8444-555555555555")
	fab := noFollow(e.as("admin@fabrikam.test"))
	for _, target := range []portal.GUID{alice, missing} {
		id := target.String()
		pages := map[string]page{
			"detail":  e.get(fab, "/assignments/"+id),
			"confirm": e.get(fab, "/assignments/"+id+"/delete"),
			"edit":    e.post(fab, "/assignments/"+id, url.Values{"version": {"1"}, "clientId": {appMobile.String()}}),
			"verify":  e.post(fab, "/assignments/"+id+"/verify", url.Values{}),
			"revoke":  e.post(fab, "/assignments/"+id+"/delete", url.Values{"version": {"1"}}),
			"hxdel":   e.do(fab, "DELETE", "/assignments/"+id+"?version=1", nil, nil),
		}
		for name, p := range pages {
			if p.status != http.StatusNotFound {
				t.Errorf("%s of %s: %d", name, id, p.status)
			}
		}
	}
	// Other tenant's own list, search, exports and audit show nothing of
	// Contoso's, even right after Contoso asked the very same questions
	// (list renderings are reused).
	con := e.as("admin@contoso.test")
	for _, path := range []string{"/assignments", "/assignments?q=" + alice.String()[:8]} {
		if p := e.get(con, path); !strings.Contains(p.body, alice.String()) {
			t.Fatalf("Contoso's own %s does not show its object", path)
		}
		hx := e.do(con, "GET", path, nil, http.Header{"HX-Request": {"true"}, "HX-Request-Type": {"partial"}})
		if !strings.Contains(hx.body, alice.String()) {
			t.Fatalf("Contoso's own %s fragment does not show its object", path)
		}
	}
	e.emu.ResetRequests()
	for _, path := range []string{"/assignments", "/assignments?q=" + alice.String()[:8], "/assignments.csv", "/audit", "/audit.csv", "/lookup?objectId=" + alice.String()} {
		p := e.get(fab, path)
		if strings.Contains(p.body, alice.String()) && !strings.HasPrefix(path, "/lookup") {
			t.Errorf("%s shows Contoso's object", path)
		}
		if strings.HasPrefix(path, "/lookup") {
			if _, ok := p.testid("acs-none"); !ok {
				t.Errorf("lookup from Fabrikam found Contoso's assignment")
			}
		}
	}
	for _, r := range e.emu.Requests() {
		if r.TenantSegment == devidp.ContosoTenant.String() {
			t.Errorf("ACS saw %s %s for Contoso from Fabrikam", r.Method, r.RequestURI)
		}
	}
	if held, ok := e.emu.Lookup("127.0.0.1", devidp.ContosoTenant, alice); !ok || len(held.ClientIDs) != 1 {
		t.Error("Contoso's assignment changed")
	}
}

// Two browsers edit one assignment from the same page: one wins, the other
// sees both states and changes nothing.
func TestConflictTwoBrowsers(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	e.seedInventory(devidp.ContosoTenant, alice, "user", appDesktop)
	one, two := noFollow(e.as("admin@contoso.test")), noFollow(e.as("helpdesk@contoso.test"))
	e.get(one, "/assignments/"+alice.String())
	e.get(two, "/assignments/"+alice.String())
	if p := e.post(one, "/assignments/"+alice.String(), url.Values{"version": {"1"}, "clientId": {appMobile.String()}}); p.status != http.StatusSeeOther {
		t.Fatalf("first edit: %d", p.status)
	}
	writes := e.writes()
	p := e.post(two, "/assignments/"+alice.String(), url.Values{"version": {"1"}, "clientId": {appDesktop.String(), appMobile.String()}})
	if p.status != http.StatusConflict {
		t.Fatalf("second edit: %d", p.status)
	}
	if inv, _ := p.testid("conflict-inventory"); !strings.Contains(inv, "Contoso Agent Mobile") || strings.Contains(inv, "Desktop") {
		t.Errorf("conflict shows inventory %q", inv)
	}
	if prop, _ := p.testid("conflict-proposed"); !strings.Contains(prop, "Desktop") {
		t.Errorf("conflict shows proposal %q", prop)
	}
	if e.writes() != writes {
		t.Error("the losing edit reached ACS")
	}
}

// htmx requests get fragments: no layout, every hx-* element carries the
// nonce of the response's own CSP, and no <script>.
func TestHTMXFragments(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	e.seedInventory(devidp.ContosoTenant, alice, "user", appDesktop)
	c := noFollow(e.as("admin@contoso.test"))
	hx := http.Header{"HX-Request": {"true"}, "HX-Request-Type": {"partial"}}
	for _, path := range []string{"/assignments?q=e5b7", "/lookup?objectId=" + alice.String(), "/audit?action=adopt"} {
		p := e.do(c, "GET", path, nil, hx)
		if p.status != 200 || strings.Contains(p.body, "<html") || strings.Contains(p.body, "<script") {
			t.Errorf("%s: %d, fragment %q", path, p.status, p.body[:min(len(p.body), 120)])
		}
		if !strings.Contains(p.header.Get("Vary"), "HX-Request") {
			t.Errorf("%s: no Vary: HX-Request", path)
		}
		assertNoncedHX(t, path, p)
	}
	// A validation error swaps the form back in, with its messages.
	p := e.do(c, "POST", "/assignments", strings.NewReader("objectId=bad&kind=user"), http.Header{
		"HX-Request": {"true"}, "HX-Request-Type": {"partial"}, "Content-Type": {"application/x-www-form-urlencoded"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="grant-form"`) || strings.Contains(p.body, "<html") {
		t.Errorf("grant with errors: %d", p.status)
	}
	assertNoncedHX(t, "grant form", p)
	// Success: HX-Redirect instead of a page swapped into the form.
	p = e.do(c, "POST", "/assignments", strings.NewReader(url.Values{"objectId": {bob.String()}, "kind": {"user"}, "clientId": {appMobile.String()}}.Encode()), http.Header{
		"HX-Request": {"true"}, "HX-Request-Type": {"partial"}, "Content-Type": {"application/x-www-form-urlencoded"}})
	if p.status != http.StatusNoContent || p.header.Get("HX-Redirect") != "/assignments/"+bob.String() {
		t.Errorf("grant: %d %q", p.status, p.header.Get("HX-Redirect"))
	}
	// hx-delete sends its fields in the query string.
	p = e.do(c, "DELETE", "/assignments/"+bob.String()+"?version=1&justification=done", nil, http.Header{"HX-Request": {"true"}, "HX-Request-Type": {"partial"}})
	if p.status != http.StatusNoContent || p.header.Get("HX-Redirect") != "/assignments" {
		t.Errorf("hx-delete: %d %q", p.status, p.header.Get("HX-Redirect"))
	}
	// An error to an htmx request lands in the alert area, not the target.
	p = e.do(c, "GET", "/assignments?kind=bogus", nil, hx)
	if p.status != http.StatusBadRequest || p.header.Get("HX-Retarget") != "#alerts" || strings.Contains(p.body, "<html") {
		t.Errorf("htmx error: %d %q", p.status, p.header.Get("HX-Retarget"))
	}
	// Full pages carry nonces too.
	for _, path := range []string{"/assignments", "/assignments/" + alice.String(), "/assignments/new", "/lookup", "/audit", "/assignments/" + alice.String() + "/delete"} {
		assertNoncedHX(t, path, e.get(c, path))
	}
}

func cspNonce(h http.Header) string {
	csp := h.Get("Content-Security-Policy")
	i := strings.Index(csp, "'nonce-")
	if i < 0 {
		return ""
	}
	rest := csp[i+len("'nonce-"):]
	return rest[:strings.Index(rest, "'")]
}

func assertNoncedHX(t *testing.T, what string, p page) {
	t.Helper()
	nonce := cspNonce(p.header)
	if nonce == "" {
		t.Errorf("%s: no CSP nonce", what)
		return
	}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			hasHX, got := false, ""
			for _, a := range n.Attr {
				if strings.HasPrefix(a.Key, "hx-") && a.Key != "hx-nonce" {
					hasHX = true
				}
				if a.Key == "hx-nonce" {
					got = a.Val
				}
				if strings.HasPrefix(a.Key, "on") || a.Key == "style" {
					t.Errorf("%s: <%s %s>", what, n.Data, a.Key)
				}
			}
			if hasHX && got != nonce {
				t.Errorf("%s: <%s> has hx-* attributes but hx-nonce %q", what, n.Data, got)
			}
		}
		for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
			walk(ch)
		}
	}
	walk(p.doc)
}

// SECURITY.md, P0-9 (Output encoding): hostile text typed into labels and
// justifications stays text.
func TestHostileTextIsEscaped(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	c := e.as("admin@contoso.test")
	hostile := []string{`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`, `<div hx-get="/assignments" hx-trigger="load">x</div>`, `javascript:alert(1)`, "=HYPERLINK(\"http://evil\")", "+1", "-2", "@SUM(A1)", "\tx", "emoji 📞 NFD é"}
	for i, h := range hostile {
		id := portal.MustParseGUID("00000000-0000-4000-8000-" + strconv.Itoa(100000000000+i))
		p := e.post(noFollow(c), "/assignments", url.Values{"objectId": {id.String()}, "kind": {"user"}, "clientId": {appDesktop.String()}, "label": {h}, "justification": {h}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("grant with %q: %d %s", h, p.status, p.body)
		}
	}
	for _, path := range []string{"/assignments", "/assignments?q=" + url.QueryEscape("<script>"), "/audit"} {
		p := e.get(c, path)
		var walk func(*html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode {
				if n.Data == "img" || n.Data == "script" && !hasAttr(n, "src") {
					t.Errorf("%s: injected <%s>", path, n.Data)
				}
				for _, a := range n.Attr {
					if strings.HasPrefix(a.Key, "on") || a.Key == "hx-trigger" && a.Val == "load" || strings.HasPrefix(a.Val, "javascript:") {
						t.Errorf("%s: injected attribute %s=%q", path, a.Key, a.Val)
					}
				}
			}
			for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
				walk(ch)
			}
		}
		walk(p.doc)
	}
	// Exports neutralise formulas.
	resp, err := c.Get(e.srv.URL + "/assignments.csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(resp.Body).ReadAll()
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows[1:] {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t", rune(cell[0])) {
				t.Errorf("CSV cell %q would run as a formula", cell)
			}
		}
	}
	if !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Error("export is not an attachment")
	}
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

// Lookup and adopt as helpdesk: a user can be adopted, a resource account
// cannot.
func TestLookupAndAdoptAsHelpdesk(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	e.emu.Seed(acsemu.Stored{Host: "127.0.0.1", TenantID: devidp.ContosoTenant, ObjectID: alice, PrincipalType: "User", ClientIDs: []string{appDesktop.String()}})
	e.emu.Seed(acsemu.Stored{Host: "127.0.0.1", TenantID: devidp.ContosoTenant, ObjectID: room, PrincipalType: "teamsResourceAccount"})
	c := noFollow(e.as("helpdesk@contoso.test"))
	p := e.get(c, "/lookup?objectId="+alice.String())
	if _, ok := p.testid("adopt-form"); !ok {
		t.Fatal("no adopt form for a user")
	}
	p = e.get(c, "/lookup?objectId="+room.String())
	if _, ok := p.testid("adopt-form"); ok {
		t.Error("helpdesk is offered to adopt a resource account")
	}
	if p = e.post(c, "/assignments/"+room.String()+"/adopt", url.Values{}); p.status != http.StatusForbidden {
		t.Errorf("helpdesk adopting a resource account: %d", p.status)
	}
	if p = e.post(c, "/assignments/"+alice.String()+"/adopt", url.Values{"label": {"Alice"}}); p.status != http.StatusSeeOther {
		t.Fatalf("adopt: %d", p.status)
	}
	if inv := e.inventory(devidp.ContosoTenant); len(inv) != 1 || inv[0].ObjectID != alice {
		t.Errorf("inventory = %+v", inv)
	}
	if e.writes() != 0 {
		t.Error("adopting wrote to ACS")
	}
	p = e.get(c, "/lookup?objectId=not-a-guid")
	if p.status != http.StatusBadRequest {
		t.Errorf("bad lookup: %d", p.status)
	}
}

// writeRefusingStore fails the test on any write to the inventory, the audit
// log or the locks.
type writeRefusingStore struct {
	portal.Store
	t *testing.T
}

func (s writeRefusingStore) refuse(what string) error {
	s.t.Errorf("a GET request wrote: %s", what)
	return portal.Errorf(portal.EUNAVAILABLE, "read-only")
}

// AppendAudit lets refusals through: recording a denial is the one write a
// GET may cause.
func (s writeRefusingStore) AppendAudit(ctx context.Context, ev portal.AuditEvent) (portal.AuditEvent, error) {
	if ev.Action == portal.ActionDenied {
		return s.Store.AppendAudit(ctx, ev)
	}
	return ev, s.refuse("audit " + string(ev.Action))
}

func (s writeRefusingStore) Commit(_ context.Context, ev portal.AuditEvent, _ portal.InventoryChange) (portal.AuditEvent, portal.InventoryItem, error) {
	return ev, portal.InventoryItem{}, s.refuse("commit " + string(ev.Action))
}

func (s writeRefusingStore) TryLock(context.Context, string, string, time.Time) (bool, error) {
	return false, s.refuse("lock")
}

func (s writeRefusingStore) SavePlan(context.Context, portal.Plan, []portal.PlanRow) error {
	return s.refuse("save a plan")
}

func (s writeRefusingStore) CreateJob(_ context.Context, j portal.Job) (portal.Job, error) {
	return j, s.refuse("create a job")
}

func (s writeRefusingStore) InterruptStale(context.Context, time.Time) (int, error) {
	return 0, s.refuse("interrupt jobs")
}

func (s writeRefusingStore) CancelJob(_ context.Context, _ portal.GUID, id string, _ time.Time) (portal.Job, error) {
	return portal.Job{}, s.refuse("cancel a job")
}

func (s writeRefusingStore) ResumeJob(_ context.Context, _ portal.GUID, id string) (portal.Job, error) {
	return portal.Job{}, s.refuse("resume a job")
}

// SECURITY.md, P0-6 (CSRF: no cross-origin state change, no state change on
// GET): no GET changes anything. Every page an admin or auditor can open
// runs against a store that fails the test on any write.
func TestGETChangesNothing(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	e.seedInventory(devidp.ContosoTenant, alice, "user", appDesktop)
	e.emu.Seed(acsemu.Stored{Host: "127.0.0.1", TenantID: devidp.ContosoTenant, ObjectID: bob, PrincipalType: "user", ClientIDs: []string{appMobile.String()}})
	client, err := acs.New(acs.Options{Endpoint: e.emuURL, AccessKey: testACSKey})
	if err != nil {
		t.Fatal(err)
	}
	browsers := map[string]*http.Client{}
	for _, persona := range []string{"admin@contoso.test", "helpdesk@contoso.test", "auditor@contoso.test"} {
		browsers[persona] = noFollow(e.as(persona))
	}
	// A plan and a finished job, for their pages.
	admin := noFollow(e.as("admin@contoso.test"))
	job := e.planAndApply(admin, "objectId,kind,clientIds\n"+portal.MustParseGUID("7c1d9e2f-3a4b-4c5d-8e6f-7a8b9c0d1e02").String()+",user,"+appDesktop.String()+"\n")
	e.runJobs()
	jobID := strings.TrimPrefix(job, "/bulk/jobs/")
	planID := recsPlan(t, e, admin, job)
	e.server.deps.Access = access.New(access.Config{ACS: client, Store: writeRefusingStore{e.db, t}, Now: e.clock.Now})
	e.emu.ResetRequests()
	pages := 0
	for persona, c := range browsers {
		for pattern := range e.server.policies {
			method, path, _ := strings.Cut(pattern, " ")
			if method != "GET" || strings.HasPrefix(path, "/auth/") || path == "/static/*" {
				continue
			}
			path = strings.NewReplacer("{objectId}", alice.String(), "{planId}", planID, "{jobId}", jobID).Replace(path)
			for _, p := range []string{path, path + "?q=e5&kind=user&state=in_sync&sort=label&desc=1", path + "?objectId=" + bob.String()} {
				if got := e.get(c, p); got.status >= 500 {
					t.Errorf("%s GET %s: %d", persona, p, got.status)
				}
				pages++
			}
		}
	}
	if pages < 20 {
		t.Fatalf("only %d pages walked", pages)
	}
	for _, r := range e.emu.Requests() {
		if r.Method != http.MethodGet {
			t.Errorf("a GET page made ACS see %s %s", r.Method, r.RequestURI)
		}
	}
}

// SECURITY.md, P0-10 (Input validation) for the other forms: edit, revoke
// (POST and hx-delete) and adopt.
func TestBadChangeInput(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	e.seedInventory(devidp.ContosoTenant, alice, "user", appDesktop)
	e.emu.Seed(acsemu.Stored{Host: "127.0.0.1", TenantID: devidp.ContosoTenant, ObjectID: bob, PrincipalType: "user", ClientIDs: []string{appMobile.String()}})
	c := noFollow(e.as("admin@contoso.test"))
	writes, before := e.writes(), e.inventory(devidp.ContosoTenant)
	a := "/assignments/" + alice.String()
	cases := []struct {
		name, method, path string
		form               url.Values
	}{
		{"edit without version", "POST", a, url.Values{"clientId": {appMobile.String()}}},
		{"edit with version 0", "POST", a, url.Values{"version": {"0"}, "clientId": {appMobile.String()}}},
		{"edit with version abc", "POST", a, url.Values{"version": {"abc"}, "clientId": {appMobile.String()}}},
		{"edit with version twice", "POST", a, url.Values{"version": {"1", "2"}, "clientId": {appMobile.String()}}},
		{"edit to no apps", "POST", a, url.Values{"version": {"1"}}},
		{"edit with an empty app", "POST", a, url.Values{"version": {"1"}, "clientId": {""}}},
		{"edit with one bad app", "POST", a, url.Values{"version": {"1"}, "clientId": {appMobile.String(), "nope"}}},
		{"edit with 10001 apps", "POST", a, url.Values{"version": {"1"}, "clientId": strings.Split(strings.Repeat(appMobile.String()+",", 10001), ",")}},
		{"edit with a NUL label", "POST", a, url.Values{"version": {"1"}, "clientId": {appMobile.String()}, "label": {"x\x00"}}},
		{"edit of a bad path", "POST", "/assignments/" + strings.ToUpper(alice.String()) + "x", url.Values{"version": {"1"}, "clientId": {appMobile.String()}}},
		{"revoke without version", "POST", a + "/delete", url.Values{}},
		{"revoke with a stale version", "POST", a + "/delete", url.Values{"version": {"7"}}},
		{"revoke with a huge justification", "POST", a + "/delete", url.Values{"version": {"1"}, "justification": {strings.Repeat("y", 1001)}}},
		{"hx-delete without version", "DELETE", a, nil},
		{"adopt with a NUL label", "POST", "/assignments/" + bob.String() + "/adopt", url.Values{"label": {"\x00"}}},
		{"adopt twice-given label", "POST", "/assignments/" + bob.String() + "/adopt", url.Values{"label": {"a", "b"}}},
		{"adopt what is adopted", "POST", a + "/adopt", url.Values{}},
	}
	for _, tc := range cases {
		var p page
		if tc.method == "DELETE" {
			p = e.do(c, "DELETE", tc.path, nil, nil)
		} else {
			p = e.post(c, tc.path, tc.form)
		}
		if p.status < 400 || p.status >= 500 {
			t.Errorf("%s: %d", tc.name, p.status)
		}
	}
	if e.writes() != writes {
		t.Error("bad input reached ACS")
	}
	after := e.inventory(devidp.ContosoTenant)
	if len(after) != len(before) || after[0].Version != before[0].Version {
		t.Errorf("the inventory changed: %+v", after)
	}
}

// A form shows every problem at once, each beside its field: what could
// not be read (an object ID that is not one), and what the domain refuses
// (a label too long, a user without apps, an end in the past). Nothing is
// written, and the role is checked only for a form that could be applied.
func TestGrantFormShowsEveryProblem(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	c := noFollow(e.as("admin@contoso.test"))
	rows := e.auditRows()
	past := e.clock.Now().Add(-time.Hour).UTC().Format("2006-01-02T15:04")
	p := e.post(c, "/assignments", url.Values{"objectId": {"not-an-id"}, "kind": {"user"}, "label": {strings.Repeat("x", 201)}, "expiresAt": {past}})
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", p.status)
	}
	for field, want := range map[string]string{
		"objectId-error":  "Object ID:",
		"clientId-error":  "A user needs at least one calling-client app ID",
		"label-error":     "The label is 201 characters long",
		"expiresAt-error": "The access would end in the past",
	} {
		if got, ok := p.testid(field); !ok || !strings.HasPrefix(got, want) {
			t.Errorf("%s says %q, want %q…", field, got, want)
		}
	}
	if p := e.post(c, "/assignments", url.Values{"objectId": {alice.String()}}); !strings.Contains(p.body, "Choose a kind") {
		t.Errorf("no kind chosen: %d, no message beside the kind", p.status)
	}
	if e.writes() != 0 || e.auditRows() != rows {
		t.Errorf("refused forms wrote %d ACS calls and %d audit rows", e.writes(), e.auditRows()-rows)
	}

	// Helpdesk: a resource account that is otherwise fine is refused by
	// the use case, recorded once, as an error page.
	h := noFollow(e.as("helpdesk@contoso.test"))
	denied := e.auditCount(portal.ActionDenied)
	if p := e.post(h, "/assignments", url.Values{"objectId": {alice.String()}, "kind": {"resourceAccount"}}); p.status != http.StatusForbidden || strings.Contains(p.body, `id="grant-form"`) {
		t.Errorf("helpdesk granting a resource account: %d", p.status)
	}
	if n := e.auditCount(portal.ActionDenied) - denied; n != 1 {
		t.Errorf("%d refusals recorded, want 1", n)
	}
}

// One vocabulary of kinds: the list's filter takes what the grant form and
// bulk files take (portal.ParsePrincipalKind).
func TestKindSpellings(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	e.seedInventory(devidp.ContosoTenant, alice, "user", appDesktop)
	c := e.as("admin@contoso.test")
	for kind, want := range map[string]int{"user": 200, "USER": 200, "resourceAccount": 200, "teamsResourceAccount": 200, "resourceaccount": 200, "users": 400, "room": 400} {
		if p := e.get(c, "/assignments?kind="+kind); p.status != want {
			t.Errorf("kind=%s: %d, want %d", kind, p.status, want)
		}
	}
	if p := e.get(c, "/assignments?kind=USER"); !strings.Contains(p.body, alice.String()) {
		t.Error("kind=USER does not list users")
	}
}
