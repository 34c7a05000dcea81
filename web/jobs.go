package web

import (
	"errors"
	"fmt"
	"net/http"
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
	why, err := one(form, "justification")
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	job, err := s.deps.Access.StartJob(r.Context(), s.who(r), chi.URLParam(r, "planId"), why)
	switch {
	case errors.Is(err, portal.ErrSignInNotFresh):
		// Refused, nothing queued: the plan again, asking for the fresh
		// sign-in, with the justification typed.
		s.renderPlan(w, r, http.StatusForbidden, "", 1, applyForm{justification: why})
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
	who := s.who(r)
	q := r.URL.Query()
	show := portal.JobRowFilter(q.Get("show"))
	switch {
	case show == "", show == "skipped", show == portal.JobRowFilter(portal.RowPending), show == portal.JobRowFilter(portal.RowRunning):
	case slices.Contains(portal.RowOutcomes, portal.AuditOutcome(show)):
	default:
		s.renderError(w, r, portal.Errorf(portal.EINVALID, "Unknown filter."))
		return
	}
	v, job, ok := s.jobView(w, r, who)
	if !ok {
		return
	}
	plan, err := s.deps.Access.Plan(r.Context(), who, job.PlanID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v.FileName = plan.FileName
	v.Filters = []templates.Option{{Value: "", Label: "All rows", Count: -1}}
	for _, o := range portal.RowOutcomes {
		if job.Outcomes[o] > 0 {
			v.Filters = append(v.Filters, templates.Option{Value: string(o), Label: outcomeLabel(o), Count: job.Outcomes[o]})
		}
	}
	if job.Pending > 0 {
		v.Filters = append(v.Filters, templates.Option{Value: string(portal.RowPending), Label: "Not yet applied", Count: job.Pending})
	}
	if job.InFlight > 0 {
		v.Filters = append(v.Filters, templates.Option{Value: string(portal.RowRunning), Label: "In flight", Count: job.InFlight})
	}
	v.Filters = append(v.Filters, templates.Option{Value: "skipped", Label: "Not part of the job", Count: -1})
	for i := range v.Filters {
		v.Filters[i].Selected = v.Filters[i].Value == string(show)
	}
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	rows, matched, err := s.deps.Access.JobRows(r.Context(), who, v.ID, show, (page-1)*jobRowsShown, jobRowsShown)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	for _, jr := range rows {
		v.Rows = append(v.Rows, s.jobRowView(jr))
	}
	v.PrevHref, v.NextHref = pageLinks("/bulk/jobs/"+v.ID, "show", string(show), page, jobRowsShown, matched)
	s.render(w, r, http.StatusOK, templates.JobPage(s.page(w, r, "Bulk job", "bulk"), v))
}

// handleJobProgress is the progress card alone, for htmx polling.
// GET /bulk/jobs/{jobId}/progress
func (s *Server) handleJobProgress(w http.ResponseWriter, r *http.Request) {
	v, _, ok := s.jobView(w, r, s.who(r))
	if !ok {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, templates.JobProgress(v))
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
			rv := s.jobRowView(jr)
			object := ""
			if !jr.ObjectID.IsZero() {
				object = jr.ObjectID.String()
			}
			kind := ""
			if jr.Kind != portal.KindUnknown {
				kind = jr.Kind.String()
			}
			if err = csvRow(cw, strconv.Itoa(jr.Line), rv.Change, object, kind, strings.Join(guidStrings(jr.ClientIDs), ";"), jr.Label,
				csvTime(jr.ExpiresAt), rv.Result, rv.Detail, jr.RequestID, csvTime(jr.FinishedAt)); err != nil {
				break pages
			}
		}
	}
	s.endCSV(r, cw, err)
}

// jobView reads a job into its progress view (polled every second while it
// runs: one read of the job and its counts, nothing more).
func (s *Server) jobView(w http.ResponseWriter, r *http.Request, who access.Who) (templates.JobView, portal.Job, bool) {
	id := chi.URLParam(r, "jobId")
	job, err := s.deps.Access.Job(r.Context(), who, id)
	if err != nil {
		s.renderError(w, r, err)
		return templates.JobView{}, job, false
	}
	now := s.deps.Now()
	v := templates.JobView{ID: job.ID, PlanID: job.PlanID, CreatedBy: actorName(job.CreatedBy), CreatedAt: displayTime(job.CreatedAt),
		State: string(job.State), Total: job.Total, Done: job.Done()}
	if job.Total > 0 {
		v.Percent = v.Done * 100 / job.Total
	}
	for _, o := range portal.RowOutcomes {
		if n := job.Outcomes[o]; n > 0 {
			v.Outcomes = append(v.Outcomes, templates.Option{Value: string(o), Label: outcomeLabel(o), Count: n})
		}
	}
	manage := access.MayManageJob(who.User, job.CreatedBy)
	stalled := job.State == portal.JobRunning && now.Sub(job.Heartbeat) > portal.JobStaleAfter
	paused := job.PausedByACS(now)
	switch {
	case stalled:
		v.State, v.StateLabel = "stalled", "Interrupted"
		v.Status = "The instance applying this job stopped answering at " + displayTime(job.Heartbeat) + ". Resume it: rows that were in flight are checked against ACS before anything is tried again."
		v.CanResume, v.CanCancel = manage, manage
	case job.State == portal.JobQueued && paused:
		v.State, v.StateLabel, v.Running, v.CanCancel = "paused", "Paused by ACS", true, manage
		v.Status = pausedText(job) + ". No row fails for it: an instance of the portal goes on with the job by itself then." + longPauseHint(job)
	case job.State == portal.JobQueued:
		v.StateLabel, v.Status, v.Running = "Waiting", "Waiting for an instance of the portal to take it; this takes a few seconds.", true
		v.CanCancel = manage
	case job.State == portal.JobRunning && paused && !job.CancelRequested:
		v.State, v.StateLabel, v.Running, v.CanCancel = "paused", "Paused by ACS", true, manage
		v.Status = fmt.Sprintf("%s. No row fails for it: the job goes on by itself then (%d row(s) in flight, %d waiting).",
			pausedText(job), job.InFlight, job.Pending) + longPauseHint(job)
	case job.State == portal.JobRunning:
		v.StateLabel, v.Running, v.CanCancel = "Applying", true, manage && !job.CancelRequested
		v.Status = fmt.Sprintf("Applying: %d row(s) in flight, %d waiting.", job.InFlight, job.Pending)
		if job.CancelRequested {
			v.Status = "Cancelling: the rows in flight finish, the rest will not be applied."
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
	case job.State == portal.JobCancelled:
		v.StateLabel = "Cancelled"
		v.Status = fmt.Sprintf("Cancelled %s: %d row(s) were applied, %d were not.", displayTime(job.FinishedAt), v.Done, job.Pending)
	default:
		v.StateLabel = "Done"
		v.Status = fmt.Sprintf("Finished %s: every row has its result.", displayTime(job.FinishedAt))
		if n := job.Total - job.Outcomes[portal.OutcomeSuccess] - job.Outcomes[portal.OutcomeNoChange]; n > 0 {
			v.Status += fmt.Sprintf(" %d row(s) were not applied: see why below, or download the results.", n)
		}
	}
	return v, job, true
}

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

func (s *Server) jobRowView(jr portal.JobRow) templates.JobRowView {
	v := templates.JobRowView{Line: jr.Line, Change: string(jr.Class), Apps: s.appRefs(nil, jr.ClientIDs), Detail: jr.Detail}
	if !jr.ObjectID.IsZero() {
		v.ObjectID = jr.ObjectID.String()
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
