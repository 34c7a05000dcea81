package acs

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/teamsphone/portal/internal/portal"
)

// limiter bounds the calls in flight to ACS. ACS publishes no rate limit for
// this API, so the bound is found the way TCP finds a link's capacity:
// slow start, then additive increase, multiplicative decrease. Until ACS
// first throttles, each answered attempt that was not throttled, while the
// limit was in use, adds one call: the limit doubles every round trip, and
// reaches the 25 calls that 1,000 a second of 25 ms each need in two (one
// more per window took about 20, half a second of a 1-second job). From
// the first throttle on, for the client's life, each window of limit (at
// least minWindow) such answers (about one round trip) adds one call. A
// 429, or any answer with a Retry-After, halves it. The limit stays
// between 1 and the configured ceiling.
//
// Only one decrease per generation: the calls already in flight when the
// limit was halved were sent at the old rate, and their 429s say nothing
// new, so each attempt carries the epoch it was sent in and only an attempt
// of the current epoch may halve it (or grow it) again.
//
// A Retry-After is ACS saying "stop for this long": it pauses every new
// background call, not only the call that got it. A person's own call is
// not paused (it is one call, and the retry policy makes it wait out its
// own Retry-After); it also goes before every queued background call, so a
// running bulk job delays a person by one call at most, not by its backlog.
// The pause is bounded (maxPause): the job itself honours a longer one,
// told of every Retry-After (portal.AskedToWait), and the calls it has
// queued here give up unsent when it pauses (portal.BackgroundUntil).
//
// A person's call may start whenever fewer calls of any kind are in
// flight than the bound the client had before it adapted (peopleFloor,
// at most the ceiling) or the limit, whichever is more: the limit holds
// background calls only. Held to the limit, people queued behind one
// another whenever ACS throttled now and then: with one answer in ten a
// 429, the limit sat at one or two calls, and under the two-instance soak
// a change took 1.4-4.7 s at the median and 23-33 s at the 99th
// percentile, against 0.9-1.3 and 4.6-5.7 s with the old fixed bound of
// 8. The other side of it: while people's calls fill the limit, a bulk
// job's calls wait, as they always waited behind people's.
type limiter struct {
	fixed    bool // Options.FixedConcurrency: the limit is the ceiling, always
	ceiling  float64
	maxPause time.Duration

	mu          sync.Mutex
	limit       float64
	slowStart   bool // ACS has not throttled yet: every success adds one
	successes   int  // toward the window that grows limit by one
	inFlight    int
	epoch       uint64
	pausedUntil time.Time
	pauseTimer  *time.Timer
	people      []*waiter // FIFO; served first
	background  []*waiter // FIFO; served when no person waits and not paused
}

// minWindow is the fewest answers that grow the limit by one. With a
// handful of calls in flight one more is a large step (a third more at
// three), and growing by one a round trip would overshoot a small limit
// every few round trips, each overshoot costing a burst of 429s.
const minWindow = 16

// initialLimit is where the limit starts, the bound the client had before it
// adapted: safe for any resource, and it grows in a few round trips.
const initialLimit = 8

// peopleFloor is how many calls (of any kind) may be in flight when a
// person's starts, whatever the limit (at most the ceiling): the old
// fixed bound.
const peopleFloor = initialLimit

type waiter struct{ ready chan struct{} } // closed when granted a slot

func newLimiter(ceiling int, maxPause time.Duration) *limiter {
	return &limiter{ceiling: float64(ceiling), maxPause: maxPause, limit: float64(min(initialLimit, ceiling)), slowStart: true}
}

func fixedLimiter(ceiling int) *limiter {
	return &limiter{fixed: true, ceiling: float64(ceiling), limit: float64(ceiling)}
}

// allowedLocked is the whole number of calls the limit lets in flight.
func (l *limiter) allowedLocked() int { return max(1, int(l.limit)) }

// peopleAllowedLocked is how many calls may be in flight when the next is
// a person's: the limit, or peopleFloor when that is more.
func (l *limiter) peopleAllowedLocked() int {
	return max(l.allowedLocked(), min(peopleFloor, int(l.ceiling)))
}

// mayStartLocked reports whether a call of its kind may start now, its
// queue aside: a person's below peopleAllowedLocked, a background call
// below the limit and not during a pause.
func (l *limiter) mayStartLocked(background bool) bool {
	if background {
		return l.inFlight < l.allowedLocked() && !l.pausedLocked()
	}
	return l.inFlight < l.peopleAllowedLocked()
}

func (l *limiter) pausedLocked() bool {
	return !l.pausedUntil.IsZero() && time.Now().Before(l.pausedUntil)
}

// acquire waits for a slot; background calls wait behind every person's.
// It returns ctx's error if ctx ends first, or errNotSent if ctx's work
// stops waiting first (portal.BackgroundUntil), holding no slot.
func (l *limiter) acquire(ctx context.Context, background bool) error {
	stop := portal.StopWaiting(ctx)
	select {
	case <-stop:
		return errNotSent
	default:
	}
	l.mu.Lock()
	queue := l.people
	if background {
		queue = l.background
	}
	if len(queue) == 0 && l.mayStartLocked(background) {
		l.inFlight++
		l.mu.Unlock()
		return nil
	}
	w := &waiter{ready: make(chan struct{})}
	if background {
		l.background = append(l.background, w)
	} else {
		l.people = append(l.people, w)
	}
	l.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	case <-stop:
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-w.ready: // granted as ctx ended: hand the slot on
		l.inFlight--
		l.dispatchLocked()
	default:
		l.people = slices.DeleteFunc(l.people, func(o *waiter) bool { return o == w })
		l.background = slices.DeleteFunc(l.background, func(o *waiter) bool { return o == w })
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errNotSent
}

// errNotSent ends a call whose work stopped waiting for its turn: nothing
// was sent, and the retry policy must not try again (NonRetriable).
var errNotSent error = notSent{}

type notSent struct{}

func (notSent) Error() string { return "acs: not sent: the work it belonged to stopped waiting" }
func (notSent) NonRetriable() {}

// release frees a slot taken by acquire.
func (l *limiter) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight--
	l.dispatchLocked()
}

// dispatchLocked grants free slots: people first (up to their floor),
// then background calls within the limit unless paused. (A person still
// waiting means the floor is reached, and so the limit too.)
func (l *limiter) dispatchLocked() {
	for {
		var w *waiter
		switch {
		case len(l.people) > 0 && l.mayStartLocked(false):
			w, l.people = l.people[0], l.people[1:]
		case len(l.background) > 0 && l.mayStartLocked(true):
			w, l.background = l.background[0], l.background[1:]
		default:
			return
		}
		l.inFlight++
		close(w.ready)
	}
}

// adapt is the pipeline policy that feeds every attempt's answer to the
// limiter: per try, not per call, since the retry policy retries a 429
// inside one call. A throttled call also gives up its slot while it waits
// to be retried, and takes one again (behind people, after any pause)
// before its next try: otherwise the calls throttled together would all
// be retried together, over the halved limit, into a bucket that ACS has
// just said is empty, and be throttled again.
func (l *limiter) adapt(req *policy.Request) (*http.Response, error) {
	ctx := req.Raw().Context()
	slot, _ := ctx.Value(slotKey{}).(*callSlot)
	if slot != nil && !slot.held {
		if err := l.acquire(ctx, slot.background); err != nil {
			return nil, err
		}
		slot.held = true
	}
	epoch := l.sent()
	resp, err := req.Next()
	if err != nil {
		return resp, err
	}
	wait := retryAfter(resp.Header)
	l.answered(epoch, resp.StatusCode, wait)
	if slot != nil && !l.fixed && (resp.StatusCode == http.StatusTooManyRequests || wait > 0) {
		slot.held = false
		l.release()
	}
	// Said at every try, also one this call waits out itself: a bulk job
	// then pauses all its rows and shows why, at once.
	portal.AskedToWait(ctx, wait)
	return resp, err
}

// callSlot is one call's hold on the limiter. Its tries run one after
// another on the call's goroutine, so held needs no lock.
type callSlot struct {
	background bool
	held       bool
}

type slotKey struct{}

// done releases the slot if the call still holds it.
func (l *limiter) done(s *callSlot) {
	if s.held {
		s.held = false
		l.release()
	}
}

// sent returns the epoch an attempt is sent in, for answered.
func (l *limiter) sent() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epoch
}

// answered adapts the limit to an attempt's answer; status 0 is no answer
// (a transport error), which, like a 5xx without Retry-After, says nothing
// about the rate and changes nothing.
func (l *limiter) answered(epoch uint64, status int, retryAfter time.Duration) {
	if l.fixed {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case status == http.StatusTooManyRequests || retryAfter > 0:
		l.slowStart = false
		if epoch == l.epoch {
			l.limit = max(1, l.limit/2)
			l.epoch++
			l.successes = 0
		}
		if retryAfter > 0 {
			l.pauseLocked(min(retryAfter, l.maxPause))
		}
	case status == 0 || status >= 500:
	case epoch == l.epoch && l.busyLocked() && l.slowStart:
		l.limit = min(l.ceiling, l.limit+1)
		l.dispatchLocked()
	case epoch == l.epoch && l.busyLocked():
		l.successes++
		if float64(l.successes) >= max(l.limit, minWindow) {
			l.successes = 0
			l.limit = min(l.ceiling, l.limit+1)
			l.dispatchLocked()
		}
	}
}

// busyLocked reports whether the limit is in use: reached (people's calls
// may pass it), or calls are waiting. A limit that is not in use learns
// nothing from a success: without this, a trickle of single calls would
// raise it to the ceiling, and the first bulk job would then send a burst
// ACS never showed it could take. People's calls past the limit do teach
// it, up to about as many as they keep in flight: ACS took those.
func (l *limiter) busyLocked() bool {
	return l.inFlight >= l.allowedLocked() || len(l.people) > 0 || len(l.background) > 0
}

// pauseLocked holds background calls for d from now (a later end wins),
// and lets them go when it ends.
func (l *limiter) pauseLocked(d time.Duration) {
	until := time.Now().Add(d)
	if !until.After(l.pausedUntil) {
		return
	}
	l.pausedUntil = until
	if l.pauseTimer != nil {
		l.pauseTimer.Stop()
	}
	l.pauseTimer = time.AfterFunc(d, l.resume)
}

// resume lets background calls go at the end of a pause.
func (l *limiter) resume() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if left := time.Until(l.pausedUntil); left > 0 {
		l.pauseTimer.Reset(left) // extended meanwhile
		return
	}
	l.dispatchLocked()
}

// current is the whole number of calls the limit lets in flight now.
func (l *limiter) current() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.allowedLocked()
}

// retryAfter reads how long an answer asks the client to wait, from the
// headers azcore's retry policy honours, in its order of preference:
// retry-after-ms, x-ms-retry-after-ms, then Retry-After in seconds or as an
// HTTP date. 0 when there is none, or it is unreadable or not positive.
func retryAfter(h http.Header) time.Duration {
	for _, name := range [...]string{"Retry-After-Ms", "X-Ms-Retry-After-Ms"} {
		if v := h[name]; len(v) > 0 {
			if ms, err := strconv.ParseInt(v[0], 10, 64); err == nil && ms > 0 {
				return time.Duration(ms) * time.Millisecond
			}
		}
	}
	v := h["Retry-After"]
	if len(v) == 0 {
		return 0
	}
	if s, err := strconv.ParseInt(v[0], 10, 64); err == nil {
		return time.Duration(min(max(0, s), 1<<31)) * time.Second
	}
	if t, err := http.ParseTime(v[0]); err == nil {
		return max(0, time.Until(t))
	}
	return 0
}
