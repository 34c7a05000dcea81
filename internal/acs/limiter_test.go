package acs

import (
	"context"
	"errors"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/testwait"
)

// busy counts n more calls in flight, as if acquired whatever the limit,
// so the limit is in use and successes may grow it.
func busy(t *testing.T, l *limiter, n int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight += n
}

func (l *limiter) state() (limit float64, inFlight, people, background int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit, l.inFlight, len(l.people), len(l.background)
}

func TestLimiterGrowsOnSuccessWhileInUse(t *testing.T) {
	l := newLimiter(64, time.Minute)
	if got := l.current(); got != initialLimit {
		t.Fatalf("starts at %d, want %d", got, initialLimit)
	}
	// Successes while the limit is not in use teach nothing.
	for range 100 {
		l.answered(l.sent(), http.StatusOK, 0)
	}
	if got := l.current(); got != initialLimit {
		t.Fatalf("after successes with nothing waiting: %d, want %d", got, initialLimit)
	}
	// Once ACS has throttled (slow start over), above minWindow, a window
	// of successes (one per call in flight) adds one call; one fewer does
	// not.
	l.answered(l.sent(), http.StatusTooManyRequests, 0)
	const at = minWindow + 4
	l.setLimit(at)
	busy(t, l, at)
	for range at - 1 {
		l.answered(l.sent(), http.StatusCreated, 0)
	}
	if got := l.current(); got != at {
		t.Fatalf("one answer short of a window: %d, want %d", got, at)
	}
	l.answered(l.sent(), http.StatusCreated, 0)
	if got := l.current(); got != at+1 {
		t.Fatalf("after one full window: %d, want %d", got, at+1)
	}
	// 404 and 400 are answers too; 5xx and no answer say nothing.
	for range 100 {
		l.answered(l.sent(), http.StatusServiceUnavailable, 0)
		l.answered(l.sent(), 0, 0)
	}
	if got := l.current(); got != at+1 {
		t.Fatalf("after 503s and no answers: %d, want %d", got, at+1)
	}
	busy(t, l, 1) // the new call in flight: the limit in use again
	for i := range at + 1 {
		l.answered(l.sent(), []int{http.StatusNotFound, http.StatusBadRequest}[i%2], 0)
	}
	if got := l.current(); got != at+2 {
		t.Errorf("after a window of 404s and 400s: %d, want %d", got, at+2)
	}

	// Below it, a window is minWindow answers.
	l = newLimiter(64, time.Minute)
	l.answered(l.sent(), http.StatusTooManyRequests, 0)
	l.setLimit(2)
	busy(t, l, 2)
	for range minWindow - 1 {
		l.answered(l.sent(), http.StatusOK, 0)
	}
	if got := l.current(); got != 2 {
		t.Fatalf("at 2, after %d answers: %d, want 2", minWindow-1, got)
	}
	l.answered(l.sent(), http.StatusOK, 0)
	if got := l.current(); got != 3 {
		t.Fatalf("at 2, after %d answers: %d, want 3", minWindow, got)
	}
}

// Until ACS first throttles, every success while the limit is in use adds
// a call: the limit doubles each round trip, up to the ceiling. The first
// 429 halves it and ends that: from then on a window of successes adds one.
func TestLimiterSlowStart(t *testing.T) {
	l := newLimiter(40, time.Minute)
	busy(t, l, 100) // more calls than allowed, all the time
	for _, want := range []int{16, 32, 40} {
		n := l.current()
		for range n { // a round trip: every call allowed answered
			l.answered(l.sent(), http.StatusCreated, 0)
		}
		if got := l.current(); got != want {
			t.Fatalf("after a round trip of %d successes: %d calls allowed, want %d", n, got, want)
		}
	}
	// Successes while the limit is not in use teach nothing here either.
	l = newLimiter(40, time.Minute)
	for range 100 {
		l.answered(l.sent(), http.StatusOK, 0)
	}
	if got := l.current(); got != initialLimit {
		t.Fatalf("after successes with nothing waiting: %d, want %d", got, initialLimit)
	}
	busy(t, l, 100)
	for range 8 {
		l.answered(l.sent(), http.StatusOK, 0)
	}
	l.answered(l.sent(), http.StatusTooManyRequests, 0)
	if got := l.current(); got != 8 {
		t.Fatalf("16 halved: %d, want 8", got)
	}
	for range 8 {
		l.answered(l.sent(), http.StatusOK, 0)
	}
	if got := l.current(); got != 8 {
		t.Errorf("after the first 429, 8 successes (half a window): %d, want 8", got)
	}
}

func (l *limiter) setLimit(n float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limit = n
}

func TestLimiterNeverPassesTheCeiling(t *testing.T) {
	l := newLimiter(12, time.Minute)
	busy(t, l, 12)
	for range 10000 {
		l.answered(l.sent(), http.StatusOK, 0)
	}
	if limit, _, _, _ := l.state(); limit != 12 || l.current() != 12 {
		t.Errorf("limit %g (%d calls), want the ceiling 12", limit, l.current())
	}
	// A ceiling below the starting point is the start.
	if got := newLimiter(3, time.Minute).current(); got != 3 {
		t.Errorf("ceiling 3 starts at %d", got)
	}
}

func TestLimiterHalvesOnceAGenerationDownToOne(t *testing.T) {
	l := newLimiter(64, time.Minute)
	busy(t, l, 8)
	// Eight calls sent in one generation, all answered 429: one halving.
	epoch := l.sent()
	for range 8 {
		l.answered(epoch, http.StatusTooManyRequests, 0)
	}
	if got := l.current(); got != 4 {
		t.Fatalf("after a generation of 429s: %d, want 4", got)
	}
	// Its late successes do not grow the new limit either.
	l.answered(epoch, http.StatusOK, 0)
	if limit, _, _, _ := l.state(); limit != 4 {
		t.Fatalf("a success of the old generation moved the limit to %g", limit)
	}
	// Each new generation's 429 halves again, down to 1, never below.
	for _, want := range []int{2, 1, 1, 1} {
		l.answered(l.sent(), http.StatusTooManyRequests, 0)
		if got := l.current(); got != want {
			t.Fatalf("limit %d, want %d", got, want)
		}
	}
	// A 503 with Retry-After is throttling too.
	l = newLimiter(64, time.Minute)
	l.answered(l.sent(), http.StatusServiceUnavailable, time.Millisecond)
	if got := l.current(); got != 4 {
		t.Errorf("after a 503 with Retry-After: %d, want 4", got)
	}
}

// While more calls are in flight than a halved limit allows, no new
// background call starts; they start again as those finish.
func TestLimiterHalvedHoldsNewCalls(t *testing.T) {
	l := newLimiter(64, time.Minute)
	busy(t, l, 8)
	l.answered(l.sent(), http.StatusTooManyRequests, 0)
	got := make(chan struct{})
	go func() {
		if err := l.acquire(context.Background(), true); err == nil {
			close(got)
		}
	}()
	testwait.For(t, "the call to queue", func() bool { _, _, _, bg := l.state(); return bg == 1 })
	for range 4 {
		l.release()
	}
	if _, inFlight, _, bg := l.state(); inFlight != 4 || bg != 1 {
		t.Fatalf("with a limit of 4: %d in flight, %d waiting; want 4 and 1", inFlight, bg)
	}
	l.release()
	testwait.For(t, "the call to start once 3 were in flight", func() bool {
		select {
		case <-got:
			return true
		default:
			return false
		}
	})
}

// However low ACS's 429s have pushed the limit, people's calls may make
// up peopleFloor calls in flight (the bound before the client adapted, at
// most the ceiling): only background work is held to the limit. A
// background call queued behind people waits for them and for the limit.
func TestLimiterPeopleKeepTheOldBound(t *testing.T) {
	for _, ceiling := range []int{64, 3} {
		l := newLimiter(ceiling, time.Minute)
		for range 6 {
			l.answered(l.sent(), http.StatusTooManyRequests, 0)
		}
		if limit, _, _, _ := l.state(); limit != 1 {
			t.Fatalf("ceiling %d: limit %v after six 429s, want 1", ceiling, limit)
		}
		floor := min(peopleFloor, ceiling)
		// Already cancelled: a call that has to wait fails at once.
		cancelled, cancel := context.WithCancel(context.Background())
		cancel()
		for i := range floor {
			if err := l.acquire(cancelled, false); err != nil {
				t.Fatalf("ceiling %d: a person's call %d of %d waited: %v", ceiling, i+1, floor, err)
			}
		}
		person, job := make(chan struct{}), make(chan struct{})
		go func() {
			if l.acquire(context.Background(), false) == nil {
				close(person)
			}
		}()
		testwait.For(t, "the person's call past the floor to queue", func() bool { _, _, p, _ := l.state(); return p == 1 })
		go func() {
			if l.acquire(context.Background(), true) == nil {
				close(job)
			}
		}()
		testwait.For(t, "the background call to queue", func() bool { _, _, _, bg := l.state(); return bg == 1 })
		l.release()
		testwait.For(t, "the person's call to go when one ends", func() bool { return closed(person) })
		for range floor - 1 {
			l.release()
		}
		if _, inFlight, _, bg := l.state(); inFlight != 1 || bg != 1 || closed(job) {
			t.Fatalf("ceiling %d: %d in flight, %d queued, background sent %v; want the person's call alone in flight, the background call waiting for the limit of 1", ceiling, inFlight, bg, closed(job))
		}
		l.release()
		testwait.For(t, "the background call to go once nothing is in flight", func() bool { return closed(job) })
		l.release()
	}
}

func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func TestLimiterRetryAfterPausesBackgroundCalls(t *testing.T) {
	l := newLimiter(64, time.Minute)
	const pause = 300 * time.Millisecond
	start := time.Now()
	l.answered(l.sent(), http.StatusTooManyRequests, pause)

	// A person's call goes at once.
	if err := l.acquire(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	l.release()
	if d := time.Since(start); d >= pause {
		t.Fatalf("the test was too slow to tell (%v); nothing checked", d)
	}
	// A background call waits out the pause.
	if err := l.acquire(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < pause {
		t.Errorf("a background call started %v after a Retry-After of %v", d, pause)
	}
	l.release()

	// A Retry-After beyond the client's maximum is cut to it.
	l = newLimiter(64, 100*time.Millisecond)
	start = time.Now()
	l.answered(l.sent(), http.StatusTooManyRequests, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := l.acquire(ctx, true); err != nil {
		t.Fatalf("a Retry-After of an hour held a background call for more than a minute: %v", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("paused %v, want the maximum of 100ms", d)
	}
}

func TestLimiterPeopleOvertakeQueuedBackgroundCalls(t *testing.T) {
	l := newLimiter(1, time.Minute)
	busy(t, l, 1)
	order := make(chan string, 6)
	for range 5 {
		go func() {
			if err := l.acquire(context.Background(), true); err == nil {
				order <- "job"
			}
		}()
	}
	testwait.For(t, "5 background calls to queue", func() bool { _, _, _, bg := l.state(); return bg == 5 })
	go func() {
		if err := l.acquire(context.Background(), false); err == nil {
			order <- "person"
		}
	}()
	testwait.For(t, "the person's call to queue", func() bool { _, _, p, _ := l.state(); return p == 1 })
	for i := range 6 {
		l.release()
		got := <-order
		if want := map[bool]string{true: "person", false: "job"}[i == 0]; got != want {
			t.Fatalf("grant %d went to a %s, want a %s", i+1, got, want)
		}
	}
	l.release()
	if _, inFlight, _, _ := l.state(); inFlight != 0 {
		t.Errorf("%d in flight at the end", inFlight)
	}
}

func TestLimiterWaitEndsWithContext(t *testing.T) {
	l := newLimiter(1, time.Minute)
	busy(t, l, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.acquire(ctx, true) }()
	testwait.For(t, "the call to queue", func() bool { _, _, _, bg := l.state(); return bg == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire = %v, want context.Canceled", err)
	}
	if _, inFlight, _, bg := l.state(); inFlight != 1 || bg != 0 {
		t.Fatalf("after the cancel: %d in flight, %d queued; want 1 and 0", inFlight, bg)
	}
	l.release()
	if err := l.acquire(context.Background(), true); err != nil {
		t.Fatal(err)
	}
}

// A background call whose work stops waiting (portal.BackgroundUntil) gives
// up its place unsent, also during a pause, and holds no slot; one whose
// work has already stopped is not sent at all, even with slots free.
func TestLimiterStopWaiting(t *testing.T) {
	l := newLimiter(1, time.Minute)
	busy(t, l, 1)
	stop := make(chan struct{})
	ctx := portal.BackgroundUntil(context.Background(), stop)
	done := make(chan error)
	go func() { done <- l.acquire(ctx, true) }()
	testwait.For(t, "the call to queue", func() bool { _, _, _, bg := l.state(); return bg == 1 })
	close(stop)
	if err := <-done; !errors.Is(err, errNotSent) {
		t.Fatalf("acquire = %v, want errNotSent", err)
	}
	if _, inFlight, _, bg := l.state(); inFlight != 1 || bg != 0 {
		t.Fatalf("after it stopped waiting: %d in flight, %d queued; want 1 and 0", inFlight, bg)
	}
	l.release()
	if err := l.acquire(ctx, true); !errors.Is(err, errNotSent) {
		t.Errorf("a call of stopped work, slots free: %v, want errNotSent", err)
	}
	if _, inFlight, _, _ := l.state(); inFlight != 0 {
		t.Errorf("%d in flight after a call of stopped work", inFlight)
	}
}

func TestRetryAfterHeaders(t *testing.T) {
	date := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		header http.Header
		min    time.Duration
		max    time.Duration
	}{
		{http.Header{}, 0, 0},
		{http.Header{"Retry-After": {"2"}}, 2 * time.Second, 2 * time.Second},
		{http.Header{"Retry-After": {"1"}, "Retry-After-Ms": {"15"}}, 15 * time.Millisecond, 15 * time.Millisecond},
		{http.Header{"X-Ms-Retry-After-Ms": {"250"}}, 250 * time.Millisecond, 250 * time.Millisecond},
		{http.Header{"Retry-After": {"-1"}}, 0, 0},
		{http.Header{"Retry-After": {"abc"}}, 0, 0},
		{http.Header{"Retry-After": {"0"}, "Retry-After-Ms": {"x"}}, 0, 0},
		{http.Header{"Retry-After": {date}}, 59 * time.Minute, time.Hour},
		{http.Header{"Retry-After": {"99999999999999"}}, time.Hour, math.MaxInt64},
	} {
		if got := retryAfter(tc.header); got < tc.min || got > tc.max {
			t.Errorf("retryAfter(%v) = %v, want %v to %v", tc.header, got, tc.min, tc.max)
		}
	}
}

func TestFixedLimiterIgnoresAnswers(t *testing.T) {
	l := fixedLimiter(32)
	busy(t, l, 32)
	for _, status := range []int{http.StatusOK, http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		for range 100 {
			l.answered(l.sent(), status, time.Hour)
		}
	}
	if got := l.current(); got != 32 {
		t.Errorf("fixed at 32, moved to %d", got)
	}
	l.release()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := l.acquire(ctx, true); err != nil {
		t.Errorf("a background call was paused: %v", err)
	}
}
