package browsertest_test

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/teamsphone/portal/internal/browsertest"
)

const strictCSP = "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"

// site is a small web site with the kinds of page the helpers must handle.
func site(t *testing.T) *httptest.Server {
	t.Helper()
	page := func(w http.ResponseWriter, title, body string) {
		w.Header().Set("Content-Security-Policy", strictCSP)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>%s</title><script src="/app.js"></script></head><body><main><h1>%s</h1>%s</main></body></html>`, title, title, body)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /app.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, `document.addEventListener("DOMContentLoaded", function () { var e = document.getElementById("js"); if (e) e.textContent = "JavaScript ran"; });`)
	})
	mux.HandleFunc("GET /scheme.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css")
		fmt.Fprint(w, `#scheme::after { content: "light"; } @media (prefers-color-scheme: dark) { #scheme::after { content: "dark"; } }`)
	})
	mux.HandleFunc("GET /scheme", func(w http.ResponseWriter, r *http.Request) {
		page(w, "Scheme", `<link rel="stylesheet" href="/scheme.css"><p id="scheme"></p>`)
	})
	mux.HandleFunc("GET /clean", func(w http.ResponseWriter, r *http.Request) {
		page(w, "Clean", `<p id="js">no JavaScript</p><p><a href="/form" data-testid="to-form">Go to the form</a></p>`)
	})
	mux.HandleFunc("GET /violating", func(w http.ResponseWriter, r *http.Request) {
		page(w, "Violating", `<p data-testid="styled" style="color: #900">inline style</p><script>document.title = "inline script ran";</script>`)
	})
	mux.HandleFunc("GET /inaccessible", func(w http.ResponseWriter, r *http.Request) {
		page(w, "Inaccessible", `<img src="/app.js" width="10" height="10"><button type="button"></button>`)
	})
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) {
		page(w, "Form", `<form method="post" action="/echo"><label for="q">Query</label> <input id="q" name="q" value="old"> <button type="submit" data-testid="go">Go</button></form>`)
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		page(w, "Echo", `<p data-testid="echo">`+html.EscapeString(r.PostFormValue("q"))+`</p>`)
	})
	mux.HandleFunc("GET /cookie/set", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "who", Value: r.URL.Query().Get("v"), Path: "/"})
		page(w, "Set", `<p data-testid="done">set</p>`)
	})
	mux.HandleFunc("GET /cookie/get", func(w http.ResponseWriter, r *http.Request) {
		v := "(none)"
		if c, err := r.Cookie("who"); err == nil {
			v = c.Value
		}
		page(w, "Get", `<p data-testid="who">`+html.EscapeString(v)+`</p>`)
	})
	// Another origin, where /leave redirects a form submission: the strict
	// CSP's form-action 'self' blocks that redirect.
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!DOCTYPE html><html lang="en"><title>Elsewhere</title><p data-testid="elsewhere">elsewhere</p></html>`)
	}))
	t.Cleanup(elsewhere.Close)
	mux.HandleFunc("GET /leaving", func(w http.ResponseWriter, r *http.Request) {
		page(w, "Leaving", `<form method="post" action="/leave"><button type="submit" data-testid="leave">Leave</button></form>`)
	})
	mux.HandleFunc("POST /leave", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/", http.StatusSeeOther)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// waitFor polls cond until it holds and reports whether it did; when it has
// not within browsertest.DefaultTimeout it fails t with Error (so that it can
// be called from any goroutine). A slow machine makes the wait longer, not
// red.
func waitFor(t testing.TB, what string, cond func() bool) bool {
	t.Helper()
	for deadline := time.Now().Add(browsertest.DefaultTimeout); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("waited %v for %s", browsertest.DefaultTimeout, what)
			return false
		}
	}
	return true
}

// fatalRecorder is a testing.TB whose Fatal ends the goroutine and records
// the message, so that a test can check how a helper fails.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	runtime.Goexit()
}
func (f *fatalRecorder) Fatalf(format string, args ...any) { f.Fatal(fmt.Sprintf(format, args...)) }

// failure runs steps as a test body and returns its Fatal message, or "".
func (f *fatalRecorder) failure(steps func()) string {
	done := make(chan struct{})
	go func() {
		defer close(done)
		steps()
	}()
	<-done
	return f.msg
}

// recorder is a testing.TB that records failures instead of failing, to
// check that the assertions fail when they must.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Helper()             {}
func (r *recorder) Logf(string, ...any) {}
func (r *recorder) Error(args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprint(args...))
}
func (r *recorder) Errorf(format string, args ...any) { r.Error(fmt.Sprintf(format, args...)) }
func (r *recorder) failures() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errs, "\n")
}

func TestBrowser(t *testing.T) {
	b := browsertest.New(t)
	srv := site(t)

	t.Run("read, click, fill and submit", func(t *testing.T) {
		tab := b.NewTab(t)
		tab.Navigate(srv.URL + "/clean")
		if got := tab.Text("h1"); got != "Clean" {
			t.Errorf("h1 %q, want Clean", got)
		}
		if got := tab.Text("#js"); got != "JavaScript ran" {
			t.Errorf("#js %q: the page's own script did not run", got)
		}
		tab.Click(browsertest.TestID("to-form"))
		tab.WaitVisible("#q")
		if got, want := tab.URL(), srv.URL+"/form"; got != want {
			t.Errorf("URL %q, want %q", got, want)
		}
		tab.Fill("#q", "héllo <world>")
		tab.Submit(browsertest.TestID("go"))
		tab.WaitVisible(browsertest.TestID("echo"))
		if got := tab.TextByTestID("echo"); got != "héllo <world>" {
			t.Errorf("echo %q, want the filled value", got)
		}
		if n := tab.Count("#q"); n != 0 {
			t.Errorf("%d #q on the echo page", n)
		}
		if n := tab.Count("p"); n != 1 {
			t.Errorf("%d p on the echo page, want 1", n)
		}
		tab.AssertNoCSPViolations(t)
		// Navigate, click, fill, submit; three documents (the load event
		// of the last may trail its content: wait for the count).
		waitFor(t, "three documents loaded", func() bool { return tab.Effort().Loads == 3 })
		if e := tab.Effort(); e != (browsertest.Effort{Actions: 4, Loads: 3}) {
			t.Errorf("effort %+v, want 4 actions and 3 loads", e)
		}
		tab.ResetEffort()
		if e := tab.Effort(); e != (browsertest.Effort{}) {
			t.Errorf("effort after a reset: %+v", e)
		}
	})

	t.Run("CSP violations are caught and reported once", func(t *testing.T) {
		tab := b.NewTab(t)
		tab.Navigate(srv.URL + "/clean")
		rec := &recorder{TB: t}
		tab.AssertNoCSPViolations(rec)
		if f := rec.failures(); f != "" {
			t.Fatalf("clean page: %s", f)
		}

		tab.Navigate(srv.URL + "/violating")
		tab.AssertNoCSPViolations(rec)
		f := rec.failures()
		for _, want := range []string{"script-src-elem", "style-src-attr", "inline", "Content Security Policy"} {
			if !strings.Contains(f, want) {
				t.Errorf("the failure does not mention %q:\n%s", want, f)
			}
		}
		var events, logs int
		for _, v := range tab.CSPViolations() {
			switch v.Source {
			case "event":
				events++
				if v.Page != srv.URL+"/violating" || v.Blocked != "inline" {
					t.Errorf("event %+v", v)
				}
			case "log":
				logs++
			}
		}
		if events != 2 || logs < 1 {
			t.Errorf("%d events and %d log entries, want 2 and some: %v", events, logs, tab.CSPViolations())
		}

		rec2 := &recorder{TB: t}
		tab.Navigate(srv.URL + "/clean")
		tab.AssertNoCSPViolations(rec2)
		if f := rec2.failures(); f != "" {
			t.Errorf("violations reported twice: %s", f)
		}
	})

	t.Run("a navigation the CSP blocks fails the wait at once", func(t *testing.T) {
		rec := &fatalRecorder{TB: t}
		tab := b.NewTab(rec)
		start := time.Now()
		msg := rec.failure(func() {
			tab.Navigate(srv.URL + "/leaving")
			tab.Click(browsertest.TestID("leave"))
			tab.WaitVisible(browsertest.TestID("elsewhere"))
		})
		// Not at once on a loaded machine, but well before the helper's
		// timeout, which a wait for a page that never comes runs into.
		if took := time.Since(start); took > browsertest.DefaultTimeout/2 {
			t.Errorf("the wait failed after %v, not at once", took)
		}
		// The click or, usually, the wait after it fails: the block comes
		// when the redirect's answer does.
		for _, want := range []string{"blocked a navigation", "form-action", srv.URL + "/leave", "on " + srv.URL + "/leaving"} {
			if !strings.Contains(msg, want) {
				t.Errorf("the failure does not mention %q:\n%s", want, msg)
			}
		}
		// Reported once: the event and the browser log entry are one block.
		rec2 := &fatalRecorder{TB: t}
		tab2 := b.NewTab(rec2)
		msg = rec2.failure(func() {
			tab2.Navigate(srv.URL + "/leaving")
			tab2.Click(browsertest.TestID("leave"))
			// Both reports of the block, the event and the log entry, come in.
			if !waitFor(t, "both reports of the blocked navigation", func() bool { return len(tab2.CSPViolations()) >= 2 }) {
				return
			}
			tab2.AssertNoCSPViolations(&recorder{TB: t})
			tab2.Navigate(srv.URL + "/clean")
		})
		if msg != "" {
			t.Errorf("a helper after the block was reported failed: %s", msg)
		}
	})

	t.Run("axe finds what is wrong and only that", func(t *testing.T) {
		tab := b.NewTab(t)
		tab.Navigate(srv.URL + "/clean")
		for _, v := range tab.Axe() {
			if v.Impact == "serious" || v.Impact == "critical" {
				t.Errorf("clean page: %s", v)
			}
		}
		tab.Navigate(srv.URL + "/inaccessible")
		rules := map[string]browsertest.AxeViolation{}
		for _, v := range tab.Axe() {
			rules[v.ID] = v
		}
		if v := rules["image-alt"]; v.Impact != "critical" || len(v.Nodes) != 1 || v.Nodes[0].Target != "img" {
			t.Errorf("image-alt: %+v", v)
		}
		if v := rules["button-name"]; v.Impact != "critical" {
			t.Errorf("button-name: %+v", v)
		}
		rec := &recorder{TB: t}
		tab.AssertAccessible(rec)
		for _, want := range []string{"image-alt (critical)", "button-name (critical)", "at img", "at button", "/inaccessible"} {
			if !strings.Contains(rec.failures(), want) {
				t.Errorf("AssertAccessible's failure does not mention %q:\n%s", want, rec.failures())
			}
		}
		// axe ran inside the page's strict CSP (no 'unsafe-eval') and must
		// not have caused a violation itself.
		tab.AssertNoCSPViolations(t)
	})

	t.Run("tabs have their own cookies", func(t *testing.T) {
		alice, bob := b.NewTab(t), b.NewTab(t)
		alice.Navigate(srv.URL + "/cookie/set?v=alice")
		bob.Navigate(srv.URL + "/cookie/set?v=bob")
		alice.Navigate(srv.URL + "/cookie/get")
		bob.Navigate(srv.URL + "/cookie/get")
		carol := b.NewTab(t)
		carol.Navigate(srv.URL + "/cookie/get")
		for tab, want := range map[*browsertest.Tab]string{alice: "alice", bob: "bob", carol: "(none)"} {
			if got := tab.TextByTestID("who"); got != want {
				t.Errorf("cookie %q, want %q", got, want)
			}
		}
	})

	t.Run("screenshots on request", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "shots")
		t.Setenv(browsertest.ScreenshotsEnv, dir)
		tab := b.NewTab(t)
		tab.Navigate(srv.URL + "/clean")
		tab.Screenshot("clean page/1")
		png, err := os.ReadFile(filepath.Join(dir, "clean_page_1.png"))
		if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n")) {
			t.Fatalf("screenshot: %v, %d bytes", err, len(png))
		}
		t.Setenv(browsertest.ScreenshotsEnv, "")
		tab.Screenshot("not taken")
		if _, err := os.Stat(filepath.Join(dir, "not_taken.png")); !os.IsNotExist(err) {
			t.Errorf("a screenshot without %s: %v", browsertest.ScreenshotsEnv, err)
		}
	})

	t.Run("the colour scheme can be chosen", func(t *testing.T) {
		tab := b.NewTab(t)
		tab.Navigate(srv.URL + "/scheme")
		scheme := func() string {
			t.Helper()
			ctx, cancel := context.WithTimeout(tab.Context(), browsertest.DefaultTimeout)
			defer cancel()
			v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.getElementById("scheme"), "::after").content`))
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		for _, want := range []string{"dark", "light", "dark"} {
			tab.EmulateColorScheme(want)
			if got := scheme(); got != `"`+want+`"` {
				t.Errorf("after EmulateColorScheme(%q) the page's style says %s", want, got)
			}
		}
		tab.Navigate(srv.URL + "/scheme")
		if got := scheme(); got != `"dark"` {
			t.Errorf("a page loaded after EmulateColorScheme(dark) says %s", got)
		}
	})

	t.Run("JavaScript can be turned off", func(t *testing.T) {
		tab := b.NewTab(t)
		tab.DisableJavaScript()
		tab.Navigate(srv.URL + "/clean")
		if got := tab.Text("#js"); got != "no JavaScript" {
			t.Errorf("#js %q: the script ran", got)
		}
		start := time.Now()
		tab.AssertNoCSPViolations(t)
		if took := time.Since(start); took > time.Second {
			t.Errorf("AssertNoCSPViolations took %v without JavaScript", took)
		}
		tab.Click(browsertest.TestID("to-form"))
		tab.Fill("#q", "plain")
		tab.Click(browsertest.TestID("go"))
		tab.WaitVisible(browsertest.TestID("echo"))
		if got := tab.TextByTestID("echo"); got != "plain" {
			t.Errorf("echo %q", got)
		}
		tab.Navigate(srv.URL + "/violating")
		var logged bool
		for _, v := range tab.CSPViolations() {
			logged = logged || v.Source == "log"
		}
		if tab.Text("title") == "inline script ran" || !logged {
			t.Errorf("without JavaScript the browser log should still report the blocked inline style: %v", tab.CSPViolations())
		}
	})
}

// stopper records how New gives up when there is no browser.
type stopper struct {
	testing.TB
	skipped, fatal string
}

func (s *stopper) Helper() {}
func (s *stopper) Skip(args ...any) {
	s.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}
func (s *stopper) Fatal(args ...any) {
	s.fatal = fmt.Sprint(args...)
	runtime.Goexit()
}

func TestMissingChromiumSkipsExceptInCI(t *testing.T) {
	t.Setenv(browsertest.ChromiumEnv, filepath.Join(t.TempDir(), "no-such-chromium"))
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		s := &stopper{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			browsertest.New(s)
		}()
		<-done
		switch {
		case ci == "" && (s.skipped == "" || s.fatal != ""):
			t.Errorf("CI unset: skipped %q, fatal %q; want a skip", s.skipped, s.fatal)
		case ci == "true" && (s.fatal == "" || s.skipped != ""):
			t.Errorf("CI=true: skipped %q, fatal %q; want a failure", s.skipped, s.fatal)
		}
		if msg := s.skipped + s.fatal; !strings.Contains(msg, "apt-get install -y chromium") || !strings.Contains(msg, "no-such-chromium") {
			t.Errorf("the message does not say why and how to install: %q", msg)
		}
	}
}

// Production code must never link the test support: the browser driver
// and the waits (testwait), which only they may import outside tests.
func TestNoProductionImports(t *testing.T) {
	testOnly := []string{"github.com/teamsphone/portal/internal/browsertest", "github.com/teamsphone/portal/internal/testwait"}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}: {{join .Imports " "}}`, "github.com/teamsphone/portal/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for line := range strings.Lines(string(out)) {
		pkg, imports, _ := strings.Cut(strings.TrimSpace(line), ": ")
		if slices.Contains(testOnly, pkg) {
			continue
		}
		for _, support := range testOnly {
			if strings.Contains(" "+imports+" ", " "+support+" ") {
				t.Errorf("%s imports %s outside its tests", pkg, support)
			}
		}
	}
}
