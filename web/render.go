package web

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"
	"github.com/gorilla/sessions"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/templates"
)

// page builds the layout's view model for r, taking (and so clearing) any
// flash messages. nav names the current section.
func (s *Server) page(w http.ResponseWriter, r *http.Request, title string, nav ...string) templates.Page {
	p := templates.Page{Title: title, DevMode: s.deps.DevMode, RequestID: requestIDFrom(r.Context())}
	if len(nav) > 0 {
		p.Nav = nav[0]
	}
	if u := userFrom(r.Context()); u != nil {
		p.Navigation = navigation(u)
		p.User = &templates.Viewer{
			Name:       u.Name,
			UPN:        u.UPN,
			RoleLabel:  u.PrimaryRole().Label(),
			TenantID:   u.TenantID.String(),
			TenantName: s.tenantName(u.TenantID),
		}
		if u.PrimaryRole() == "" {
			p.User.RoleLabel = ""
		}
	}
	if sess := sessionFrom(r.Context()); sess != nil {
		if flashes, ok := sess.Values[keyFlash].([]Flash); ok && len(flashes) > 0 {
			for _, f := range flashes {
				p.Flashes = append(p.Flashes, templates.Flash(f))
			}
			delete(sess.Values, keyFlash)
			if err := sess.Save(r, w); err != nil {
				s.log.ErrorContext(r.Context(), "session save failed", "err", err)
			}
		}
	}
	return p
}

// withNamesNote is p saying why names are missing from it: the last of
// notes that says anything (pages that look names up more than once show
// the latest reason).
func withNamesNote(p templates.Page, notes ...string) templates.Page {
	for _, n := range notes {
		if n != "" {
			p.NamesNote = n
		}
	}
	return p
}

func (s *Server) tenantName(tid portal.GUID) string {
	if n, ok := s.deps.TenantNames[tid]; ok {
		return n
	}
	return tid.String()
}

func sessionFrom(ctx context.Context) *sessions.Session {
	sess, _ := ctx.Value(ctxSession).(*sessions.Session)
	return sess
}

// render writes a component with a status. The page is rendered into a
// pooled buffer first and sent in one write with its length: a failed
// render can still become an error page, and a big table does not go out
// as dozens of small chunks.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	err := renderPooled(r.Context(), c, func(page []byte) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(page)))
		w.WriteHeader(status)
		w.Write(page)
	})
	if err != nil {
		s.log.ErrorContext(r.Context(), "render failed", "err", err, "request_id", requestIDFrom(r.Context()))
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte("Something went wrong on our side (request " + requestIDFrom(r.Context()) + ").\n"))
	}
}

// renderPooled renders c into a pooled buffer and hands use the bytes,
// which are the buffer's: use must not keep them.
func renderPooled(ctx context.Context, c templ.Component, use func([]byte)) error {
	buf := renderBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 1<<20 { // do not keep a rare huge page's buffer
			renderBuffers.Put(buf)
		}
	}()
	if err := c.Render(ctx, buf); err != nil {
		return err
	}
	use(buf.Bytes())
	return nil
}

var renderBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// renderBytes renders c and returns a copy of exactly its size, to keep: a
// page of results is tens of kilobytes, which a fresh buffer would reach
// by copying itself a dozen times as it grew.
func renderBytes(ctx context.Context, c templ.Component) ([]byte, error) {
	var out []byte
	err := renderPooled(ctx, c, func(b []byte) { out = bytes.Clone(b) })
	return out, err
}

// statusFor maps an error code to an HTTP status: the one place that does.
func statusFor(code string) int {
	switch code {
	case portal.EINVALID:
		return http.StatusBadRequest
	case portal.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case portal.EFORBIDDEN:
		return http.StatusForbidden
	case portal.ENOTFOUND:
		return http.StatusNotFound
	case portal.ECONFLICT:
		return http.StatusConflict
	case portal.ETHROTTLED:
		return http.StatusTooManyRequests
	case portal.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

var headings = map[string]string{
	portal.EINVALID:      "That did not work",
	portal.EUNAUTHORIZED: "Please sign in",
	portal.EFORBIDDEN:    "Not allowed",
	portal.ENOTFOUND:     "Not found",
	portal.ECONFLICT:     "Someone else changed this",
	portal.ETHROTTLED:    "Too many requests",
	portal.EUNAVAILABLE:  "A service the portal needs is unavailable",
	portal.EINTERNAL:     "Something went wrong",
}

// renderError is the one error renderer: the code decides the status, the
// person sees the error's safe message (or a generic sentence) and the
// request ID; internals go to the log only.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	code := portal.ErrorCode(err)
	status := statusFor(code)
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "request_id", requestIDFrom(r.Context()), "code", code, "err", err)
	}
	if isHTMX(r) {
		s.renderHTMXError(w, r, status, err)
		return
	}
	e := templates.ErrorView{Status: status, Heading: headings[code], Message: portal.ErrorMessage(err), SignIn: code == portal.EUNAUTHORIZED}
	s.render(w, r, status, templates.Error(s.page(w, r, e.Heading), e))
}

func (s *Server) handleNotFound(w http.ResponseWriter, r *http.Request) {
	s.renderError(w, r, portal.Errorf(portal.ENOTFOUND, "There is no page at this address."))
}

func (s *Server) handleMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	// RFC 9110: a 405 says which methods the resource has.
	if rctx := chi.RouteContext(r.Context()); rctx != nil && rctx.Routes != nil {
		path := r.URL.RawPath
		if path == "" {
			path = r.URL.Path
		}
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if rctx.Routes.Match(chi.NewRouteContext(), m, path) || m == http.MethodHead && slices.Contains(allow, http.MethodGet) {
				allow = append(allow, m)
			}
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusMethodNotAllowed)
	w.Write([]byte("Method not allowed.\n"))
}
