package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/templates"
)

// peopleShown bounds the people finder's list.
const peopleShown = 10

// findPeople searches the person's tenant through Graph for the grant
// form's people finder. Graph failing never blocks a grant: the view then
// says why names are missing, and the object ID field still works.
func (s *Server) findPeople(ctx context.Context, r *http.Request, q string) templates.PeopleView {
	return s.searchPeople(ctx, r, q, func(e portal.DirectoryEntry) string {
		return "/assignments/new?" + url.Values{"objectId": {e.ObjectID.String()}, "label": {e.Label()}}.Encode()
	})
}

// searchPeople finds people of the person's tenant by name or user name,
// each linked to href(person): the grant form's finder, and look-up by
// name.
func (s *Server) searchPeople(ctx context.Context, r *http.Request, q string, href func(portal.DirectoryEntry) string) templates.PeopleView {
	q = strings.TrimSpace(q)
	v := templates.PeopleView{Query: q, Enabled: s.deps.Access.NamesOn()}
	if q == "" || !v.Enabled {
		return v
	}
	if utf8.RuneCountInString(q) > 100 {
		v.Message = "Type at most 100 characters."
		return v
	}
	v.Searched = true
	found, err := s.deps.Access.SearchPeople(ctx, s.who(r), s.graphToken(r), q, peopleShown)
	if err != nil {
		s.log.WarnContext(ctx, "people search failed", "event", "graph.search", "request_id", requestIDFrom(ctx), "err", err)
		v.Message = "Names are not available: " + portal.ErrorMessage(err) + " Type the object ID instead."
		return v
	}
	for _, e := range found {
		v.People = append(v.People, templates.PersonView{ObjectID: e.ObjectID.String(), Name: e.Label(), UPN: e.UPN, Href: href(e)})
	}
	return v
}

// handlePeople is the people finder's results alone, for htmx's search as
// you type. GET /people?find=
func (s *Server) handlePeople(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, templates.PeopleResults(s.findPeople(r.Context(), r, r.URL.Query().Get("find"))))
}
