package web

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/bulk"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/templates"
)

// maxUploadBody caps a bulk upload: the file's own cap plus room for the
// multipart framing.
const maxUploadBody = 10<<20 + 64<<10

func (s *Server) bulkView(r *http.Request, msg string) templates.BulkUploadView {
	u := userFrom(r.Context())
	v := templates.BulkUploadView{Error: msg, MaxRows: 50000, MaxMB: 10, Helpdesk: !u.Has(portal.RoleAdmin)}
	who := s.who(r)
	jobs, err := s.deps.Access.RecentJobs(r.Context(), who, 10)
	if err != nil {
		s.log.WarnContext(r.Context(), "recent jobs not listed", "err", err)
	}
	for _, j := range jobs {
		name := access.ShortID(j.PlanID)
		if p, err := s.deps.Access.Plan(r.Context(), who, j.PlanID); err == nil {
			name = p.FileName
		}
		sum := templates.JobSummary{ID: j.ID, FileName: name, CreatedBy: actorName(j.CreatedBy), CreatedAt: displayTime(j.CreatedAt),
			State: string(j.State), Done: j.Done(), Total: j.Total}
		if j.PausedByACS(s.deps.Now()) {
			sum.Paused = pausedText(j)
		}
		v.Jobs = append(v.Jobs, sum)
	}
	return v
}

// handleBulkForm shows the upload form. GET /bulk
func (s *Server) handleBulkForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, templates.BulkUploadPage(s.page(w, r, "Bulk changes", "bulk"), s.bulkView(r, "")))
}

// handleBulkTemplate downloads a file to start from. GET /bulk/template.csv
func (s *Server) handleBulkTemplate(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="bulk-template.csv"`)
	w.Write([]byte(bulk.Template(s.deps.Now())))
}

// handleBulkUpload makes a plan of an uploaded CSV, streaming it (never
// held whole). POST /bulk (multipart/form-data, field "file")
func (s *Server) handleBulkUpload(w http.ResponseWriter, r *http.Request) {
	if s.deps.Bulk == nil {
		s.renderError(w, r, portal.Errorf(portal.EUNAVAILABLE, "Bulk changes are not set up on this instance."))
		return
	}
	fail := func(status int, msg string) {
		s.render(w, r, status, templates.BulkUploadPage(s.page(w, r, "Bulk changes", "bulk"), s.bulkView(r, msg)))
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		fail(http.StatusUnsupportedMediaType, "Upload the file with the form (multipart/form-data).")
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		fail(http.StatusBadRequest, "The upload could not be read.")
		return
	}
	plan := s.deps.Bulk.Plan
	modeSeen := false
	for {
		part, err := mr.NextPart()
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				fail(http.StatusRequestEntityTooLarge, "The file is larger than 10 MB; split it into several files.")
			} else {
				fail(http.StatusBadRequest, "The upload holds no file: choose a CSV file.")
			}
			return
		}
		if part.FormName() == "mode" {
			// The form puts the mode before the file, so it is known
			// before the file streams past. Sent twice, it is refused,
			// as form fields are (parseForm).
			if modeSeen {
				part.Close()
				fail(http.StatusBadRequest, "The upload names what the file holds twice; send the form once.")
				return
			}
			modeSeen = true
			var mode [16]byte
			n, _ := io.ReadFull(part, mode[:])
			part.Close()
			switch string(mode[:n]) {
			case "changes":
			case "adopt":
				plan = s.deps.Bulk.PlanAdopt
			default:
				fail(http.StatusBadRequest, "Choose what the file holds: changes, or object IDs to adopt.")
				return
			}
			continue
		}
		if part.FormName() != "file" {
			part.Close()
			continue
		}
		plan, err := plan(r.Context(), s.who(r), s.graphToken(r), part.FileName(), part)
		part.Close()
		if err == nil && moreParts(mr) {
			// A second file (or mode) after the first: which one was
			// meant is unclear, so neither is taken. The plan made of
			// the first is never shown, and expires unused.
			fail(http.StatusBadRequest, "The upload holds more than one file; send one file at a time.")
			return
		}
		if err != nil {
			var tooBig *http.MaxBytesError
			switch {
			case errors.As(err, &tooBig):
				fail(http.StatusRequestEntityTooLarge, "The file is larger than 10 MB; split it into several files.")
			case portal.ErrorCode(err) == portal.EINVALID:
				fail(http.StatusUnprocessableEntity, portal.ErrorMessage(err))
			default:
				s.renderError(w, r, err)
			}
			return
		}
		redirectAfterPost(w, r, "/bulk/"+plan.ID)
		return
	}
}

// moreParts reports whether the rest of an upload holds another file or
// mode part.
func moreParts(mr *multipart.Reader) bool {
	for {
		part, err := mr.NextPart()
		if err != nil {
			return false
		}
		name := part.FormName()
		part.Close()
		if name == "file" || name == "mode" {
			return true
		}
	}
}

// planRowsShown is a plan page's page size.
const planRowsShown = 100

// handlePlan shows a plan. GET /bulk/{planId}?class=&page=
func (s *Server) handlePlan(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	class := portal.PlanClass(q.Get("class"))
	if class != "" && !slices.Contains(portal.PlanClasses, class) {
		s.renderError(w, r, portal.Errorf(portal.EINVALID, "Unknown outcome filter."))
		return
	}
	page, _ := strconv.Atoi(q.Get("page"))
	var apply applyForm
	// Back from a fresh sign-in: the justification typed before it.
	if held := s.held(r, planPath(chi.URLParam(r, "planId"))); held != nil {
		apply.justification = held.Get("justification")
	}
	s.renderPlan(w, r, http.StatusOK, class, max(page, 1), apply)
}

// planPath is a plan's address.
func planPath(id string) string { return "/bulk/" + url.PathEscape(id) }

// applyForm is what the plan page's apply form shows besides the plan:
// what the person typed, and why applying was refused.
type applyForm struct {
	justification, problem string
}

// renderPlan shows the plan {planId}, its rows of class on page, and its
// apply form, which asks for a fresh sign-in first when applying needs one.
func (s *Server) renderPlan(w http.ResponseWriter, r *http.Request, status int, class portal.PlanClass, page int, apply applyForm) {
	who := s.who(r)
	id := chi.URLParam(r, "planId")
	plan, err := s.deps.Access.Plan(r.Context(), who, id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	rows, matched, err := s.deps.Access.PlanRows(r.Context(), who, id, class, (page-1)*planRowsShown, planRowsShown)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v := templates.PlanView{ID: plan.ID, FileName: plan.FileName, CreatedAt: displayTime(plan.CreatedAt), CreatedBy: actorName(plan.CreatedBy),
		Actionable: plan.Actionable(), Creates: plan.Totals[portal.PlanCreate], CanApply: access.MayManageJob(who.User, plan.CreatedBy),
		RequireWhy: s.deps.Access.RequireJustification(), Justification: apply.justification, Problem: apply.problem}
	if err := s.deps.Access.ApplyNeedsFreshSignIn(who, plan); err != nil {
		v.Fresh = freshView(planPath(plan.ID), err)
	}
	if job, err := s.deps.Access.JobForPlan(r.Context(), who, plan.ID); err == nil {
		v.JobHref = "/bulk/jobs/" + job.ID
	} else if portal.ErrorCode(err) != portal.ENOTFOUND {
		s.renderError(w, r, err)
		return
	}
	all := 0
	for _, c := range portal.PlanClasses {
		all += plan.Totals[c]
	}
	v.Totals = append(v.Totals, templates.Option{Value: "", Label: "All rows", Count: all, Selected: class == ""})
	for _, c := range portal.PlanClasses {
		// The base classes always (a zero says something); the others
		// when the plan has them.
		if plan.Totals[c] > 0 || c == portal.PlanCreate || c == portal.PlanUpdate || c == portal.PlanRevoke || c == portal.PlanUnchanged || c == portal.PlanInvalid {
			v.Totals = append(v.Totals, templates.Option{Value: string(c), Label: string(c), Count: plan.Totals[c], Selected: class == c})
		}
	}
	for _, pr := range rows {
		rv := templates.PlanRowView{Line: pr.Line, Class: string(pr.Class), Label: pr.Label, ExpiresAt: displayTime(pr.ExpiresAt),
			Apps: s.appRefs(nil, pr.ClientIDs)}
		if !pr.ObjectID.IsZero() {
			rv.ObjectID = pr.ObjectID.String()
		}
		if pr.Kind != portal.KindUnknown {
			rv.Kind = pr.Kind.Label()
		}
		if pr.Before != nil {
			rv.Before = auditStateText(portal.StateOfItem(*pr.Before))
		}
		if pr.Class == portal.PlanInvalid {
			rv.Problem = planProblem(pr)
		}
		v.Rows = append(v.Rows, rv)
	}
	v.PrevHref, v.NextHref = pageLinks("/bulk/"+plan.ID, "class", string(class), page, planRowsShown, matched)
	s.render(w, r, status, templates.PlanPage(s.page(w, r, "Plan", "bulk"), v))
}

// planProblem is why a plan row is invalid, with its column when it has one.
func planProblem(pr portal.PlanRow) string {
	if pr.Column != "" {
		return pr.Column + ": " + pr.Reason
	}
	return pr.Reason
}

// pageLinks are the previous and next links of a paged list at path,
// filtered by key=value (none when value is ""), on page (from 1) of size
// rows out of matched; "" where there is none.
func pageLinks(path, key, value string, page, size, matched int) (prev, next string) {
	link := func(p int) string {
		u := url.Values{}
		if value != "" {
			u.Set(key, value)
		}
		u.Set("page", strconv.Itoa(p))
		return path + "?" + u.Encode()
	}
	if page > 1 {
		prev = link(page - 1)
	}
	if page*size < matched {
		next = link(page + 1)
	}
	return prev, next
}
