// Package browsertest drives a headless Chromium from Go tests: one browser per
// test (or per package), one isolated profile per person, with helpers that
// read the page the way a person would, catch Content Security Policy
// violations and run the axe-core accessibility checks.
//
// It is test support only. Its files are not _test.go files so that the tests
// of any package can import it, but no production package may: the test
// TestNoProductionImports enforces that.
//
// Chromium comes from PORTAL_TEST_CHROMIUM, /usr/bin/chromium or "chromium" on
// PATH. Without one, New skips the test, except under CI=true, where a missing
// browser fails it: CI must never pass by skipping the browser tests.
package browsertest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/teamsphone/portal/internal/testwait"
)

// Browser is one running headless Chromium. It is safe to open tabs from
// several goroutines; each Tab belongs to one test goroutine.
type Browser struct {
	ctx     context.Context // the chromedp context that owns the browser
	timeout time.Duration

	mu     sync.Mutex
	output bytes.Buffer // the browser's stdout and stderr, for failure messages
}

// Option changes how New starts the browser.
type Option func(*config)

type config struct {
	execPath      string
	timeout       time.Duration
	width, height int
}

// DefaultTimeout is how long starting the browser, opening a tab or one
// helper (a navigation, a click, a wait) may take before it fails the test,
// unless WithTimeout says otherwise. It is generous on purpose: every helper
// ends as soon as what it waits for happens, so the bound costs nothing on a
// quick machine, while on a loaded one (the whole suite beside other work, a
// load average of 10 on 2 cores) a navigation or a new tab can take well over
// 10 seconds. Only a test that is failing anyway waits it out. It is every
// test's patience (testwait.Patience).
const DefaultTimeout = testwait.Patience

// WithTimeout sets how long starting the browser, opening a tab or one
// helper (a navigation, a click, a wait) may take before it fails the test.
// The default is DefaultTimeout.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithWindowSize sets the size of every tab's viewport, in CSS pixels. The
// default is 1280×900.
func WithWindowSize(width, height int) Option {
	return func(c *config) { c.width, c.height = width, height }
}

// WithExecPath runs the Chromium at path, overriding PORTAL_TEST_CHROMIUM and
// the search of /usr/bin/chromium and PATH.
func WithExecPath(path string) Option { return func(c *config) { c.execPath = path } }

// ChromiumEnv names the variable that points at the Chromium to use.
const ChromiumEnv = "PORTAL_TEST_CHROMIUM"

// ScreenshotsEnv names the variable that turns screenshots on: the folder
// they are written to. It is read at each screenshot.
const ScreenshotsEnv = "PORTAL_SCREENSHOTS"

// New starts a headless Chromium for t and stops it when t and its subtests
// are done. When no Chromium is found it skips t with a message saying how to
// install one, or fails t when the environment has CI=true. A Chromium that is
// found but will not start always fails t.
func New(t testing.TB, opts ...Option) *Browser {
	t.Helper()
	cfg := config{timeout: DefaultTimeout, width: 1280, height: 900}
	for _, o := range opts {
		o(&cfg)
	}
	path, why := findChromium(cfg.execPath)
	if path == "" {
		msg := "browsertest: no Chromium: " + why + `; install it with "apt-get install -y chromium" (as root) or set ` + ChromiumEnv
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI=true: browser tests must run, not skip)")
		}
		t.Skip(msg)
	}

	b := &Browser{timeout: cfg.timeout}
	allocOpts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // root in a container has no user namespaces for the sandbox
		chromedp.DisableGPU,
		chromedp.WindowSize(cfg.width, cfg.height),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.CombinedOutput(lockedWriter{b}),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), allocOpts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	// The first Do starts the browser; its context has no deadline because
	// the browser lives as long as that context. The start alone is bounded
	// by a watchdog.
	if err := within(cfg.timeout, cancelBrowser, func() error { return chromedp.Do(ctx) }); err != nil {
		t.Fatalf("browsertest: starting %s: %v\nbrowser output:\n%s", path, err, b.browserOutput())
	}
	b.ctx = ctx
	return b
}

// findChromium returns the browser to run, or "" and why there is none.
func findChromium(explicit string) (path, why string) {
	if explicit != "" {
		return explicit, ""
	}
	if p := os.Getenv(ChromiumEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", ChromiumEnv + "=" + p + ": " + err.Error()
		}
		return p, ""
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium", ""
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		return "", "neither /usr/bin/chromium nor chromium on PATH"
	}
	return p, ""
}

func (b *Browser) browserOutput() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.output.String()
}

// lockedWriter lets the allocator's goroutines write the browser's output
// while a failing test reads it.
type lockedWriter struct{ b *Browser }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.b.mu.Lock()
	defer w.b.mu.Unlock()
	if w.b.output.Len() > 64<<10 { // keep the start, which explains a failed launch
		return len(p), nil
	}
	return w.b.output.Write(p)
}

// within runs start, which must not be given a deadline because what it
// starts lives as long as its context, and gives up after d, cancelling.
func within(d time.Duration, cancel context.CancelFunc, start func() error) error {
	done := make(chan error, 1)
	go func() { done <- start() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		cancel()
		return fmt.Errorf("no answer within %s", d)
	}
}
