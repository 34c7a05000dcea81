package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/teamsphone/portal/internal/browsertest"
)

// The people and resource accounts of the dev directory that the layout
// tests grant access to, so that the list and the audit log hold more than
// a screenful of rows, every one of them named as in a real tenant.
var layoutGrants = []struct {
	id, kind, label string
	apps            []string
	days            int // access ends this many days from now (0: never)
}{
	{"369f18b8-e505-4795-b1cf-e40cfc95f82e", "user", "Service desk lead, Lisbon", []string{appDesktopID, appMobileID}, 0},
	{"dc5bfeeb-3feb-4969-9ae9-92f428410341", "user", "Helpdesk tier 1, Porto desk 12", []string{appDesktopID}, 0},
	{"a5d9498c-c90d-4479-8c8d-09c17d95dd93", "user", "", []string{appMobileID}, 0},
	{"947e5c67-9d49-4a9f-818d-2e42a0bd3592", "user", "Temporary, night shift", []string{appDesktopID, appMobileID}, 30},
	{"3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a08", "user", "", []string{appDesktopID}, 0},
	{"6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c09", "resourceAccount", "Sales line", nil, 0},
	{devReception, "resourceAccount", "Reception, ground floor", nil, 0},
}

// layoutPortal is a "portal dev" with a bulk plan applied as a job and a
// reconcile run (for the pages that need them: the job's, the drift
// report's rows), and then the grants above made through the grant form,
// so that the audit log holds their real rows, newest first.
type layoutPortal struct {
	base       string
	plan, job  string // a plan's and its job's address
	resource   string // a resource account's assignment page
	userDetail string // a user's assignment page
}

func startLayoutPortal(t *testing.T) layoutPortal {
	t.Helper()
	p := layoutPortal{base: startDevPortal(t)}
	admin := httpSignIn(t, p.base, "admin@contoso.test")
	// A plan that relabels two rows, applied: its page and its job's.
	var body strings.Builder
	mw := multipart.NewWriter(&body)
	mw.WriteField("mode", "changes")
	fw, _ := mw.CreateFormFile("file", "relabel.csv")
	fmt.Fprintf(fw, "objectId,kind,clientIds,label\n%s,user,%s,Alice Smith desk 4\n%s,user,%s,Bruno Costa desk 5\n", seedAlice, appDesktopID, seedBruno, appDesktopID)
	mw.Close()
	resp, err := admin.Post(p.base+"/bulk", mw.FormDataContentType(), strings.NewReader(body.String()))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("uploading a plan: %d", resp.StatusCode)
	}
	p.plan = resp.Header.Get("Location")
	resp, err = admin.Post(p.base+p.plan+"/apply", "application/x-www-form-urlencoded", strings.NewReader(url.Values{"justification": {"CHG-2041 desks"}}.Encode()))
	if err == nil {
		resp.Body.Close()
		p.job = resp.Header.Get("Location")
	}
	if !strings.HasPrefix(p.job, "/bulk/jobs/") {
		t.Fatalf("applying %s did not lead to its job: %q, %v", p.plan, p.job, err)
	}
	waitFor(t, "the relabelling job to finish", func() bool {
		page, err := getPage(admin, p.base+p.job)
		return err == nil && strings.Contains(page, `data-state="done"`)
	}, nil)
	if status, _, err := postForm(admin, p.base+"/reconcile", url.Values{}); err != nil || status != http.StatusSeeOther {
		t.Fatalf("reconcile now: %d, %v", status, err)
	}
	waitFor(t, "the reconcile to report the seeded drift", func() bool {
		page, err := getPage(admin, p.base+"/drift")
		return err == nil && strings.Contains(page, `data-testid="drift-row"`)
	}, nil)
	for _, g := range layoutGrants {
		form := url.Values{"objectId": {g.id}, "kind": {g.kind}, "clientId": g.apps, "label": {g.label}, "justification": {"CHG-2040 more agents"}}
		if g.days != 0 {
			form.Set("expiresAt", time.Now().UTC().AddDate(0, 0, g.days).Format(time.DateOnly))
		}
		if status, _, err := postForm(admin, p.base+"/assignments", form); err != nil || status != http.StatusSeeOther {
			t.Fatalf("granting %s: %d, %v", g.id, status, err)
		}
	}
	p.resource = "/assignments/" + seedMainLine
	p.userDetail = "/assignments/" + seedAlice
	return p
}

// httpSignIn signs persona in over plain HTTP (given a login_hint the dev
// identity provider signs in without its picker) and returns a client that
// holds the session and does not follow redirects.
func httpSignIn(t *testing.T, base, persona string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: patience}
	resp, err := c.Get(base + "/auth/login?login_hint=" + url.QueryEscape(persona))
	if err != nil {
		t.Fatalf("signing %s in: %v", persona, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
		t.Fatalf("signing %s in ended on %s with %d", persona, resp.Request.URL, resp.StatusCode)
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// setViewport makes the tab's viewport width×height CSS pixels.
func setViewport(t *testing.T, tab *browsertest.Tab, width, height int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.Context(), patience)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height)); err != nil {
		t.Fatalf("setting the viewport to %d×%d: %v", width, height, err)
	}
}

// layoutPage is a page a persona can reach, and what shows it has loaded.
type layoutPage struct {
	name, path, ready string
	status            int64 // the HTTP status it answers with; 0 is 200
}

// pagesOf lists every page persona can reach in p, one of each kind: the
// ones the navigation leads to, and those behind a link, a search or a
// form (an assignment of each kind, a lookup, the people finder and the
// resource-account picker, a bulk plan and its job, the revoke
// confirmation, an error page). "" is someone signed out.
func (p layoutPage) String() string { return p.name }

func pagesOf(p layoutPortal, persona string) []layoutPage {
	tid := browsertest.TestID
	home := layoutPage{"home", "/", tid("user-name"), 0}
	readers := []layoutPage{
		home,
		{"list", "/assignments", tid("assignment-row"), 0},
		{"list-search", "/assignments?q=Smith", tid("assignment-row"), 0},
		{"user", p.userDetail, tid("facts"), 0},
		{"resource-account", p.resource, tid("facts"), 0},
		{"readiness-of-one", p.userDetail + "/readiness", tid("assignment-checks"), 0},
		{"lookup", "/lookup?objectId=" + seedACSOnlyUser, tid("lookup-result"), 0},
		{"drift", "/drift", tid("drift-row"), 0},
		{"expiries", "/expiries", tid("expiry-row"), 0},
		{"job", p.job, tid("job-progress"), 0},
		{"not-found", "/assignments/00000000-0000-4000-8000-000000000001", tid("error-page"), http.StatusNotFound},
	}
	changers := []layoutPage{
		{"grant", "/assignments/new", tid("grant-form"), 0},
		{"people-finder", "/assignments/new?find=a", tid("people-results"), 0},
		{"revoke", p.userDetail + "/delete", tid("revoke-form"), 0},
		{"bulk", "/bulk", tid("bulk-file"), 0},
		{"plan", p.plan, tid("plan-totals"), 0},
	}
	auditors := []layoutPage{
		{"audit", "/audit", tid("history-row"), 0},
		{"readiness", "/readiness", tid("check"), 0},
	}
	switch persona {
	case "":
		return []layoutPage{{"signed-out", "/", tid("signed-out"), 0}}
	case "norole@contoso.test":
		return []layoutPage{{"no-access", "/", tid("no-access"), http.StatusForbidden}}
	case "auditor@contoso.test":
		return append(readers, auditors...)
	case "helpdesk@contoso.test":
		return append(readers, changers...)
	}
	pages := append(append(readers, changers...), auditors...)
	return append(pages, layoutPage{"account-picker", "/assignments/new?accounts=1", tid("account"), 0})
}

// visit loads page in tab and waits until it shows what it is for.
func visit(t *testing.T, tab *browsertest.Tab, base string, page layoutPage) {
	t.Helper()
	want := page.status
	if want == 0 {
		want = http.StatusOK
	}
	if got := navigateStatus(t, tab, base+page.path); got != want {
		t.Fatalf("%s (%s) answered %d, want %d", page.name, page.path, got, want)
	}
	tab.WaitVisible(page.ready)
}

// Issue 16 (points 6, 9 and 11, and dark mode) as a person sees it, in
// Chromium against one "portal dev" with more than a screenful of rows:
// the list and the audit log show ten rows on a 1366×900 screen; an
// object ID shows short, copies whole and is there whole without
// JavaScript; nothing on any page a persona can reach is wider than a
// 390 px phone, with JavaScript or without, and tables there become cards
// that screen readers still read as tables; the pages without navigation
// use the width; every page passes axe in the light and the dark scheme,
// on a desktop and a phone.
func TestBrowserLayout(t *testing.T) {
	p := startLayoutPortal(t)
	b := browsertest.New(t)

	t.Run("ten rows above the fold at 1366×900", func(t *testing.T) {
		tab := b.NewTab(t)
		setViewport(t, tab, 1366, 900)
		signIn(t, tab, p.base, "admin@contoso.test")
		for _, c := range []struct{ page, row string }{
			{"/assignments", browsertest.TestID("assignment-row")},
			{"/audit", browsertest.TestID("history-row")},
		} {
			tab.Navigate(p.base + c.page)
			tab.WaitVisible(c.row)
			begun, whole := rowsAboveFold(t, tab, c.row)
			t.Logf("%s at 1366×900: %d rows above the fold, %d of them whole", c.page, begun, whole)
			if begun < 10 {
				t.Errorf("%s at 1366×900 shows %d rows above the fold (%d whole), want at least 10", c.page, begun, whole)
			}
		}
	})

	t.Run("pages without navigation use the width", func(t *testing.T) {
		for _, c := range []struct{ persona, card string }{{"", "signed-out"}, {"norole@contoso.test", "no-access"}} {
			tab := b.NewTab(t)
			setViewport(t, tab, 1366, 900)
			if c.persona != "" {
				signIn(t, tab, p.base, c.persona)
			}
			tab.Navigate(p.base + "/")
			tab.WaitVisible(browsertest.TestID(c.card))
			box := evalJS[[]float64](t, tab, `(() => { const r = document.querySelector(`+jsString(browsertest.TestID(c.card))+`).getBoundingClientRect(); return [r.left, r.width]; })()`)
			if left, width := box[0], box[1]; width < 560 || left < 200 {
				t.Errorf("the %s card is %.0f px wide at x=%.0f on a 1366 px screen, want a centred card of 560 px or more", c.card, width, left)
			}
		}
	})

	t.Run("object IDs show short, copy whole", func(t *testing.T) {
		tab := b.NewTab(t)
		setViewport(t, tab, 1366, 900)
		grantClipboard(t, tab, p.base)
		signIn(t, tab, p.base, "admin@contoso.test")
		tab.Navigate(p.base + "/assignments")
		oid := namesRow(seedAlice) + " " + browsertest.TestID("principal") + " .oid"
		tab.WaitVisible(oid + " .copy-id")
		id := evalJS[oidView](t, tab, oidJS(oid))
		if id.Text != seedAlice || id.Title != seedAlice {
			t.Errorf("the ID's element holds %q (title %q), want the whole ID %s for screen readers, selection and hover", id.Text, id.Title, seedAlice)
		}
		if id.Width < 40 || id.Width > 100 {
			t.Errorf("the ID is shown %.0f px wide, want about 9 characters", id.Width)
		}
		evalJS[bool](t, tab, `document.querySelector(`+jsString(oid+" .copy-id")+`).focus(), true`)
		if bubble := evalJS[string](t, tab, `getComputedStyle(document.querySelector(`+jsString(oid)+`), "::after").content`); !strings.Contains(bubble, seedAlice) {
			t.Errorf("with the copy button focused the ID's bubble shows %s, want the whole ID", bubble)
		}
		tab.Click(oid + " .copy-id")
		waitUntil(t, tab, "the copy to be confirmed", `document.querySelector(`+jsString(oid+" .copy-id")+`).dataset.copied === "yes"`)
		if got := tab.TextByTestID("copy-status"); got != "ID copied to the clipboard." {
			t.Errorf("the status message says %q", got)
		}
		if got := clipboardText(t, tab); got != seedAlice {
			t.Errorf("the clipboard holds %q, want %s", got, seedAlice)
		}
		tab.AssertNoCSPViolations(t)

		// Without JavaScript there is no button, and the ID is whole.
		nojs := b.NewTab(t)
		nojs.DisableJavaScript()
		signIn(t, nojs, p.base, "admin@contoso.test")
		nojs.Navigate(p.base + "/assignments")
		nojs.WaitVisible(namesRow(seedAlice))
		if got := evalJS[oidView](t, nojs, oidJS(oid)); got.Text != seedAlice || got.Title != seedAlice || got.ButtonShown {
			t.Errorf("without JavaScript the ID reads %q (title %q), its copy button shown: %v; want the whole ID and no button", got.Text, got.Title, got.ButtonShown)
		}
	})

	t.Run("nothing is wider than a phone", func(t *testing.T) {
		for _, persona := range []string{"", "admin@contoso.test", "helpdesk@contoso.test", "auditor@contoso.test", "norole@contoso.test"} {
			t.Run(cmp.Or(persona, "signed out"), func(t *testing.T) {
				tab := b.NewTab(t)
				setViewport(t, tab, 390, 844)
				if persona != "" {
					signIn(t, tab, p.base, persona)
				}
				for _, page := range pagesOf(p, persona) {
					visit(t, tab, p.base, page)
					assertFitsWidth(t, tab, page.name)
					if page.name == "list" {
						assertTableSemantics(t, tab, page.name)
						if persona == "admin@contoso.test" {
							tourShot(t, tab, "admin-phone-list")
						}
					}
				}
				tab.AssertNoCSPViolations(t)
			})
		}
		t.Run("without JavaScript", func(t *testing.T) {
			for _, persona := range []string{"admin@contoso.test", "helpdesk@contoso.test"} {
				tab := b.NewTab(t)
				tab.DisableJavaScript()
				setViewport(t, tab, 390, 844)
				signIn(t, tab, p.base, persona)
				for _, page := range pagesOf(p, persona) {
					switch page.name {
					case "list", "user", "audit", "grant", "account-picker", "people-finder", "plan", "job":
						visit(t, tab, p.base, page)
						assertFitsWidth(t, tab, persona+" without JavaScript: "+page.name)
					}
				}
			}
		})
	})

	t.Run("accessible in light and dark, desktop and phone", func(t *testing.T) {
		for _, persona := range []string{"", "admin@contoso.test", "norole@contoso.test"} {
			t.Run(cmp.Or(persona, "signed out"), func(t *testing.T) {
				tab := b.NewTab(t)
				if persona != "" {
					signIn(t, tab, p.base, persona)
				}
				for _, scheme := range []string{"light", "dark"} {
					tab.EmulateColorScheme(scheme)
					for _, size := range [][2]int64{{1366, 900}, {390, 844}} {
						setViewport(t, tab, size[0], size[1])
						for _, page := range pagesOf(p, persona) {
							visit(t, tab, p.base, page)
							if got, want := evalJS[string](t, tab, `getComputedStyle(document.body).backgroundColor`), map[string]string{"light": "rgb(255, 255, 255)", "dark": "rgb(13, 17, 23)"}[scheme]; got != want {
								t.Fatalf("%s in the %s scheme has the background %s, want %s", page.name, scheme, got, want)
							}
							tab.AssertAccessible(t)
							if page.name == "list" && scheme == "dark" && size[0] == 1366 {
								tourShot(t, tab, "admin-list-dark")
							}
						}
					}
				}
				tab.AssertNoCSPViolations(t)
			})
		}
	})
}

// rowsAboveFold counts the elements matching sel that begin on the first
// screen (their top within the viewport), and those it shows whole.
func rowsAboveFold(t *testing.T, tab *browsertest.Tab, sel string) (begun, whole int) {
	t.Helper()
	n := evalJS[[]int](t, tab, `(() => {
		window.scrollTo(0, 0);
		const rows = Array.from(document.querySelectorAll(`+jsString(sel)+`), r => r.getBoundingClientRect());
		return [rows.filter(r => r.top < innerHeight).length, rows.filter(r => r.bottom <= innerHeight).length];
	})()`)
	return n[0], n[1]
}

// assertFitsWidth fails t when the page is wider than the viewport, or
// when anything on it scrolls sideways (a table in a scrolling box counts:
// on a phone it is as bad as the page scrolling), naming what sticks out.
func assertFitsWidth(t *testing.T, tab *browsertest.Tab, what string) {
	t.Helper()
	res := evalJS[struct {
		ScrollWidth, InnerWidth float64
		Wide, Scrolling         []string
	}](t, tab, `(() => {
		const name = e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.getAttribute("data-testid") ? '[data-testid="' + e.getAttribute("data-testid") + '"]' : "") + (typeof e.className === "string" && e.className ? "." + e.className.trim().split(/\s+/).join(".") : "");
		const wide = [], scrolling = [];
		// How far right e shows: its box, cut by every ancestor that clips
		// (overflow other than visible), as a visually hidden header is.
		const right = e => {
			let r = e.getBoundingClientRect().right;
			for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
				if (getComputedStyle(a).overflowX !== "visible") r = Math.min(r, a.getBoundingClientRect().right);
			}
			return r;
		};
		for (const e of document.body.querySelectorAll("*")) {
			const w = e.getBoundingClientRect().width, r = w > 1 ? right(e) : 0;
			if (r > innerWidth + 0.5) wide.push(name(e) + " reaches " + Math.round(r) + " px");
			const s = getComputedStyle(e);
			if ((s.overflowX === "auto" || s.overflowX === "scroll") && e.scrollWidth > e.clientWidth + 1 && e.tagName !== "TEXTAREA") {
				scrolling.push(name(e) + " scrolls " + (e.scrollWidth - e.clientWidth) + " px");
			}
		}
		return {ScrollWidth: document.documentElement.scrollWidth, InnerWidth: innerWidth, Wide: wide.slice(0, 5), Scrolling: scrolling.slice(0, 5)};
	})()`)
	if res.ScrollWidth > res.InnerWidth || len(res.Wide) > 0 || len(res.Scrolling) > 0 {
		t.Errorf("%s is %.0f px wide on a %.0f px screen; too wide: %v; scrolling sideways: %v", what, res.ScrollWidth, res.InnerWidth, res.Wide, res.Scrolling)
	}
}

// assertTableSemantics fails t unless the accessibility tree still has
// the page's table as a table, with its column headers and a row per row,
// though the stylesheet shows its rows as cards.
func assertTableSemantics(t *testing.T, tab *browsertest.Tab, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.Context(), patience)
	defer cancel()
	tree, err := chromedp.Run(ctx, chromedp.Action[accessibility.GetFullAXTreeResult](func(ctx context.Context, tg *chromedp.Target) (accessibility.GetFullAXTreeResult, error) {
		return cdp.Call(ctx, tg, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	}))
	if err != nil {
		t.Fatalf("reading the accessibility tree of %s: %v", what, err)
	}
	roles := map[string]int{}
	for _, n := range tree.Nodes {
		if n.Role != nil && !n.Ignored {
			var role string
			json.Unmarshal(n.Role.Value, &role)
			roles[role]++
		}
	}
	rows := tab.Count(browsertest.TestID("assignment-row"))
	if roles["table"] != 1 || roles["columnheader"] < 7 || roles["row"] != rows+1 {
		t.Errorf("%s as cards reads to screen readers as %d table(s), %d column header(s), %d row(s); want 1 table, 7 column headers and %d rows", what, roles["table"], roles["columnheader"], roles["row"], rows+1)
	}
}

// oidView is what an object ID shows: its element's text and title, its
// width, and whether its copy button is shown.
type oidView struct {
	Text, Title string
	Width       float64
	ButtonShown bool
}

func oidJS(sel string) string {
	return `(() => {
		const o = document.querySelector(` + jsString(sel) + `), code = o.querySelector("code"), button = o.querySelector(".copy-id");
		return {Text: code.textContent, Title: code.title, Width: code.getBoundingClientRect().width, ButtonShown: !!button && !button.hidden && button.offsetParent !== null};
	})()`
}

// grantClipboard lets the tab's pages on base write and read the
// clipboard without asking, as a person who allowed it would.
func grantClipboard(t *testing.T, tab *browsertest.Tab, base string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.Context(), patience)
	defer cancel()
	profile := chromedp.FromContext(tab.Context()).BrowserContextID
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		for _, name := range []string{"clipboard-read", "clipboard-write"} {
			if _, err := cdp.Call(ctx, tg, browser.SetPermission, browser.SetPermissionParams{
				Permission: &browser.PermissionDescriptor{Name: name}, Setting: browser.PermissionSettingGranted,
				Origin: base, BrowserContextID: profile,
			}); err != nil {
				return err
			}
		}
		return nil
	}))
	if err != nil {
		t.Fatalf("granting the clipboard: %v", err)
	}
}

// clipboardText reads the clipboard through the page.
func clipboardText(t *testing.T, tab *browsertest.Tab) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.Context(), patience)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, func(p *runtime.EvaluateParams) { p.AwaitPromise = ptrTrue() }))
	if err != nil {
		t.Fatalf("reading the clipboard: %v", err)
	}
	return v
}

func ptrTrue() *bool { v := true; return &v }
