package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/templates"
)

// auditQuery is GET /audit's query string (and GET /audit.csv's: an
// export of what the page shows).
type auditQuery struct {
	filter portal.AuditFilter
	// targetName is a target typed as a name, not an object ID: the
	// cached names it matches decide the object.
	targetName string
	// actorUPN is a Who typed as a user name (an email): the person it
	// names decides the actor.
	actorUPN string
	page     int
	raw      map[string]string
}

// auditDate is how the audit page's date filters are typed: ISO dates,
// whatever the browser's locale (a date picker would show mm/dd/yyyy).
const auditDate = "2006-01-02"

func parseAuditQuery(q url.Values) (auditQuery, templates.FieldErrors, error) {
	aq, errs := auditQuery{page: 1}, templates.FieldErrors{}
	s, err := singles(q, "actor", "target", "action", "outcome", "from", "to", "page")
	if err != nil {
		return aq, nil, err
	}
	aq.raw = s
	actor := strings.TrimSpace(s["actor"])
	switch {
	case !utf8.ValidString(actor) || utf8.RuneCountInString(actor) > maxQuery:
		errs["actor"] = "Who: at most 200 characters of text."
	case strings.Contains(actor, "@"):
		aq.actorUPN = actor
	default:
		aq.filter.Actor = actor // a name, part of one, or an object ID
	}
	if t := strings.TrimSpace(s["target"]); t != "" {
		switch id, err := portal.ParseGUID(t); {
		case err == nil:
			aq.filter.ObjectID = id
		case !utf8.ValidString(t) || utf8.RuneCountInString(t) > maxQuery:
			errs["target"] = "Object: an object ID, or at most 200 characters of a name."
		default:
			aq.targetName = t
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
		name, label string
		dst         *time.Time
		add         int
	}{{"from", "From", &aq.filter.From, 0}, {"to", "To", &aq.filter.To, 1}} {
		if v := strings.TrimSpace(s[d.name]); v != "" {
			t, err := time.Parse(auditDate, v)
			if err != nil {
				errs[d.name] = d.label + ": write the date as YYYY-MM-DD, for example 2026-11-27 (not " + strconv.Quote(clip(v, 20)) + ")."
				continue
			}
			*d.dst = t.AddDate(0, 0, d.add) // "to" is inclusive: up to the next midnight
		}
	}
	if !aq.filter.From.IsZero() && !aq.filter.To.IsZero() && !aq.filter.To.After(aq.filter.From) {
		errs["to"] = "To: the last day must not be before the first (From)."
	}
	if v := s["page"]; v != "" {
		if aq.page, err = strconv.Atoi(v); err != nil || aq.page < 1 || aq.page > 1_000_000 {
			return aq, nil, portal.Errorf(portal.EINVALID, "The page number is not valid.")
		}
	}
	aq.filter.Offset, aq.filter.Limit = (aq.page-1)*defaultPageSize, defaultPageSize
	return aq, errs, nil
}

// clip cuts v to at most n runes, for quoting it back.
func clip(v string, n int) string {
	if utf8.RuneCountInString(v) <= n {
		return v
	}
	return string([]rune(v)[:n]) + "…"
}

// query is the query string of aq's filters as typed (without the page).
func (aq auditQuery) query() url.Values {
	v := url.Values{}
	for k, val := range aq.raw {
		if val != "" && k != "page" {
			v.Set(k, val)
		}
	}
	return v
}

func (aq auditQuery) url(page int) string {
	v := aq.query()
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return "/audit"
	}
	return "/audit?" + v.Encode()
}

// csvURL is the export of the rows aq shows: its filters with a name or
// a user name replaced by the object ID it was found to mean, so the file
// holds the rows the page showed even if names change meanwhile.
func (aq auditQuery) csvURL() string {
	v := aq.query()
	if aq.targetName != "" && !aq.filter.ObjectID.IsZero() {
		v.Set("target", aq.filter.ObjectID.String())
	}
	if aq.actorUPN != "" && aq.filter.Actor != "" {
		v.Set("actor", aq.filter.Actor)
	}
	if len(v) == 0 {
		return "/audit.csv"
	}
	return "/audit.csv?" + v.Encode()
}

// filtered reports whether aq narrows the log.
func (aq auditQuery) filtered() bool { return len(aq.query()) > 0 }

// resolveAuditQuery turns a target typed as a name and a Who typed as a
// user name into the object IDs they mean; problems go to errs, and
// several people matching the target name come back as candidates.
func (s *Server) resolveAuditQuery(r *http.Request, aq *auditQuery, errs templates.FieldErrors) []templates.PersonView {
	if len(errs) > 0 {
		return nil
	}
	if aq.actorUPN != "" {
		switch n, err := s.deps.Access.PersonByUPN(r.Context(), s.who(r), aq.actorUPN); {
		case portal.ErrorCode(err) == portal.ENOTFOUND:
			errs["actor"] = "Who: no one with the user name " + aq.actorUPN + " has signed in to the portal or been named on its pages; type their name or object ID."
		case err != nil:
			errs["actor"] = "Who: user names cannot be looked up now (" + portal.ErrorMessage(err) + "); type the person's name or object ID."
		default:
			aq.filter.Actor = n.ID.String()
		}
	}
	if aq.targetName != "" {
		return s.auditTargetByName(r, aq, errs)
	}
	return nil
}

// handleAudit shows the tenant's audit log, one row per change, and the
// chain's state. GET /audit
func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) {
	aq, errs, err := parseAuditQuery(r.URL.Query())
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v := templates.AuditView{
		Actor: aq.raw["actor"], ObjectID: aq.raw["target"], From: aq.raw["from"], To: aq.raw["to"],
		Errors: errs, AllCSVHref: "/audit.csv", Filtered: aq.filtered(),
	}
	v.Actions = []templates.Option{{Value: "", Label: "Any action"}}
	for _, a := range portal.AuditActions {
		v.Actions = append(v.Actions, templates.Option{Value: string(a), Label: a.Label(), Selected: a == aq.filter.Action})
	}
	v.Outcomes = []templates.Option{{Value: "", Label: "Any outcome"}}
	for _, o := range portal.AuditOutcomes {
		v.Outcomes = append(v.Outcomes, templates.Option{Value: string(o), Label: o.Label(), Selected: o == aq.filter.Outcome})
	}
	status, note := http.StatusOK, ""
	v.Candidates = s.resolveAuditQuery(r, &aq, errs)
	switch {
	case len(errs) > 0:
		status = http.StatusBadRequest
	case len(v.Candidates) > 0:
		// Several people match the name: the page lists them to pick from.
	default:
		aq.filter.OnePerChange = true
		page, err := s.deps.Access.Audit(r.Context(), s.who(r), aq.filter)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		nb := s.names(r, auditNames(page.Events))
		v.Rows, v.Matched, note = s.historyRows(nb, page), page.Matched, nb.note()
		v.CSVHref, v.CSVRows, v.CSVRowsText = aq.csvURL(), page.Rows, portal.Rows(int64(page.Rows))
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
	v.Chain = templates.ChainView{Intact: st.Intact(), BrokenSeq: st.BrokenSeq, Problem: st.Problem, Tampered: st.Problems,
		Unsigned: st.Keys == nil, CheckedAt: displayTime(st.CheckedAt), Failed: st.Err != nil}
	if st.Anchor.Number > 0 {
		v.Chain.Anchor = fmt.Sprintf("%d, signed %s", st.Anchor.Number, displayTime(st.Anchor.Time))
		v.Chain.AnchorSeq = portal.Count(st.Anchor.Seq)
		if st.Unanchored > 0 {
			v.Chain.Unanchored = "The newest " + portal.Rows(st.Unanchored)
		}
	}
	if st.Err != nil {
		s.log.ErrorContext(r.Context(), "audit chain check failed", "err", st.Err)
	}
	s.render(w, r, status, templates.AuditPage(withNamesNote(s.page(w, r, "Audit log", "audit"), note), v))
}

// auditCandidatesShown bounds the people a target name offers.
const auditCandidatesShown = 20

// auditTargetByName turns a target typed as a name into the object it
// names, from the cached names of the tenant; several matches become
// candidates to pick from, none an error on the field.
func (s *Server) auditTargetByName(r *http.Request, aq *auditQuery, errs templates.FieldErrors) (candidates []templates.PersonView) {
	found, err := s.deps.Access.SearchNames(r.Context(), s.who(r), aq.targetName, auditCandidatesShown+1)
	switch {
	case err != nil:
		errs["target"] = "Names cannot be searched now (" + portal.ErrorMessage(err) + "); type the object ID."
	case len(found) == 0:
		errs["target"] = "No one by that name is known to the portal; type the object ID."
	case len(found) == 1:
		aq.filter.ObjectID = found[0].ID
	default:
		for _, n := range found[:min(len(found), auditCandidatesShown)] {
			q := url.Values{"target": {n.ID.String()}}
			for _, k := range []string{"actor", "action", "outcome", "from", "to"} {
				if aq.raw[k] != "" {
					q.Set(k, aq.raw[k])
				}
			}
			candidates = append(candidates, templates.PersonView{ObjectID: n.ID.String(), Name: n.Label(), UPN: n.UPN, Href: "/audit?" + q.Encode()})
		}
	}
	return candidates
}
