package web

import (
	"net/http"
	"strings"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/templates"
)

// handleLookup asks ACS live what it holds for an object ID.
// GET /lookup?objectId=
func (s *Server) handleLookup(w http.ResponseWriter, r *http.Request) {
	raw, err := one(r.URL.Query(), "objectId")
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v := templates.LookupView{ObjectID: strings.TrimSpace(raw)}
	status, note := http.StatusOK, ""
	if v.ObjectID != "" {
		v.Asked = true
		if len(v.ObjectID) > 64 {
			v.ObjectID = v.ObjectID[:64]
		}
		id, err := portal.ParseGUID(v.ObjectID)
		if err != nil {
			v.Error, status = "Object ID: "+portal.ErrorMessage(err), http.StatusBadRequest
		} else {
			v.ObjectID = id.String()
			var code string
			if code, note = s.lookup(r, id, &v); code != "" {
				status = statusFor(code)
			}
		}
	}
	if wantsFragment(r) {
		s.render(w, r, status, templates.LookupResult(v))
		return
	}
	s.render(w, r, status, templates.LookupPage(withNamesNote(s.page(w, r, "Look up", "lookup"), note), v))
}

// lookup fills v from ACS and the inventory; on failure it sets v.Error and
// returns the error's code. note is why names are missing from v.
func (s *Server) lookup(r *http.Request, id portal.GUID, v *templates.LookupView) (code, note string) {
	who := s.who(r)
	res, err := s.deps.Access.Lookup(r.Context(), who, id)
	if err != nil {
		s.logFailure(r, err)
		v.Error = portal.ErrorMessage(err)
		return portal.ErrorCode(err), ""
	}
	v.Call = res.Call.RequestID
	req := access.NameRequest{Objects: []portal.GUID{id}}
	if res.ACS != nil {
		req.Apps = res.ACS.ClientIDs
	}
	if res.Item != nil {
		req.Apps = append(req.Apps, res.Item.ClientIDs...)
		req.ResourceAccounts = itemNames(*res.Item).ResourceAccounts
	}
	nb := s.names(r, req)
	v.Name = nb.name(id)
	if res.ACS != nil {
		v.ACS = s.acsView(nb, *res.ACS)
		v.MayAdopt = res.ACS.Kind != portal.KindUnknown && access.MayChange(who.User, res.ACS.Kind) == nil
	}
	if res.Item != nil {
		row := s.rowView(nb, *res.Item)
		v.Item = &row
	}
	v.Adopt = templates.AdoptForm{ObjectID: id.String(), Required: s.deps.Access.RequireJustification()}
	return "", nb.note()
}

// handleAdopt takes an assignment found in ACS into the inventory.
// POST /assignments/{objectId}/adopt
func (s *Server) handleAdopt(w http.ResponseWriter, r *http.Request) {
	id, in, errs, ok := changeForm(s, w, r, parseAdoptForm)
	if !ok {
		return
	}
	req := access.AdoptRequest{ObjectID: id, Label: in.Label, Justification: in.Justification}
	if addProblems(errs, s.deps.Access.CheckAdopt(req), textFields...); len(errs) > 0 {
		v := templates.LookupView{ObjectID: id.String(), Asked: true}
		_, note := s.lookup(r, id, &v)
		v.Adopt.Label, v.Adopt.Justification, v.Adopt.Errors = in.Label, in.Justification, errs
		s.render(w, r, http.StatusUnprocessableEntity, templates.LookupPage(withNamesNote(s.page(w, r, "Look up", "lookup"), note), v))
		return
	}
	res, err := s.deps.Access.Adopt(r.Context(), s.who(r), req)
	if err != nil {
		s.logFailure(r, err)
		s.renderError(w, r, err)
		return
	}
	s.addFlash(w, r, "success", "Adopted "+describe(res.Item)+" into the inventory, as ACS holds it.")
	redirectAfterPost(w, r, "/assignments/"+id.String())
}
