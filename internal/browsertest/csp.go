package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// CSPViolation is one Content Security Policy violation a tab saw: a
// securitypolicyviolation event of a page, or a message about the policy in
// the browser's log or the console.
type CSPViolation struct {
	Source    string // "event" (securitypolicyviolation), "log" (browser log) or "console" (a console.error call)
	Page      string // the document (event) or the URL the browser logged, when known
	Directive string // the effective directive, such as "script-src-elem" (events only)
	Blocked   string // what was blocked: a URL, "inline", "eval" (events only)
	Sample    string // the first characters of the blocked code, when the policy asks for samples (events only)
	Report    bool   // the policy is report-only: nothing was blocked
	Text      string // the browser's message (log and console only)
}

// String describes v in one line for a failure message.
func (v CSPViolation) String() string {
	if v.Source == "event" {
		s := fmt.Sprintf("%s blocked %q on %s", v.Directive, v.Blocked, v.Page)
		if v.Sample != "" {
			s += fmt.Sprintf(" (sample %q)", v.Sample)
		}
		if v.Report {
			s += " [report-only]"
		}
		return s
	}
	if v.Page != "" {
		return fmt.Sprintf("%s: %s (%s)", v.Source, v.Text, v.Page)
	}
	return v.Source + ": " + v.Text
}

// cspWorld is the isolated world the violation listener runs in: the page's
// scripts cannot see or remove it, and the page's CSP does not apply to it.
const (
	cspWorld   = "browsertest-csp"
	cspBinding = "__browsertestCSPViolation"
)

// cspListenerJS reports every securitypolicyviolation event of a document
// through the binding. The listener is added before the page's own content
// runs (Page.addScriptToEvaluateOnNewDocument), in capture phase.
const cspListenerJS = `document.addEventListener("securitypolicyviolation", function (e) {
	globalThis.` + cspBinding + `(JSON.stringify({
		page: e.documentURI, directive: e.effectiveDirective || e.violatedDirective,
		blocked: e.blockedURI, sample: e.sample, report: e.disposition === "report"
	}));
}, true);`

// installCSPListener makes every future document of the tab report its CSP
// violations to onEvent.
func installCSPListener(ctx context.Context) error {
	return chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, runtime.AddBinding, runtime.AddBindingParams{Name: cspBinding, ExecutionContextName: cspWorld}); err != nil {
			return fmt.Errorf("adding the CSP binding: %w", err)
		}
		if _, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspListenerJS, WorldName: cspWorld}); err != nil {
			return fmt.Errorf("adding the CSP listener: %w", err)
		}
		return nil
	}))
}

// onEvent runs on chromedp's read loop for every event of the tab: it must
// be quick and must not call the browser.
func (tab *Tab) onEvent(ev any) {
	var v CSPViolation
	switch ev := ev.(type) {
	case *page.EventFrameNavigated:
		if ev.Frame != nil && ev.Frame.ParentID == "" {
			tab.mu.Lock()
			tab.effort.Loads++
			tab.mu.Unlock()
		}
		return
	case *runtime.EventBindingCalled:
		if ev.Name != cspBinding {
			return
		}
		var p struct {
			Page, Directive, Blocked, Sample string
			Report                           bool
		}
		if err := json.Unmarshal([]byte(ev.Payload), &p); err != nil {
			v = CSPViolation{Source: "event", Text: "unreadable report: " + ev.Payload}
			break
		}
		v = CSPViolation{Source: "event", Page: p.Page, Directive: p.Directive, Blocked: p.Blocked, Sample: p.Sample, Report: p.Report}
	case *log.EventEntryAdded:
		if ev.Entry == nil || !mentionsCSP(ev.Entry.Text) {
			return
		}
		v = CSPViolation{Source: "log", Page: ev.Entry.URL, Text: strings.TrimSpace(ev.Entry.Text)}
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeWarning {
			return
		}
		text := consoleText(ev.Args)
		if !mentionsCSP(text) {
			return
		}
		v = CSPViolation{Source: "console", Text: strings.TrimSpace(text)}
	default:
		return
	}
	tab.mu.Lock()
	defer tab.mu.Unlock()
	tab.violations = append(tab.violations, v)
	// The event and the browser log report one blocked submission each:
	// count it once.
	if url := blockedNavigation(v); url != "" && (url != tab.lastBlocked || time.Since(tab.lastBlockedAt) > 2*time.Second) {
		tab.lastBlocked, tab.lastBlockedAt = url, time.Now()
		err := &NavigationBlockedError{Violation: v}
		if tab.abort != nil {
			tab.abort(err)
		} else if tab.blocked == nil {
			tab.blocked = err
		}
	}
}

// NavigationBlockedError is why a helper failed when the page's Content
// Security Policy stopped a form submission (form-action), often on a
// redirect to another origin: the browser stays on the page.
type NavigationBlockedError struct{ Violation CSPViolation }

func (e *NavigationBlockedError) Error() string {
	return "the Content Security Policy blocked a navigation: " + e.Violation.String()
}

// blockedNavigation returns the form action whose submission v blocked, or ""
// when v blocked no navigation. Chrome names the form's own action, not the
// redirect it refused.
func blockedNavigation(v CSPViolation) string {
	if v.Source == "event" {
		if v.Directive == "form-action" && !v.Report {
			return v.Blocked
		}
		return ""
	}
	const prefix = "Sending form data to '"
	if i := strings.Index(v.Text, prefix); i >= 0 && strings.Contains(v.Text, "form-action") && strings.Contains(v.Text, "has been blocked") {
		url, _, _ := strings.Cut(v.Text[i+len(prefix):], "'")
		return url
	}
	return ""
}

// unreported returns the violations AssertNoCSPViolations has not reported.
func (tab *Tab) unreported() []CSPViolation {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return append([]CSPViolation(nil), tab.violations[tab.reported:]...)
}

func mentionsCSP(s string) bool {
	return strings.Contains(strings.ToLower(s), "content security policy")
}

func consoleText(args []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range args {
		if a == nil {
			continue
		}
		var s string
		if len(a.Value) > 0 && json.Unmarshal(a.Value, &s) == nil {
			parts = append(parts, s)
		} else if a.Description != "" {
			parts = append(parts, a.Description)
		} else {
			parts = append(parts, string(a.Value))
		}
	}
	return strings.Join(parts, " ")
}

// CSPViolations returns every CSP violation the tab has seen since it opened,
// oldest first.
func (tab *Tab) CSPViolations() []CSPViolation {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return append([]CSPViolation(nil), tab.violations...)
}

// AssertNoCSPViolations fails t (without stopping it) listing the CSP
// violations the tab has seen since it opened or since the last
// AssertNoCSPViolations, so each violation is reported once. It first lets
// the page finish its pending tasks, so that the events of violations that
// have happened are in.
func (tab *Tab) AssertNoCSPViolations(t testing.TB) {
	t.Helper()
	tab.settle()
	tab.mu.Lock()
	fresh := append([]CSPViolation(nil), tab.violations[tab.reported:]...)
	tab.reported = len(tab.violations)
	tab.blocked = nil // reported here: the next helper need not fail on it
	tab.mu.Unlock()
	if len(fresh) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d Content Security Policy violation(s), now on %s:", len(fresh), tab.location())
	for _, v := range fresh {
		b.WriteString("\n  - " + v.String())
	}
	t.Error(b.String())
}

// settle waits for one turn of the page's task queue: securitypolicyviolation
// events are dispatched as tasks, and a binding's event reaches chromedp
// before the answer to a later command. With JavaScript off it returns at
// once.
func (tab *Tab) settle() {
	tab.mu.Lock()
	noScript := tab.noScript
	tab.mu.Unlock()
	if noScript { // a script would wait for ever; the browser log reports at once
		return
	}
	ctx, cancel := context.WithTimeout(tab.ctx, tab.b.timeout/4)
	defer cancel()
	_, _ = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`new Promise(function (r) { setTimeout(r, 0); })`, chromedp.EvalAwaitPromise))
}
