package web

import (
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/sessions"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/templates"
)

// A fresh sign-in before the most destructive acts (which acts, and the
// rule itself, are internal/access's: see access/fresh.go). What web adds
// is the way there and back with nothing lost: the confirmation page posts
// what the person entered to /auth/fresh, which keeps it in the session
// (a heldForm) and starts a sign-in asking Entra for a new authentication;
// the callback checks that the sign-in is recent and the same person's and
// returns to the confirmation, which shows what was kept.

// heldFields are the fields of a confirmation that /auth/fresh keeps: the
// reason typed, the version and fingerprint of what the page showed (so a
// change made meanwhile is still a conflict, not overwritten), and a bulk
// plan's confirmation that its object IDs not in the directory were checked.
var heldFields = []string{"justification", "version", "seen", "ids_checked"}

// maxHeldBytes bounds what one held form keeps (a justification is at most
// 1,000 characters).
const maxHeldBytes = 8 << 10

// heldFormLifetime bounds how long a held form is given back: time enough
// to sign in again and confirm, not a draft that resurfaces next week.
const heldFormLifetime = time.Hour

// heldForm is a confirmation left for a fresh sign-in, kept in the session.
// A session holds one at most: a newer one replaces it.
type heldForm struct {
	Path   string // the confirmation's address
	Values url.Values
	Tenant portal.GUID // whose it is
	Object portal.GUID
	Saved  time.Time
}

// handleFreshSignIn keeps the confirmation the person was on and sends them
// to sign in again. POST /auth/fresh (return_to, and the confirmation's
// fields)
func (s *Server) handleFreshSignIn(w http.ResponseWriter, r *http.Request) {
	form, err := postForm(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	single, err := singles(form, append([]string{"return_to"}, heldFields...)...)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	path := safeReturnTo(single["return_to"])
	held := url.Values{}
	size := 0
	for _, f := range heldFields {
		if v := single[f]; v != "" {
			held.Set(f, v)
			size += len(v)
		}
	}
	if size > maxHeldBytes {
		s.renderError(w, r, portal.Errorf(portal.EINVALID, "The form is too large to keep while you sign in again; shorten the justification."))
		return
	}
	u := userFrom(r.Context())
	redirect, signIn, err := s.deps.Auth.BeginSignIn(r.Context(), u.UPN, path, s.deps.Access.FreshSignInWindow())
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	signIn.For = portal.User{TenantID: u.TenantID, ObjectID: u.ObjectID, Name: u.Name}
	sess := sessionFrom(r.Context())
	s.keepPending(sess, signIn)
	sess.Values[keyHeld] = heldForm{Path: path, Values: held, Tenant: u.TenantID, Object: u.ObjectID, Saved: s.deps.Now()}
	if err := sess.Save(r, w); err != nil {
		s.renderError(w, r, err)
		return
	}
	http.Redirect(w, r, redirect, http.StatusSeeOther)
}

// held returns what the person left on the confirmation at path for a
// fresh sign-in, or nil: only theirs, only for that page, only for a while.
func (s *Server) held(r *http.Request, path string) url.Values {
	sess, u := sessionFrom(r.Context()), userFrom(r.Context())
	h, ok := sess.Values[keyHeld].(heldForm)
	if !ok || u == nil || h.Path != path || h.Tenant != u.TenantID || h.Object != u.ObjectID || s.deps.Now().Sub(h.Saved) > heldFormLifetime {
		return nil
	}
	return h.Values
}

// dropHeld forgets a held form once its act is done; the caller saves the
// session (addFlash does).
func dropHeld(r *http.Request) {
	if sess := sessionFrom(r.Context()); sess != nil {
		delete(sess.Values, keyHeld)
	}
}

// freshView is the "sign in again" panel of a confirmation at path, saying
// why (notFresh, the use case's refusal).
func freshView(path string, notFresh error) *templates.FreshSignInView {
	return &templates.FreshSignInView{Explanation: portal.ErrorMessage(notFresh), ReturnTo: path}
}

// refuseStaleSignIn answers the callback of a fresh sign-in that Entra
// answered without a recent authentication (it ignored max_age and
// prompt=login, or sent no auth_time): a failed sign-in, audited and
// counted as one. The session stays as it was, and so does the held
// confirmation, to which the person returns, told why.
func (s *Server) refuseStaleSignIn(w http.ResponseWriter, r *http.Request, user portal.User, signIn portal.SignIn) {
	when := "did not say when you last signed in"
	if !user.AuthTime.IsZero() {
		when = "says you last signed in at " + displayTime(user.AuthTime)
	}
	msg := "Microsoft Entra ID did not ask you to sign in again: it " + when + ". The portal cannot confirm it is you, so nothing was changed; what you entered is kept. Try again, or ask an administrator to check the sign-in settings (the auth_time claim)."
	s.log.WarnContext(r.Context(), "fresh sign-in was not fresh", "event", "auth.failure", "request_id", requestIDFrom(r.Context()),
		"auth_time", user.AuthTime, "max_age", signIn.MaxAge.String())
	who := access.Who{User: user, ClientIP: s.clientIP(r)}
	if ok, wait := s.signInFailures.admit(who.ClientIP, who, s.deps.Now()); !ok {
		s.tooMany(w, r, wait, "Too many sign-ins failed from your address in the last minute.")
		return
	}
	s.note(r, who, portal.ActionSignInFailure, portal.OutcomeFailed, "fresh sign-in refused: "+msg)
	s.addFlash(w, r, "error", msg)
	http.Redirect(w, r, signIn.ReturnTo, http.StatusSeeOther)
}

// keepPending adds a sign-in under way to the browser's, dropping the
// oldest past maxPendingSignIns.
func (s *Server) keepPending(sess *sessions.Session, l portal.SignIn) {
	pending := append(s.pendingSignIns(sess), l)
	sess.Values[keySignIn] = pending[max(0, len(pending)-maxPendingSignIns):]
}
