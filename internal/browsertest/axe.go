package browsertest

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// axeSource is axe-core's axe.min.js, pinned in testdata/axe (see its README).
//
//go:embed testdata/axe/axe.min.js
var axeSource string

// AxeViolation is one axe-core rule that failed on the page, with the
// elements it failed on.
type AxeViolation struct {
	ID      string    `json:"id"`     // the rule, such as "color-contrast"
	Impact  string    `json:"impact"` // "minor", "moderate", "serious" or "critical"
	Help    string    `json:"help"`   // one sentence saying what the rule wants
	HelpURL string    `json:"helpUrl"`
	Nodes   []AxeNode `json:"nodes"`
}

// AxeNode is one element an axe-core rule failed on.
type AxeNode struct {
	Target         string `json:"target"`         // a CSS selector of the element
	HTML           string `json:"html"`           // the start of its markup
	FailureSummary string `json:"failureSummary"` // what to fix
}

// String describes v for a failure message: the rule, its impact and help,
// then each element with what to fix.
func (v AxeViolation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): %s <%s>", v.ID, v.Impact, v.Help, v.HelpURL)
	for _, n := range v.Nodes {
		fmt.Fprintf(&b, "\n      at %s  %s", n.Target, n.HTML)
		if n.FailureSummary != "" {
			b.WriteString("\n        " + strings.ReplaceAll(n.FailureSummary, "\n", "\n        "))
		}
	}
	return b.String()
}

// axeWorld is the isolated world axe runs in: it sees the page's DOM but not
// its scripts, and its code (which compiles templates with new Function) is
// not subject to the page's CSP, so running axe causes no violation.
const axeWorld = "browsertest-axe"

// axeRunJS runs every axe-core rule on the document and keeps the violations.
const axeRunJS = `axe.run(document, {resultTypes: ["violations"]}).then(function (r) {
	return r.violations.map(function (v) {
		return {
			id: v.id, impact: v.impact || "", help: v.help, helpUrl: v.helpUrl,
			nodes: v.nodes.map(function (n) {
				return {target: n.target.map(String).join(" "), html: n.html, failureSummary: n.failureSummary || ""};
			})
		};
	});
})`

// Axe runs axe-core on the page the tab shows (all rules that axe runs by
// default: WCAG 2.x A and AA and best practices) and returns the rules that
// failed, in axe's order; none is an empty slice. axe is injected through the
// DevTools protocol into an isolated world, so the page's CSP neither blocks
// it nor sees it. The tab needs JavaScript on.
func (tab *Tab) Axe() []AxeViolation {
	tab.t.Helper()
	return value(tab, "run axe-core", chromedp.Action[[]AxeViolation](func(ctx context.Context, t *chromedp.Target) ([]AxeViolation, error) {
		tree, err := cdp.Call(ctx, t, page.GetFrameTree, cdp.Empty{})
		if err != nil {
			return nil, err
		}
		world, err := cdp.Call(ctx, t, page.CreateIsolatedWorld, page.CreateIsolatedWorldParams{FrameID: tree.FrameTree.Frame.ID, WorldName: axeWorld})
		if err != nil {
			return nil, fmt.Errorf("creating an isolated world: %w", err)
		}
		inWorld := func(p *runtime.EvaluateParams) { p.ContextID = world.ExecutionContextID }
		if _, err := chromedp.Evaluate[chromedp.Void](axeSource+"\n;undefined", inWorld)(ctx, t); err != nil {
			return nil, fmt.Errorf("injecting axe-core: %w", err)
		}
		vs, err := chromedp.Evaluate[[]AxeViolation](axeRunJS, inWorld, chromedp.EvalAwaitPromise)(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("axe.run: %w", err)
		}
		if vs == nil {
			vs = []AxeViolation{}
		}
		return vs, nil
	}))
}

// AssertAccessible runs Axe and fails t (without stopping it) when a rule of
// serious or critical impact fails, listing each with its rule id, impact,
// help text and the selectors of the elements it failed on. Minor and
// moderate findings are logged, not failed.
func (tab *Tab) AssertAccessible(t testing.TB) {
	t.Helper()
	var bad, other []string
	for _, v := range tab.Axe() {
		if v.Impact == "serious" || v.Impact == "critical" {
			bad = append(bad, v.String())
		} else {
			other = append(other, v.String())
		}
	}
	where := tab.location()
	if len(other) > 0 {
		t.Logf("axe-core: %d minor or moderate finding(s) on %s:\n  - %s", len(other), where, strings.Join(other, "\n  - "))
	}
	if len(bad) > 0 {
		t.Errorf("axe-core: %d serious or critical accessibility violation(s) on %s:\n  - %s", len(bad), where, strings.Join(bad, "\n  - "))
	}
}
