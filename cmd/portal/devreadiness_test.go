package main

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/portal"
)

// TestDevReadinessFixes is what the README promises of dev mode: every
// check the seed breaks fails with its fix, and applying each fix — in
// the Graph emulator through the state routes the README documents, or
// in the portal (consent, revoke) — turns it green after "Check again".
// Fabrikam's admin sees only Fabrikam's checks throughout.
func TestDevReadinessFixes(t *testing.T) {
	base, graphURL := startDevPortalWithGraph(t)
	admin := signInClients(t, base, "admin@contoso.test", 1)[0]
	fab := signInClients(t, base, "admin@fabrikam.test", 1)[0]
	contoso, fabrikam := devidp.ContosoTenant.String(), devidp.FabrikamTenant.String()

	checks := func(c *http.Client) map[string]string {
		t.Helper()
		states, _ := checkAgain(t, c, base)
		return states
	}
	want := map[string]string{
		"acs-access": "pass", "acs-first-party": "pass",
		"app:" + appDesktop.String(): "pass", "app:" + appKiosk.String(): "fail", "app:" + appPilot.String(): "fail", "app:" + appMobile.String(): "fail",
		"resource-accounts": "fail", "people": "fail",
	}
	if got := checks(admin); !sameChecks(got, want) {
		t.Fatalf("the seed's checks:\n got %v\nwant %v", got, want)
	}
	fabPage := mustGet(t, fab, base+"/readiness")
	if !strings.Contains(fabPage, `data-check="acs-first-party" data-state="fail"`) || !strings.Contains(fabPage, "New-MgServicePrincipal -AppId "+portal.ACSFirstPartyAppID.String()) {
		t.Errorf("Fabrikam's first-party check does not fail with its fix")
	}
	for _, contosos := range []string{devReception, devGita, devOldIVR, "Reception line", "Gita Rao"} {
		if strings.Contains(fabPage, contosos) {
			t.Errorf("Fabrikam's readiness page shows Contoso's %s", contosos)
		}
	}

	// The people whose access cannot work, revoked as one plan: made for
	// review, nothing revoked yet.
	resp, err := admin.PostForm(base+"/readiness/revoke", nil)
	if err != nil {
		t.Fatal(err)
	}
	plan, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Request.URL.Path, "/bulk/") {
		t.Fatalf("revoke them all: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	for id, name := range map[string]string{devGita: "Gita Rao", devHana: "Hana Sato", seedChen: "Chen Wei"} {
		if !strings.Contains(string(plan), id) && !strings.Contains(string(plan), name) {
			t.Errorf("the plan does not revoke %s", name)
		}
	}
	auditor := signInClients(t, base, "auditor@contoso.test", 1)[0]
	if resp, err := auditor.PostForm(base+"/readiness/revoke", nil); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("an auditor making the revoke plan: %v %v", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}

	// The fixes, as the README lists them.
	emu := func(method, path, body string) {
		t.Helper()
		emulatorState(t, method, graphURL+"/_emulator/tenants/"+path, body)
	}
	consent := func(tenant string, app portal.GUID) {
		emu("POST", tenant+"/oauth2PermissionGrants", `{"clientAppId":"`+app.String()+`","resourceAppId":"`+portal.ACSFirstPartyAppID.String()+
			`","consentType":"AllPrincipals","scope":"TeamsExtension.ManageCalls"}`)
	}
	consent(contoso, appKiosk)
	consent(contoso, appPilot)
	emu("POST", contoso+"/servicePrincipals", `{"appId":"`+appMobile.String()+`"}`)
	consent(contoso, appMobile)
	emu("PATCH", contoso+"/users/"+devGita, `{"accountEnabled":true}`)
	emu("PATCH", contoso+"/users/"+devHana, `{"assignedPlans":[{"servicePlanId":"4828c8ec-dc2e-4779-b502-87ac9ce28ab7","service":"MCOEV","capabilityStatus":"Enabled"}]}`)
	emu("PATCH", contoso+"/resourceAccounts/"+devOldIVR, `{"acsResourceId":"`+devACSResourceID+`"}`)
	emu("PATCH", contoso+"/resourceAccounts/"+devOverflow, `{"phoneNumber":"tel:+14255550106"}`)
	emu("PATCH", contoso+"/resourceAccounts/"+devFrontDesk, `{"appId":"`+appDesktop.String()+`"}`)
	// In the portal: consent for the accounts bound here without it (the
	// Reception line granted, the Support queue adopted from ACS), and
	// Chen Wei, gone from the directory, revoked.
	post(t, admin, base+"/assignments", url.Values{"objectId": {devReception}, "kind": {"resourceAccount"}, "label": {"Reception line"},
		"justification": {"CHG-3001 the reception line takes calls"}})
	const supportQueue = "8f7e6d5c-4b3a-4291-8f0e-d9c8b7a6f506"
	post(t, admin, base+"/assignments/"+supportQueue+"/adopt", url.Values{"kind": {"resourceAccount"}, "justification": {"CHG-3002 the support queue is ours"}})
	confirm := mustGet(t, admin, base+"/assignments/"+seedChen+"/delete")
	version := regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(confirm)
	seen := regexp.MustCompile(`name="seen" value="([^"]*)"`).FindStringSubmatch(confirm)
	if version == nil || seen == nil {
		t.Fatalf("Chen Wei's revoke confirmation:\n%.2000s", confirm)
	}
	post(t, admin, base+"/assignments/"+seedChen+"/delete", url.Values{"version": {version[1]}, "seen": {seen[1]}, "justification": {"CHG-3003 Chen Wei has left"}})

	for name := range want {
		want[name] = "pass"
	}
	if got := checks(admin); !sameChecks(got, want) {
		t.Fatalf("after the fixes:\n got %v\nwant %v\n%s", got, want, reasons(mustGet(t, admin, base+"/readiness")))
	}

	// Fabrikam: New-MgServicePrincipal, then its apps' consent.
	emu("POST", fabrikam+"/servicePrincipals", `{"appId":"`+portal.ACSFirstPartyAppID.String()+`"}`)
	consent(fabrikam, appDesktop)
	consent(fabrikam, appMobile)
	got := checks(fab)
	if got["acs-first-party"] != "pass" || got["app:"+appDesktop.String()] != "pass" {
		t.Errorf("Fabrikam after New-MgServicePrincipal and consent: %v\n%s", got, reasons(mustGet(t, fab, base+"/readiness")))
	}
}

// checkAgain presses Check again as c and reads the readiness page: each
// check's state by name, and their reasons (for a failure's message).
func checkAgain(t *testing.T, c *http.Client, base string) (states map[string]string, why string) {
	t.Helper()
	post(t, c, base+"/readiness", nil)
	page := mustGet(t, c, base+"/readiness")
	states = map[string]string{}
	for _, m := range regexp.MustCompile(`data-testid="check" data-check="([^"]+)" data-state="([a-z]+)"`).FindAllStringSubmatch(page, -1) {
		states[m[1]] = m[2]
	}
	if len(states) == 0 {
		t.Fatalf("no checks on the page:\n%.2000s", page)
	}
	return states, reasons(page)
}

// emulatorState sends one request to an emulator's state route, failing
// the test unless it is taken.
func emulatorState(t *testing.T, method, addr, body string) {
	t.Helper()
	req, _ := http.NewRequest(method, addr, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, addr, resp.StatusCode, b)
	}
}

// sameChecks: every wanted check is on the page in its state, and nothing
// else fails.
func sameChecks(got, want map[string]string) bool {
	for name, state := range want {
		if got[name] != state {
			return false
		}
	}
	for name, state := range got {
		if _, wanted := want[name]; !wanted && state != "pass" {
			return false
		}
	}
	return true
}

// reasons are the checks' reasons on a readiness page, for a failure's
// message.
func reasons(page string) string {
	var b strings.Builder
	for _, m := range regexp.MustCompile(`data-check="([^"]+)" data-state="([a-z]+)"(?s:.*?)data-testid="check-reason">([^<]*)<`).FindAllStringSubmatch(page, -1) {
		b.WriteString(m[1] + " " + m[2] + ": " + m[3] + "\n")
	}
	return b.String()
}

// post sends a form as a browser without JavaScript would, following the
// redirect, and fails the test on anything but success.
func post(t *testing.T, c *http.Client, u string, form url.Values) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d\n%.2000s", u, resp.StatusCode, b)
	}
}

// TestDevReadinessUnknown: what the portal may not read, or what Graph
// will not say now, is unknown with why — never fail, never pass — as
// injected from outside through the dev emulators' routes.
func TestDevReadinessUnknown(t *testing.T) {
	base, graphURL := startDevPortalWithGraph(t)
	admin := signInClients(t, base, "admin@contoso.test", 1)[0]
	contoso := devidp.ContosoTenant.String()
	put := func(path, body string) {
		t.Helper()
		emulatorState(t, "PUT", graphURL+path, body)
	}
	states := func() (map[string]string, string) {
		t.Helper()
		return checkAgain(t, admin, base)
	}

	// Not consented (or, for resource accounts, not a Teams administrator).
	put("/_emulator/tenants/"+contoso+"/withheldPermissions", `["User.Read.All","DelegatedPermissionGrant.Read.All","TeamsResourceAccount.Read.All"]`)
	got, why := states()
	for _, name := range []string{"app:" + appKiosk.String(), "resource-accounts", "people"} {
		if got[name] != "unknown" {
			t.Errorf("%s with its permission withheld: %s\n%s", name, got[name], why)
		}
	}
	for _, permission := range []string{"DelegatedPermissionGrant.Read.All", "TeamsResourceAccount.Read.All", "Teams administrator", "User.Read.All"} {
		if !strings.Contains(why, permission) {
			t.Errorf("the unknown checks do not name %s:\n%s", permission, why)
		}
	}
	put("/_emulator/tenants/"+contoso+"/withheldPermissions", `[]`)

	// Throttled: nothing flagged failed, nothing passed that was not read.
	put("/_emulator/faults", "429=1,retry-after=1")
	got, why = states()
	for name, state := range got {
		if name != "acs-access" && state != "unknown" {
			t.Errorf("%s while Graph throttles every call: %s\n%s", name, state, why)
		}
	}
	if !strings.Contains(why, "slow down") {
		t.Errorf("the throttled checks do not say why:\n%s", why)
	}
}
