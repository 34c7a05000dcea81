package web

import (
	"net/http"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/templates"
)

// htmx 4 sends HX-Request on its requests, HX-Request-Type "partial" when
// it will swap part of the page, and HX-History-Restore-Request when going
// back to a page it pushed (that one needs the full page).

func isHTMX(r *http.Request) bool {
	return r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-History-Restore-Request") != "true"
}

// wantsFragment reports whether to answer with the swapped part only.
func wantsFragment(r *http.Request) bool {
	return isHTMX(r) && r.Header.Get("HX-Request-Type") == "partial"
}

// maxFlashes bounds the messages a session keeps until a page shows them.
const maxFlashes = 5

// addFlash queues a message for the next page.
func (s *Server) addFlash(w http.ResponseWriter, r *http.Request, kind, msg string) {
	sess := sessionFrom(r.Context())
	if sess == nil {
		return
	}
	flashes, _ := sess.Values[keyFlash].([]Flash)
	flashes = append(flashes, Flash{Kind: kind, Message: msg})
	// A client that never follows the redirects (a script posting forms)
	// never sees them: keep the newest few, not a session that grows with
	// every request.
	if len(flashes) > maxFlashes {
		flashes = flashes[len(flashes)-maxFlashes:]
	}
	sess.Values[keyFlash] = flashes
	if err := sess.Save(r, w); err != nil {
		s.log.ErrorContext(r.Context(), "session save failed", "err", err)
	}
}

// redirectAfterPost ends a successful change: 303 for a plain form, and
// HX-Redirect for htmx (which would otherwise swap the next page into the
// form's place).
func redirectAfterPost(w http.ResponseWriter, r *http.Request, target string) {
	if isHTMX(r) {
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// renderHTMXError answers an htmx request that failed with a message in the
// page's alert area, whatever the request's target was, so no form or
// table is replaced by an error.
func (s *Server) renderHTMXError(w http.ResponseWriter, r *http.Request, status int, err error) {
	msg := portal.ErrorMessage(err)
	if status >= 500 {
		msg += " (request " + requestIDFrom(r.Context()) + ")"
	}
	w.Header().Set("HX-Retarget", "#alerts")
	w.Header().Set("HX-Reswap", "innerHTML")
	s.render(w, r, status, templates.FlashMessage(templates.Flash{Kind: "error", Message: msg}))
}
