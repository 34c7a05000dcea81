package web

import (
	"net/http"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/templates"
)

// handleHome is the start page: a sign-in prompt for visitors, the no-access
// page for people without a role, a summary for everyone else. GET /
func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) {
	u := userFrom(r.Context())
	switch {
	case u == nil:
		s.render(w, r, http.StatusOK, templates.SignedOut(s.page(w, r, "Sign in")))
	case u.PrimaryRole() == "":
		s.handleNoAccess(w, r)
	default:
		h := templates.HomeView{
			ObjectID: u.ObjectID.String(),
			MayGrant: u.HasAny(portal.RoleAdmin, portal.RoleHelpdesk),
			MayAudit: u.Has(portal.RoleAuditor),
		}
		s.render(w, r, http.StatusOK, templates.Home(s.page(w, r, "Home"), h))
	}
}

// handleNoAccess explains that the person holds no portal role. GET /no-access
func (s *Server) handleNoAccess(w http.ResponseWriter, r *http.Request) {
	status := http.StatusForbidden
	if u := userFrom(r.Context()); u != nil && u.PrimaryRole() != "" {
		status = http.StatusOK
	}
	s.render(w, r, status, templates.NoAccess(s.page(w, r, "No access")))
}

// handleHealthz says the process is up. GET /healthz
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// handleReadyz says whether the portal can serve requests. GET /readyz
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.deps.Ready != nil {
		if err := s.deps.Ready(r.Context()); err != nil {
			s.log.WarnContext(r.Context(), "not ready", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not ready: " + portal.ErrorMessage(err) + "\n"))
			return
		}
	}
	w.Write([]byte("ready\n"))
}
