package web

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

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
		plan, err := s.deps.Access.Plan(r.Context(), who, j.PlanID)
		if err != nil {
			plan = portal.Plan{ID: j.PlanID, FileName: access.ShortID(j.PlanID)}
		}
		p := s.jobProgress(j, plan, false)
		sum := templates.JobSummary{ID: j.ID, FileName: plan.FileName, CreatedBy: actorName(j.CreatedBy), CreatedAt: displayTime(j.CreatedAt),
			State: p.State, StateLabel: p.StateLabel, Summary: p.Title, Done: j.Done(), Total: j.Total}
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
	// Back from a fresh sign-in: the justification typed before it, and
	// the object IDs confirmed.
	if held := s.held(r, planPath(chi.URLParam(r, "planId"))); held != nil {
		apply.justification, apply.idsChecked = held.Get("justification"), held.Get("ids_checked") == "yes"
	}
	s.renderPlan(w, r, http.StatusOK, class, max(page, 1), apply)
}

// planPath is a plan's address.
func planPath(id string) string { return "/bulk/" + url.PathEscape(id) }

// applyForm is what the plan page's apply form shows besides the plan:
// what the person entered, and why applying was refused (problem, and
// errors beside the fields).
type applyForm struct {
	justification, problem string
	idsChecked             bool
	errors                 templates.FieldErrors
}

// maxNamedRevokes is how many revokes a plan's page names one by one; a
// larger plan says how many.
const maxNamedRevokes = 10

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
	var revokes []portal.PlanRow
	if n := plan.Totals[portal.PlanRevoke]; n > 0 && n <= maxNamedRevokes {
		if revokes, _, err = s.deps.Access.PlanRows(r.Context(), who, id, portal.PlanRevoke, 0, maxNamedRevokes); err != nil {
			s.renderError(w, r, err)
			return
		}
	}
	nb := s.names(r, planRowNames(append(slices.Clip(rows), revokes...)))
	v := templates.PlanView{ID: plan.ID, FileName: plan.FileName, CreatedAt: displayTime(plan.CreatedAt), CreatedBy: actorName(plan.CreatedBy),
		Actionable: plan.Actionable(), Creates: plan.Totals[portal.PlanCreate], CanApply: access.MayManageJob(who.User, plan.CreatedBy),
		RequireWhy: s.deps.Access.RequireJustification(), Justification: apply.justification, Problem: apply.problem,
		IDsChecked: apply.idsChecked, Errors: apply.errors, Revokes: plan.Totals[portal.PlanRevoke], Directory: planDirectoryView(plan)}
	if v.Revokes > 0 {
		v.Destructive = true
		v.LoseAccess, v.LoseHow = lossText(plan, revokes, nb)
	}
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
			v.Totals = append(v.Totals, templates.Option{Value: string(c), Label: classWord(c), Count: plan.Totals[c], Selected: class == c})
		}
	}
	for _, pr := range rows {
		rv := templates.PlanRowView{Line: pr.Line, Class: string(pr.Class), Change: classWord(pr.Class), Label: pr.Label, ExpiresAt: displayTime(pr.ExpiresAt),
			Apps: s.appRefs(nb, pr.ClientIDs), Link: pr.Before != nil}
		if !pr.ObjectID.IsZero() {
			rv.ObjectID, rv.Name = pr.ObjectID.String(), planName(nb, pr.ObjectID)
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
		if pr.Directory.Flagged() {
			rv.Directory = string(pr.Directory)
			rv.Flag = access.ObjectPresence{Presence: pr.Directory, Name: nb.Objects[pr.ObjectID]}.Flag()
		}
		v.Rows = append(v.Rows, rv)
	}
	v.PrevHref, v.NextHref = pageLinks("/bulk/"+plan.ID, "class", string(class), page, planRowsShown, matched)
	title := "Plan"
	if v.Destructive {
		title = "Plan: " + v.LoseAccess
	}
	s.render(w, r, status, templates.PlanPage(withNamesNote(s.page(w, r, title, "bulk"), nb.note()), v))
}

// planRowNames is the name request for plan rows: their objects and apps.
func planRowNames(rows []portal.PlanRow) access.NameRequest {
	jobRows := make([]portal.JobRow, len(rows))
	for i, r := range rows {
		jobRows[i].PlanRow = r
	}
	return jobRowNames(jobRows)
}

// planName is how a plan's or job's row names its object: as the
// directory does, or, for one that has left it, flagged as such with the
// name the portal last knew it by.
func planName(nb *nameBook, id portal.GUID) templates.NameView {
	v := nb.name(id)
	if nb == nil {
		return v
	}
	if n := nb.Objects[id]; v.Deleted && n.Label() != "" {
		v.Name, v.UPN = n.Label(), n.UPN
	}
	return v
}

// planDirectoryView is what a plan's page says of the object IDs its
// grants name that the directory did not have, or could not be asked of.
func planDirectoryView(plan portal.Plan) templates.PlanDirectoryView {
	d := plan.Checks.Directory
	v := templates.PlanDirectoryView{Flagged: plan.FlaggedGrants()}
	if v.Flagged > 0 {
		are := "are"
		if v.Flagged == 1 {
			are = "is"
		}
		v.Heading = fmt.Sprintf("%s %s not in the directory", plural(v.Flagged, "object ID"), are)
		v.Checkbox = fmt.Sprintf("I checked these %s: grant access to them anyway", plural(v.Flagged, "object ID"))
		if v.Flagged == 1 {
			v.Checkbox = "I checked this object ID: grant access to it anyway"
		}
		for _, f := range d.Flagged {
			name := portal.DirectoryName{DisplayName: f.Name, UPN: f.UPN}
			v.Shown = append(v.Shown, templates.FlaggedView{Line: f.Line, ObjectID: f.ObjectID.String(), Label: f.Label, Presence: string(f.Presence),
				Flag: access.ObjectPresence{Presence: f.Presence, Name: name}.Flag()})
		}
		v.More = v.Flagged - len(v.Shown)
	}
	if d.Unknown > 0 && d.Why != "" {
		v.Unknown = fmt.Sprintf("The directory could not be asked about %s of this plan's grants, so they were not checked: %s",
			plural(d.Unknown, "object ID"), d.Why)
	}
	return v
}

// lossText says who a plan's revokes take access from and what that does:
// by name when revokes holds them all (a small plan), else how many.
func lossText(plan portal.Plan, revokes []portal.PlanRow, nb *nameBook) (who string, how []string) {
	n := plan.Totals[portal.PlanRevoke]
	users, accounts := plan.Checks.RevokedUsers, plan.Checks.RevokedResourceAccounts
	if len(revokes) == n {
		users, accounts = 0, 0
		var names []string
		for _, r := range revokes {
			names = append(names, revokeName(r, nb))
			if r.Kind == portal.KindResourceAccount {
				accounts++
			} else {
				users++
			}
		}
		who = joinNames(names) + loses(n) + " access now."
	} else if users+accounts == n {
		var parts []string
		if users > 0 {
			parts = append(parts, people(users))
		}
		if accounts > 0 {
			parts = append(parts, plural(accounts, "resource account"))
		}
		who = strings.Join(parts, " and ") + loses(n) + " access now."
	} else {
		// A plan made before revokes were counted by kind.
		who = fmt.Sprintf("%s lose access now.", plural(n, "assignment"))
		users, accounts = 1, 1
	}
	if users > 0 {
		how = append(how, "People's ACS tokens are revoked at once: their calls through this resource stop working now, not at their next sign-in.")
	}
	if accounts > 0 {
		how = append(how, "Resource accounts lose server consent: calls to their phone numbers stop reaching this ACS resource.")
	}
	return who, how
}

// revokeName names a revoke row's object: by the directory's name (and a
// resource account's number), else the inventory's label, else its ID.
func revokeName(r portal.PlanRow, nb *nameBook) string {
	name := planName(nb, r.ObjectID)
	label := name.Name
	if label == "" && r.Before != nil {
		label = r.Before.Label
	}
	if label == "" {
		label = r.ObjectID.String()
	}
	if name.Phone != "" {
		label += " (" + name.Phone + ")"
	}
	return label
}

// joinNames lists names as a sentence does: "A", "A and B", "A, B and C".
func joinNames(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// loses is the verb for n who lose access.
func loses(n int) string {
	if n == 1 {
		return " loses"
	}
	return " lose"
}

// people counts people: "1 person", "3 people".
func people(n int) string {
	if n == 1 {
		return "1 person"
	}
	return strconv.Itoa(n) + " people"
}

// plural counts things: "1 object ID", "2 object IDs".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
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
