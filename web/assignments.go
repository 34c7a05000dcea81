package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/templates"
)

const (
	defaultPageSize  = 50
	maxPageSize      = 200
	maxQuery         = 200
	historyRowsShown = 50
)

// who is the signed-in person making the request, as the use cases see them.
func (s *Server) who(r *http.Request) access.Who {
	return access.Who{User: *userFrom(r.Context()), ClientIP: s.clientIP(r)}
}

// objectIDParam reads {objectId} from the path: exactly one canonical GUID
// or a 400, so nothing else can reach ACS or the database.
func objectIDParam(r *http.Request) (portal.GUID, error) {
	raw := chi.URLParam(r, "objectId")
	id, err := portal.ParseGUID(raw)
	if err != nil {
		return id, portal.Errorf(portal.EINVALID, "The address does not hold a valid object ID: %s", portal.ErrorMessage(err))
	}
	return id, nil
}

// changeForm reads what every change to one assignment starts with: the
// {objectId} in the path and the form (for DELETE the query string, where
// htmx sends its fields), parsed by parse. On a failure it has already
// rendered the error and ok is false.
func changeForm[F any](s *Server, w http.ResponseWriter, r *http.Request, parse func(url.Values) (F, templates.FieldErrors, error)) (id portal.GUID, in F, errs templates.FieldErrors, ok bool) {
	id, err := objectIDParam(r)
	var values url.Values
	switch {
	case err != nil:
	case r.Method == http.MethodDelete:
		values = r.URL.Query()
	default:
		values, err = postForm(r)
	}
	if err == nil {
		in, errs, err = parse(values)
	}
	if err != nil {
		s.renderError(w, r, err)
		return id, in, nil, false
	}
	return id, in, errs, true
}

// item loads the inventory row a form is about (to show it again beside
// the form's problems). On a failure it has already rendered the error and
// ok is false.
func (s *Server) item(w http.ResponseWriter, r *http.Request, id portal.GUID) (portal.InventoryItem, bool) {
	item, err := s.deps.Access.Item(r.Context(), s.who(r), id)
	if err != nil {
		s.renderError(w, r, err)
		return item, false
	}
	return item, true
}

// listQuery is GET /assignments's query string.
type listQuery struct {
	filter portal.InventoryFilter
	page   int
	size   int
	// notReady keeps the assignments the readiness checks' last run found
	// unable to work (ready=no).
	notReady bool
}

func parseListQuery(q url.Values) (listQuery, error) {
	lq := listQuery{page: 1, size: defaultPageSize}
	s, err := singles(q, "q", "kind", "state", "ready", "sort", "desc", "page", "size")
	if err != nil {
		return lq, err
	}
	text := strings.TrimSpace(s["q"])
	if !utf8.ValidString(text) || utf8.RuneCountInString(text) > maxQuery {
		return lq, portal.Errorf(portal.EINVALID, "The search text must be valid text of at most %d characters.", maxQuery)
	}
	lq.filter.Query = text
	if s["kind"] != "" {
		// The one vocabulary of kinds, as forms and bulk files take it.
		if lq.filter.Kind, err = portal.ParsePrincipalKind(s["kind"]); err != nil {
			return lq, err
		}
	}
	if s["state"] != "" {
		if lq.filter.State, err = portal.ParseVerifyState(s["state"]); err != nil {
			return lq, err
		}
	}
	switch s["ready"] {
	case "":
	case "no":
		lq.notReady = true
	default:
		return lq, portal.Errorf(portal.EINVALID, "The readiness filter is ready=no, or none.")
	}
	if v := portal.InventorySort(s["sort"]); v != "" {
		if !slices.Contains(portal.InventorySorts, v) {
			return lq, portal.Errorf(portal.EINVALID, "Unknown sort order.")
		}
		lq.filter.Sort = v
	}
	lq.filter.Desc = s["desc"] == "1"
	if v := s["page"]; v != "" {
		if lq.page, err = strconv.Atoi(v); err != nil || lq.page < 1 || lq.page > 1_000_000 {
			return lq, portal.Errorf(portal.EINVALID, "The page number is not valid.")
		}
	}
	if v := s["size"]; v != "" {
		if lq.size, err = strconv.Atoi(v); err != nil || lq.size < 1 || lq.size > maxPageSize {
			return lq, portal.Errorf(portal.EINVALID, "The page size must be between 1 and %d.", maxPageSize)
		}
	}
	lq.filter.Offset, lq.filter.Limit = (lq.page-1)*lq.size, lq.size
	return lq, nil
}

// onlyNotReady narrows a "not ready" query (ready=no) to the assignments
// the readiness checks' last run found unable to work (EINVALID when they
// have not run).
func (lq *listQuery) onlyNotReady(readiness access.TenantReadiness, checked bool) error {
	if !checked {
		return portal.Errorf(portal.EINVALID, "Which assignments cannot work is known once the readiness checks have run: open Will it work? first.")
	}
	lq.filter.Objects = readiness.NotReady() // never nil: none is an empty set, not no filter
	return nil
}

// filtered reports whether lq narrows the list (a sort alone does not).
func (lq listQuery) filtered() bool {
	return lq.filter.Query != "" || lq.filter.Kind != portal.KindUnknown || lq.filter.State != "" || lq.notReady
}

// csvURL is the export of what lq shows: its search, filters and order.
func (lq listQuery) csvURL() string {
	lq.size = defaultPageSize
	return "/assignments.csv" + strings.TrimPrefix(lq.url(1, lq.filter.Sort, lq.filter.Desc), "/assignments")
}

// url is the list's address with this query, on another page or sort.
func (lq listQuery) url(page int, sort portal.InventorySort, desc bool) string {
	v := url.Values{}
	if lq.filter.Query != "" {
		v.Set("q", lq.filter.Query)
	}
	if lq.filter.Kind != portal.KindUnknown {
		v.Set("kind", lq.filter.Kind.String())
	}
	if lq.filter.State != "" {
		v.Set("state", string(lq.filter.State))
	}
	if lq.notReady {
		v.Set("ready", "no")
	}
	if sort != "" && sort != portal.SortUpdated {
		v.Set("sort", string(sort))
	}
	if desc {
		v.Set("desc", "1")
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if lq.size != defaultPageSize {
		v.Set("size", strconv.Itoa(lq.size))
	}
	if len(v) == 0 {
		return "/assignments"
	}
	return "/assignments?" + v.Encode()
}

var sortColumns = []struct {
	sort  portal.InventorySort
	label string
}{
	{portal.SortObjectID, "Object"},
	{portal.SortKind, "Kind"},
	{portal.SortState, "Verification"},
	{portal.SortUpdated, "Last change"},
	{portal.SortVerified, "Last verified"},
}

// handleAssignmentList lists the tenant's inventory. GET /assignments
//
// The results are the same for everyone of a tenant who asks the same
// question of the same inventory, and rendering 50 rows costs more than
// finding them, so renderings are reused while the inventory's stamp holds.
func (s *Server) handleAssignmentList(w http.ResponseWriter, r *http.Request) {
	lq, err := parseListQuery(r.URL.Query())
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	who := s.who(r)
	key := resultsKey{
		tenant:    who.User.TenantID,
		minute:    s.deps.Now().Unix() / 60, // "expires in …" moves with the clock
		query:     lq.url(lq.page, lq.filter.Sort, lq.filter.Desc),
		mayGrant:  who.User.HasAny(portal.RoleAdmin, portal.RoleHelpdesk),
		mayExport: access.MayReadAudit(who.User),
	}
	// The readiness checks' last run, for admins and auditors: the "not
	// ready" filter and its count. A new run is a new rendering.
	readiness, checked := s.deps.Access.LastTenantChecks(who)
	key.readiness = readiness.Run
	if lq.notReady {
		if err := lq.onlyNotReady(readiness, checked); err != nil {
			s.renderError(w, r, err)
			return
		}
	}
	list, err := s.deps.Access.InventoryList(r.Context(), who)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	// results is a kept rendering when there is one, else made now.
	var view templates.ListView
	var results templ.Component
	note := "" // names are looked up only for a new rendering
	if cached, ok := s.results.get(key, list.Stamp()); ok {
		view, results = cached.view, cached
	} else {
		res, err := list.Page(lq.filter)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		req := itemNames(res.Items...)
		if res.Names != nil {
			req.Cached = &access.PageNames{Objects: res.Names, Apps: res.Apps}
		}
		nb := s.names(r, req)
		note = nb.note()
		view = s.listView(lq, key, res, nb)
		if checked {
			// Counted among the rows, as the other filters are: a check
			// also names objects that have no assignment (yet).
			notReady, _ := list.Count(portal.InventoryFilter{Objects: readiness.NotReady()})
			view.Readiness = []templates.Option{{Value: "", Label: "Any", Count: -1},
				{Value: "no", Label: "Not ready", Count: notReady, Selected: lq.notReady}}
		}
		results = templates.AssignmentResults(view)
		// Not kept: a rendering that lacks names for a reason (the next
		// view says the reason again, or shows the names once Graph
		// answers), and a page past the first asked for the first time
		// (see admit).
		stamp := access.ListStamp{Audit: res.Stamp, Names: res.NamesRev}
		if note == "" && s.results.admit(key, stamp, lq.page) {
			html, err := renderBytes(r.Context(), results)
			if err != nil {
				s.renderError(w, r, err)
				return
			}
			kept := keptResults(view, html)
			s.results.put(key, stamp, kept)
			results = kept
		}
	}
	if wantsFragment(r) {
		s.render(w, r, http.StatusOK, results)
		return
	}
	s.render(w, r, http.StatusOK, templates.AssignmentsPage(withNamesNote(s.page(w, r, "Assignments", "assignments"), note), view, results))
}

func (s *Server) listView(lq listQuery, key resultsKey, res portal.InventoryPage, nb *nameBook) templates.ListView {
	v := templates.ListView{
		Query:     lq.filter.Query,
		Sort:      string(lq.filter.Sort),
		Desc:      lq.filter.Desc,
		Matched:   res.Matched,
		Total:     res.Counts.All,
		Page:      lq.page,
		Pages:     max(1, (res.Matched+lq.size-1)/lq.size),
		Filtered:  lq.filtered(),
		MayGrant:  key.mayGrant,
		MayExport: key.mayExport,
		ExportURL: lq.csvURL(),

		ExportAllURL: "/assignments.csv",
		MatchedText:  portal.Rows(int64(res.Matched)),
		TotalText:    portal.Rows(int64(res.Counts.All)),

		MayRefreshNames: s.deps.Access.NamesOn() && key.mayGrant,
	}
	v.Kinds = []templates.Option{
		{Value: "", Label: "All kinds", Count: res.Counts.All},
		{Value: "user", Label: "Users", Count: res.Counts.Users, Selected: lq.filter.Kind == portal.KindUser},
		{Value: "resourceAccount", Label: "Resource accounts", Count: res.Counts.ResourceAccounts, Selected: lq.filter.Kind == portal.KindResourceAccount},
	}
	v.States = []templates.Option{{Value: "", Label: "Any state", Count: res.Counts.All}}
	for _, st := range portal.VerifyStates {
		v.States = append(v.States, templates.Option{Value: string(st), Label: st.Label(), Count: res.Counts.ByState[st], Selected: lq.filter.State == st})
	}
	current := lq.filter.Sort
	if current == "" {
		current = portal.SortUpdated
	}
	v.Sorts = make([]templates.SortLink, 0, len(sortColumns))
	for _, c := range sortColumns {
		active := c.sort == current
		v.Sorts = append(v.Sorts, templates.SortLink{Label: c.label, Active: active, Desc: active && lq.filter.Desc,
			Href: lq.url(1, c.sort, active && !lq.filter.Desc)})
	}
	v.Rows = make([]templates.AssignmentRow, 0, len(res.Items)) // a row is ~300 bytes: grown, 50 were copied 6 times
	text := newViewText(res.Items)
	for _, it := range res.Items {
		v.Rows = append(v.Rows, s.rowViewIn(nb, it, text))
	}
	if len(v.Rows) > 0 {
		v.From, v.To = lq.filter.Offset+1, lq.filter.Offset+len(v.Rows)
	}
	if lq.page > 1 {
		v.PrevHref = lq.url(lq.page-1, lq.filter.Sort, lq.filter.Desc)
	}
	if lq.page < v.Pages {
		v.NextHref = lq.url(lq.page+1, lq.filter.Sort, lq.filter.Desc)
	}
	return v
}

// grantKinds are the kinds u may grant, as radio choices.
func grantKinds(u portal.User, chosen string) []templates.Option {
	var out []templates.Option
	for _, k := range []portal.PrincipalKind{portal.KindUser, portal.KindResourceAccount} {
		if access.MayChange(u, k) == nil {
			out = append(out, templates.Option{Value: k.String(), Label: k.Label(), Selected: chosen == k.String(), Count: -1})
		}
	}
	if len(out) == 1 {
		out[0].Selected = true
	}
	return out
}

// handleGrantForm shows an empty grant form. GET /assignments/new
func (s *Server) handleGrantForm(w http.ResponseWriter, r *http.Request) {
	u := userFrom(r.Context())
	q := r.URL.Query()
	f := templates.GrantForm{Kinds: grantKinds(*u, ""), Required: s.deps.Access.RequireJustification(),
		People:   s.findPeople(r.Context(), r, q.Get("find")),
		Accounts: templates.AccountsView{Enabled: s.deps.Access.NamesOn() && u.Has(portal.RoleAdmin)}}
	if q.Get("accounts") != "" {
		f.Accounts = s.listAccounts(r)
	}
	var apps []string
	if id, err := portal.ParseGUID(q.Get("objectId")); err == nil {
		f.ObjectID = id.String()
		// Chosen in the people finder (a person) or the resource-account
		// picker, named; or "Grant again" on a former assignment's page,
		// with its kind and apps as they last were.
		if label, err := portal.CleanLabel(q.Get("label")); err == nil {
			f.Label = label
		}
		if k, err := portal.ParsePrincipalKind(q.Get("kind")); err == nil || f.Label != "" {
			if err != nil {
				k = portal.KindUser // a person found by name
			}
			f.Kind, f.Kinds = k.String(), grantKinds(*u, k.String())
		}
		if ids, err := portal.ParseClientIDs(q["clientId"]); err == nil {
			apps = guidStrings(ids)
		}
	}
	f.Apps, f.OtherApps = s.appOptions(apps)
	s.render(w, r, http.StatusOK, templates.GrantPage(s.page(w, r, "Grant access", "grant"), f))
}

// handleGrant grants access. POST /assignments
func (s *Server) handleGrant(w http.ResponseWriter, r *http.Request) {
	values, err := postForm(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	in, errs, err := parseGrantForm(values)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	who := s.who(r)
	addProblems(errs, s.deps.Access.CheckGrant(who, in.request()), grantFields...)
	form := templates.GrantForm{ObjectID: in.ObjectID, Kind: in.Kind, Kinds: grantKinds(who.User, in.Kind), Label: in.Label, ExpiresAt: in.ExpiresAt, ExpiresTime: in.ExpiresTime,
		Justification: in.Justification, Required: s.deps.Access.RequireJustification(), Errors: errs}
	form.Apps, form.OtherApps = s.appOptions(in.ClientIDs)
	if len(errs) > 0 {
		s.renderGrantForm(w, r, http.StatusUnprocessableEntity, form)
		return
	}
	absent, unchecked := s.checkDirectory(r, who, in.objectID)
	switch {
	case absent != nil && !in.confirmedAbsent():
		// Nothing is changed until the person says "Grant anyway".
		form.Absent = absent
		s.renderGrantForm(w, r, http.StatusUnprocessableEntity, form)
		return
	case absent != nil:
		// Recorded with the grant: an auditor sees it was no typo missed.
		who.Via = "the directory does not have this object (" + absentWords(absent) + "); granted as the person confirmed"
	}
	// The role is the use case's to check (and a refusal its to record).
	res, err := s.deps.Access.Grant(r.Context(), who, in.request())
	if err != nil {
		if portal.ErrorCode(err) == portal.EFORBIDDEN {
			s.renderError(w, r, err)
			return
		}
		form.Problem = portal.ErrorMessage(err)
		if c, ok := access.AsConflict(err); ok {
			if c.Item != nil {
				form.ProblemHref, form.ProblemLink = "/assignments/"+in.objectID.String(), "Open the existing assignment"
			} else if c.ACS != nil {
				form.ProblemHref, form.ProblemLink = "/lookup?objectId="+in.objectID.String(), "Look it up to adopt it"
			}
		}
		s.logFailure(r, err)
		s.renderGrantForm(w, r, statusFor(portal.ErrorCode(err)), form)
		return
	}
	msg := "Access granted to " + s.messageName(r, res.Item) + "."
	if res.Detail != "" {
		msg += " " + res.Detail
	}
	if unchecked != "" {
		msg += " " + unchecked
	}
	s.addFlash(w, r, "success", msg)
	redirectAfterPost(w, r, "/assignments/"+res.Item.ObjectID.String())
}

// absentWords says how the directory lacks an object, for the audit log.
func absentWords(a *templates.AbsentWarning) string {
	if a.Gone {
		return "it was there and is gone"
	}
	return "never found"
}

// checkDirectory asks the directory whether it has object before a grant
// (access.Names.CheckDirectory, which bulk plans ask too). absent is the
// warning to show when it does not; unchecked says why it could not be
// asked ("" when it was, or names are off), for the person to know the ID
// went unchecked — which never stops the grant.
func (s *Server) checkDirectory(r *http.Request, who access.Who, object portal.GUID) (absent *templates.AbsentWarning, unchecked string) {
	if !s.deps.Access.NamesOn() {
		return nil, ""
	}
	check := s.deps.Access.CheckDirectory(r.Context(), who, s.graphToken(r), []portal.GUID{object})
	if check.Why != "" {
		unchecked = "Whether the directory has this object is unknown: " + check.Why
	}
	p := check.Of(object)
	if !p.Presence.Flagged() {
		return nil, unchecked
	}
	return &templates.AbsentWarning{ObjectID: object.String(), Gone: p.Presence == portal.PresenceGone, Flag: p.Flag()}, ""
}

func (s *Server) renderGrantForm(w http.ResponseWriter, r *http.Request, status int, f templates.GrantForm) {
	if wantsFragment(r) {
		s.render(w, r, status, templates.GrantFormView(f))
		return
	}
	s.render(w, r, status, templates.GrantPage(s.page(w, r, "Grant access", "grant"), f))
}

// messageName is how a message names the assignment it changed, name
// first: the label the portal keeps for it, else the directory's name as
// the cache has it (a message does not wait for Graph), then its kind and
// object ID — "Alice Smith, London desk (user e5b7f628-…)".
func (s *Server) messageName(r *http.Request, it portal.InventoryItem) string {
	name := it.Label
	if name == "" {
		if found, err := s.deps.Access.CachedNames(r.Context(), s.who(r), portal.SpaceObject, []portal.GUID{it.ObjectID}); err == nil && found[it.ObjectID].Found {
			name = found[it.ObjectID].DisplayName
		}
	}
	d := strings.ToLower(it.Kind.Label()) + " " + it.ObjectID.String()
	if name == "" {
		return d
	}
	return name + " (" + d + ")"
}

// describe is an assignment as a page's title names it.
func describe(it portal.InventoryItem) string {
	d := strings.ToLower(it.Kind.Label()) + " " + it.ObjectID.String()
	if it.Label != "" {
		d += " (" + it.Label + ")"
	}
	return d
}

// logFailure logs a failed change that is not the person's own mistake.
func (s *Server) logFailure(r *http.Request, err error) {
	switch portal.ErrorCode(err) {
	case portal.EINVALID, portal.ENOTFOUND, portal.ECONFLICT, portal.EFORBIDDEN:
		return
	}
	s.log.ErrorContext(r.Context(), "change failed", "request_id", requestIDFrom(r.Context()), "code", portal.ErrorCode(err), "err", err)
}

// detailView builds an assignment's page for the person, and says why
// names are missing from it.
func (s *Server) detailView(r *http.Request, item portal.InventoryItem) (templates.DetailView, string, error) {
	who := s.who(r)
	req := itemNames(item)
	if item.Observed != nil {
		req.Apps = append(req.Apps, item.Observed.ClientIDs...)
	}
	hist, err := s.deps.Access.History(r.Context(), who, item.ObjectID, historyRowsShown)
	if err != nil {
		return templates.DetailView{}, "", err
	}
	req.Apps = append(req.Apps, auditNames(hist.Events).Apps...) // apps the history added or removed
	nb := s.names(r, req)
	v := templates.DetailView{Row: s.rowView(nb, item)}
	if err := access.MayChangeItem(who.User, item); err != nil {
		v.ReadOnly = portal.ErrorMessage(err) // the rule's own words: why not
	} else {
		v.MayChange = true
	}
	if item.Observed != nil {
		v.Observed = s.acsView(nb, *item.Observed)
	}
	v.History, v.HistoryTotal = s.historyRows(nb, hist), hist.Matched
	if access.MayReadAudit(who.User) {
		v.AuditHref = "/audit?target=" + item.ObjectID.String()
	}
	if v.MayChange && item.Kind == portal.KindUser {
		v.Edit = s.editForm(item, nil, nil)
	}
	if v.MayChange && (item.State == portal.StateDrifted || item.State == portal.StateMissing) {
		v.Repair = &templates.RepairView{Version: item.Version, Seen: access.Seen(item), Required: s.deps.Access.RequireJustification(),
			Missing: item.State == portal.StateMissing, User: item.Kind == portal.KindUser}
	}
	return v, nb.note(), nil
}

// editForm is the edit form for item, with what the person typed (in) if
// they submitted it.
func (s *Server) editForm(item portal.InventoryItem, in *editForm, errs templates.FieldErrors) *templates.EditForm {
	f := &templates.EditForm{ObjectID: item.ObjectID.String(), Version: item.Version, Seen: access.Seen(item), Label: item.Label,
		Required: s.deps.Access.RequireJustification(), Errors: errs}
	f.ExpiresAt, f.ExpiresTime = expiryValue(item.ExpiresAt)
	chosen := guidStrings(item.ClientIDs)
	if in != nil {
		chosen, f.Label, f.Justification, f.ExpiresAt, f.ExpiresTime = in.ClientIDs, in.Label, in.Justification, in.ExpiresAt, in.ExpiresTime
		f.Version, f.Seen = in.version, in.Seen
	}
	f.Apps, f.OtherApps = s.appOptions(chosen)
	return f
}

// handleAssignmentDetail shows one assignment. GET /assignments/{objectId}
func (s *Server) handleAssignmentDetail(w http.ResponseWriter, r *http.Request) {
	id, err := objectIDParam(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	item, err := s.deps.Access.Item(r.Context(), s.who(r), id)
	if portal.ErrorCode(err) == portal.ENOTFOUND && s.renderFormer(w, r, id) {
		return
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v, note, err := s.detailView(r, item)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, templates.AssignmentPage(withNamesNote(s.page(w, r, describe(item), "assignments"), note), v))
}

// renderFormer shows the page of an object the inventory does not hold
// but whose history the audit log has (its access revoked, or removed):
// since when it has no access, and "Grant again". It reports false, having
// rendered nothing, for an object the portal never knew: that one is a
// 404 suggesting to look it up and adopt it.
func (s *Server) renderFormer(w http.ResponseWriter, r *http.Request, id portal.GUID) bool {
	who := s.who(r)
	hist, err := s.deps.Access.History(r.Context(), who, id, historyRowsShown)
	if err != nil {
		s.renderError(w, r, err)
		return true
	}
	if hist.Matched == 0 {
		return false
	}
	req := auditNames(hist.Events)
	req.Objects = append(req.Objects, id)
	nb := s.names(r, req)
	v := templates.FormerView{ObjectID: id.String(), Name: nb.name(id), HistoryTotal: hist.Matched}
	v.History = s.historyRows(nb, hist)
	if access.MayReadAudit(who.User) {
		v.AuditHref = "/audit?target=" + id.String()
	}
	if end, ok := accessEnded(hist.Events); ok {
		v.Since, v.By = displayTime(end.Time), actorName(end.Actor)
		v.Ended = "revoked"
		if end.Action == portal.ActionAccept {
			v.Ended = "removed from the inventory, as ACS held none,"
		}
	}
	if last := lastState(hist.Events); last != nil {
		if k, err := portal.ParsePrincipalKind(last.Kind); err == nil && access.MayChange(who.User, k) == nil {
			q := url.Values{"objectId": {id.String()}, "kind": {k.String()}, "clientId": last.ClientIDs}
			if last.Label != "" {
				q.Set("label", last.Label)
			}
			v.GrantAgainHref = "/assignments/new?" + q.Encode()
		}
	}
	s.render(w, r, http.StatusOK, templates.FormerAssignmentPage(withNamesNote(s.page(w, r, "No access: "+id.String(), "assignments"), nb.note()), v))
	return true
}

// accessEnded finds, among an object's audit rows (newest first), the
// change that took it out of the inventory: a revoke that ACS confirmed
// (or found done), or accepting that ACS held none.
func accessEnded(events []portal.AuditEvent) (portal.AuditEvent, bool) {
	for _, ev := range events {
		done := ev.Phase != portal.PhaseIntent && (ev.Outcome == portal.OutcomeSuccess || ev.Outcome == portal.OutcomeNoChange)
		switch {
		case ev.Action == portal.ActionRevoke && done:
			return ev, true
		case ev.Action == portal.ActionAccept && done && ev.After == nil:
			return ev, true
		}
	}
	return portal.AuditEvent{}, false
}

// lastState is the assignment as an object's newest audit rows last
// recorded it: what a revoke removed, or what a grant or edit wrote.
func lastState(events []portal.AuditEvent) *portal.AuditState {
	for _, ev := range events {
		switch {
		case (ev.Action == portal.ActionRevoke || ev.Action == portal.ActionAccept) && ev.Before != nil:
			return ev.Before
		case ev.After != nil && ev.Phase != portal.PhaseIntent && ev.Outcome == portal.OutcomeSuccess:
			return ev.After
		}
	}
	return nil
}

// handleEdit replaces a user's calling-client apps. POST /assignments/{objectId}
func (s *Server) handleEdit(w http.ResponseWriter, r *http.Request) {
	id, in, errs, ok := changeForm(s, w, r, parseEditForm)
	if !ok {
		return
	}
	who := s.who(r)
	item, ok := s.item(w, r, id)
	if !ok {
		return
	}
	expires := in.expiresAt
	if !in.expiresGiven {
		expires = item.ExpiresAt // a form without the field changes no expiry
	}
	req := access.EditRequest{ObjectID: id, ClientIDs: in.clientIDs, Label: in.Label, Version: in.version, Seen: in.Seen, Justification: in.Justification, ExpiresAt: expires}
	if addProblems(errs, s.deps.Access.CheckEdit(req, item.Kind), editFields...); len(errs) > 0 {
		s.renderEditForm(w, r, http.StatusUnprocessableEntity, item, s.editForm(item, &in, errs), "")
		return
	}
	res, err := s.deps.Access.Edit(r.Context(), who, req)
	if err != nil {
		if portal.ErrorCode(err) == portal.EFORBIDDEN {
			s.renderError(w, r, err)
			return
		}
		s.logFailure(r, err)
		f := s.editForm(item, &in, nil)
		f.Problem = portal.ErrorMessage(err)
		note := ""
		if c, ok := access.AsConflict(err); ok {
			f.Problem = ""
			f.Conflict, note = s.conflictView(r, c)
			if c.Item != nil {
				item = *c.Item
			}
		}
		s.renderEditForm(w, r, statusFor(portal.ErrorCode(err)), item, f, note)
		return
	}
	names := itemNames(res.Item)
	names.Apps = append(names.Apps, parseGUIDs(res.Change.AppsRemoved)...) // named in the message too
	s.addFlash(w, r, "success", s.editMessage(s.names(r, names), res))
	redirectAfterPost(w, r, "/assignments/"+id.String())
}

// conflictView shows both states of a conflict, and says why names are
// missing from it.
func (s *Server) conflictView(r *http.Request, c *access.Conflict) (*templates.ConflictView, string) {
	req := access.NameRequest{Objects: []portal.GUID{c.Proposed.ObjectID}, Apps: c.Proposed.ClientIDs}
	if c.Item != nil {
		req.Apps = append(req.Apps, c.Item.ClientIDs...)
	}
	if c.ACS != nil {
		req.Apps = append(req.Apps, c.ACS.ClientIDs...)
	}
	nb := s.names(r, req)
	v := &templates.ConflictView{Reason: c.Reason, Proposed: s.appRefs(nb, c.Proposed.ClientIDs), ACSAsked: c.ACS != nil}
	if c.Item != nil {
		row := s.rowView(nb, *c.Item)
		v.Inventory = &row
	}
	if c.ACS != nil {
		v.ACS = s.acsView(nb, *c.ACS)
	}
	return v, nb.note()
}

// renderEditForm shows f; note is why names are missing from it.
func (s *Server) renderEditForm(w http.ResponseWriter, r *http.Request, status int, item portal.InventoryItem, f *templates.EditForm, note string) {
	if wantsFragment(r) {
		s.render(w, r, status, templates.EditFormView(*f))
		return
	}
	v, detailNote, err := s.detailView(r, item)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v.Edit = f
	s.render(w, r, status, templates.AssignmentPage(withNamesNote(s.page(w, r, describe(item), "assignments"), note, detailNote), v))
}

// handleVerify compares an assignment with ACS now. POST /assignments/{objectId}/verify
func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request) {
	id, err := objectIDParam(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	values, err := postForm(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	res, err := s.deps.Access.Verify(r.Context(), s.who(r), id)
	if err != nil {
		s.logFailure(r, err)
		s.renderError(w, r, err)
		return
	}
	msg := "Verified just now: " + res.Item.State.Label() + "."
	if wantsFragment(r) {
		v, _, err := s.detailView(r, res.Item) // a fragment: no layout to say why names are missing
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		v.Verified = msg
		// htmx sends the edit form's fingerprint along (see Verified).
		seen := values.Get("seen")
		s.render(w, r, http.StatusOK, templates.Verified(v, seen != "" && seen == res.SeenBefore))
		return
	}
	s.addFlash(w, r, "info", msg)
	redirectAfterPost(w, r, "/assignments/"+id.String())
}

// handleRevokeConfirm asks before a revoke. GET /assignments/{objectId}/delete
func (s *Server) handleRevokeConfirm(w http.ResponseWriter, r *http.Request) {
	id, err := objectIDParam(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	item, err := s.deps.Access.ItemToChange(r.Context(), s.who(r), portal.ActionRevoke, id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	nb := s.names(r, itemNames(item))
	v := templates.RevokeView{Row: s.rowView(nb, item), Seen: access.Seen(item), Required: s.deps.Access.RequireJustification()}
	// Back from a fresh sign-in: what the person entered before it, the
	// version and fingerprint included, so a change made meanwhile is
	// still caught.
	if held := s.held(r, revokeConfirmPath(id)); held != nil {
		v.Justification, v.Seen = held.Get("justification"), held.Get("seen")
		if version, err := strconv.ParseInt(held.Get("version"), 10, 64); err == nil {
			v.Row.Version = version
		}
	}
	if err := s.deps.Access.RevokeNeedsFreshSignIn(s.who(r), item); err != nil {
		v.Fresh = freshView(revokeConfirmPath(id), err)
	}
	s.render(w, r, http.StatusOK, templates.RevokePage(withNamesNote(s.page(w, r, "Revoke access", "assignments"), nb.note()), v))
}

// revokeConfirmPath is the address of an assignment's revoke confirmation.
func revokeConfirmPath(id portal.GUID) string { return "/assignments/" + id.String() + "/delete" }

// handleRevoke revokes access. POST /assignments/{objectId}/delete, and
// DELETE /assignments/{objectId} from htmx (which sends the fields in the
// query string).
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	id, in, errs, ok := changeForm(s, w, r, parseRevokeForm)
	if !ok {
		return
	}
	who := s.who(r)
	item, ok := s.item(w, r, id)
	if !ok {
		return
	}
	_, whyErr := s.deps.Access.CleanJustification(in.Justification)
	addProblems(errs, whyErr, "justification")
	nb := s.names(r, itemNames(item))
	v := templates.RevokeView{Row: s.rowView(nb, item), Seen: in.Seen, Justification: in.Justification, Required: s.deps.Access.RequireJustification(), Errors: errs}
	v.Row.Version = in.version
	if len(errs) > 0 {
		s.renderRevokeForm(w, r, http.StatusUnprocessableEntity, v, nb.note())
		return
	}
	res, err := s.deps.Access.Revoke(r.Context(), who, access.RevokeRequest{ObjectID: id, Version: in.version, Seen: in.Seen, Justification: in.Justification})
	if errors.Is(err, portal.ErrSignInNotFresh) {
		// Refused, nothing changed: the same confirmation, asking for the
		// fresh sign-in, with what was entered (403, htmx or not).
		v.Fresh = freshView(revokeConfirmPath(id), err)
		s.renderRevokeForm(w, r, http.StatusForbidden, v, nb.note())
		return
	}
	if portal.ErrorCode(err) == portal.EFORBIDDEN {
		s.renderError(w, r, err)
		return
	}
	if err != nil {
		s.logFailure(r, err)
		v.Problem = portal.ErrorMessage(err)
		s.renderRevokeForm(w, r, statusFor(portal.ErrorCode(err)), v, nb.note())
		return
	}
	msg := "Access revoked for " + s.messageName(r, res.Item) + "."
	if res.Detail != "" {
		msg += " " + res.Detail
	}
	dropHeld(r)
	s.addFlash(w, r, "success", msg)
	redirectAfterPost(w, r, "/assignments")
}

// renderRevokeForm shows v; note is why names are missing from it.
func (s *Server) renderRevokeForm(w http.ResponseWriter, r *http.Request, status int, v templates.RevokeView, note string) {
	if wantsFragment(r) {
		s.render(w, r, status, templates.RevokeFormView(v))
		return
	}
	s.render(w, r, status, templates.RevokePage(withNamesNote(s.page(w, r, "Revoke access", "assignments"), note), v))
}
