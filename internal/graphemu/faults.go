package graphemu

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/teamsphone/portal/internal/acsemu"
)

// Faults are acsemu's, so that dev mode and tests describe them once for
// both emulators ("429=0.2,retry-after=1,503=0.05,latency=20ms", read with
// acsemu.ParseRates). What a fault does is the same here: Latency first,
// then at most one of Hang, Reset, Status; ResetAfterApply and TruncateBody
// act on the normal answer. Only the error body differs: it is Graph's.

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

// nextFaultLocked pops the script or draws from the rates, with the same
// distribution as acsemu (whose drawing is not exported).
func (e *Emulator) nextFaultLocked() acsemu.Fault {
	if len(e.script) > 0 {
		f := e.script[0]
		e.script = e.script[1:]
		return f
	}
	r := e.rates
	f := acsemu.Fault{Latency: r.Latency}
	if r.Throttle <= 0 && r.ServerError <= 0 && r.Unavailable <= 0 && r.Hang <= 0 && r.Reset <= 0 {
		return f
	}
	u := e.rng.Float64()
	switch {
	case u < r.Throttle:
		f.Status, f.RetryAfter = http.StatusTooManyRequests, r.RetryAfter
		if f.RetryAfter == "" {
			f.RetryAfter = defaultRetryAfter
		}
	case u < r.Throttle+r.ServerError:
		f.Status = http.StatusInternalServerError
		if e.rng.IntN(2) == 1 {
			f.Status = http.StatusServiceUnavailable
		}
	case u < r.Throttle+r.ServerError+r.Unavailable:
		f.Status = http.StatusServiceUnavailable
	case u < r.Throttle+r.ServerError+r.Unavailable+r.Hang:
		f.Hang = true
	case u < r.Throttle+r.ServerError+r.Unavailable+r.Hang+r.Reset:
		f.Reset = true
	}
	return f
}

// describeFault names a fault for the request log, in acsemu's words; ""
// for the zero Fault.
func describeFault(f acsemu.Fault) string {
	var parts []string
	if f.Latency > 0 {
		parts = append(parts, "latency="+f.Latency.String())
	}
	switch {
	case f.Hang:
		parts = append(parts, "hang")
	case f.Reset:
		parts = append(parts, "reset")
	case f.Status != 0:
		parts = append(parts, "status="+strconv.Itoa(f.Status))
	default:
		if f.ResetAfterApply {
			parts = append(parts, "reset-after-apply")
		}
		if f.TruncateBody {
			parts = append(parts, "truncate-body")
		}
	}
	return strings.Join(parts, "+")
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

// dropConnection ends a request without answering. Over HTTP/1 it hijacks
// the connection and closes it with SO_LINGER 0, so the client sees a reset
// rather than a clean end of stream; where hijacking is not supported
// (HTTP/2) it aborts the handler with http.ErrAbortHandler, which net/http
// turns into a reset stream. It must not be used with a ResponseWriter that
// net/http does not serve (such as httptest.ResponseRecorder).
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if errors.Is(err, http.ErrNotSupported) {
		panic(http.ErrAbortHandler)
	}
	if err != nil {
		return
	}
	raw := conn
	if inner, ok := conn.(interface{ NetConn() net.Conn }); ok {
		raw = inner.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	// Close the raw connection: closing a TLS one would first send a
	// close_notify, a clean goodbye that a reset should not be.
	_ = raw.Close()
}
