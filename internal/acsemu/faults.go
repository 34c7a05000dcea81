package acsemu

import (
	"context"
	"errors"
	"fmt"
	"math"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault is what the emulator does to one request instead of, or on top of,
// answering it normally. The zero Fault behaves normally. Latency is applied
// first; then at most one of Hang, Reset, Status (checked in that order)
// replaces the answer; ResetAfterApply and TruncateBody act on the normal
// answer after the operation has been done.
type Fault struct {
	// Status, when non-zero, is answered instead of doing the operation, with
	// an ACS-style error body (429: code "TooManyRequests"). Nothing changes.
	Status int
	// RetryAfter is the raw Retry-After header sent with Status, if non-empty
	// ("1", "0", "-1", "abc", an HTTP date: clients must survive them all).
	RetryAfter string
	// RetryAfterMs is the raw retry-after-ms header sent with Status, if
	// non-empty.
	RetryAfterMs string
	// Code and Message, when set, replace the error body's code and
	// message of Status (e.g. 403 "SubscriptionNotAllowed").
	Code, Message string
	// Latency is waited first (ended early if the client goes away or the
	// emulator is closed, in which case the connection is dropped).
	Latency time.Duration
	// Hang never answers: the request blocks until the client goes away or
	// Close is called, then its connection is dropped. Nothing changes.
	Hang bool
	// Reset drops the connection without answering (TCP RST where possible).
	// Nothing changes.
	Reset bool
	// ResetAfterApply does the operation normally, then drops the connection
	// instead of answering: the outcome is unknown to the client, the case
	// a client's retry and reconcile logic must get right.
	ResetAfterApply bool
	// TruncateBody does the operation and answers its normal status, but
	// with the first half of the JSON body only (correctly framed, so the
	// client reads it all and then fails to decode it).
	TruncateBody bool
}

// Describe names the fault for a request log; "" for the zero Fault.
func (f Fault) Describe() string {
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

// Script queues faults: each following request takes the next one, in
// arrival order (Fault{} behaves normally and does not draw from the rates).
// It appends to whatever is left of an earlier script.
func (e *Emulator) Script(faults ...Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.script = append(e.script, faults...)
}

// Rates are random faults for requests that find no scripted fault left.
// Throttle, ServerError, Hang and Reset are probabilities in [0, 1] of
// disjoint outcomes (their sum should not exceed 1); Latency is added to
// every such request. Rate, when set, is a limit on top of them: a token
// bucket that answers 429 when it is empty (see Rate).
type Rates struct {
	Throttle    float64       // answer 429 TooManyRequests
	RetryAfter  string        // Retry-After header of those 429s, if non-empty
	ServerError float64       // answer 500 or 503, half each
	Unavailable float64       // answer 503 ServiceUnavailable
	Latency     time.Duration // added to every request
	Hang        float64       // never answer
	Reset       float64       // drop the connection
	Forbidden   float64       // answer 403, with ForbiddenCode
	// ForbiddenCode is the error code of those 403s (default
	// "SubscriptionNotAllowed", as ACS answers a subscription not enabled
	// for the feature; "AuthorizationFailed" for a missing role).
	ForbiddenCode string

	// Rate is the calls per second the emulated resource accepts (0: no
	// limit), as a token bucket holding Burst calls (0: a tenth of a
	// second's worth, at least 1), full when set. ACS publishes no limit
	// for this API; this one lets a client's adaptive concurrency be
	// measured. A call that finds the bucket empty is answered 429 at
	// once, without Latency (a front door's refusal costs no work), with
	// retry-after-ms saying when the next token comes and Retry-After the
	// same in whole seconds, rounded up. Only the ACS emulator keeps a
	// bucket; Draw ignores Rate.
	Rate  float64
	Burst int
}

// SetRates replaces the random fault rates. Rates{} turns them off. The
// token bucket starts full.
func (e *Emulator) SetRates(r Rates) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rates = r
	e.tokens, e.refilled = float64(r.burst()), e.now()
}

// burst is the bucket's size.
func (r Rates) burst() int {
	if r.Burst > 0 {
		return r.Burst
	}
	return max(1, int(math.Ceil(r.Rate/10)))
}

// nextFaultLocked pops the script, or takes a token from the bucket and
// draws from the rates.
func (e *Emulator) nextFaultLocked() Fault {
	if len(e.script) > 0 {
		f := e.script[0]
		e.script = e.script[1:]
		return f
	}
	if f, ok := e.throttleLocked(); ok {
		return f
	}
	return e.rates.Draw(e.rng)
}

// throttleLocked takes a token from the bucket, refilled for the time
// since it was last looked at, or returns the 429 of an empty one.
func (e *Emulator) throttleLocked() (Fault, bool) {
	r := e.rates
	if r.Rate <= 0 {
		return Fault{}, false
	}
	now := e.now()
	if elapsed := now.Sub(e.refilled); elapsed > 0 {
		e.tokens = min(float64(r.burst()), e.tokens+elapsed.Seconds()*r.Rate)
	}
	e.refilled = now
	if e.tokens >= 1 {
		e.tokens--
		return Fault{}, false
	}
	wait := time.Duration((1 - e.tokens) / r.Rate * float64(time.Second))
	ms := max(1, int64(math.Ceil(float64(wait)/float64(time.Millisecond))))
	return Fault{
		Status:       http.StatusTooManyRequests,
		RetryAfter:   strconv.FormatInt(int64(math.Ceil(wait.Seconds())), 10),
		RetryAfterMs: strconv.FormatInt(ms, 10),
	}, true
}

// Draw picks one request's fault from the rates (the Graph emulator draws
// from the same rates, so both are described alike).
func (r Rates) Draw(rng *mathrand.Rand) Fault {
	f := Fault{Latency: r.Latency}
	if r.Throttle <= 0 && r.ServerError <= 0 && r.Unavailable <= 0 && r.Hang <= 0 && r.Reset <= 0 && r.Forbidden <= 0 {
		return f
	}
	u := rng.Float64()
	switch {
	case u < r.Throttle:
		f.Status, f.RetryAfter = http.StatusTooManyRequests, r.RetryAfter
	case u < r.Throttle+r.ServerError:
		f.Status = http.StatusInternalServerError
		if rng.IntN(2) == 1 {
			f.Status = http.StatusServiceUnavailable
		}
	case u < r.Throttle+r.ServerError+r.Unavailable:
		f.Status = http.StatusServiceUnavailable
	case u < r.Throttle+r.ServerError+r.Unavailable+r.Hang:
		f.Hang = true
	case u < r.Throttle+r.ServerError+r.Unavailable+r.Hang+r.Reset:
		f.Reset = true
	case u < r.Throttle+r.ServerError+r.Unavailable+r.Hang+r.Reset+r.Forbidden:
		f.Status, f.Code = http.StatusForbidden, r.ForbiddenCode
		if f.Code == "" {
			f.Code = "SubscriptionNotAllowed"
		}
	}
	return f
}

// ParseRates reads rates written as comma-separated key=value pairs, e.g.
// "429=0.2,retry-after=1,5xx=0.05,latency=20ms,hang=0.01,reset=0.01" or
// "rate=100,latency=25ms". Keys: 429 (or throttle), retry-after, 5xx (500
// or 503), 503, 403, 403-code (its error code; needs 403), latency, hang,
// reset, rate (calls per second, see Rates.Rate), burst (calls; needs
// rate). A
// retry-after value may be an HTTP date, whose comma is kept. "" (or only
// spaces) is the zero Rates. Unknown or repeated keys, probabilities outside
// [0, 1] or summing to more than 1, and bad durations are errors naming the
// offending item.
func ParseRates(spec string) (Rates, error) {
	var r Rates
	if strings.TrimSpace(spec) == "" {
		return r, nil
	}
	// Join items without "=" onto the previous one: only an HTTP date in
	// retry-after legitimately contains a comma.
	var items []string
	for piece := range strings.SplitSeq(spec, ",") {
		if !strings.Contains(piece, "=") && len(items) > 0 {
			items[len(items)-1] += "," + piece
			continue
		}
		items = append(items, piece)
	}
	seen := map[string]bool{}
	for _, item := range items {
		name, value, ok := strings.Cut(item, "=")
		name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
		if !ok || name == "" {
			return Rates{}, fmt.Errorf("fault rates: %q is not key=value (keys: %s)", strings.TrimSpace(item), rateKeys)
		}
		if name == "throttle" {
			name = "429"
		}
		if seen[name] {
			return Rates{}, fmt.Errorf("fault rates: %s is given twice", name)
		}
		seen[name] = true
		var err error
		switch name {
		case "429":
			r.Throttle, err = parseProbability(name, value)
		case "5xx":
			r.ServerError, err = parseProbability(name, value)
		case "503":
			r.Unavailable, err = parseProbability(name, value)
		case "hang":
			r.Hang, err = parseProbability(name, value)
		case "reset":
			r.Reset, err = parseProbability(name, value)
		case "403":
			r.Forbidden, err = parseProbability(name, value)
		case "403-code":
			if value == "" || strings.ContainsFunc(value, func(c rune) bool { return c <= ' ' || c == '"' || c > '~' }) {
				err = fmt.Errorf("fault rates: 403-code=%q is not an error code like SubscriptionNotAllowed", value)
			}
			r.ForbiddenCode = value
		case "retry-after":
			if value == "" {
				err = errors.New("fault rates: retry-after needs a value")
			}
			r.RetryAfter = value
		case "latency":
			r.Latency, err = time.ParseDuration(value)
			if err != nil || r.Latency < 0 {
				err = fmt.Errorf("fault rates: latency %q is not a duration like 20ms", value)
			}
		case "rate":
			r.Rate, err = strconv.ParseFloat(value, 64)
			if err != nil || math.IsNaN(r.Rate) || math.IsInf(r.Rate, 0) || r.Rate <= 0 {
				err = fmt.Errorf("fault rates: rate=%q is not a number of calls per second above 0", value)
			}
		case "burst":
			r.Burst, err = strconv.Atoi(value)
			if err != nil || r.Burst < 1 {
				err = fmt.Errorf("fault rates: burst=%q is not a number of calls of 1 or more", value)
			}
		default:
			err = fmt.Errorf("fault rates: unknown key %q (keys: %s)", name, rateKeys)
		}
		if err != nil {
			return Rates{}, err
		}
	}
	if r.Burst > 0 && r.Rate == 0 {
		return Rates{}, errors.New("fault rates: burst needs a rate")
	}
	if r.ForbiddenCode != "" && r.Forbidden == 0 {
		return Rates{}, errors.New("fault rates: 403-code needs 403")
	}
	if sum := r.Throttle + r.ServerError + r.Unavailable + r.Hang + r.Reset + r.Forbidden; sum > 1+1e-9 {
		return Rates{}, fmt.Errorf("fault rates: the probabilities add up to %g, more than 1", sum)
	}
	return r, nil
}

const rateKeys = "429, retry-after, 5xx, 503, 403, 403-code, latency, hang, reset, rate, burst"

func parseProbability(name, value string) (float64, error) {
	p, err := strconv.ParseFloat(value, 64)
	if err != nil || math.IsNaN(p) || p < 0 || p > 1 {
		return 0, fmt.Errorf("fault rates: %s=%q is not a probability between 0 and 1", name, value)
	}
	return p, nil
}

// faultReply is the answer of a Status fault: an ACS-style error body and
// the configured retry headers, raw.
func faultReply(f Fault) reply {
	status := f.Status
	if status < 100 || status > 999 {
		status = http.StatusInternalServerError
	}
	var code, msg string
	switch status {
	case http.StatusTooManyRequests:
		code, msg = "TooManyRequests", "Too many requests. Retry after the period in the Retry-After header."
	case http.StatusInternalServerError:
		code, msg = "InternalServerError", "An internal server error occurred."
	case http.StatusServiceUnavailable:
		code, msg = "ServiceUnavailable", "The service is temporarily unavailable."
	case http.StatusForbidden:
		code, msg = "SubscriptionNotAllowed", "The subscription is not allowed to use this feature."
		if f.Code != "" && f.Code != code {
			msg = "The caller is not authorized to perform this action."
		}
	default:
		code = strings.ReplaceAll(http.StatusText(status), " ", "")
		if code == "" {
			code = "Fault"
		}
		msg = fmt.Sprintf("Injected fault: status %d.", status)
	}
	if f.Code != "" {
		code = f.Code
	}
	if f.Message != "" {
		msg = f.Message
	}
	rep := errorReply(status, code, msg)
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

// DropConnection ends a request without answering. Over HTTP/1 it hijacks
// the connection and closes it with SO_LINGER 0, so the client sees a reset
// rather than a clean end of stream; where hijacking is not supported (HTTP/2)
// it aborts the handler with http.ErrAbortHandler, which net/http turns into
// a reset stream. It must not be used with a ResponseWriter that is not
// served by net/http (such as httptest.ResponseRecorder).
func DropConnection(w http.ResponseWriter) {
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
