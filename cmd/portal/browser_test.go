package main

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/browsertest"
)

// startDevPortal runs "portal dev" in-process on a free loopback port with its
// data in a temporary folder, and returns the address it prints. The portal
// stops when t ends, and must stop cleanly.
func startDevPortal(t *testing.T, flags ...string) string {
	t.Helper()
	base, _ := startDevPortalWithGraph(t, flags...)
	return base
}

// startDevPortalWithGraph is startDevPortal that also returns the address
// of the dev Graph emulator, from the same banner.
func startDevPortalWithGraph(t *testing.T, flags ...string) (base, graphURL string) {
	t.Helper()
	p := startDev(t, flags...)
	return p.base, p.graph
}

// devAddresses are where a "portal dev" started by a test serves: the
// portal, its Graph emulator, and its ACS emulator (to change ACS behind
// the portal's back, signed with devAccessKey).
type devAddresses struct{ base, graph, acs string }

// startDev is startDevPortal returning every address its banner prints.
func startDev(t *testing.T, flags ...string) devAddresses {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	args := append([]string{"dev", "-addr", "127.0.0.1:0", "-data", t.TempDir()}, flags...)
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, noEnv, &out, &errOut) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("portal dev: %v\nstderr:\n%s", err, errOut.String())
			}
		case <-time.After(patience):
			t.Errorf("portal dev did not stop within %v of its context ending", patience)
		}
	})
	banner := regexp.MustCompile(`Teams Phone Access Portal \(dev\) at (http://127\.0\.0\.1:\d+)\n(?s:.*)\n  Graph emulator: (http://127\.0\.0\.1:\d+) `)
	var m []string
	var stopped bool
	var err error
	waitFor(t, "portal dev to print its address and Graph emulator", func() bool {
		if m = banner.FindStringSubmatch(out.String()); m != nil {
			return true
		}
		select {
		case err = <-done:
			done <- err // for the cleanup
			stopped = true
			return true
		default:
			return false
		}
	}, func() string { return "stdout:\n" + out.String() + "\nstderr:\n" + errOut.String() })
	if stopped {
		t.Fatalf("portal dev stopped before serving: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	a := devAddresses{base: m[1], graph: m[2]}
	if acs := regexp.MustCompile(`ACS emulator: PORTAL_ACS_CONNECTION_STRING=endpoint=(http://127\.0\.0\.1:\d+)/;`).FindStringSubmatch(out.String()); acs != nil {
		a.acs = acs[1]
	}
	return a
}

// signIn goes through the sign-in a person would: the portal's start page,
// its sign-in link, the dev identity provider's account picker (no
// login_hint), the persona, and back. It checks for CSP violations on each
// page on the way and returns on the first portal page after the sign-in.
func signIn(t *testing.T, tab *browsertest.Tab, base, loginHint string) {
	t.Helper()
	tab.Navigate(base + "/")
	tab.WaitVisible(browsertest.TestID("signed-out"))
	if n := tab.Count(browsertest.TestID("user-name")); n != 0 {
		t.Fatalf("a new browser profile is already signed in on %s", tab.URL())
	}
	tab.AssertNoCSPViolations(t)

	tab.Click(browsertest.TestID("sign-in"))
	persona := browsertest.TestID("persona") + `[data-login-hint="` + loginHint + `"]`
	tab.WaitVisible(persona)
	if got := tab.TextByTestID("dev-banner"); got != "Development identity provider, not Microsoft Entra ID." {
		t.Errorf("the account picker's banner says %q", got)
	}
	tab.AssertNoCSPViolations(t)

	tab.Click(persona)
	tab.WaitVisible(browsertest.TestID("user-name"))
	if got := tab.URL(); got != base+"/" {
		t.Errorf("signed in on %s, want the start page %s/", got, base)
	}
	tab.AssertNoCSPViolations(t)
}

// signOut presses "Sign out" and checks that the browser ends on the portal's
// signed-out start page, past the identity provider's sign-out (the portal
// answers the form with a redirect to the IdP's end-session endpoint, which
// redirects back).
func signOut(t *testing.T, tab *browsertest.Tab, base string) {
	t.Helper()
	tab.Click(browsertest.TestID("sign-out"))
	tab.WaitVisible(browsertest.TestID("signed-out"))
	if got := tab.URL(); got != base+"/" {
		t.Errorf("signed out on %s, want the start page %s/", got, base)
	}
	if n := tab.Count(browsertest.TestID("user-name")); n != 0 {
		t.Errorf("the page still names someone after signing out")
	}
	tab.AssertNoCSPViolations(t)
}

// Each dev persona signs in through the real account picker in Chromium, sees
// their name, role and tenant in the top bar, and signs out; a persona with no
// portal role lands on the no-access page. No page on the way breaks the
// portal's Content Security Policy, and the start, home and no-access pages
// pass axe-core's serious and critical checks.
func TestBrowserSignInAsEachPersona(t *testing.T) {
	base := startDevPortal(t)
	b := browsertest.New(t)

	t.Run("signed-out start page is accessible", func(t *testing.T) {
		tab := b.NewTab(t)
		tab.Navigate(base + "/")
		tab.WaitVisible(browsertest.TestID("sign-in"))
		tab.AssertAccessible(t)
		tab.AssertNoCSPViolations(t)
	})

	for _, p := range []struct {
		loginHint, name, role, tenant string
		axe                           bool // check the home page's accessibility once: it is one template
	}{
		{"admin@contoso.test", "Adele Admin", "Admin", "Contoso", true},
		{"helpdesk@contoso.test", "Hugo Helpdesk", "Helpdesk", "Contoso", false},
		{"auditor@contoso.test", "Aude Auditor", "Auditor", "Contoso", false},
		{"admin@fabrikam.test", "Fabian Admin", "Admin", "Fabrikam", false},
	} {
		t.Run(p.loginHint, func(t *testing.T) {
			tab := b.NewTab(t)
			signIn(t, tab, base, p.loginHint)
			for id, want := range map[string]string{"user-name": p.name, "user-role": p.role, "user-tenant": p.tenant} {
				if got := tab.TextByTestID(id); got != want {
					t.Errorf("%s shows %q, want %q", id, got, want)
				}
			}
			if n := tab.Count(browsertest.TestID("no-access")); n != 0 {
				t.Errorf("%s, who holds a role, sees the no-access page", p.name)
			}
			if p.axe {
				tab.AssertAccessible(t)
			}
			signOut(t, tab, base)
		})
	}

	t.Run("norole@contoso.test", func(t *testing.T) {
		tab := b.NewTab(t)
		signIn(t, tab, base, "norole@contoso.test")
		tab.WaitVisible(browsertest.TestID("no-access"))
		if got := tab.TextByTestID("user-name"); got != "Nora Norole" {
			t.Errorf("user-name shows %q, want Nora Norole", got)
		}
		if got := tab.TextByTestID("user-tenant"); got != "Contoso" {
			t.Errorf("user-tenant shows %q, want Contoso", got)
		}
		if n := tab.Count(browsertest.TestID("user-role")); n != 0 {
			t.Errorf("a person with no portal role is shown a role: %q", tab.TextByTestID("user-role"))
		}
		tab.AssertAccessible(t)
		signOut(t, tab, base)
	})
}
