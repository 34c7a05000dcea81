package web

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/templates"
)

// lookupHref is the look-up of one object ID.
func lookupHref(id portal.GUID) string { return "/lookup?objectId=" + id.String() }

// handleLookup asks ACS live what it holds for an object ID; when names
// are on, a name or user name finds the object ID first (the people
// finder's search): one match is looked up, several are offered.
// GET /lookup?objectId=
func (s *Server) handleLookup(w http.ResponseWriter, r *http.Request) {
	raw, err := one(r.URL.Query(), "objectId")
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v := templates.LookupView{ObjectID: strings.TrimSpace(raw), ByName: s.deps.Access.NamesOn()}
	status, note := http.StatusOK, ""
	if v.ObjectID != "" {
		v.Asked = true
		if utf8.RuneCountInString(v.ObjectID) > 100 {
			v.ObjectID = string([]rune(v.ObjectID)[:100])
		}
		id, err := portal.ParseGUID(v.ObjectID)
		if err != nil && v.ByName && utf8.ValidString(v.ObjectID) {
			var ok bool
			if id, ok = s.lookupByName(r, &v); !ok {
				s.renderLookup(w, r, status, v, note)
				return
			}
			if !wantsFragment(r) {
				// The look-up's own address, as if the ID had been typed.
				s.addFlash(w, r, "info", "Found by name: "+v.Found+".")
				http.Redirect(w, r, lookupHref(id), http.StatusSeeOther)
				return
			}
			err = nil
		}
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
	s.renderLookup(w, r, status, v, note)
}

// lookupByName finds the person v.ObjectID names. ok is true when exactly
// one matched (v.Found names them); otherwise v says who matched, or
// nobody, or why Graph could not say.
func (s *Server) lookupByName(r *http.Request, v *templates.LookupView) (id portal.GUID, ok bool) {
	found := s.searchPeople(r.Context(), r, v.ObjectID, func(e portal.DirectoryEntry) string { return lookupHref(e.ObjectID) })
	switch {
	case found.Message != "":
		v.Error = found.Message
	case len(found.People) == 0:
		v.Error = "Nobody in your directory has a name or user name starting with “" + v.ObjectID + "”. Type the object ID instead."
	case len(found.People) == 1:
		id, _ = portal.ParseGUID(found.People[0].ObjectID)
		v.Found = found.People[0].Name
		if found.People[0].UPN != "" && found.People[0].UPN != v.Found {
			v.Found += " (" + found.People[0].UPN + ")"
		}
		return id, true
	default:
		v.People = found.People
	}
	return id, false
}

// renderLookup shows v: the page, or the result alone for htmx; note is
// why names are missing from it.
func (s *Server) renderLookup(w http.ResponseWriter, r *http.Request, status int, v templates.LookupView, note string) {
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
	s.addFlash(w, r, "success", "Adopted "+s.messageName(r, res.Item)+" into the inventory, as ACS holds it.")
	redirectAfterPost(w, r, "/assignments/"+id.String())
}
