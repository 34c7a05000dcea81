package web

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"github.com/gorilla/sessions"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
)

// maxPendingSignIns bounds the sign-ins one browser may have under way at
// once (one per tab that started one).
const maxPendingSignIns = 5

// pendingSignIns are the browser's sign-ins under way, oldest first,
// without those past portal.SignInLifetime.
func (s *Server) pendingSignIns(sess *sessions.Session) []portal.SignIn {
	all, _ := sess.Values[keySignIn].([]portal.SignIn)
	now := s.deps.Now()
	return slices.DeleteFunc(slices.Clone(all), func(l portal.SignIn) bool { return now.Sub(l.Started) > portal.SignInLifetime })
}

// handleLogin starts a sign-in. GET /auth/login?login_hint=&return_to=
//
// Each sign-in is kept by its state, beside any other of the same browser
// (another tab), so each can finish.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	hint := q.Get("login_hint")
	if len(hint) > 256 || strings.ContainsFunc(hint, unicode.IsControl) {
		hint = ""
	}
	redirect, signIn, err := s.deps.Auth.BeginSignIn(r.Context(), hint, safeReturnTo(q.Get("return_to")), 0)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	sess := sessionFrom(r.Context())
	s.keepPending(sess, signIn)
	if err := sess.Save(r, w); err != nil {
		s.renderError(w, r, err)
		return
	}
	http.Redirect(w, r, redirect, http.StatusFound)
}

// handleCallback finishes a sign-in. GET /auth/callback?code=&state=
//
// The state is looked up first: a callback for no sign-in of this browser
// (forged, replayed, or a tab whose sign-in another finished already) is
// refused and changes nothing, so a link from another site cannot sign
// anyone out. A sign-in that is found is spent, whatever happens next.
func (s *Server) handleCallback(w http.ResponseWriter, r *http.Request) {
	// A client past its failed sign-ins for the minute is not heard: no
	// row each, one summary row when the minute ends (RunSummaries).
	if wait, limited := s.signInFailures.full(s.clientIP(r), access.Who{ClientIP: s.clientIP(r)}, s.deps.Now()); limited {
		s.tooMany(w, r, wait, "Too many sign-ins failed from your address in the last minute.")
		return
	}
	sess := sessionFrom(r.Context())
	pending := s.pendingSignIns(sess)
	var signIn portal.SignIn
	if states := r.URL.Query()["state"]; len(states) == 1 {
		for i, l := range pending {
			if subtle.ConstantTimeCompare([]byte(states[0]), []byte(l.State)) == 1 {
				signIn, pending = l, slices.Delete(pending, i, i+1)
				break
			}
		}
	}
	if signIn.State != "" {
		sess.Values[keySignIn] = pending
		if err := sess.Save(r, w); err != nil {
			s.renderError(w, r, err)
			return
		}
	}
	user, tokens, err := s.deps.Auth.CompleteSignIn(r.Context(), r.URL.Query(), signIn)
	if err != nil {
		s.log.WarnContext(r.Context(), "sign-in failed", "event", "auth.failure", "request_id", requestIDFrom(r.Context()), "err", err)
		who := access.Who{ClientIP: s.clientIP(r)}
		if ok, wait := s.signInFailures.admit(who.ClientIP, who, s.deps.Now()); !ok {
			s.tooMany(w, r, wait, "Too many sign-ins failed from your address in the last minute.")
			return
		}
		s.note(r, who, portal.ActionSignInFailure, portal.OutcomeFailed, portal.ErrorMessage(err))
		s.renderError(w, r, err)
		return
	}
	// A fresh sign-in, asked for by a confirmation (see fresh.go), gives
	// that confirmation back only to the person who asked, and only when
	// Entra really made them sign in again.
	target := signIn.ReturnTo
	var held any
	var flash *Flash
	if signIn.MaxAge > 0 {
		switch {
		case !signIn.For.SameIdentity(user):
			target = "/"
			flash = &Flash{Kind: "info", Message: "You signed in as " + user.Name + ", not as the person who asked to confirm a change: what they entered was dropped, and nothing was changed."}
			s.log.WarnContext(r.Context(), "fresh sign-in answered by another person; the held confirmation was dropped", "event", "auth.fresh_other", "request_id", requestIDFrom(r.Context()))
		case !user.SignedInWithin(s.deps.Now(), signIn.MaxAge):
			s.refuseStaleSignIn(w, r, user, signIn)
			return
		default:
			if h, ok := sess.Values[keyHeld].(heldForm); ok && h.Tenant == user.TenantID && h.Object == user.ObjectID {
				held = h
			}
			flash = &Flash{Kind: "success", Message: "You signed in again at " + displayTime(user.AuthTime) + ". Check the details and confirm."}
		}
	}
	// A new session key at sign-in: a key planted before it (fixation) or
	// seen by anyone before it is worth nothing after. The browser's other
	// sign-ins under way stay, so another tab can still finish its own.
	s.sessions.renew(r.Context(), sess)
	sess.Values = map[any]any{keyUser: user}
	if len(pending) > 0 {
		sess.Values[keySignIn] = pending
	}
	if held != nil {
		sess.Values[keyHeld] = held
	}
	if flash != nil {
		sess.Values[keyFlash] = []Flash{*flash}
	}
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
	if err := s.deps.Access.KeepSignedInName(r.Context(), user); err != nil { // for the audit log's Who filter
		s.log.WarnContext(r.Context(), "signed-in name not cached", "event", "names.signed_in", "request_id", requestIDFrom(r.Context()), "err", err)
	}
	s.log.InfoContext(r.Context(), "signed in", "event", "auth.success", "tid", user.TenantID.String(), "oid", user.ObjectID.String(), "request_id", requestIDFrom(r.Context()))
	if target == "" {
		target = "/"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// handleLogout ends the session on the server, then at Entra. POST /auth/logout
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	s.note(r, s.who(r), portal.ActionSignOut, portal.OutcomeSuccess, "")
	sess := sessionFrom(r.Context())
	s.deps.Auth.ForgetTokens(hashKey(sess.ID))
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
