package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/templates"
)

// Reconciler starts reconcile runs in the background (internal/jobs).
type Reconciler interface {
	// Trigger asks for a run over one tenant; false when too many wait.
	Trigger(tenant portal.GUID) bool
	// Running reports whether this instance is reconciling now.
	Running() bool
}

// reconcileWait bounds how long the drift report waits for a run it was
// told of: past it, the run is taken to be lost (its instance stopped) and
// the page stops asking.
const reconcileWait = 30 * time.Minute

// reconcilePoll is how often a waiting drift report asks whether the run
// has ended (htmx; without JavaScript the page reloads itself).
const reconcilePoll = 2 * time.Second

// driftWait is GET /drift's query after "Reconcile now": the newest run's
// TenantSeq when it was asked for, and when (Unix seconds).
type driftWait struct {
	after int64
	since int64
	set   bool
}

func parseDriftWait(q url.Values) (driftWait, error) {
	s, err := singles(q, "after", "since")
	if err != nil || s["after"] == "" {
		return driftWait{}, err
	}
	var d driftWait
	d.after, err = strconv.ParseInt(s["after"], 10, 64)
	if err == nil && s["since"] != "" {
		d.since, err = strconv.ParseInt(s["since"], 10, 64)
	}
	if err != nil || d.after < 0 || d.since < 0 {
		return driftWait{}, portal.Errorf(portal.EINVALID, "The address does not say which reconcile to wait for.")
	}
	d.set = true
	return d, nil
}

// url is the drift report waiting for the run after d.after.
func (d driftWait) url() string {
	return "/drift?" + url.Values{"after": {strconv.FormatInt(d.after, 10)}, "since": {strconv.FormatInt(d.since, 10)}}.Encode()
}

// handleDrift shows the drift report. GET /drift
//
// After "Reconcile now" (?after=…) or while this instance runs one, the
// report waits for the run to end: htmx asks every reconcilePoll and gets
// 204 (nothing to swap, cheap: one query) until a newer run's summary is
// in the audit log, then the new report; without JavaScript the page
// reloads itself.
func (s *Server) handleDrift(w http.ResponseWriter, r *http.Request) {
	who := s.who(r)
	wait, err := parseDriftWait(r.URL.Query())
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	last, err := s.deps.Access.LastReconcile(r.Context(), who)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	var lastSeq int64
	if last != nil {
		lastSeq = last.TenantSeq
	}
	running := s.deps.Reconciler != nil && s.deps.Reconciler.Running()
	if !wait.set && running {
		wait = driftWait{after: lastSeq, since: s.deps.Now().Unix(), set: true}
	}
	pending := wait.set && lastSeq <= wait.after && s.deps.Now().Sub(time.Unix(wait.since, 0)) < reconcileWait
	if pending && wantsFragment(r) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	rep, err := s.deps.Access.Drift(r.Context(), who)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v := templates.DriftView{MayRun: who.User.Has(portal.RoleAdmin) && s.deps.Reconciler != nil, MayBulk: who.User.Has(portal.RoleAdmin),
		Required: s.deps.Access.RequireJustification(), Running: running, Waiting: pending,
		Finished: wait.set && !pending && lastSeq > wait.after}
	if pending {
		v.PollURL, v.PollEvery = wait.url(), strconv.Itoa(int(reconcilePoll/time.Second))+"s"
	}
	if rep.LastRun != nil {
		v.LastRun, v.LastRunTime = rep.LastRun.Detail, displayTime(rep.LastRun.Time)
	}
	shown := slices.Concat(rep.Drifted, rep.Missing, rep.Spelling)
	req := itemNames(shown...)
	for _, it := range shown {
		if it.Observed != nil {
			req.Apps = append(req.Apps, it.Observed.ClientIDs...)
		}
	}
	nb := s.names(r, req)
	rows := func(items []portal.InventoryItem) []templates.DriftRow {
		var out []templates.DriftRow
		for _, it := range items {
			d := templates.DriftRow{Row: s.rowView(nb, it), Seen: access.Seen(it), MayRepair: access.MayChangeItem(who.User, it) == nil}
			if it.Observed != nil {
				d.ACS = s.acsView(nb, *it.Observed)
			}
			out = append(out, d)
		}
		return out
	}
	v.Drifted, v.Missing, v.Spelling = rows(rep.Drifted), rows(rep.Missing), rows(rep.Spelling)
	v.DriftedTotal, v.MissingTotal = rep.DriftedTotal, rep.MissingTotal
	if wantsFragment(r) {
		s.render(w, r, http.StatusOK, templates.DriftReport(v))
		return
	}
	s.render(w, r, http.StatusOK, templates.DriftPage(withNamesNote(s.page(w, r, "Drift report", "drift"), nb.note()), v))
}

// handleReconcileNow starts a reconcile of the person's tenant. POST /reconcile
func (s *Server) handleReconcileNow(w http.ResponseWriter, r *http.Request) {
	if _, err := postForm(r); err != nil {
		s.renderError(w, r, err)
		return
	}
	if s.deps.Reconciler == nil {
		s.renderError(w, r, portal.Errorf(portal.EUNAVAILABLE, "Reconcile is not set up on this instance."))
		return
	}
	// The newest run before this one: the report waits for a newer.
	last, err := s.deps.Access.LastReconcile(r.Context(), s.who(r))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	wait := driftWait{since: s.deps.Now().Unix(), set: true}
	if last != nil {
		wait.after = last.TenantSeq
	}
	if !s.deps.Reconciler.Trigger(userFrom(r.Context()).TenantID) {
		s.renderError(w, r, portal.Errorf(portal.ETHROTTLED, "Reconcile runs are already queued; try again when they have finished."))
		return
	}
	s.addFlash(w, r, "info", "Reconcile started: every assignment is being compared with ACS.")
	redirectAfterPost(w, r, wait.url())
}

// handleRepair re-applies the inventory's state to ACS, or accepts ACS's
// into the inventory. POST /assignments/{objectId}/reapply and /accept
func (s *Server) handleRepair(action portal.AuditAction) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, in, _, ok := changeForm(s, w, r, parseRepairForm)
		if !ok {
			return
		}
		who := s.who(r)
		req := access.RepairRequest{ObjectID: id, Version: in.version, Seen: in.Seen, Justification: in.Justification}
		var res access.Result
		var err error
		if action == portal.ActionReapply {
			res, err = s.deps.Access.Reapply(r.Context(), who, req)
		} else {
			res, err = s.deps.Access.Accept(r.Context(), who, req)
		}
		if err != nil {
			s.logFailure(r, err)
			s.renderError(w, r, err)
			return
		}
		msg := "Re-applied to ACS: " + s.messageName(r, res.Item) + "."
		if action == portal.ActionAccept {
			msg = "Accepted what ACS holds for " + s.messageName(r, res.Item) + ". " + res.Detail
		}
		s.addFlash(w, r, "success", msg)
		back := "/drift"
		if in.backToAssignment {
			// Its page: the assignment as it is now, or, when accepting
			// that ACS holds none removed it, its history.
			back = "/assignments/" + id.String()
		}
		redirectAfterPost(w, r, back)
	}
}

// handleExpiries lists time-boxed access, the soonest end first. GET /expiries
func (s *Server) handleExpiries(w http.ResponseWriter, r *http.Request) {
	items, err := s.deps.Access.Upcoming(r.Context(), s.who(r))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v := templates.ExpiriesView{}
	if s.deps.ExpiryGrace > 0 {
		v.Grace = s.deps.ExpiryGrace.String()
	}
	nb := s.names(r, itemNames(items...))
	soon := s.deps.Now().Add(access.ExpiringSoon)
	v.SoonWindow = expiringSoonWords()
	for _, it := range items {
		v.Rows = append(v.Rows, s.rowView(nb, it))
		if !it.ExpiresAt.After(soon) {
			v.Soon++
		}
	}
	s.render(w, r, http.StatusOK, templates.ExpiriesPage(withNamesNote(s.page(w, r, "Expiring access", "expiries"), nb.note()), v))
}

// expiringSoonWords is access.ExpiringSoon as pages say it: "7 days".
func expiringSoonWords() string {
	return strconv.Itoa(int(access.ExpiringSoon/(24*time.Hour))) + " days"
}

// handleRepairMany re-applies or accepts the picked rows of the drift
// report as a bulk job. POST /drift/repair (action, pick=objectId:seen…,
// justification)
func (s *Server) handleRepairMany(w http.ResponseWriter, r *http.Request) {
	form, err := postForm(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	single, err := singles(form, "action", "justification")
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	var picks []access.RepairPick
	for _, v := range form["pick"] {
		id, seen, _ := strings.Cut(v, ":")
		object, err := portal.ParseGUID(id)
		if err != nil {
			s.renderError(w, r, portal.Errorf(portal.EINVALID, "A picked row is not an object ID."))
			return
		}
		picks = append(picks, access.RepairPick{ObjectID: object, Seen: seen})
	}
	// The reason is checked before anything is stored.
	if _, err := s.deps.Access.CleanJustification(single["justification"]); err != nil {
		s.renderError(w, r, err)
		return
	}
	who := s.who(r)
	plan, err := s.deps.Access.PlanRepairs(r.Context(), who, portal.PlanClass(single["action"]), picks)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if plan.Actionable() == 0 {
		s.addFlash(w, r, "error", "None of the picked rows can be resolved now: they changed since the report was shown.")
		redirectAfterPost(w, r, "/bulk/"+plan.ID)
		return
	}
	job, err := s.deps.Access.StartJob(r.Context(), who, plan.ID, single["justification"])
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if s.deps.Jobs != nil {
		s.deps.Jobs.Wake()
	}
	s.addFlash(w, r, "success", plan.FileName+": applying in the background.")
	redirectAfterPost(w, r, "/bulk/jobs/"+job.ID)
}
