package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
)

// Limits bound what one client can make the portal do in a minute. Zero
// values take the defaults.
type Limits struct {
	// FailedSignInsPerMinute is how many failed sign-ins one client
	// address may cause in a minute (default 10). Each is audited; past
	// it, the client's sign-ins are answered 429 until the minute ends,
	// and one audit row sums them up: anyone can cause failed sign-ins,
	// and the audit log is append-only.
	FailedSignInsPerMinute int
	// MutationsPerMinute is how many changes (POST, DELETE) one session
	// may ask for in a minute (default 120; a bulk job is one). Past it,
	// they are answered 429.
	MutationsPerMinute int
}

// Defaults fills in the defaults of the limits left zero.
func (l *Limits) Defaults() {
	if l.FailedSignInsPerMinute <= 0 {
		l.FailedSignInsPerMinute = 10
	}
	if l.MutationsPerMinute <= 0 {
		l.MutationsPerMinute = 120
	}
}

// flood counts events per key (a client address, a session) in fixed
// one-minute windows, and remembers how many it refused in each, so that
// they can be summed up in one audit row when the window ends.
type flood struct {
	mu      sync.Mutex
	limit   int
	windows map[string]*floodWindow
	// pending are ended windows' refusals, not yet summed up.
	pending []floodSummary
}

type floodWindow struct {
	start   time.Time
	n       int // events admitted
	refused int
	who     access.Who // the first refused event's client, for its summary
}

// floodSummary is one ended window's refusals.
type floodSummary struct {
	key          string
	who          access.Who
	refused      int
	start, until time.Time
}

// maxFloodKeys bounds the memory of a flood of distinct keys: past it,
// the windows are forgotten (their refusals still summed up).
const maxFloodKeys = 100_000

// admit counts an event of key at now. ok is false past the limit; wait
// is then how long until the window ends (for Retry-After).
func (f *flood) admit(key string, who access.Who, now time.Time) (ok bool, wait time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.windows == nil || len(f.windows) >= maxFloodKeys {
		f.endLocked(now.Add(time.Minute)) // all of them
		f.windows = map[string]*floodWindow{}
	}
	w := f.windows[key]
	if w != nil && now.Sub(w.start) >= time.Minute {
		f.closeLocked(key, w)
		w = nil
	}
	if w == nil {
		w = &floodWindow{start: now}
		f.windows[key] = w
	}
	if w.n < f.limit {
		w.n++
		return true, 0
	}
	return false, w.refuse(who, now)
}

// full reports whether key is past the limit in its current window,
// counting this event as one more refused if it is; an event below the
// limit is not counted (admit counts it when it happens).
func (f *flood) full(key string, who access.Who, now time.Time) (wait time.Duration, refused bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.windows[key]
	if w == nil || now.Sub(w.start) >= time.Minute || w.n < f.limit {
		return 0, false
	}
	return w.refuse(who, now), true
}

// refuse counts a refused event and returns how long until the window ends.
func (w *floodWindow) refuse(who access.Who, now time.Time) time.Duration {
	if w.refused == 0 {
		w.who = who
	}
	w.refused++
	return max(time.Second, w.start.Add(time.Minute).Sub(now))
}

// closeLocked forgets key's window, keeping its refusals for ended.
func (f *flood) closeLocked(key string, w *floodWindow) {
	if w.refused > 0 {
		f.pending = append(f.pending, floodSummary{key: key, who: w.who, refused: w.refused, start: w.start, until: w.start.Add(time.Minute)})
	}
	delete(f.windows, key)
}

func (f *flood) endLocked(now time.Time) {
	for k, w := range f.windows {
		if now.Sub(w.start) >= time.Minute {
			f.closeLocked(k, w)
		}
	}
}

// ended returns, and forgets, the refusals of the windows that ended
// before now.
func (f *flood) ended(now time.Time) []floodSummary {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.endLocked(now)
	out := f.pending
	f.pending = nil
	return out
}

// tooMany answers 429 with Retry-After and a readable page.
func (s *Server) tooMany(w http.ResponseWriter, r *http.Request, wait time.Duration, what string) {
	secs := int((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	s.renderError(w, r, portal.Errorf(portal.ETHROTTLED, "%s Try again in %d seconds.", what, secs))
}

// limitMutations refuses a session's changes past Limits.MutationsPerMinute.
func (s *Server) limitMutations(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		sess := sessionFrom(r.Context())
		if sess == nil || userFrom(r.Context()) == nil {
			next.ServeHTTP(w, r) // not signed in: refused by the route's policy
			return
		}
		if ok, wait := s.mutations.admit(string(hashKey(sess.ID)), s.who(r), s.deps.Now()); !ok {
			s.log.WarnContext(r.Context(), "too many changes", "event", "limit.mutations", "request_id", requestIDFrom(r.Context()))
			s.tooMany(w, r, wait, "You have made too many changes in the last minute.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RunSummaries writes, every 15 seconds until ctx ends, one audit row for
// each client whose failed sign-ins were refused in a minute that ended.
func (s *Server) RunSummaries(ctx context.Context) {
	t := time.NewTicker(15 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.writeSummaries(context.WithoutCancel(ctx), s.deps.Now().Add(time.Minute)) // what is pending
			return
		case <-t.C:
			s.writeSummaries(ctx, s.deps.Now())
		}
	}
}

// writeSummaries writes the summaries of the windows ended before now.
func (s *Server) writeSummaries(ctx context.Context, now time.Time) {
	for _, sum := range s.signInFailures.ended(now) {
		detail := fmt.Sprintf("%d more failed sign-ins from %s between %s and %s UTC were refused (429) and are not recorded one by one.",
			sum.refused, sum.key, sum.start.UTC().Format("15:04:05"), sum.until.UTC().Format("15:04:05"))
		if err := s.deps.Access.Note(ctx, sum.who, portal.ActionSignInFailure, portal.OutcomeFailed, detail); err != nil {
			s.log.ErrorContext(ctx, "audit write failed", "event", "limit.summary", "err", err)
		}
	}
}
