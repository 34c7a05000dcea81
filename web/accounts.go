package web

import (
	"net/http"
	"net/url"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/templates"
)

// listAccounts is the grant form's resource-account picker, for admins:
// the tenant's Teams resource accounts bound to this ACS resource, with
// their phone numbers, through Graph on the admin's own token. Graph
// failing never blocks a grant: the view says why, and the object ID field
// still works.
func (s *Server) listAccounts(r *http.Request) templates.AccountsView {
	who := s.who(r)
	v := templates.AccountsView{Enabled: s.deps.Access.NamesOn() && who.User.Has(portal.RoleAdmin), Listed: true,
		Bound: s.deps.Access.ACSResourceID() != ""}
	if !v.Enabled {
		return v
	}
	found, err := s.deps.Access.ResourceAccounts(r.Context(), who, s.graphToken(r))
	if err != nil {
		s.log.WarnContext(r.Context(), "resource accounts failed", "event", "graph.resource_accounts", "request_id", requestIDFrom(r.Context()), "err", err)
		v.Message = "Resource accounts are not available: " + portal.ErrorMessage(err) + " Type the object ID instead."
		return v
	}
	for _, e := range found {
		q := url.Values{"objectId": {e.ObjectID.String()}, "label": {e.Label()}, "kind": {portal.KindResourceAccount.String()}}
		v.Accounts = append(v.Accounts, templates.AccountView{ObjectID: e.ObjectID.String(), Name: e.Label(), UPN: e.UPN,
			Phone: e.Phone, Href: "/assignments/new?" + q.Encode()})
	}
	return v
}

// handleResourceAccounts is the picker's list alone, for htmx.
// GET /resource-accounts
func (s *Server) handleResourceAccounts(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, templates.AccountResults(s.listAccounts(r)))
}
