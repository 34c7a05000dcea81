package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/teamsphone/portal/internal/portal"
)

// policy says who may enter a route. Deny by default: a route without one
// cannot be registered (see handle).
type policy struct {
	name      string
	anonymous bool          // anyone
	roles     []portal.Role // signed in with one of these; empty: any signed-in person
}

var (
	public   = policy{name: "public", anonymous: true}
	signedIn = policy{name: "signed-in"}
)

var (
	readers  = rolePolicy(portal.RoleAdmin, portal.RoleHelpdesk, portal.RoleAuditor)
	changers = rolePolicy(portal.RoleAdmin, portal.RoleHelpdesk)
	auditors = rolePolicy(portal.RoleAdmin, portal.RoleAuditor)
	admins   = rolePolicy(portal.RoleAdmin)
)

func rolePolicy(roles ...portal.Role) policy {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return policy{name: "roles:" + strings.Join(names, ","), roles: roles}
}

// allows reports whether u (nil: anonymous) may enter.
func (p policy) allows(u *portal.User) bool {
	switch {
	case p.anonymous:
		return true
	case u == nil:
		return false
	case len(p.roles) == 0:
		return true
	}
	return slices.ContainsFunc(p.roles, u.Has)
}

// handle registers a route with its policy.
func (s *Server) handle(r chi.Router, method, pattern string, p policy, h http.HandlerFunc) {
	s.route(r, method, pattern, p, maxFormBody, h)
}

// handleUpload registers a route that takes a body of up to limit bytes
// (a file) instead of a small form.
func (s *Server) handleUpload(r chi.Router, method, pattern string, p policy, limit int64, h http.HandlerFunc) {
	s.route(r, method, pattern, p, limit, h)
}

// route registers h behind its policy and its body limit: a body larger
// than limit makes reading it fail (413 from the form parsers).
func (s *Server) route(r chi.Router, method, pattern string, p policy, limit int64, h http.HandlerFunc) {
	s.policies[method+" "+pattern] = p
	enforced := s.enforce(p, h)
	r.Method(method, pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		enforced(w, r)
	}))
}

// enforce checks the policy before the handler runs. Someone not signed in
// is sent to sign in (GET) or refused (anything else); someone signed in
// without the role gets a 403 page, and the refusal is logged.
func (s *Server) enforce(p policy, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u := userFrom(r.Context())
		if p.allows(u) {
			h(w, r)
			return
		}
		if u == nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				target := "/auth/login?return_to=" + url.QueryEscape(r.URL.RequestURI())
				if r.Header.Get("HX-Request") == "true" {
					w.Header().Set("HX-Redirect", target)
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				http.Redirect(w, r, target, http.StatusSeeOther)
				return
			}
			s.renderError(w, r, portal.Errorf(portal.EUNAUTHORIZED, "Please sign in first."))
			return
		}
		route := chi.RouteContext(r.Context()).RoutePattern()
		s.log.WarnContext(r.Context(), "access denied", "event", "access.denied", "policy", p.name,
			"tid", u.TenantID.String(), "oid", u.ObjectID.String(), "method", r.Method, "route", route)
		if err := s.deps.Access.Note(r.Context(), s.who(r), portal.ActionDenied, portal.OutcomeDenied, r.Method+" "+route); err != nil {
			s.log.ErrorContext(r.Context(), "audit write failed", "event", "access.denied", "err", err)
		}
		s.renderError(w, r, portal.Errorf(portal.EFORBIDDEN, "Your role does not allow this."))
	}
}
