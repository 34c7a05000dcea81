package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Tab is one browser tab in a profile of its own: its own cookies, storage
// and cache, as if a different person sat at a different computer. Two tabs of
// one Browser can be signed in as two people at once.
//
// A Tab belongs to the test that opened it: its helpers fail that test (with
// Fatalf, so call them from its goroutine) and the tab closes when the test
// ends. Selectors are CSS selectors.
//
// A form submission that the page's CSP blocks (form-action, often on a
// redirect to another origin) fails the running or the next helper at once
// with a NavigationBlockedError, rather than letting a wait time out.
type Tab struct {
	t   testing.TB
	b   *Browser
	ctx context.Context

	mu            sync.Mutex
	violations    []CSPViolation
	reported      int                     // violations[:reported] were already reported by AssertNoCSPViolations
	blocked       *NavigationBlockedError // a blocked navigation no helper has failed on yet
	lastBlocked   string                  // the form action of the last blocked navigation
	lastBlockedAt time.Time               // and when it was seen
	abort         context.CancelCauseFunc // ends the running helper, or nil
	noScript      bool                    // DisableJavaScript was called
	effort        Effort                  // what the person did, and the documents loaded
}

// Effort is what a task took of the person and of the browser: the
// actions a person makes (a typed address, a click, a field filled, a
// form sent) and the documents loaded (each full page, redirects
// followed; htmx swaps are not loads). Tests of a task assert it does not
// grow.
type Effort struct {
	Actions, Loads int
}

// Effort is what the tab has done since it opened (or since ResetEffort).
func (tab *Tab) Effort() Effort {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return tab.effort
}

// ResetEffort starts counting again, e.g. after signing in.
func (tab *Tab) ResetEffort() {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	tab.effort = Effort{}
}

func (tab *Tab) acted() {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	tab.effort.Actions++
}

// NewTab opens a tab in a fresh profile for t and closes it, with its
// profile, when t ends. When t fails and PORTAL_SCREENSHOTS is set, the tab's
// last page is saved as DIR/<test name>-failed.png.
func (b *Browser) NewTab(t testing.TB) *Tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tab := &Tab{t: t, b: b, ctx: ctx}
	// The first Do opens the target, which lives as long as the context
	// of that call: the tab's own, unbounded, under a watchdog.
	if err := within(b.timeout, cancel, func() error { return chromedp.Do(ctx) }); err != nil {
		t.Fatalf("browsertest: opening a tab: %v\nbrowser output:\n%s", err, b.browserOutput())
	}
	if err := chromedp.Listen(ctx, tab.onEvent); err != nil {
		t.Fatalf("browsertest: listening to a tab: %v", err)
	}
	if err := tab.withTimeout(installCSPListener); err != nil {
		t.Fatalf("browsertest: %v", err)
	}
	t.Cleanup(func() {
		if dir := os.Getenv(ScreenshotsEnv); t.Failed() && dir != "" {
			if err := tab.screenshot(dir, t.Name()+"-failed"); err != nil {
				t.Logf("browsertest: failure screenshot: %v", err)
			}
		}
	})
	return tab
}

// Context is the chromedp context of the tab, for actions this package has
// no helper for. Bound it with a timeout: it lives as long as the tab.
func (tab *Tab) Context() context.Context { return tab.ctx }

// withTimeout runs f with the tab's context bounded by the Browser's timeout.
func (tab *Tab) withTimeout(f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(tab.ctx, tab.b.timeout)
	defer cancel()
	return f(ctx)
}

// do runs actions and fails the test if one of them fails.
func (tab *Tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tab.t.Helper()
	tab.helper(what, func(ctx context.Context) error { return chromedp.Do(ctx, actions...) })
}

// value runs one action that returns a value, failing the test as do does.
func value[T any](tab *Tab, what string, a chromedp.Action[T]) T {
	tab.t.Helper()
	var v T
	tab.helper(what, func(ctx context.Context) error {
		var err error
		v, err = chromedp.Run(ctx, a)
		return err
	})
	return v
}

// helper runs f within the Browser's timeout and fails the test, naming what
// it tried, where the tab was and the CSP violations not yet reported, when f
// fails. A navigation that the page's CSP blocked (a form-action violation)
// ends f at once, and fails the next helper when it came between two: waiting
// for a page that will never come would only time out.
func (tab *Tab) helper(what string, f func(ctx context.Context) error) {
	tab.t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, tab.b.timeout)
	defer cancel()
	ctx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	tab.mu.Lock()
	blocked := tab.blocked
	tab.blocked = nil
	if blocked == nil {
		tab.abort = abort
	}
	tab.mu.Unlock()
	var err error
	if blocked != nil {
		err = blocked
	} else {
		err = f(ctx)
		tab.mu.Lock()
		tab.abort = nil
		tab.mu.Unlock()
		var nb *NavigationBlockedError
		if errors.As(context.Cause(ctx), &nb) {
			err = nb
		}
	}
	if err == nil {
		return
	}
	msg := fmt.Sprintf("browsertest: %s: %v (on %s)", what, err, tab.location())
	if vs := tab.unreported(); len(vs) > 0 {
		msg += "\nCSP violations not yet reported:"
		for _, v := range vs {
			msg += "\n  - " + v.String()
		}
	}
	tab.t.Fatal(msg)
}

// location is the tab's URL for failure messages, or a placeholder.
func (tab *Tab) location() string {
	ctx, cancel := context.WithTimeout(tab.ctx, tab.b.timeout/4)
	defer cancel()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "an unknown page"
	}
	return u
}

// Navigate loads url and waits for its load event.
func (tab *Tab) Navigate(url string) {
	tab.t.Helper()
	tab.acted()
	tab.do("navigate to "+url, chromedp.Navigate(url))
}

// Click waits until the first element matching sel is visible and clicks its
// centre with the mouse, as a person would. A click that starts a navigation
// returns before the new page has loaded: wait for something on it.
func (tab *Tab) Click(sel string) {
	tab.t.Helper()
	tab.acted()
	tab.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// Fill waits until the field matching sel is visible, clears it and types
// value into it key by key (so input events fire).
func (tab *Tab) Fill(sel, value string) {
	tab.t.Helper()
	tab.acted()
	// chromedp.Clear empties the value attribute, not what was typed, and
	// fails on an empty textarea: set the live value instead.
	tab.helper("fill "+sel, func(ctx context.Context) error {
		return chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel)),
			chromedp.QueryAfter(chromedp.CSS(sel), func(ctx context.Context, t *chromedp.Target, nodes []*chromedp.Node) (chromedp.Void, error) {
				_, err := callOnNode[bool](ctx, t, nodes[0], `function() { this.value = ""; return true; }`)
				return chromedp.Void{}, err
			}),
			chromedp.SendKeys(chromedp.CSS(sel), value))
	})
}

// SetFiles chooses paths in the file input sel, as picking them in the
// file chooser would.
func (tab *Tab) SetFiles(sel string, paths ...string) {
	tab.t.Helper()
	tab.acted()
	tab.do("choose files in "+sel, chromedp.SetUploadFiles(chromedp.CSS(sel), paths))
}

// Submit submits the form that sel is, or that contains sel, as pressing its
// submit button would: with requestSubmit, so the form's validation and
// submit handlers (htmx) run. A submit button as sel is the submitter. With
// JavaScript turned off for the tab, click the submit button instead.
func (tab *Tab) Submit(sel string) {
	tab.t.Helper()
	tab.acted()
	const submitJS = `function() {
		const form = this instanceof HTMLFormElement ? this : (this.form || this.closest("form"));
		if (!form) return false;
		const submitter = (this.type === "submit" && this.form === form) ? this : null;
		form.requestSubmit(submitter);
		return true;
	}`
	ok := value(tab, "submit "+sel, chromedp.QueryAfter(chromedp.CSS(sel), func(ctx context.Context, t *chromedp.Target, nodes []*chromedp.Node) (bool, error) {
		return callOnNode[bool](ctx, t, nodes[0], submitJS)
	}))
	if !ok {
		tab.t.Fatalf("browsertest: submit %s: not a form nor inside one (on %s)", sel, tab.location())
	}
}

// callOnNode calls the JavaScript function decl with this bound to node.
func callOnNode[T any](ctx context.Context, t *chromedp.Target, node *chromedp.Node, decl string) (T, error) {
	var zero T
	obj, err := cdp.Call(ctx, t, dom.ResolveNode, dom.ResolveNodeParams{NodeID: node.NodeID})
	if err != nil {
		return zero, err
	}
	defer cdp.Call(ctx, t, runtime.ReleaseObject, runtime.ReleaseObjectParams{ObjectID: obj.Object.ObjectID})
	return chromedp.CallFunctionOn[T](decl, func(p *runtime.CallFunctionOnParams) { p.ObjectID = obj.Object.ObjectID })(ctx, t)
}

// WaitVisible waits until an element matching sel is in the page and visible.
func (tab *Tab) WaitVisible(sel string) {
	tab.t.Helper()
	tab.do("wait for "+sel+" to be visible", chromedp.WaitVisible(chromedp.CSS(sel)))
}

// WaitGone waits until no element matches sel.
func (tab *Tab) WaitGone(sel string) {
	tab.t.Helper()
	tab.do("wait for "+sel+" to go", chromedp.WaitNotPresent(chromedp.CSS(sel)))
}

// Text waits until an element matches sel and returns its text as rendered
// (innerText), with the surrounding space trimmed.
func (tab *Tab) Text(sel string) string {
	tab.t.Helper()
	return strings.TrimSpace(value(tab, "read the text of "+sel, chromedp.Text(chromedp.CSS(sel))))
}

// TestID is the CSS selector of the elements whose data-testid is id.
func TestID(id string) string {
	q, _ := json.Marshal(id)
	return "[data-testid=" + string(q) + "]"
}

// TextByTestID is Text(TestID(id)): the text of the element that carries
// data-testid=id.
func (tab *Tab) TextByTestID(id string) string {
	tab.t.Helper()
	return tab.Text(TestID(id))
}

// Count returns how many elements match sel now, without waiting; 0 says an
// element is absent.
func (tab *Tab) Count(sel string) int {
	tab.t.Helper()
	nodes := value(tab, "count "+sel, chromedp.Nodes(chromedp.CSSAll(sel), chromedp.AtLeast(0)))
	return len(nodes)
}

// URL returns the address of the page the tab shows.
func (tab *Tab) URL() string {
	tab.t.Helper()
	return value(tab, "read the URL", chromedp.Location())
}

// DisableJavaScript turns script execution off for this tab (the page it
// shows and those it loads next), to check that pages work without it. Helpers that read the
// page still work; Submit and Axe need JavaScript.
func (tab *Tab) DisableJavaScript() {
	tab.t.Helper()
	tab.do("disable JavaScript", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
	tab.mu.Lock()
	tab.noScript = true
	tab.mu.Unlock()
}

// EmulateColorScheme makes the tab's pages see prefers-color-scheme as
// scheme, "light" or "dark", as if the person's system were set so; ""
// ends the emulation. It holds for the page shown and those loaded next,
// and takes effect at once (no reload), as a system setting does.
func (tab *Tab) EmulateColorScheme(scheme string) {
	tab.t.Helper()
	switch scheme {
	case "", "light", "dark":
	default:
		tab.t.Fatalf("browsertest: EmulateColorScheme(%q): want light, dark or \"\"", scheme)
	}
	params := emulation.SetEmulatedMediaParams{}
	if scheme != "" {
		params.Features = []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}
	}
	tab.do("emulate prefers-color-scheme: "+scheme, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, params)
		return err
	}))
}

// Screenshot saves the visible part of the page as DIR/name.png when
// PORTAL_SCREENSHOTS=DIR is set, and does nothing otherwise. Characters that
// do not belong in a file name become "_".
func (tab *Tab) Screenshot(name string) {
	tab.t.Helper()
	dir := os.Getenv(ScreenshotsEnv)
	if dir == "" {
		return
	}
	if err := tab.screenshot(dir, name); err != nil {
		tab.t.Fatalf("browsertest: screenshot %s: %v", name, err)
	}
}

func (tab *Tab) screenshot(dir, name string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var png []byte
	err := tab.withTimeout(func(ctx context.Context) error {
		var err error
		png, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
		return err
	})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, fileName(name)+".png"), png, 0o644)
}

func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, s)
}
