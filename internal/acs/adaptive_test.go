package acs_test

import (
	"context"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/testwait"
)

// Through the pipeline: a 429 with retry-after-ms halves the calls
// allowed, the call that got it is retried after the wait, and a later
// background call waits out the same pause; a window of successes while
// calls queue grows the limit again.
func TestClientAdaptsToThrottling(t *testing.T) {
	e := newEnv(t, func(o *acs.Options) { o.MaxConcurrency = 16 })
	ctx := context.Background()
	if got := e.client.CallsAllowed(); got != 8 {
		t.Fatalf("starts with %d calls allowed, want 8", got)
	}
	const pause = 300 * time.Millisecond
	e.emu.Script(acsemu.Fault{Status: 429, RetryAfterMs: "300"})
	start := time.Now()
	if _, _, err := e.client.PutAssignment(portal.Background(ctx), userAssignment(desktop)); err != nil {
		t.Fatal(err)
	}
	if got := e.client.CallsAllowed(); got != 4 {
		t.Errorf("after a 429: %d calls allowed, want 4", got)
	}
	if d := time.Since(start); d < pause {
		t.Errorf("the throttled call was retried after %v, want %v at least", d, pause)
	}

	// A person's call throttled for a second: while it waits, a
	// background call waits too.
	e.emu.ResetRequests()
	e.emu.Script(acsemu.Fault{Status: 429, RetryAfterMs: "1000"})
	person := make(chan error)
	go func() { _, _, err := e.client.GetAssignment(ctx, contoso, alice); person <- err }()
	// Until the client has read the 429 (the emulator's record of it comes
	// first), nothing holds a background call back: wait for the halving,
	// which the pause comes with.
	testwait.For(t, "the client to take the 429 in", func() bool { return e.client.CallsAllowed() == 2 })
	start = time.Now()
	if _, _, err := e.client.GetAssignment(portal.Background(ctx), contoso, alice); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("a background call went %v after a Retry-After of 1s", d)
	}
	if err := <-person; err != nil {
		t.Fatal(err)
	}
	if got := e.client.CallsAllowed(); got != 2 {
		t.Fatalf("after a second 429: %d calls allowed, want 2", got)
	}

	// Twenty calls at once, with latency, keep the limit in use: it grows.
	e.emu.SetRates(acsemu.Rates{Latency: 5 * time.Millisecond})
	done := make(chan error)
	for range 20 {
		go func() {
			_, _, err := e.client.GetAssignment(portal.Background(ctx), contoso, alice)
			done <- err
		}()
	}
	for range 20 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if got := e.client.CallsAllowed(); got <= 2 {
		t.Errorf("after 20 queued calls succeeded: %d calls allowed, want more than 2", got)
	}
}
