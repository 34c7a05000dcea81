// Package acsemu emulates the Azure Communication Services "Teams Phone
// extensibility access assignments" REST API as an http.Handler, so that the
// portal, its dev mode and its tests can talk to something that behaves like
// ACS without an Azure subscription.
//
// It is meant to be faithful where a client can tell the difference: the same
// route, the same HMAC and bearer authentication (checked with this package's
// own code, never the client's signer, so a wrong string-to-sign cannot pass
// on both sides), the same statuses, error bodies and headers, and the same
// order of checks. It also injects the faults a real service produces —
// throttling, server errors, latency, hangs and dropped connections — either
// scripted request by request or at random rates.
//
// The API facts it follows, and where each comes from, are in
// internal/acs/API.md ("What the emulator answers" is its answer table).
package acsemu

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// API versions the emulator serves: every published version of these
// operations (the preview, the stable one, and the later ones of the same
// shape). Anything else is refused the way ACS refuses it, so a client
// with a typo finds out here.
var apiVersions = []string{"2025-03-02-preview", "2025-06-30", "2026-07-22", "2026-09-23"}

var supportedVersions = strings.Join(apiVersions, ", ")

// Body limits. maxBodyBytes is what an assignment PUT may carry (a real one is
// a few hundred bytes; 64 KiB leaves room for any sane list of client IDs).
// maxReadBytes bounds what is read at all, so a client cannot make the
// emulator hash gigabytes just to be told its body is too large.
const (
	maxBodyBytes = 64 << 10
	maxReadBytes = 4 << 20
)

// routePrefix is the fixed part of the only route. It is matched exactly
// (case included): a client that spells it differently should find out here
// rather than against Azure.
const routePrefix = "/access/teamsExtension/tenants/"

// Config configures an Emulator. The zero value is valid but refuses every
// request at authentication: set AccessKey, VerifyBearer or both.
type Config struct {
	// AccessKey is the decoded HMAC key of the emulated resource (the base64
	// "accesskey" of a connection string, decoded). Nil refuses all HMAC.
	AccessKey []byte
	// VerifyBearer checks an Entra bearer token and returns nil to accept it.
	// Nil refuses every bearer token. See StaticTokens.
	VerifyBearer func(ctx context.Context, token string) error
	// DeleteMissingStatus is the status of a DELETE of an assignment that does
	// not exist: 404 (the default, when 0) or 204. ACS's behaviour here is
	// unconfirmed, so clients must cope with both.
	DeleteMissingStatus int
	// StatePath is a JSON file holding the assignments. "" keeps them in
	// memory only. Otherwise New loads it (a missing file is an empty state)
	// and every change is appended to StatePath + ".journal", which New and
	// Close fold back into StatePath, so a restarted emulator remembers what
	// it was told — as ACS does — even if the process was killed.
	StatePath string
	// Now is the clock, used for x-ms-date skew, Date headers and Updated
	// times. Default time.Now.
	Now func() time.Time
	// Rand drives the random fault rates (see SetRates). Default: randomly
	// seeded. It is only used under the emulator's lock.
	Rand *mathrand.Rand
	// Logger, when set, receives one line per request. Nil logs nothing.
	Logger *slog.Logger
	// UsersWithoutClientIDs accepts a user assignment with no clientIds.
	// The specification marks clientIds optional; the service as seen
	// refuses such a PUT with 400, which is the default, so a client can
	// be tried against both.
	UsersWithoutClientIDs bool
}

// Emulator is the emulated ACS resource (or several: state is kept per
// request host). It is safe for concurrent use. Create it with New; call
// Close when done so that hanging requests are released.
type Emulator struct {
	accessKey           []byte
	verifyBearer        func(ctx context.Context, token string) error
	deleteMissingStatus int
	usersWithoutClients bool
	statePath           string
	now                 func() time.Time
	logger              *slog.Logger

	closed    chan struct{}
	closeOnce sync.Once

	// mu guards everything below. It is never held while waiting on a
	// client or a timer, only while touching memory or the state file.
	mu       sync.Mutex
	state    map[stateKey]Stored
	requests []*Request
	script   []Fault
	rates    Rates
	rng      *mathrand.Rand
	// tokens is what the rate's bucket holds (see Rates.Rate), as of
	// refilled.
	tokens   float64
	refilled time.Time
	// journal is the open journal (see journalLocked), nil without a
	// StatePath and after Close. journalSize is its length, to cut off a
	// partly written line; journalErr, once set, refuses every change.
	journal     *os.File
	journalSize int64
	journalErr  error
}

// New returns an Emulator for cfg. It fails if DeleteMissingStatus is not 0,
// 204 or 404, or if StatePath names a file that cannot be read or parsed, or
// whose journal cannot be replayed or opened (a corrupt state is reported,
// never silently replaced by an empty one).
func New(cfg Config) (*Emulator, error) {
	e := &Emulator{
		accessKey:           append([]byte(nil), cfg.AccessKey...),
		verifyBearer:        cfg.VerifyBearer,
		deleteMissingStatus: cfg.DeleteMissingStatus,
		usersWithoutClients: cfg.UsersWithoutClientIDs,
		statePath:           cfg.StatePath,
		now:                 cfg.Now,
		logger:              cfg.Logger,
		closed:              make(chan struct{}),
		state:               make(map[stateKey]Stored),
		rng:                 cfg.Rand,
	}
	if len(cfg.AccessKey) == 0 {
		e.accessKey = nil
	}
	switch e.deleteMissingStatus {
	case 0:
		e.deleteMissingStatus = http.StatusNotFound
	case http.StatusNotFound, http.StatusNoContent:
	default:
		return nil, fmt.Errorf("acsemu: DeleteMissingStatus must be 404 or 204, not %d", cfg.DeleteMissingStatus)
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.rng == nil {
		e.rng = mathrand.New(mathrand.NewPCG(mathrand.Uint64(), mathrand.Uint64()))
	}
	if err := e.load(); err != nil {
		return nil, err
	}
	return e, nil
}

// Close releases every request that is hanging (Fault.Hang) or waiting out
// injected latency: their connections are dropped at once. Requests arriving
// afterwards with a hang fault are dropped immediately. With a StatePath it
// also folds the journal into the state file and closes the journal; a
// failure there is logged, and the journal kept for the next start. State is
// kept, later changes are still saved, and Close may be called more than
// once: a second call returns when the first has finished, so a caller that
// needs the state file complete (the server's shutdown hook runs Close in a
// goroutine) can simply call it again.
func (e *Emulator) Close() {
	e.closeOnce.Do(func() {
		close(e.closed)
		e.closeState()
	})
}

// reply is one HTTP answer, built before anything is written so that faults
// can drop or truncate it.
type reply struct {
	status int
	header http.Header // extra headers, e.g. Allow or Retry-After
	body   []byte      // nil: no body (and no Content-Type)
}

// inbound is what the emulator learnt from a request before deciding what to
// do with it.
type inbound struct {
	body      []byte // at most maxBodyBytes+1 bytes: enough to tell "too large"
	bodySize  int64
	bodyHash  string // base64(sha256(whole body))
	readErr   error
	routed    bool
	tenantSeg string
	objectSeg string
	auth      authVerdict
}

// ServeHTTP answers one request: it logs it, applies the next fault (scripted
// first, then random rates), and otherwise checks, in the order ACS does,
// route (404), authentication (401), api-version (400), method (405), path
// GUIDs (400) and body (400) before doing the operation.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	entry, fault := e.arrive(r)
	in := e.inspect(r)
	e.mu.Lock()
	entry.Body = in.body
	entry.TenantSegment, entry.ObjectSegment = in.tenantSeg, in.objectSeg
	entry.Auth = in.auth.kind
	e.mu.Unlock()

	ctx := r.Context()
	if fault.Latency > 0 && !e.wait(ctx, fault.Latency) {
		e.finish(entry, 0)
		DropConnection(w)
		return
	}
	switch {
	case fault.Hang:
		e.wait(ctx, -1)
		e.finish(entry, 0)
		DropConnection(w)
		return
	case fault.Reset:
		e.finish(entry, 0)
		DropConnection(w)
		return
	case fault.Status != 0:
		rep := faultReply(fault)
		e.finish(entry, rep.status)
		e.send(w, r, rep)
		return
	}

	rep := e.handle(r, &in)
	if fault.ResetAfterApply {
		e.finish(entry, 0)
		DropConnection(w)
		return
	}
	if fault.TruncateBody && rep.body != nil {
		rep.body = rep.body[:len(rep.body)/2]
	}
	e.finish(entry, rep.status)
	e.send(w, r, rep)
}

// inspect reads the body (hashing all of it, keeping only what validation
// needs), matches the route and authenticates. It acts on nothing: faults
// come first, and the log records what was sent even for faulted requests.
func (e *Emulator) inspect(r *http.Request) inbound {
	var in inbound
	in.tenantSeg, in.objectSeg, in.routed = matchRoute(r.URL.EscapedPath())
	h := sha256.New()
	if r.Body != nil {
		src := io.TeeReader(io.LimitReader(r.Body, maxReadBytes+1), h)
		in.body, in.readErr = io.ReadAll(io.LimitReader(src, maxBodyBytes+1))
		in.bodySize = int64(len(in.body))
		if in.readErr == nil {
			var rest int64
			rest, in.readErr = io.Copy(io.Discard, src)
			in.bodySize += rest
		}
		if in.readErr == nil && in.bodySize > maxReadBytes {
			in.readErr = errors.New("body too large")
		}
	}
	in.bodyHash = base64.StdEncoding.EncodeToString(h.Sum(nil))
	in.auth = e.authenticate(r, in.bodyHash)
	return in
}

// matchRoute splits the escaped path, so that an encoded slash (%2F) stays
// inside its segment and can never move the request to another route or
// object. It returns the raw segments and whether the route matched; empty
// segments, a trailing slash and the collection path (there is no list
// operation) do not match.
func matchRoute(escapedPath string) (tenantSeg, objectSeg string, ok bool) {
	rest, found := strings.CutPrefix(escapedPath, routePrefix)
	if !found {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[1] != "assignments" || parts[0] == "" || parts[2] == "" {
		return "", "", false
	}
	return parts[0], parts[2], true
}

// handle runs the checks and the operation for a request that no fault has
// taken over.
func (e *Emulator) handle(r *http.Request, in *inbound) reply {
	if !in.routed {
		return errorReply(http.StatusNotFound, "NotFound", "The requested resource does not exist.")
	}
	if in.readErr != nil {
		// The body could not be read or hashed in full, so it cannot be
		// authenticated either: the one case answered before authentication.
		return errorReply(http.StatusBadRequest, "BadRequest",
			fmt.Sprintf("The request body could not be read; at most %d bytes are accepted.", maxBodyBytes))
	}
	if in.auth.deny != "" {
		return errorReply(http.StatusUnauthorized, "Denied", in.auth.deny)
	}
	if rep, ok := checkAPIVersion(r); !ok {
		return rep
	}
	switch r.Method {
	case http.MethodGet, http.MethodPut, http.MethodDelete:
	default:
		rep := errorReply(http.StatusMethodNotAllowed, "MethodNotAllowed",
			fmt.Sprintf("The method %s is not allowed here: use GET, PUT or DELETE.", truncate(r.Method, 20)))
		rep.header.Set("Allow", "GET, PUT, DELETE")
		return rep
	}
	tenant, err := parseSegment("tenantId", in.tenantSeg)
	if err != nil {
		return errorReply(http.StatusBadRequest, "BadRequest", err.Error())
	}
	object, err := parseSegment("objectId", in.objectSeg)
	if err != nil {
		return errorReply(http.StatusBadRequest, "BadRequest", err.Error())
	}
	key := stateKey{host: resourceHost(r.Host), tenant: tenant, object: object}
	switch r.Method {
	case http.MethodGet:
		return e.handleAssignmentGet(key)
	case http.MethodPut:
		return e.handleAssignmentPut(key, in)
	default:
		return e.handleAssignmentDelete(key)
	}
}

// checkAPIVersion accepts exactly one api-version parameter naming a served
// version; otherwise it returns ACS's 400 with the api-supported-versions
// header that tells a client what to send instead.
func checkAPIVersion(r *http.Request) (reply, bool) {
	versions := r.URL.Query()["api-version"]
	if len(versions) == 1 && slices.Contains(apiVersions, versions[0]) {
		return reply{}, true
	}
	var msg string
	switch len(versions) {
	case 0:
		msg = "The api-version query parameter is required. Supported versions: " + supportedVersions + "."
	case 1:
		msg = fmt.Sprintf("The api-version '%s' is not supported. Supported versions: %s.", truncate(versions[0], 40), supportedVersions)
	default:
		msg = "The api-version query parameter must be given once. Supported versions: " + supportedVersions + "."
	}
	rep := errorReply(http.StatusBadRequest, "UnsupportedApiVersion", msg)
	rep.header.Set("api-supported-versions", supportedVersions)
	return rep, false
}

// parseSegment reads a raw (still escaped) path segment as a GUID. Only the
// bare 36-character form is accepted: no braces and no percent-encoding, so
// junk like "..%2F.." or "%2e%2e" is a 400, never a path.
func parseSegment(name, seg string) (portal.GUID, error) {
	if g, err := parseStrictGUID(seg); err == nil {
		return g, nil
	}
	return portal.GUID{}, badInput(fmt.Sprintf("The %s path segment %q is not a GUID: expected 36 characters like 1c361ff7-fb44-4685-bb78-1bad6ce5bef3.", name, truncate(seg, 40)))
}

// badInput is an error whose text is the sentence the emulator sends back in
// a 400 body, written as ACS writes its messages.
type badInput string

func (b badInput) Error() string { return string(b) }

// assignmentJSON is the wire form of an assignment. ClientIDs is omitted,
// not [], for resource accounts, as ACS does.
type assignmentJSON struct {
	ObjectID      string   `json:"objectId"`
	TenantID      string   `json:"tenantId"`
	PrincipalType string   `json:"principalType"`
	ClientIDs     []string `json:"clientIds,omitempty"`
}

func assignmentReply(status int, s Stored) reply {
	body, _ := json.Marshal(assignmentJSON{
		ObjectID:      s.ObjectID.String(),
		TenantID:      s.TenantID.String(),
		PrincipalType: s.PrincipalType,
		ClientIDs:     s.ClientIDs,
	})
	return reply{status: status, header: http.Header{}, body: body}
}

// errorReply builds ACS's error body, {"error":{"code","message"}}.
func errorReply(status int, code, message string) reply {
	type acsError struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	body, _ := json.Marshal(struct {
		Error acsError `json:"error"`
	}{acsError{Code: code, Message: message}})
	return reply{status: status, header: http.Header{}, body: body}
}

// send writes rep with the headers every ACS response carries: the caller's
// x-ms-client-request-id echoed, a fresh MS-CV, and a Date from the
// emulator's clock (so a client measuring skew sees the emulated time).
func (e *Emulator) send(w http.ResponseWriter, r *http.Request, rep reply) {
	h := w.Header()
	for k, v := range rep.header {
		h[k] = v
	}
	if id := r.Header.Get("x-ms-client-request-id"); id != "" {
		h.Set("x-ms-client-request-id", id)
	}
	h.Set("MS-CV", newCorrelationVector())
	h.Set("Date", e.now().UTC().Format(http.TimeFormat))
	if rep.body != nil && bodyAllowed(rep.status) {
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(rep.body)))
		w.WriteHeader(rep.status)
		_, _ = w.Write(rep.body)
		return
	}
	w.WriteHeader(rep.status)
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// newCorrelationVector returns an MS-CV like ACS's: a random base and ".0".
func newCorrelationVector() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawStdEncoding.EncodeToString(b[:]) + ".0"
}

// truncate shortens attacker-controlled text before it is quoted back.
func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
