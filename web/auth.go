package web

import (
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
)

// handleLogin starts a sign-in. GET /auth/login?login_hint=&return_to=
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	hint := q.Get("login_hint")
	if len(hint) > 256 || strings.ContainsFunc(hint, unicode.IsControl) {
		hint = ""
	}
	redirect, signIn, err := s.deps.Auth.BeginSignIn(r.Context(), hint, safeReturnTo(q.Get("return_to")))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	sess := sessionFrom(r.Context())
	sess.Values[keySignIn] = signIn
	if err := sess.Save(r, w); err != nil {
		s.renderError(w, r, err)
		return
	}
	http.Redirect(w, r, redirect, http.StatusFound)
}

// handleCallback finishes a sign-in. GET /auth/callback?code=&state=
func (s *Server) handleCallback(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	signIn, _ := sess.Values[keySignIn].(portal.SignIn)
	// Single use: whatever happens next, this sign-in is spent.
	delete(sess.Values, keySignIn)
	delete(sess.Values, keyUser)
	user, tokens, err := s.deps.Auth.CompleteSignIn(r.Context(), r.URL.Query(), signIn)
	if err != nil {
		sess.Save(r, w)
		s.log.WarnContext(r.Context(), "sign-in failed", "event", "auth.failure", "request_id", requestIDFrom(r.Context()), "err", err)
		s.note(r, access.Who{ClientIP: s.clientIP(r)}, portal.ActionSignInFailure, portal.OutcomeFailed, portal.ErrorMessage(err))
		s.renderError(w, r, err)
		return
	}
	// A new session key at sign-in: a key planted before it (fixation) or
	// seen by anyone before it is worth nothing after.
	s.sessions.renew(r.Context(), sess)
	sess.Values = map[any]any{keyUser: user}
	if err := sess.Save(r, w); err != nil {
		s.renderError(w, r, err)
		return
	}
	// Graph tokens, if any, belong to the new session: saved now that it
	// exists, gone when it ends. Without them names are not shown; the
	// sign-in stands.
	if err := s.deps.Auth.KeepTokens(r.Context(), hashKey(sess.ID), tokens); err != nil {
		s.log.WarnContext(r.Context(), "sign-in tokens not kept; names will not be shown", "event", "auth.tokens", "request_id", requestIDFrom(r.Context()), "err", err)
	}
	s.note(r, access.Who{User: user, ClientIP: s.clientIP(r)}, portal.ActionSignIn, portal.OutcomeSuccess, "")
	s.log.InfoContext(r.Context(), "signed in", "event", "auth.success", "tid", user.TenantID.String(), "oid", user.ObjectID.String(), "request_id", requestIDFrom(r.Context()))
	target := signIn.ReturnTo
	if target == "" {
		target = "/"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// handleLogout ends the session on the server, then at Entra. POST /auth/logout
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	s.note(r, s.who(r), portal.ActionSignOut, portal.OutcomeSuccess, "")
	sess := sessionFrom(r.Context())
	sess.Options.MaxAge = -1
	if err := sess.Save(r, w); err != nil {
		s.renderError(w, r, err)
		return
	}
	target := s.deps.Auth.EndSessionURL(r.Context(), strings.TrimRight(s.deps.BaseURL, "/")+"/")
	if target == "" {
		target = "/"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// safeReturnTo keeps a post-login target only if it is a path on this
// portal: one leading slash, no scheme, host or backslash, no control
// characters. Anything else becomes "/" (no open redirect).
func safeReturnTo(s string) string {
	if s == "" || len(s) > 2048 || s[0] != '/' || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\") ||
		strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) {
		return "/"
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	// A path that decodes to "//host" could still be read as one by a lax
	// browser or proxy.
	if p, err := url.PathUnescape(u.EscapedPath()); err != nil || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "/"
	}
	return u.RequestURI()
}

// note records a sign-in event; the sign-in itself does not wait on it.
func (s *Server) note(r *http.Request, who access.Who, action portal.AuditAction, result portal.AuditOutcome, detail string) {
	if err := s.deps.Access.Note(r.Context(), who, action, result, detail); err != nil {
		s.log.ErrorContext(r.Context(), "audit write failed", "event", string(action), "err", err)
	}
}
