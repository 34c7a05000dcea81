package web

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/templates"
)

// auditQuery is GET /audit's query string.
type auditQuery struct {
	filter portal.AuditFilter
	page   int
	raw    map[string]string
}

func parseAuditQuery(q url.Values) (auditQuery, templates.FieldErrors, error) {
	aq, errs := auditQuery{page: 1}, templates.FieldErrors{}
	s, err := singles(q, "actor", "target", "action", "outcome", "from", "to", "page")
	if err != nil {
		return aq, nil, err
	}
	aq.raw = s
	actor := strings.TrimSpace(s["actor"])
	if !utf8.ValidString(actor) || utf8.RuneCountInString(actor) > maxQuery {
		errs["actor"] = "Who: at most 200 characters of text."
	}
	aq.filter.Actor = actor
	if t := strings.TrimSpace(s["target"]); t != "" {
		if aq.filter.ObjectID, err = portal.ParseGUID(t); err != nil {
			errs["target"] = "Object ID: " + portal.ErrorMessage(err)
		}
	}
	if a := portal.AuditAction(s["action"]); a != "" {
		if !slices.Contains(portal.AuditActions, a) {
			return aq, nil, portal.Errorf(portal.EINVALID, "Unknown action filter.")
		}
		aq.filter.Action = a
	}
	if o := portal.AuditOutcome(s["outcome"]); o != "" {
		if !slices.Contains(portal.AuditOutcomes, o) {
			return aq, nil, portal.Errorf(portal.EINVALID, "Unknown outcome filter.")
		}
		aq.filter.Outcome = o
	}
	for _, d := range []struct {
		name string
		dst  *time.Time
		add  int
	}{{"from", &aq.filter.From, 0}, {"to", &aq.filter.To, 1}} {
		if v := s[d.name]; v != "" {
			t, err := time.Parse("2006-01-02", v)
			if err != nil {
				errs[d.name] = "Dates look like 2026-11-27."
				continue
			}
			*d.dst = t.AddDate(0, 0, d.add) // "to" is inclusive: up to the next midnight
		}
	}
	if v := s["page"]; v != "" {
		if aq.page, err = strconv.Atoi(v); err != nil || aq.page < 1 || aq.page > 1_000_000 {
			return aq, nil, portal.Errorf(portal.EINVALID, "The page number is not valid.")
		}
	}
	aq.filter.Offset, aq.filter.Limit = (aq.page-1)*defaultPageSize, defaultPageSize
	return aq, errs, nil
}

func (aq auditQuery) url(page int) string {
	v := url.Values{}
	for k, val := range aq.raw {
		if val != "" && k != "page" {
			v.Set(k, val)
		}
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return "/audit"
	}
	return "/audit?" + v.Encode()
}

// handleAudit shows the tenant's audit log and the chain's state. GET /audit
func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) {
	aq, errs, err := parseAuditQuery(r.URL.Query())
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v := templates.AuditView{
		Actor: aq.raw["actor"], ObjectID: aq.raw["target"], From: aq.raw["from"], To: aq.raw["to"],
		Errors: errs, CSVHref: "/audit.csv",
	}
	v.Actions = []templates.Option{{Value: "", Label: "Any action"}}
	for _, a := range portal.AuditActions {
		v.Actions = append(v.Actions, templates.Option{Value: string(a), Label: string(a), Selected: a == aq.filter.Action})
	}
	v.Outcomes = []templates.Option{{Value: "", Label: "Any outcome"}}
	for _, o := range portal.AuditOutcomes {
		v.Outcomes = append(v.Outcomes, templates.Option{Value: string(o), Label: string(o), Selected: o == aq.filter.Outcome})
	}
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusBadRequest
	} else {
		page, err := s.deps.Access.Audit(r.Context(), s.who(r), aq.filter)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		v.Rows, v.Matched = historyRows(page.Events), page.Matched
		if len(v.Rows) > 0 {
			v.From1, v.To1 = aq.filter.Offset+1, aq.filter.Offset+len(v.Rows)
		}
		if aq.page > 1 {
			v.PrevHref = aq.url(aq.page - 1)
		}
		if aq.filter.Offset+len(v.Rows) < page.Matched {
			v.NextHref = aq.url(aq.page + 1)
		}
	}
	if wantsFragment(r) {
		s.render(w, r, status, templates.AuditResults(v))
		return
	}
	st := s.deps.Access.Chain(r.Context(), false)
	v.Chain = templates.ChainView{Intact: st.Intact(), BrokenSeq: st.BrokenSeq, Problem: st.Problem,
		CheckedAt: displayTime(st.CheckedAt), Failed: st.Err != nil}
	if st.Err != nil {
		s.log.ErrorContext(r.Context(), "audit chain check failed", "err", st.Err)
	}
	s.render(w, r, status, templates.AuditPage(s.page(w, r, "Audit log", "audit"), v))
}

// csvCell neutralises a cell a spreadsheet would run as a formula.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func csvRow(w *csv.Writer, cells ...string) error {
	for i, c := range cells {
		cells[i] = csvCell(c)
	}
	return w.Write(cells)
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func startCSV(w http.ResponseWriter, name string, now time.Time) *csv.Writer {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+"-"+now.UTC().Format("20060102-150405")+`.csv"`)
	return csv.NewWriter(w)
}

// handleAssignmentsCSV exports the tenant's inventory. GET /assignments.csv
func (s *Server) handleAssignmentsCSV(w http.ResponseWriter, r *http.Request) {
	who := s.who(r)
	if !access.MayReadAudit(who.User) {
		s.renderError(w, r, portal.Errorf(portal.EFORBIDDEN, "Only admins and auditors may export."))
		return
	}
	cw := startCSV(w, "assignments", s.deps.Now())
	csvRow(cw, "objectId", "kind", "clientIds", "label", "state", "verifiedAt", "createdAt", "createdBy", "updatedAt", "updatedBy", "version")
	err := s.deps.Access.EachItem(r.Context(), who, func(it portal.InventoryItem) error {
		return csvRow(cw, it.ObjectID.String(), it.Kind.String(), strings.Join(guidStrings(it.ClientIDs), ";"), it.Label,
			string(it.State), csvTime(it.VerifiedAt), csvTime(it.CreatedAt), actorName(it.CreatedBy),
			csvTime(it.UpdatedAt), actorName(it.UpdatedBy), strconv.FormatInt(it.Version, 10))
	})
	s.endCSV(r, cw, err)
}

// handleAuditCSV exports the tenant's audit log. GET /audit.csv
func (s *Server) handleAuditCSV(w http.ResponseWriter, r *http.Request) {
	who := s.who(r)
	if !access.MayReadAudit(who.User) {
		s.renderError(w, r, portal.Errorf(portal.EFORBIDDEN, "Only admins and auditors may export."))
		return
	}
	cw := startCSV(w, "audit", s.deps.Now())
	csvRow(cw, "seq", "time", "actorTenant", "actorObject", "actorName", "clientIp", "object", "kind", "action", "phase",
		"intentSeq", "outcome", "before", "after", "justification", "acsStatus", "acsCode", "requestId", "msCv", "detail", "prevHash", "hash")
	err := s.deps.Access.EachAudit(r.Context(), who, func(e portal.AuditEvent) error {
		kind, object := "", ""
		if e.Kind != portal.KindUnknown {
			kind = e.Kind.String()
		}
		if !e.ObjectID.IsZero() {
			object = e.ObjectID.String()
		}
		actorObject := ""
		if !e.Actor.ObjectID.IsZero() {
			actorObject = e.Actor.ObjectID.String()
		}
		return csvRow(cw, strconv.FormatInt(e.Seq, 10), e.Time.UTC().Format(portal.AuditTimeFormat), e.Actor.TenantID.String(),
			actorObject, e.Actor.Name, e.ClientIP, object, kind, string(e.Action), string(e.Phase),
			strconv.FormatInt(e.IntentSeq, 10), string(e.Outcome), auditStateText(e.Before), auditStateText(e.After),
			e.Justification, strconv.Itoa(e.ACSStatus), e.ACSCode, e.RequestID, e.CorrelationVector, e.Detail, e.PrevHash, e.Hash)
	})
	s.endCSV(r, cw, err)
}

// endCSV flushes an export. Headers are gone by now, so a failure midway
// can only be logged and the file cut short with a last line saying so.
func (s *Server) endCSV(r *http.Request, cw *csv.Writer, err error) {
	if err != nil {
		s.log.ErrorContext(r.Context(), "export failed", "request_id", requestIDFrom(r.Context()), "err", err)
		cw.Write([]string{"# export incomplete: the database failed; request " + requestIDFrom(r.Context())})
	}
	cw.Flush()
}
