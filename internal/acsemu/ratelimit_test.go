package acsemu

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRateBucket: with rate=10 (a burst of 1) and burst=3, three calls
// pass, the fourth is answered 429 at once with the wait for the next
// token, and time refills the bucket up to its size, no further.
func TestRateBucket(t *testing.T) {
	var mu sync.Mutex
	now := t0
	cfg := testConfig()
	cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	h := newHarness(t, cfg)

	h.emu.SetRates(Rates{Rate: 10, Burst: 3})
	for i := range 3 {
		if res := h.call("GET", mainPath, ""); res.status != 404 {
			t.Fatalf("call %d of a full bucket: %d, want 404", i+1, res.status)
		}
	}
	res := h.call("GET", mainPath, "")
	if res.status != 429 {
		t.Fatalf("call 4 of a bucket of 3: %d, want 429", res.status)
	}
	if code, _ := acsError(t, res.body); code != "TooManyRequests" {
		t.Errorf("code %q, want TooManyRequests", code)
	}
	// 10 calls a second: the next token is 100 ms away.
	if ms, s := res.header.Get("retry-after-ms"), res.header.Get("Retry-After"); ms != "100" || s != "1" {
		t.Errorf("retry-after-ms %q, Retry-After %q; want 100 and 1", ms, s)
	}
	if r := lastRequest(t, h.emu, 4); r.Status != 429 || r.Fault != "status=429" {
		t.Errorf("logged %+v", r)
	}

	advance(50 * time.Millisecond) // half a token
	if res := h.call("GET", mainPath, ""); res.status != 429 || res.header.Get("retry-after-ms") != "50" {
		t.Errorf("after 50 ms: %d, retry-after-ms %q; want 429 and 50", res.status, res.header.Get("retry-after-ms"))
	}
	advance(50 * time.Millisecond)
	if res := h.call("GET", mainPath, ""); res.status != 404 {
		t.Errorf("after 100 ms: %d, want 404 (one token)", res.status)
	}

	// A minute refills only the burst.
	advance(time.Minute)
	got := map[int]int{}
	for range 5 {
		got[h.call("GET", mainPath, "").status]++
	}
	if got[404] != 3 || got[429] != 2 {
		t.Errorf("5 calls after a minute: %v, want 3 answered and 2 refused", got)
	}

	// Setting the rates again fills the bucket; no rate, no bucket.
	h.emu.SetRates(Rates{Rate: 10, Burst: 3})
	if res := h.call("GET", mainPath, ""); res.status != 404 {
		t.Errorf("after SetRates: %d, want 404", res.status)
	}
	h.emu.SetRates(Rates{})
	for range 10 {
		if res := h.call("GET", mainPath, ""); res.status != 404 {
			t.Fatalf("no rate: %d, want 404", res.status)
		}
	}
}

// TestRateRefusalSkipsLatency: a refused call is answered at once, while
// one that passes still waits its latency.
func TestRateRefusalSkipsLatency(t *testing.T) {
	h := newHarness(t, testConfig()) // a clock that never moves: one token only
	h.emu.SetRates(Rates{Rate: 1, Latency: 200 * time.Millisecond})
	start := time.Now()
	if res := h.call("GET", mainPath, ""); res.status != 404 || time.Since(start) < 200*time.Millisecond {
		t.Errorf("first call: %d after %v, want 404 after the latency", res.status, time.Since(start))
	}
	if res := h.call("GET", mainPath, ""); res.status != 429 || res.header.Get("Retry-After") != "1" {
		t.Errorf("second call: %d, Retry-After %q; want 429 and 1", res.status, res.header.Get("Retry-After"))
	}
	if r := lastRequest(t, h.emu, 2); strings.Contains(r.Fault, "latency") {
		t.Errorf("the refusal waited its latency: %+v", r)
	}
}

func TestParseRatesRate(t *testing.T) {
	good := []struct {
		spec string
		want Rates
	}{
		{"rate=100", Rates{Rate: 100}},
		{"latency=25ms, RATE=1000", Rates{Rate: 1000, Latency: 25 * time.Millisecond}},
		{"rate=2.5,burst=5", Rates{Rate: 2.5, Burst: 5}},
		{"429=0.1,rate=50", Rates{Throttle: 0.1, Rate: 50}},
	}
	for _, tc := range good {
		got, err := ParseRates(tc.spec)
		if err != nil || got != tc.want {
			t.Errorf("ParseRates(%q) = %+v, %v; want %+v", tc.spec, got, err, tc.want)
		}
	}
	for _, spec := range []string{"rate=0", "rate=-1", "rate=abc", "rate=NaN", "rate=Inf", "rate=", "burst=0,rate=1", "burst=1.5,rate=1"} {
		if got, err := ParseRates(spec); err == nil || !strings.Contains(err.Error(), strings.Split(spec, "=")[0]) {
			t.Errorf("ParseRates(%q) = %+v, %v; want an error naming the key", spec, got, err)
		}
	}
	if _, err := ParseRates("burst=5"); err == nil || !strings.Contains(err.Error(), "needs a rate") {
		t.Errorf("burst without rate: %v, want an error", err)
	}
	if _, err := ParseRates("rate=1,rate=2"); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("rate twice: %v, want an error", err)
	}
	// The default burst: a tenth of a second's worth, at least one.
	for rate, want := range map[float64]int{1000: 100, 100: 10, 15: 2, 1: 1, 0.5: 1} {
		if got := (Rates{Rate: rate}).burst(); got != want {
			t.Errorf("burst of rate %g = %d, want %d", rate, got, want)
		}
	}
}
