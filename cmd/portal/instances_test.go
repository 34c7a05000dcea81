package main

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/pgtest"
	"github.com/teamsphone/portal/internal/portal"
)

// Two real portal processes on one PostgreSQL database and one ACS: what
// several instances behind a load balancer must get right.
func TestTwoInstancesOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two real portals on PostgreSQL")
	}
	schema := pgtest.FreshSchema(t)
	emu, acsFlag := sharedACS(t)

	// Both start at once: the migrations run once, under a lock.
	var a, b *portalProc
	var wg sync.WaitGroup
	wg.Go(func() { a = startPortalProc(t, t.TempDir(), "-database", schema, "-acs-connection-string", acsFlag) })
	wg.Go(func() { b = startPortalProc(t, t.TempDir(), "-database", schema, "-acs-connection-string", acsFlag) })
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	t.Run("a session made on one is valid on the other, and logout on one ends it on both", func(t *testing.T) {
		c := a.client(t, "admin@contoso.test")
		cookie := sessionCookieOf(t, c, a.base)
		if status, _, page := sendCookie(t, b.base+"/assignments", cookie); status != 200 || !strings.Contains(page, "Adele Admin") {
			t.Fatalf("instance B with A's session: %d", status)
		}
		if status, _, _ := send(t, c, "POST", a.base+"/auth/logout", "application/x-www-form-urlencoded", strings.NewReader("")); status != http.StatusSeeOther {
			t.Fatalf("logout on A: %d", status)
		}
		// The same cookie, kept from before the logout, is dead on B too.
		if status, loc, _ := sendCookie(t, b.base+"/assignments", cookie); status != http.StatusSeeOther || !strings.HasPrefix(loc, "/auth/login") {
			t.Errorf("instance B after logout on A: %d → %s, want a redirect to sign in", status, loc)
		}
	})

	admin := a.client(t, "admin@contoso.test")
	adminB := b.client(t, "admin@contoso.test")
	object := portal.MustParseGUID("e5b7f628-ea94-4fdc-b3d9-1af1fe231111")

	t.Run("two simultaneous edits through different instances: one success, one conflict", func(t *testing.T) {
		form := url.Values{"objectId": {object.String()}, "kind": {"user"}, "clientId": {appDesktop.String()}, "label": {"Alice"}}
		if status, _, page := send(t, admin, "POST", a.base+"/assignments", "application/x-www-form-urlencoded", strings.NewReader(form.Encode())); status != http.StatusSeeOther {
			t.Fatalf("grant: %d %.300s", status, page)
		}
		_, _, page := send(t, adminB, "GET", b.base+"/assignments/"+object.String(), "", nil)
		version, seen := hiddenField(page, "version"), hiddenField(page, "seen")
		if version == "" || seen == "" {
			t.Fatalf("no edit form on B's detail page")
		}
		statuses := make([]int, 2)
		var wg sync.WaitGroup
		for i, inst := range []struct {
			c    *http.Client
			base string
			app  portal.GUID
		}{{admin, a.base, appMobile}, {adminB, b.base, appDesktop}} {
			wg.Go(func() {
				edit := url.Values{"version": {version}, "seen": {seen}, "clientId": {appDesktop.String(), inst.app.String()}, "label": {fmt.Sprintf("edit %d", i)}}
				statuses[i], _, _ = send(t, inst.c, "POST", inst.base+"/assignments/"+object.String(), "application/x-www-form-urlencoded", strings.NewReader(edit.Encode()))
			})
		}
		wg.Wait()
		ok, conflicts := 0, 0
		for _, s := range statuses {
			switch s {
			case http.StatusSeeOther:
				ok++
			case http.StatusConflict:
				conflicts++
			}
		}
		if ok != 1 || conflicts != 1 {
			t.Errorf("statuses %v: want one success (303) and one conflict (409)", statuses)
		}
	})

	t.Run("a bulk job started on one shows its progress on the other", func(t *testing.T) {
		emu.SetRates(acsemu.Rates{Latency: 20 * time.Millisecond})
		defer emu.SetRates(acsemu.Rates{})
		emu.ResetRequests()
		var file strings.Builder
		file.WriteString("objectId,kind,clientIds,label\n")
		const rows = 200
		for i := range rows {
			fmt.Fprintf(&file, "%08x-0000-4000-8000-%012x,user,%s,Twin agent %d\n", i+1, i+1, appDesktop, i)
		}
		job := a.applyCSV(t, admin, file.String())
		seenRunning := false
		b.waitJob(t, adminB, job, time.Minute, func(state string, done int) bool {
			seenRunning = seenRunning || state == string(portal.JobRunning) && done > 0 && done < rows
			return state == string(portal.JobDone)
		})
		if !seenRunning {
			t.Log("the job finished before B saw it half done (a fast machine); B still read its end")
		}
		puts := 0
		for _, r := range emu.Requests() {
			if r.Method == http.MethodPut {
				puts++
			}
		}
		if puts != rows {
			t.Errorf("ACS saw %d PUTs for %d rows: a row was applied twice or not at all", puts, rows)
		}
		_, _, result := send(t, adminB, "GET", b.base+job+"/result.csv", "", nil)
		if n := strings.Count(result, ",success,"); n != rows {
			t.Errorf("%d rows succeeded, want %d", n, rows)
		}
	})

	// Another tenant's admin on either instance sees none of it.
	fabrikam := b.client(t, "admin@fabrikam.test")
	if _, _, page := send(t, fabrikam, "GET", b.base+"/assignments?q=Twin", "", nil); strings.Contains(page, "Twin agent") {
		t.Error("Fabrikam sees Contoso's rows")
	}
}

// Hidden inputs, and a name or value among their attributes (in any order,
// beside others such as an id).
var (
	hiddenRE      = regexp.MustCompile(`<input type="hidden"([^>]*)>`)
	hiddenNameRE  = regexp.MustCompile(` name="([^"]*)"`)
	hiddenValueRE = regexp.MustCompile(` value="([^"]*)"`)
)

// hiddenField is the value of the first hidden input named name on page.
func hiddenField(page, name string) string {
	for _, m := range hiddenRE.FindAllStringSubmatch(page, -1) {
		if n := hiddenNameRE.FindStringSubmatch(m[1]); n != nil && n[1] == name {
			if v := hiddenValueRE.FindStringSubmatch(m[1]); v != nil {
				return v[1]
			}
			return ""
		}
	}
	return ""
}

// sessionCookieOf is c's session cookie for base.
func sessionCookieOf(t *testing.T, c *http.Client, base string) *http.Cookie {
	t.Helper()
	u, _ := url.Parse(base)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "portal" {
			return ck
		}
	}
	t.Fatal("no session cookie")
	return nil
}

// sendCookie GETs addr with only that cookie, following no redirect.
func sendCookie(t *testing.T, addr string, ck *http.Cookie) (int, string, string) {
	t.Helper()
	u, _ := url.Parse(addr)
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: ck.Value}})
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return send(t, c, "GET", addr, "", nil)
}
