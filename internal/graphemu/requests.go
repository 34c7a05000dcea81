package graphemu

import (
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/portal"
)

// Request is one request as the emulator received it, so tests can assert
// what a client actually sent: how often it retried, whether it sent
// ConsistencyLevel with $search, how many pages it fetched.
type Request struct {
	Time       time.Time // arrival, by Config.Now
	Method     string
	RequestURI string // exactly as sent
	// ClientRequestID is the client-request-id header, if sent.
	ClientRequestID string
	// ConsistencyLevel is the ConsistencyLevel header, if sent.
	ConsistencyLevel string
	// Auth is "ok" when the token was verified, "none" when there was no
	// Authorization header, "bad" when there was one that failed. It is
	// evaluated for faulted requests too.
	Auth string
	// Tenant is the verified token's tenant; zero unless Auth is "ok".
	Tenant portal.GUID
	// Body is what was sent, cut at 1 MiB + 1 byte.
	Body []byte
	// Status is the status answered; 0 while the request is in progress and
	// for requests that got no answer (hang, reset, client gone).
	Status int
	// Fault describes what was injected ("" for none), in acsemu's words:
	// "status=429", "latency=20ms+hang", "reset", "truncate-body", …
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

// arrive logs a request on arrival and takes its fault. Taking it on
// arrival keeps a script's order the order in which requests arrived.
func (e *Emulator) arrive(r *http.Request) (*Request, acsemu.Fault) {
	entry := &Request{
		Time:             e.now(),
		Method:           r.Method,
		RequestURI:       r.RequestURI,
		ClientRequestID:  r.Header.Get("client-request-id"),
		ConsistencyLevel: r.Header.Get("ConsistencyLevel"),
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

// finish records the status of a logged request before the answer is
// written, so that a client that has its answer also sees it in the log.
func (e *Emulator) finish(entry *Request, status int) {
	e.mu.Lock()
	entry.Status = status
	snapshot := *entry
	e.mu.Unlock()
	if e.logger != nil {
		e.logger.Info("graphemu request",
			slog.String("method", snapshot.Method),
			slog.String("uri", snapshot.RequestURI),
			slog.String("auth", snapshot.Auth),
			slog.String("tenant", snapshot.Tenant.String()),
			slog.Int("status", snapshot.Status),
			slog.String("fault", snapshot.Fault),
			slog.String("client_request_id", snapshot.ClientRequestID))
	}
}
