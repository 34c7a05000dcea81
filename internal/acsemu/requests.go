package acsemu

import (
	"log/slog"
	"net/http"
	"slices"
	"time"
)

// Request is one request as the emulator received it, so tests can assert
// what a client actually sent (how often it retried, whether it signed each
// attempt afresh, that it never called for a foreign tenant).
type Request struct {
	Time       time.Time // arrival, by Config.Now
	Method     string
	Host       string // the Host header as sent, port included
	RequestURI string // exactly as sent
	// TenantSegment and ObjectSegment are the raw (escaped) path segments;
	// both "" when the request did not match the assignment route.
	TenantSegment, ObjectSegment string
	ClientRequestID              string // x-ms-client-request-id, if sent
	XMsDate                      string // x-ms-date, if sent
	// Auth is "hmac" or "bearer" when the request authenticated, "none" when
	// it had no Authorization header, "bad" when it had one that failed. It
	// is evaluated for faulted requests too.
	Auth string
	// Body is what was sent, cut at 64 KiB + 1 byte.
	Body []byte
	// Status is the status answered; 0 while the request is in progress and
	// for requests that got no answer (hang, reset, client gone).
	Status int
	// Fault describes what was injected ("" for none), e.g. "status=429",
	// "latency=20ms+hang", "reset", "reset-after-apply", "truncate-body".
	Fault string
}

// Requests returns a copy of the request log, in arrival order. A request is
// logged when it arrives and completed when it is answered, so a hanging
// request is already visible (with Status 0).
func (e *Emulator) Requests() []Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Request, len(e.requests))
	for i, r := range e.requests {
		out[i] = *r
		out[i].Body = slices.Clone(r.Body)
	}
	return out
}

// ResetRequests empties the request log. Requests still in progress finish
// without reappearing in it.
func (e *Emulator) ResetRequests() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.requests = nil
}

// arrive logs a request on arrival and takes its fault: the next scripted one
// or, with no script left, one drawn from the rates. Taking it on arrival
// keeps a script's order the order in which requests arrived.
func (e *Emulator) arrive(r *http.Request) (*Request, Fault) {
	entry := &Request{
		Time:            e.now(),
		Method:          r.Method,
		Host:            r.Host,
		RequestURI:      r.RequestURI,
		ClientRequestID: r.Header.Get("x-ms-client-request-id"),
		XMsDate:         r.Header.Get("x-ms-date"),
	}
	if entry.RequestURI == "" {
		entry.RequestURI = r.URL.RequestURI()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	fault := e.nextFaultLocked()
	entry.Fault = fault.Describe()
	e.requests = append(e.requests, entry)
	return entry, fault
}

// finish records the status of a logged request, before the answer is
// written, so that a client that has its answer also sees it in the log.
func (e *Emulator) finish(entry *Request, status int) {
	e.mu.Lock()
	entry.Status = status
	snapshot := *entry
	e.mu.Unlock()
	if e.logger != nil {
		e.logger.Info("acsemu request",
			slog.String("method", snapshot.Method),
			slog.String("host", snapshot.Host),
			slog.String("uri", snapshot.RequestURI),
			slog.String("auth", snapshot.Auth),
			slog.Int("status", snapshot.Status),
			slog.String("fault", snapshot.Fault),
			slog.String("client_request_id", snapshot.ClientRequestID))
	}
}

func (e *Emulator) logError(msg string, err error) {
	if e.logger != nil {
		e.logger.Error(msg, slog.Any("err", err))
	}
}
