package web

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/templates"
)

// JobRunner applies bulk jobs in the background (internal/jobs).
type JobRunner interface {
	// Wake asks it to look for queued jobs now.
	Wake()
}

// jobRowsShown is a job page's page size.
const jobRowsShown = 100

// handleApply queues a plan's application. POST /bulk/{planId}/apply
func (s *Server) handleApply(w http.ResponseWriter, r *http.Request) {
	form, err := postForm(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	fields, err := singles(form, "justification", "ids_checked")
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	why, checked := fields["justification"], fields["ids_checked"] == "yes"
	job, err := s.deps.Access.ApplyPlan(r.Context(), s.who(r), access.ApplyRequest{PlanID: chi.URLParam(r, "planId"), Justification: why, IDsChecked: checked})
	switch {
	case errors.Is(err, portal.ErrSignInNotFresh):
		// Refused, nothing queued: the plan again, asking for the fresh
		// sign-in, with what was entered.
		s.renderPlan(w, r, http.StatusForbidden, "", 1, applyForm{justification: why, idsChecked: checked})
		return
	case errors.Is(err, access.ErrIDsUnchecked):
		// Refused, nothing queued: the plan again, the confirmation asked
		// for beside its checkbox.
		s.renderPlan(w, r, http.StatusUnprocessableEntity, "", 1, applyForm{justification: why, problem: portal.ErrorMessage(err),
			errors: templates.FieldErrors{"ids_checked": "Confirm you checked the object IDs listed above, or correct the file and plan it again."}})
		return
	case portal.ErrorCode(err) == portal.ECONFLICT && job.ID != "":
		s.addFlash(w, r, "info", "This plan was applied already; here is its job.")
	case err != nil:
		s.logFailure(r, err)
		s.renderError(w, r, err)
		return
	default:
		if s.deps.Jobs != nil {
			s.deps.Jobs.Wake()
		}
		dropHeld(r)
		s.addFlash(w, r, "success", "Applying "+strconv.Itoa(job.Total)+" row(s) in the background. You may leave this page: the job goes on.")
	}
	redirectAfterPost(w, r, "/bulk/jobs/"+job.ID)
}

// handleJob shows a job's progress and a page of its rows.
// GET /bulk/jobs/{jobId}?show=&page=
func (s *Server) handleJob(w http.ResponseWriter, r *http.Request) {
	jp, ok := s.openJob(w, r)
	if !ok {
		return
	}
	rows, _, err := s.deps.Access.JobRows(r.Context(), jp.who, jp.v.ID, jp.show, (jp.page-1)*jobRowsShown, jobRowsShown)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	nb := s.names(r, jobRowNames(rows))
	s.jobRows(&jp, rows, nb)
	s.render(w, r, http.StatusOK, templates.JobPage(withNamesNote(s.page(w, r, jp.v.Title, "bulk"), nb.note()), jp.v))
}

// handleJobProgress is what a job's page asks for every second while the
// job runs (htmx): its title, progress, filter counts and the rows of the
// lines it shows, as they are now. It costs the same for a job of 50,000
// rows as for one of 50: the job and its counts, its plan, the rows of
// those lines (at most a page) and their cached names, each read by key;
// Graph is not asked (the page did that when it loaded).
// GET /bulk/jobs/{jobId}/progress?show=&page=&lines=
func (s *Server) handleJobProgress(w http.ResponseWriter, r *http.Request) {
	lines, err := parseLines(r.URL.Query().Get("lines"))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	jp, ok := s.openJob(w, r)
	if !ok {
		return
	}
	rows, err := s.deps.Access.JobRowsAt(r.Context(), jp.who, jp.v.ID, lines)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.jobRows(&jp, rows, s.cachedNames(r, jobRowNames(rows)))
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, templates.JobLiveUpdate(jp.v))
}

// jobPage is a job's page being made: who asks, for which rows (show, and
// page from 1), and the job, its plan and its view so far.
type jobPage struct {
	who  access.Who
	show portal.JobRowFilter
	page int
	v    templates.JobView
	job  portal.Job
	plan portal.Plan
}

// openJob reads the job {jobId} and its plan for r, and the rows r asks
// for; false when it answered r with an error.
func (s *Server) openJob(w http.ResponseWriter, r *http.Request) (jobPage, bool) {
	jp := jobPage{who: s.who(r)}
	var err error
	if jp.show, jp.page, err = jobQuery(r.URL.Query()); err != nil {
		s.renderError(w, r, err)
		return jp, false
	}
	var ok bool
	jp.v, jp.job, jp.plan, ok = s.jobView(w, r, jp.who)
	return jp, ok
}

// jobQuery reads a job page's filter (show=) and page number (page=, from 1).
func jobQuery(q url.Values) (portal.JobRowFilter, int, error) {
	show := portal.JobRowFilter(q.Get("show"))
	switch {
	case show == "", show == "skipped", show == portal.JobRowFilter(portal.RowPending), show == portal.JobRowFilter(portal.RowRunning):
	case slices.Contains(portal.RowOutcomes, portal.AuditOutcome(show)):
	default:
		return "", 0, portal.Errorf(portal.EINVALID, "Unknown filter.")
	}
	page, _ := strconv.Atoi(q.Get("page"))
	return show, max(page, 1), nil
}

// jobRows fills jp's view with rows (of its page of show), named from nb,
// its filters with their counts and its pager, all from the job's counts
// and its plan's totals: nothing here counts rows.
func (s *Server) jobRows(jp *jobPage, rows []portal.JobRow, nb *nameBook) {
	v, job, plan, show, page := &jp.v, jp.job, jp.plan, jp.show, jp.page
	all := 0
	for _, n := range plan.Totals {
		all += n
	}
	matched := map[portal.JobRowFilter]int{"": all, "skipped": all - job.Total,
		portal.JobRowFilter(portal.RowPending): job.Pending, portal.JobRowFilter(portal.RowRunning): job.InFlight}
	v.Filters = []templates.Option{{Value: "", Label: "All rows", Count: all}}
	for _, o := range portal.RowOutcomes {
		matched[portal.JobRowFilter(o)] = job.Outcomes[o]
		if job.Outcomes[o] > 0 || show == portal.JobRowFilter(o) {
			v.Filters = append(v.Filters, templates.Option{Value: string(o), Label: jobOutcomeLabel(o, plan), Count: job.Outcomes[o]})
		}
	}
	if job.Pending > 0 || show == portal.JobRowFilter(portal.RowPending) {
		v.Filters = append(v.Filters, templates.Option{Value: string(portal.RowPending), Label: "Not yet applied", Count: job.Pending})
	}
	if job.InFlight > 0 || show == portal.JobRowFilter(portal.RowRunning) {
		v.Filters = append(v.Filters, templates.Option{Value: string(portal.RowRunning), Label: "In flight", Count: job.InFlight})
	}
	if all > job.Total || show == "skipped" {
		v.Filters = append(v.Filters, templates.Option{Value: "skipped", Label: "Not part of the job", Count: all - job.Total})
	}
	for i := range v.Filters {
		v.Filters[i].Selected = v.Filters[i].Value == string(show)
	}
	lines := make([]int, 0, len(rows))
	for _, jr := range rows {
		v.Rows = append(v.Rows, s.jobRowView(nb, jr))
		lines = append(lines, jr.Line)
	}
	path := "/bulk/jobs/" + v.ID
	v.PrevHref, v.NextHref = pageLinks(path, "show", string(show), page, jobRowsShown, matched[show])
	q := url.Values{}
	if show != "" {
		q.Set("show", string(show))
	}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	v.PageHref = path
	if len(q) > 0 {
		v.PageHref += "?" + q.Encode()
	}
	q.Set("lines", formatLines(lines))
	v.PollHref = path + "/progress?" + q.Encode()
}

// jobRowNames is the name request for a page of a job's rows.
func jobRowNames(rows []portal.JobRow) access.NameRequest {
	var req access.NameRequest
	for _, jr := range rows {
		if jr.ObjectID.IsZero() {
			continue
		}
		req.Objects = append(req.Objects, jr.ObjectID)
		req.Apps = append(req.Apps, jr.ClientIDs...)
		if jr.Kind == portal.KindResourceAccount {
			req.ResourceAccounts = append(req.ResourceAccounts, jr.ObjectID)
		}
	}
	return req
}

// cachedNames names what req asks from the names cache alone, never
// asking Graph: for what a page polls every second.
func (s *Server) cachedNames(r *http.Request, req access.NameRequest) *nameBook {
	who := s.who(r)
	objects, err := s.deps.Access.CachedNames(r.Context(), who, portal.SpaceObject, req.Objects)
	if err == nil {
		var apps map[portal.GUID]portal.DirectoryName
		if apps, err = s.deps.Access.CachedNames(r.Context(), who, portal.SpaceApp, req.Apps); err == nil {
			return &nameBook{access.PageNames{Objects: objects, Apps: apps}}
		}
	}
	s.log.WarnContext(r.Context(), "names unreadable", "event", "names.read", "err", err)
	return &nameBook{access.PageNames{Note: "Names are not shown: " + portal.ErrorMessage(err)}}
}

// maxLinesAsked bounds the lines a poll may ask for: a page of them.
const maxLinesAsked = jobRowsShown

// formatLines writes line numbers in order as runs: "2-101" or "5,9-11".
func formatLines(lines []int) string {
	var b strings.Builder
	for i := 0; i < len(lines); {
		j := i
		for j+1 < len(lines) && lines[j+1] == lines[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(lines[i]))
		if j > i {
			b.WriteString("-" + strconv.Itoa(lines[j]))
		}
		i = j + 1
	}
	return b.String()
}

// parseLines reads what formatLines wrote: at most maxLinesAsked line
// numbers, each at least 1. Anything else is EINVALID.
func parseLines(s string) ([]int, error) {
	bad := portal.Errorf(portal.EINVALID, "The lines asked for are not a list of line numbers.")
	if s == "" {
		return nil, nil
	}
	var lines []int
	for run := range strings.SplitSeq(s, ",") {
		from, to, isRange := strings.Cut(run, "-")
		a, err := strconv.Atoi(from)
		if err != nil || a < 1 || strconv.Itoa(a) != from {
			return nil, bad
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(to); err != nil || b < a || strconv.Itoa(b) != to {
				return nil, bad
			}
		}
		if b-a >= maxLinesAsked-len(lines) {
			return nil, portal.Errorf(portal.EINVALID, "Ask for at most %d lines at once.", maxLinesAsked)
		}
		for l := a; l <= b; l++ {
			lines = append(lines, l)
		}
	}
	return lines, nil
}

// handleJobCancel stops a job after its rows in flight.
// POST /bulk/jobs/{jobId}/cancel
func (s *Server) handleJobCancel(w http.ResponseWriter, r *http.Request) {
	if _, err := postForm(r); err != nil {
		s.renderError(w, r, err)
		return
	}
	id := chi.URLParam(r, "jobId")
	job, err := s.deps.Access.CancelJob(r.Context(), s.who(r), id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	msg := "Cancelling: the rows in flight finish, the rest are not applied."
	if job.State == portal.JobCancelled {
		msg = "Cancelled: rows not yet applied will not be."
	}
	s.addFlash(w, r, "info", msg)
	redirectAfterPost(w, r, "/bulk/jobs/"+id)
}

// handleJobResume queues an interrupted job again.
// POST /bulk/jobs/{jobId}/resume
func (s *Server) handleJobResume(w http.ResponseWriter, r *http.Request) {
	if _, err := postForm(r); err != nil {
		s.renderError(w, r, err)
		return
	}
	id := chi.URLParam(r, "jobId")
	if _, err := s.deps.Access.ResumeJob(r.Context(), s.who(r), id); err != nil {
		s.renderError(w, r, err)
		return
	}
	if s.deps.Jobs != nil {
		s.deps.Jobs.Wake()
	}
	s.addFlash(w, r, "success", "Resumed. Rows that were in flight are checked against ACS before anything is tried again.")
	redirectAfterPost(w, r, "/bulk/jobs/"+id)
}

// handleJobResult downloads every row of the plan with what the job did.
// GET /bulk/jobs/{jobId}/result.csv
func (s *Server) handleJobResult(w http.ResponseWriter, r *http.Request) {
	who := s.who(r)
	id := chi.URLParam(r, "jobId")
	if _, err := s.deps.Access.Job(r.Context(), who, id); err != nil {
		s.renderError(w, r, err)
		return
	}
	cw := startCSV(w, "bulk-result-"+access.ShortID(id), s.deps.Now())
	csvRow(cw, "line", "change", "objectId", "kind", "clientIds", "label", "expiresAt", "result", "detail", "requestId", "finishedAt")
	var err error
pages:
	for offset := 0; ; offset += 1000 {
		var rows []portal.JobRow
		if rows, _, err = s.deps.Access.JobRows(r.Context(), who, id, "", offset, 1000); err != nil || len(rows) == 0 {
			break
		}
		for _, jr := range rows {
			rv := s.jobRowView(nil, jr)
			object := ""
			if !jr.ObjectID.IsZero() {
				object = jr.ObjectID.String()
			}
			kind := ""
			if jr.Kind != portal.KindUnknown {
				kind = jr.Kind.String()
			}
			if err = csvRow(cw, strconv.Itoa(jr.Line), string(jr.Class), object, kind, strings.Join(guidStrings(jr.ClientIDs), ";"), jr.Label,
				csvTime(jr.ExpiresAt), rv.Result, rv.Detail, jr.RequestID, csvTime(jr.FinishedAt)); err != nil {
				break pages
			}
		}
	}
	s.endCSV(r, cw, err)
}

// jobView reads a job, with its counts, and its plan into the progress
// part of its view: one read of the job and its counts, one of the plan.
func (s *Server) jobView(w http.ResponseWriter, r *http.Request, who access.Who) (templates.JobView, portal.Job, portal.Plan, bool) {
	id := chi.URLParam(r, "jobId")
	job, err := s.deps.Access.Job(r.Context(), who, id)
	if err != nil {
		s.renderError(w, r, err)
		return templates.JobView{}, job, portal.Plan{}, false
	}
	plan, err := s.deps.Access.Plan(r.Context(), who, job.PlanID)
	if err != nil {
		s.renderError(w, r, err)
		return templates.JobView{}, job, plan, false
	}
	v := s.jobProgress(job, plan, access.MayManageJob(who.User, job.CreatedBy))
	return v, job, plan, true
}

// jobProgress is where job stands, as its page and the /bulk list say it;
// manage is whether the person may cancel or resume it.
func (s *Server) jobProgress(job portal.Job, plan portal.Plan, manage bool) templates.JobView {
	now := s.deps.Now()
	v := templates.JobView{ID: job.ID, PlanID: job.PlanID, FileName: plan.FileName, CreatedBy: actorName(job.CreatedBy), CreatedAt: displayTime(job.CreatedAt),
		State: string(job.State), Total: job.Total, Done: job.Done()}
	if job.Total > 0 {
		v.Percent = v.Done * 100 / job.Total
	}
	for _, o := range portal.RowOutcomes {
		if n := job.Outcomes[o]; n > 0 {
			v.Outcomes = append(v.Outcomes, templates.Option{Value: string(o), Label: jobOutcomeLabel(o, plan), Count: n})
		}
	}
	stalled := job.State == portal.JobRunning && now.Sub(job.Heartbeat) > portal.JobStaleAfter
	paused := job.PausedByACS(now)
	doneOf := fmt.Sprintf("%d of %d done", v.Done, job.Total)
	switch {
	case stalled:
		v.State, v.StateLabel = "stalled", "Interrupted"
		v.Status = "The instance applying this job stopped answering at " + displayTime(job.Heartbeat) + ". Resume it: rows that were in flight are checked against ACS before anything is tried again."
		v.CanResume, v.CanCancel = manage, manage
		v.Title = "Interrupted: " + doneOf
	case job.State == portal.JobQueued && paused:
		v.State, v.StateLabel, v.Running, v.CanCancel = "paused", "Paused by ACS", true, manage
		v.Status = pausedText(job) + ". No row fails for it: an instance of the portal goes on with the job by itself then." + longPauseHint(job)
		v.Title = "Paused by ACS: " + doneOf
	case job.State == portal.JobQueued:
		v.StateLabel, v.Status, v.Running = "Waiting", "Waiting for an instance of the portal to take it; this takes a few seconds.", true
		v.CanCancel = manage
		v.Title = "Waiting to apply " + plan.FileName
	case job.State == portal.JobRunning && paused && !job.CancelRequested:
		v.State, v.StateLabel, v.Running, v.CanCancel = "paused", "Paused by ACS", true, manage
		v.Status = fmt.Sprintf("%s. No row fails for it: the job goes on by itself then (%d row(s) in flight, %d waiting).",
			pausedText(job), job.InFlight, job.Pending) + longPauseHint(job)
		v.Title = "Paused by ACS: " + doneOf
	case job.State == portal.JobRunning:
		v.StateLabel, v.Running, v.CanCancel = "Applying", true, manage && !job.CancelRequested
		v.Status = fmt.Sprintf("Applying: %d row(s) in flight, %d waiting.", job.InFlight, job.Pending)
		v.Title = "Applying " + plan.FileName + ": " + doneOf
		if job.CancelRequested {
			v.Status = "Cancelling: the rows in flight finish, the rest will not be applied."
			v.Title = "Cancelling: " + doneOf
		}
		// The rate of the last half minute of finishing: a resumed job
		// or one that was throttled a while ago is judged by now.
		if job.Recent > 1 && job.RecentSpan >= time.Second {
			rate := float64(job.Recent-1) / job.RecentSpan.Seconds()
			v.Rate = fmt.Sprintf("%.1f rows/s", rate)
			v.ETA = roughDuration(time.Duration(float64(job.Total-v.Done)/rate*float64(time.Second))) + " left"
		}
	case job.State == portal.JobInterrupted:
		v.StateLabel = "Interrupted"
		v.Status = "The instance applying this job stopped before it finished. Resume it: rows that were in flight are checked against ACS before anything is tried again."
		if paused {
			v.Status += " ACS had paused it " + job.ACSPauseText() + ": resumed, it waits for that first."
		}
		v.CanResume, v.CanCancel = manage, manage
		v.Title = "Interrupted: " + doneOf
	case job.State == portal.JobCancelled:
		v.StateLabel = "Cancelled"
		v.Status = fmt.Sprintf("Cancelled %s: %d row(s) were applied, %d were not.", displayTime(job.FinishedAt), v.Done, job.Pending)
		v.Title = "Cancelled: " + outcomesText(job, plan, fmt.Sprintf("%d not applied", job.Pending+job.InFlight))
	default:
		v.StateLabel = "Done"
		v.Status = fmt.Sprintf("Finished %s: every row has its result.", displayTime(job.FinishedAt))
		if n := job.Total - job.Outcomes[portal.OutcomeSuccess] - job.Outcomes[portal.OutcomeNoChange]; n > 0 {
			v.Status += fmt.Sprintf(" %d row(s) were not applied: see why below, or download the results.", n)
		}
		v.Title = "Done: " + outcomesText(job, plan, "")
	}
	return v
}

// outcomesText says what a job's rows came to, in words, then more when
// given: "14 granted, 2 failed".
func outcomesText(job portal.Job, plan portal.Plan, more string) string {
	var parts []string
	for _, o := range portal.RowOutcomes {
		n := job.Outcomes[o]
		if n == 0 {
			continue
		}
		word := map[portal.AuditOutcome]string{portal.OutcomeNoChange: "already so", portal.OutcomeConflict: "in conflict",
			portal.OutcomeDenied: "not allowed", portal.OutcomeFailed: "failed", portal.OutcomeUnknown: "unknown"}[o]
		if o == portal.OutcomeSuccess {
			word = appliedVerb(plan)
		}
		parts = append(parts, fmt.Sprintf("%d %s", n, word))
	}
	if more != "" {
		parts = append(parts, more)
	}
	if len(parts) == 0 {
		return "nothing applied"
	}
	return strings.Join(parts, ", ")
}

// jobOutcomeLabel names an outcome of plan's rows: a success as what it
// did ("Granted" for a plan of grants), others as outcomeLabel does.
func jobOutcomeLabel(o portal.AuditOutcome, plan portal.Plan) string {
	if o == portal.OutcomeSuccess {
		return capitalized(appliedVerb(plan))
	}
	return outcomeLabel(o)
}

func capitalized(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// appliedVerb is what a row of plan's that succeeded did: "granted" for a
// plan of grants alone, "revoked" for one of revokes, "applied" for a mix.
func appliedVerb(plan portal.Plan) string {
	verb := ""
	for c, n := range plan.Totals {
		if n == 0 || !c.Actionable() {
			continue
		}
		if verb != "" {
			return "applied"
		}
		verb = doneVerbs[c]
	}
	return cmp.Or(verb, "applied")
}

// classWords names a plan row's class for people, and doneVerbs what a row
// of it did once applied.
var (
	classWords = map[portal.PlanClass]string{portal.PlanCreate: "Grant", portal.PlanUpdate: "Change", portal.PlanRevoke: "Revoke",
		portal.PlanAdopt: "Adopt", portal.PlanReapply: "Re-apply", portal.PlanAccept: "Accept ACS", portal.PlanUnchanged: "No change", portal.PlanInvalid: "Invalid"}
	doneVerbs = map[portal.PlanClass]string{portal.PlanCreate: "granted", portal.PlanUpdate: "changed", portal.PlanRevoke: "revoked",
		portal.PlanAdopt: "adopted", portal.PlanReapply: "re-applied", portal.PlanAccept: "accepted"}
)

// classWord is a plan row's class in words: "Grant", "No change", ….
func classWord(c portal.PlanClass) string { return cmp.Or(classWords[c], string(c)) }

// pausedText is "Paused by ACS until 07:15:20 UTC (ACS asked to wait 10
// min)", for a job whose pause lasts.
func pausedText(job portal.Job) string { return "Paused by ACS " + job.ACSPauseText() }

// longPauseHint offers a way out of a pause longer than an hour: ACS is
// obeyed however long it asks (a day at most), but a person may have
// other plans for the rows than waiting that long.
func longPauseHint(job portal.Job) string {
	if job.PausedUntil.Sub(job.PausedAt) <= time.Hour {
		return ""
	}
	return " That is a long wait: you may cancel the job (rows not yet applied will not be) and apply them again later."
}

// jobRowView is one row of a job's results, named from nb (may be nil).
func (s *Server) jobRowView(nb *nameBook, jr portal.JobRow) templates.JobRowView {
	v := templates.JobRowView{Line: jr.Line, Change: classWord(jr.Class), Apps: s.appRefs(nb, jr.ClientIDs), Detail: jr.Detail}
	if !jr.ObjectID.IsZero() {
		v.ObjectID, v.Name = jr.ObjectID.String(), planName(nb, jr.ObjectID)
		v.Link = jr.Before != nil || jr.Status == portal.RowDone && jr.Outcome == portal.OutcomeSuccess && jr.Class != portal.PlanRevoke
	}
	if jr.Kind != portal.KindUnknown {
		v.Kind = jr.Kind.Label()
	}
	switch jr.Status {
	case "":
		v.Result, v.ResultLabel = "skipped", "Not part of the job"
		if jr.Class == portal.PlanInvalid {
			v.Detail = planProblem(jr.PlanRow)
		}
	case portal.RowPending:
		v.Result, v.ResultLabel = string(portal.RowPending), "Not yet applied"
		if jr.Attempts > 0 {
			v.ResultLabel = "To be checked and tried again"
		}
	case portal.RowRunning:
		v.Result, v.ResultLabel = string(portal.RowRunning), "In flight"
	default:
		v.Result, v.ResultLabel = string(jr.Outcome), outcomeLabel(jr.Outcome)
		if verb := doneVerbs[jr.Class]; jr.Outcome == portal.OutcomeSuccess && verb != "" {
			v.ResultLabel = capitalized(verb)
		}
	}
	return v
}

// outcomeLabel names a row's outcome for people.
func outcomeLabel(o portal.AuditOutcome) string {
	switch o {
	case portal.OutcomeSuccess:
		return "Applied"
	case portal.OutcomeNoChange:
		return "Already so"
	case portal.OutcomeConflict:
		return "Conflict"
	case portal.OutcomeDenied:
		return "Not allowed"
	case portal.OutcomeFailed:
		return "Failed"
	case portal.OutcomeUnknown:
		return "Unknown (ACS did not answer)"
	}
	return string(o)
}

// roughDuration is a remaining time as people read it.
func roughDuration(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return "a few seconds"
	case d < time.Minute:
		return "about " + strconv.Itoa(int(d.Seconds())/5*5) + " s"
	case d < time.Hour:
		return "about " + strconv.Itoa(int(d.Minutes()+0.5)) + " min"
	}
	return fmt.Sprintf("about %.1f h", d.Hours())
}
