package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"runtime/debug"
	"strings"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
)

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxUser
	ctxSession
)

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(ctxRequestID).(string)
	return id
}

func userFrom(ctx context.Context) *portal.User {
	u, _ := ctx.Value(ctxUser).(*portal.User)
	return u
}

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// requestID takes the caller's X-Request-ID when it is well formed (a
// proxy's, say) and makes one otherwise, so a forged value cannot smuggle
// text into logs or pages.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !validRequestID.MatchString(id) {
			id = uuid.NewString()
		}
		w.Header().Set("X-Request-ID", id)
		ctx := context.WithValue(r.Context(), ctxRequestID, id)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// statusWriter remembers the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accessLog writes one JSON line per request. It logs the path without its
// query: the sign-in callback's query holds the authorization code.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.deps.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		attrs := []slog.Attr{
			slog.String("request_id", requestIDFrom(r.Context())),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Int("bytes", sw.bytes),
			slog.Duration("duration", s.deps.Now().Sub(start)),
		}
		route := ""
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
			attrs = append(attrs, slog.String("route", route))
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
		if s.deps.Metrics != nil {
			s.deps.Metrics.ObserveRequest(route, r.Method, sw.status, s.deps.Now().Sub(start))
		}
	})
}

// recoverer turns a panic into the generic error page with the request ID;
// the stack goes to the log, never to the page.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic", "request_id", requestIDFrom(r.Context()), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				s.renderError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets the headers every response carries, with a fresh CSP
// nonce per request (for the script tags; there are no inline scripts).
//
// form-action also names the identity provider's origin: Chromium applies
// form-action to the redirects that follow a form post, and the sign-out
// form's answer redirects to Entra's end-session endpoint.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	formAction := "form-action 'self'"
	if s.deps.SignOutOrigin != "" {
		formAction += " " + s.deps.SignOutOrigin
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nonce := newNonce()
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'nonce-"+nonce+"'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "+formAction)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if s.deps.HSTS {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		// Pages depend on who is signed in and on whether htmx asked for a
		// fragment; static files set their own long caching.
		h.Set("Cache-Control", "no-store")
		h.Add("Vary", "HX-Request")
		next.ServeHTTP(w, r.WithContext(templ.WithNonce(r.Context(), nonce)))
	})
}

func newNonce() string {
	b := make([]byte, 18)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// crossOrigin refuses unsafe cross-origin requests (CSRF) with Go's
// CrossOriginProtection: Sec-Fetch-Site cross-site or same-site, or an
// Origin that is not ours, on anything but GET/HEAD/OPTIONS.
func (s *Server) crossOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.log.WarnContext(r.Context(), "cross-origin request refused", "event", "csrf.denied", "request_id", requestIDFrom(r.Context()))
		s.renderError(w, r, portal.Errorf(portal.EFORBIDDEN, "This request came from another site and was refused."))
	}))
	return cop.Handler(next)
}

// maxFormBody caps request bodies (see route): the portal's forms are
// small; the route table names the one route that takes a file.
const maxFormBody = 64 << 10

// loadSession puts the signed-in user, if any, into the context.
func (s *Server) loadSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Static files and the liveness probe need no session lookup.
		if strings.HasPrefix(r.URL.Path, "/static/") || r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		sess, _ := s.sessions.Get(r, "portal")
		ctx := context.WithValue(r.Context(), ctxSession, sess)
		if h, ok := sess.Values[seenHeadKey{}].(seenHead); ok {
			delete(sess.Values, seenHeadKey{})
			// Only where the request itself changes nothing: a handler that
			// commits, then shows the list, must find its own change.
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				ctx = access.WithSeenHead(ctx, h.tenant, h.head)
			}
		}
		if u, ok := sess.Values[keyUser].(portal.User); ok {
			ctx = context.WithValue(ctx, ctxUser, &u)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// clientIP is the address the request came from, for the audit log. When
// it comes from a trusted proxy (Deps.TrustedProxies: the load balancer or
// ingress), X-Forwarded-For is read from its right end: each address a
// trusted proxy added is skipped, and the first one no trusted proxy vouches
// for is the client. Anything to its left was sent by the client itself and
// could be forged; from anyone else the header is ignored altogether.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !s.trusted(peer) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		addr, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // garbage: trust nothing further left
		}
		if !s.trusted(addr) {
			return addr.Unmap().String()
		}
	}
	return host
}

func (s *Server) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.deps.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
