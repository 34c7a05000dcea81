package graphemu

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/teamsphone/portal/internal/acsemu"
)

// Faults are acsemu's, so that dev mode and tests describe them once for
// both emulators ("429=0.2,retry-after=1,503=0.05,latency=20ms", read with
// acsemu.ParseRates). What a fault does is the same here: Latency first,
// then at most one of Hang, Reset, Status; ResetAfterApply and TruncateBody
// act on the normal answer. Only the error body differs: it is Graph's.
// A permission the tenant's admin has not consented to is not a fault but
// the tenant's state: see Withhold (and the state routes in control.go).

// defaultRetryAfter is the Retry-After of a 429 drawn from the rates when
// Rates.RetryAfter is empty: Graph's throttling answers nearly always carry
// one, so a random 429 without it would test an unlikely case by accident.
const defaultRetryAfter = "1"

// Script queues faults: each following request takes the next one, in
// arrival order (acsemu.Fault{} behaves normally and does not draw from the
// rates). It appends to whatever is left of an earlier script. A scripted
// fault is sent exactly as written: leave RetryAfter empty to test a 429
// without the header.
func (e *Emulator) Script(faults ...acsemu.Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.script = append(e.script, faults...)
}

// SetRates replaces the random fault rates, for requests that find no
// scripted fault left. acsemu.Rates{} turns them off. A 429 drawn from the
// rates carries Rates.RetryAfter, or "1" when that is empty.
func (e *Emulator) SetRates(r acsemu.Rates) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rates = r
}

// nextFaultLocked pops the script or draws from the rates as acsemu does,
// a 429 without a configured Retry-After getting defaultRetryAfter.
func (e *Emulator) nextFaultLocked() acsemu.Fault {
	if len(e.script) > 0 {
		f := e.script[0]
		e.script = e.script[1:]
		return f
	}
	f := e.rates.Draw(e.rng)
	if f.Status == http.StatusTooManyRequests && f.RetryAfter == "" {
		f.RetryAfter = defaultRetryAfter
	}
	return f
}

// faultReply is the answer of a Status fault: Graph's error body with the
// codes Graph documents for these statuses, and the retry headers raw.
func (e *Emulator) faultReply(c *call, f acsemu.Fault) reply {
	status := f.Status
	if status < 100 || status > 999 {
		status = http.StatusInternalServerError
	}
	var code, msg string
	switch status {
	case http.StatusTooManyRequests:
		code, msg = "TooManyRequests", "Please retry again later."
	case http.StatusInternalServerError:
		code, msg = "generalException", "An unspecified error has occurred."
	case http.StatusServiceUnavailable:
		code, msg = "serviceNotAvailable", "The service is temporarily unavailable. You may repeat the request after a delay, which may be specified in a Retry-After header."
	default:
		code = strings.ReplaceAll(http.StatusText(status), " ", "")
		if code == "" {
			code = "Fault"
		}
		msg = fmt.Sprintf("Injected fault: status %d.", status)
	}
	rep := c.errorReply(status, code, msg)
	if f.RetryAfter != "" {
		rep.header.Set("Retry-After", f.RetryAfter)
	}
	if f.RetryAfterMs != "" {
		rep.header.Set("retry-after-ms", f.RetryAfterMs)
	}
	return rep
}

// wait blocks for d (forever if d < 0) and reports whether it ran its course:
// false if the client went away or the emulator was closed first. It holds
// no lock.
func (e *Emulator) wait(ctx context.Context, d time.Duration) bool {
	var timeout <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
		return true
	case <-ctx.Done():
		return false
	case <-e.closed:
		return false
	}
}
