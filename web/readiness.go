package web

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/templates"
)

// handleReadiness shows whether access will work in the person's tenant:
// every check, with what was found and the fix. Checks older than
// access.ReadinessMaxAge are run again first. GET /readiness
func (s *Server) handleReadiness(w http.ResponseWriter, r *http.Request) {
	s.showReadiness(w, r, false)
}

// handleCheckAgain runs the checks now, then shows them (a redirect, so a
// reload does not run them again). It changes nothing but what the portal
// knows, so auditors may ask too. POST /readiness
func (s *Server) handleCheckAgain(w http.ResponseWriter, r *http.Request) {
	if _, err := s.deps.Access.TenantChecks(r.Context(), s.who(r), s.graphToken(r), true); err != nil {
		s.renderError(w, r, err)
		return
	}
	redirectAfterPost(w, r, "/readiness")
}

func (s *Server) showReadiness(w http.ResponseWriter, r *http.Request, again bool) {
	who := s.who(r)
	t, err := s.deps.Access.TenantChecks(r.Context(), who, s.graphToken(r), again)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v := templates.ReadinessView{CheckedAt: displayTime(t.CheckedAt), Note: t.Note}
	// Objects the checks could not name are named as everywhere else (the
	// cache, then Graph, at most a moment).
	var unnamed access.NameRequest
	for _, c := range t.Checks {
		for _, it := range c.Items {
			if it.Label == "" {
				unnamed.Objects = append(unnamed.Objects, it.ObjectID)
			}
		}
	}
	nb := s.names(r, unnamed)
	// What needs doing first; otherwise the chain's order.
	checks := slices.Clone(t.Checks)
	slices.SortStableFunc(checks, func(a, b portal.Check) int { return stateRank[a.State] - stateRank[b.State] })
	for _, c := range checks {
		if c.State == portal.CheckPass {
			v.Passing++
		}
		c.Items = slices.Clone(c.Items) // the last run's, shared with every reader
		for i, it := range c.Items {
			if n := nb.name(it.ObjectID); it.Label == "" && n.Name != "" {
				c.Items[i].Label = n.Name
			}
		}
		v.Checks = append(v.Checks, s.checkView(who, c))
	}
	s.render(w, r, http.StatusOK, templates.ReadinessPage(s.page(w, r, "Will it work?", "readiness"), v))
}

// handleRevokeNotReady makes a bulk plan revoking everyone the last run
// of the checks offers to revoke, and shows it for review (nothing is
// revoked until it is applied there). POST /readiness/revoke
func (s *Server) handleRevokeNotReady(w http.ResponseWriter, r *http.Request) {
	who := s.who(r)
	last, ok := s.deps.Access.LastTenantChecks(who)
	if !ok || s.deps.Bulk == nil {
		s.renderError(w, r, portal.Errorf(portal.EINVALID, "Run the checks first: open Will it work?"))
		return
	}
	plan, err := s.deps.Bulk.PlanRevoke(r.Context(), who, s.graphToken(r), "Will it work? "+displayTime(last.CheckedAt)+".csv", last.Revocable())
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	redirectAfterPost(w, r, "/bulk/"+plan.ID)
}

// stateRank orders checks on the page: failing, unknown, passing.
var stateRank = map[portal.CheckState]int{portal.CheckFail: 0, portal.CheckUnknown: 1, portal.CheckPass: 2}

// checkView is a readiness check as pages show it, with the fixes the
// person may make from here.
func (s *Server) checkView(who access.Who, c portal.Check) templates.CheckView {
	v := templates.CheckView{Name: c.Name, Title: c.Title, State: string(c.State), StateLabel: c.State.Label(), Reason: c.Reason, Fix: c.Fix, Link: c.Link,
		CheckedAt: c.CheckedAt.UTC().Format("2006-01-02 15:04:05 UTC")}
	for _, it := range c.Items {
		iv := templates.CheckItemView{ObjectID: it.ObjectID.String(), Label: it.Label, Problem: it.Problem, Fix: it.Fix}
		if it.Consent && access.MayChange(who.User, portal.KindResourceAccount) == nil {
			label := it.Label
			if label == "" {
				label = "Resource account " + access.ShortID(it.ObjectID.String())
			}
			iv.ConsentHref = "/assignments/new?" + url.Values{"objectId": {it.ObjectID.String()}, "kind": {portal.KindResourceAccount.String()},
				"label": {label}}.Encode()
		}
		if it.Revoke && access.MayChange(who.User, it.Kind) == nil {
			iv.RevokeHref = "/assignments/" + it.ObjectID.String() + "/delete"
			v.RevokeAll++
		}
		v.Items = append(v.Items, iv)
	}
	return v
}

// handleAssignmentReadiness shows one assignment's chain: a fragment for
// htmx (the assignment page loads it after itself), a page without.
// GET /assignments/{objectId}/readiness
func (s *Server) handleAssignmentReadiness(w http.ResponseWriter, r *http.Request) {
	id, err := objectIDParam(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	who := s.who(r)
	item, err := s.deps.Access.Item(r.Context(), who, id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	checks, err := s.deps.Access.AssignmentChecks(r.Context(), who, s.graphToken(r), item)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	var views []templates.CheckView
	for _, c := range checks {
		views = append(views, s.checkView(who, c))
	}
	if wantsFragment(r) {
		s.render(w, r, http.StatusOK, templates.AssignmentReadiness(id.String(), views, true))
		return
	}
	title := "Will it work? " + cmp.Or(item.Label, id.String())
	s.render(w, r, http.StatusOK, templates.AssignmentReadinessPage(s.page(w, r, title, "assignments"), title, id.String(), views))
}
