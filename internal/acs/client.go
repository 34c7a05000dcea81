// Package acs is the portal's client for the ACS Teams Phone extensibility
// access-assignment API: GET, PUT and DELETE of one assignment, on the azcore
// pipeline (retries with backoff and Retry-After, per-try timeouts), signed
// with an access key (HMAC) or an Entra token from an azidentity credential.
//
// There is no Go data-plane SDK for this API, hence this package. The API
// facts it relies on, and where each comes from, are in API.md beside it.
//
// It only speaks the API: who may change what, the inventory and the audit
// log belong to internal/access, and it imports no other adapter. It logs
// nothing; the access key and tokens go only into the request they sign.
package acs

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/google/uuid"

	"github.com/teamsphone/portal/internal/portal"
)

// APIVersion is the api-version this client speaks unless configured
// otherwise (Options.APIVersion).
const APIVersion = "2025-06-30"

// APIVersions are the published api-versions with these assignment
// operations, all of the same shape (the stable one, then later ones).
var APIVersions = []string{"2025-06-30", "2026-07-22", "2026-09-23"}

// CheckAPIVersion refuses what is not shaped like an api-version
// (2025-06-30, or 2025-03-02-preview): a version ACS does not serve is
// refused by ACS itself, with the versions it does.
func CheckAPIVersion(v string) error {
	date, _ := strings.CutSuffix(v, "-preview")
	if _, err := time.Parse("2006-01-02", date); err != nil || len(date) != 10 {
		return portal.Errorf(portal.EINVALID, "The ACS api-version must look like 2025-06-30 (published: %s), not %q.", strings.Join(APIVersions, ", "), v)
	}
	return nil
}

// Scope is the Entra scope of an ACS data-plane token.
const Scope = "https://communication.azure.com/.default"

// maxResponseBody caps what is read of any response: an assignment is a few
// hundred bytes, so anything near this is a fault, not data worth holding.
const maxResponseBody = 1 << 20

// DefaultMaxConcurrency is Options.MaxConcurrency's default: the most
// calls in flight the bound may grow to.
const DefaultMaxConcurrency = 64

// Options configure a Client. Endpoint and exactly one of AccessKey and
// Credential are required; every other field has a default.
type Options struct {
	// Endpoint is the ACS resource, https://<resource>.communication.azure.com
	// (http only on loopback, for the emulator).
	Endpoint string
	// AccessKey signs requests with HMAC-SHA256 (from a connection string).
	AccessKey []byte
	// Credential supplies Entra tokens (a managed identity in production).
	Credential azcore.TokenCredential

	// APIVersion is the api-version sent (default APIVersion; see
	// APIVersions for the published ones).
	APIVersion string

	// ResourceAccountSpelling is the principalType sent for resource accounts:
	// "teamsResourceAccount" (default, what the docs and live use) or
	// "resourceAccount" (the OpenAPI spec's enum).
	ResourceAccountSpelling string

	// MaxConcurrency is the ceiling of the calls in flight to ACS across
	// every caller of this client (default DefaultMaxConcurrency). Below
	// it the bound adapts to ACS's answers: it starts at 8 (or the
	// ceiling, if lower), doubles each round trip of successes until ACS
	// first throttles, then grows by one per window of successes (the
	// bound's worth, at least 16), and halves on a 429 or a Retry-After
	// (see limiter). Further calls wait their turn, a person's before a
	// bulk job's (see portal.Background); a person's call may start while
	// fewer than 8 calls are in flight, whatever the bound.
	MaxConcurrency int
	// FixedConcurrency keeps the bound at MaxConcurrency whatever ACS
	// answers: no growth, no halving, no pause beyond the throttled call's
	// own. For a resource whose limit is known, and for tests of outcomes
	// under random faults, where a 429 drawn at random says nothing about
	// the rate yet an adaptive bound would back off as if it did.
	FixedConcurrency bool
	// MaxRetries is how many times a call is retried after 408, 429, 5xx or a
	// transport error (default 4). 400, 401, 403 and 404 are never retried.
	MaxRetries int
	// RetryDelay is the first backoff step (default 500ms); it doubles with jitter.
	RetryDelay time.Duration
	// MaxRetryAfter bounds both backoff and an honoured Retry-After (default
	// 30s). A Retry-After beyond it fails the call at once as throttled
	// rather than holding a person's request for minutes.
	MaxRetryAfter time.Duration
	// TryTimeout bounds one attempt (default 10s), so a hung connection is cut
	// and retried.
	TryTimeout time.Duration
	// Timeout bounds a whole call, retries included, when the caller's
	// context has no earlier deadline (default 60s).
	Timeout time.Duration

	// Transport sends the requests (default: azcore's HTTP client).
	Transport policy.Transporter
	// Observer, if set, hears of every call when it ends (metrics).
	Observer CallObserver
	// Now stamps x-ms-date (default time.Now).
	Now func() time.Time
}

// CallObserver hears of every call to ACS: its method, final status (0 for
// no answer), attempts made and time taken, retries included.
type CallObserver interface {
	ObserveACSCall(method string, status, attempts int, d time.Duration)
}

// Client calls ACS. It is safe for concurrent use; its concurrency bound is
// shared by every caller.
type Client struct {
	scheme    string // "https", or "http" for an emulator on loopback
	host      string // host[:port] as sent, the one the signature covers
	spelling  string
	userAgent string
	timeout   time.Duration
	pipeline  runtime.Pipeline
	limit     *limiter
	observer  CallObserver
	now       func() time.Time
}

var _ portal.ACS = (*Client)(nil)

// New returns a Client, or an EINVALID error naming what is wrong with opts.
func New(opts Options) (*Client, error) {
	endpoint, err := NormalizeEndpoint(opts.Endpoint)
	if err != nil {
		return nil, err
	}
	if (len(opts.AccessKey) == 0) == (opts.Credential == nil) {
		return nil, portal.Errorf(portal.EINVALID, "The ACS client needs exactly one of an access key and a token credential.")
	}
	spelling := opts.ResourceAccountSpelling
	switch spelling {
	case "":
		spelling = "teamsResourceAccount"
	case "teamsResourceAccount", "resourceAccount":
	default:
		return nil, portal.Errorf(portal.EINVALID, "The resource-account spelling must be teamsResourceAccount or resourceAccount, not %q.", spelling)
	}
	if opts.APIVersion == "" {
		opts.APIVersion = APIVersion
	}
	if err := CheckAPIVersion(opts.APIVersion); err != nil {
		return nil, err
	}
	apiQuery := "api-version=" + opts.APIVersion
	setDefault(&opts.MaxConcurrency, DefaultMaxConcurrency)
	setDefault(&opts.MaxRetries, 4)
	setDefault(&opts.RetryDelay, 500*time.Millisecond)
	setDefault(&opts.MaxRetryAfter, 30*time.Second)
	setDefault(&opts.TryTimeout, 10*time.Second)
	setDefault(&opts.Timeout, 60*time.Second)
	if opts.Now == nil {
		opts.Now = time.Now
	}

	var auth policy.Policy
	if opts.Credential != nil {
		auth = runtime.NewBearerTokenPolicy(opts.Credential, []string{Scope}, &policy.BearerTokenOptions{
			// NormalizeEndpoint allows http only on loopback (the emulator).
			InsecureAllowCredentialWithHTTP: strings.HasPrefix(endpoint, "http://"),
		})
	} else {
		auth = newHMACPolicy(opts.AccessKey, opts.Now)
	}
	clientOpts := &policy.ClientOptions{
		Retry: policy.RetryOptions{
			MaxRetries:    int32(opts.MaxRetries),
			TryTimeout:    opts.TryTimeout,
			RetryDelay:    opts.RetryDelay,
			MaxRetryDelay: opts.MaxRetryAfter,
			StatusCodes:   []int{http.StatusRequestTimeout, http.StatusTooManyRequests, 500, 502, 503, 504},
		},
		// The User-Agent azcore's telemetry policy would add is set with
		// the call's other headers instead (see userAgent): the policy
		// looks it up and sets it again on every call.
		Telemetry: policy.TelemetryOptions{Disabled: true},
		Transport: cappedTransport{next: opts.Transport},
	}
	limit := newLimiter(opts.MaxConcurrency, opts.MaxRetryAfter)
	if opts.FixedConcurrency {
		limit = fixedLimiter(opts.MaxConcurrency)
	}
	pl := runtime.NewPipeline(module, version, runtime.PipelineOptions{
		PerRetry: []policy.Policy{eachTry(apiQuery), policyFunc(limit.adapt), auth},
	}, clientOpts)
	scheme, host, _ := strings.Cut(endpoint, "://")
	return &Client{
		scheme:    scheme,
		host:      removeEmptyPort(host),
		spelling:  spelling,
		userAgent: userAgent(applicationID, module, version),
		timeout:   opts.Timeout,
		pipeline:  pl,
		limit:     limit,
		observer:  opts.Observer,
		now:       opts.Now,
	}, nil
}

// CallsAllowed returns how many background calls the client lets in flight
// now, between 1 and Options.MaxConcurrency as ACS's answers have moved it
// (people's calls may start while fewer than 8 are in flight). A bulk job
// sizes its workers by it, so that it holds no more rows (and their locks)
// than the calls it can make.
func (c *Client) CallsAllowed() int { return c.limit.current() }

// The names the client gives itself in its User-Agent.
const (
	applicationID = "teams-phone-portal"
	module        = "acs"
	version       = "v1"
)

// userAgent is what azcore's telemetry policy (NewTelemetryPolicy) sends:
// "<application> azsdk-go-<module>/<version> (<go version>; <os>)".
func userAgent(app, mod, ver string) string {
	osName := goruntime.GOOS
	if osName == "windows" {
		osName = os.Getenv("OS")
	}
	return app + " azsdk-go-" + mod + "/" + ver + " (" + goruntime.Version() + "; " + osName + ")"
}

// removeEmptyPort drops a trailing ':' with no port after it, as
// http.NewRequest does for the Host it sends.
func removeEmptyPort(host string) string {
	if strings.LastIndexByte(host, ':') > strings.LastIndexByte(host, ']') {
		return strings.TrimSuffix(host, ":")
	}
	return host
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// wireAssignment is the JSON ACS sends and receives.
type wireAssignment struct {
	ObjectID      string   `json:"objectId,omitempty"`
	TenantID      string   `json:"tenantId,omitempty"`
	PrincipalType string   `json:"principalType"`
	ClientIDs     []string `json:"clientIds,omitempty"`
}

// GetAssignment returns the assignment ACS holds for (tenant, object), or an
// ENOTFOUND error when it has none. A principalType in an unknown spelling is
// tolerated: the assignment comes back with KindUnknown and its Spelling set.
func (c *Client) GetAssignment(ctx context.Context, tenant, object portal.GUID) (portal.Assignment, portal.ACSCall, error) {
	var a portal.Assignment
	status, call, err := c.do(ctx, http.MethodGet, tenant, object, nil, func(status int, body []byte) (err error) {
		if status == http.StatusOK {
			a, err = decodeAssignment(body, tenant, object)
		}
		return err
	})
	if err != nil {
		return portal.Assignment{}, call, err
	}
	if status != http.StatusOK {
		return portal.Assignment{}, call, unexpectedStatus(status, call)
	}
	return a, call, nil
}

// PutAssignment creates or wholly replaces a's assignment in ACS. created is
// true when ACS answered 201. a must pass Validate; otherwise nothing is sent
// and the error has code EINVALID.
func (c *Client) PutAssignment(ctx context.Context, a portal.Assignment) (created bool, call portal.ACSCall, err error) {
	a.ClientIDs = portal.NormalizeClientIDs(a.ClientIDs)
	if err := a.Validate(); err != nil {
		return false, portal.ACSCall{}, err
	}
	w := wireAssignment{PrincipalType: "user"}
	if a.Kind == portal.KindResourceAccount {
		w.PrincipalType = c.spelling
	}
	for _, id := range a.ClientIDs {
		w.ClientIDs = append(w.ClientIDs, id.String())
	}
	payload, err := json.Marshal(w)
	if err != nil {
		return false, portal.ACSCall{}, err
	}
	status, call, err := c.do(ctx, http.MethodPut, a.TenantID, a.ObjectID, payload, nil)
	if err != nil {
		return false, call, err
	}
	switch status {
	case http.StatusCreated:
		return true, call, nil
	case http.StatusOK:
		return false, call, nil
	}
	return false, call, unexpectedStatus(status, call)
}

// DeleteAssignment removes the assignment of (tenant, object), which revokes
// the principal's tokens at once. alreadyGone is true, with no error, when ACS
// had none (404) — as a retried DELETE whose first attempt landed will see.
func (c *Client) DeleteAssignment(ctx context.Context, tenant, object portal.GUID) (alreadyGone bool, call portal.ACSCall, err error) {
	status, call, err := c.do(ctx, http.MethodDelete, tenant, object, nil, nil)
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return true, call, nil
	}
	if err != nil {
		return false, call, err
	}
	if status != http.StatusNoContent && status != http.StatusOK {
		return false, call, unexpectedStatus(status, call)
	}
	return false, call, nil
}

// do sends one logical call (see send) and tells the observer, if any.
func (c *Client) do(ctx context.Context, method string, tenant, object portal.GUID, payload []byte, handle func(status int, body []byte) error) (int, portal.ACSCall, error) {
	if c.observer == nil {
		return c.send(ctx, method, tenant, object, payload, handle)
	}
	start := time.Now()
	status, call, err := c.send(ctx, method, tenant, object, payload, handle)
	c.observer.ObserveACSCall(method, call.Status, call.Attempts, time.Since(start))
	return status, call, err
}

// send sends one logical call: it waits for a concurrency slot, sends with one
// client request ID on every attempt, and reads a capped body. A non-2xx
// answer comes back as an error wrapping *ResponseError; a 2xx answer's
// status and body go to handle, if not nil, whose error do returns. The body
// is only valid during handle: its buffer is reused.
func (c *Client) send(ctx context.Context, method string, tenant, object portal.GUID, payload []byte, handle func(status int, body []byte) error) (int, portal.ACSCall, error) {
	call := portal.ACSCall{RequestID: uuid.NewString()}
	if tenant.IsZero() || object.IsZero() {
		return 0, call, portal.Errorf(portal.EINVALID, "Both a tenant ID and an object ID are needed.")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	slot := &callSlot{background: portal.IsBackground(ctx)}
	if err := c.limit.acquire(ctx, slot.background); err != nil {
		if errors.Is(err, errNotSent) {
			return 0, call, notSentError(err)
		}
		return 0, call, portal.Wrap(err, portal.EUNAVAILABLE, "The portal is busy talking to ACS; try again in a moment.")
	}
	slot.held = true
	defer c.limit.done(slot)
	ctx = context.WithValue(ctx, slotKey{}, slot)

	attempts := new(atomic.Int32)
	ctx = context.WithValue(ctx, attemptsKey{}, attempts)
	req, err := c.newRequest(ctx, method, tenant, object, call.RequestID, payload)
	if err != nil {
		return 0, call, portal.Wrap(err, portal.EINTERNAL, "The portal could not build the request to ACS.")
	}
	// Read the body ourselves, with a cap, instead of letting azcore buffer
	// whatever size the server sends.
	runtime.SkipBodyDownload(req)

	resp, err := c.pipeline.Do(req)
	call.Attempts = int(attempts.Load())
	if err != nil {
		return 0, call, transportError(ctx, err)
	}
	defer resp.Body.Close()
	call.Status = resp.StatusCode
	// The canonical key looked up directly: Header.Get("MS-CV") would
	// allocate the canonical form on every call.
	if cv := resp.Header["Ms-Cv"]; len(cv) > 0 {
		call.CorrelationVector = cv[0]
	}
	buf := bodyBuffers.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= maxPooledBody {
			bodyBuffers.Put(buf)
		}
	}()
	body, err := readCapped(resp.Body, (*buf)[:0], maxResponseBody)
	*buf = body
	if err != nil {
		return 0, call, portal.Wrap(err, portal.EUNAVAILABLE, "The connection to ACS broke while it was answering; the change may or may not have been made.")
	}
	if len(body) > maxResponseBody {
		return 0, call, portal.Errorf(portal.EUNAVAILABLE, "ACS sent an answer too large to be an assignment.")
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, call, responseError(resp, body, call, c.now())
	}
	if handle != nil {
		if err := handle(resp.StatusCode, body); err != nil {
			return resp.StatusCode, call, err
		}
	}
	return resp.StatusCode, call, nil
}

// newRequest builds the request of one call. The URL is assembled from its
// parts rather than parsed: GUIDs print as plain hex and dashes, so the path
// needs no escaping and can never hold another segment.
func (c *Client) newRequest(ctx context.Context, method string, tenant, object portal.GUID, requestID string, payload []byte) (*policy.Request, error) {
	var p [len(tenantsPath) + 36 + len(assignmentsPath) + 36]byte
	path := append(p[:0], tenantsPath...)
	path = tenant.AppendString(path)
	path = append(path, assignmentsPath...)
	path = object.AppendString(path)
	// The request's own headers, canonical keys set directly, their values
	// in one allocation. The URL has no query: eachTry adds api-version to
	// each try's copy of it.
	vals := []string{requestID, "application/json", c.userAgent}
	raw := (&http.Request{
		Method:     method,
		URL:        &url.URL{Scheme: c.scheme, Host: c.host, Path: string(path)},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header: http.Header{
			"X-Ms-Client-Request-Id": vals[0:1:1],
			"Accept":                 vals[1:2:2],
			"User-Agent":             vals[2:3:3],
		},
		Host: c.host,
	}).WithContext(ctx)
	req, err := runtime.NewRequestFromRequest(raw)
	if err != nil {
		return nil, err
	}
	if payload != nil {
		if err := req.SetBody(streaming.NopCloser(bytes.NewReader(payload)), "application/json"); err != nil {
			return nil, err
		}
	}
	return req, nil
}

const (
	tenantsPath     = "/access/teamsExtension/tenants/"
	assignmentsPath = "/assignments/"
)

// Response bodies are read into pooled buffers; one that grew past
// maxPooledBody (an oversized answer) is left to the garbage collector.
const maxPooledBody = 64 << 10

var bodyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// readCapped appends what r yields to b until EOF or until b holds more
// than limit bytes (at most limit+1 are read), like
// io.ReadAll(io.LimitReader(r, limit+1)) but into b.
func readCapped(r io.Reader, b []byte, limit int) ([]byte, error) {
	for len(b) <= limit {
		if len(b) == cap(b) {
			b = slices.Grow(b, min(max(cap(b), 512), limit+1-len(b)))
		}
		n, err := r.Read(b[len(b):min(cap(b), limit+1)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// cappedTransport caps every response body at maxResponseBody. The client
// reads success bodies itself with that cap, but azcore reads error bodies
// (and the retry policy drains failed tries) in full before the client sees
// them: without this, a 50 MB error page would be held in memory.
type cappedTransport struct{ next policy.Transporter }

// defaultTransport is what azcore would use (its internal
// DefaultHTTPClient): TLS 1.2 at least, proxies from the environment, HTTP/2
// when offered, kept-alive connections.
var defaultTransport = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	ForceAttemptHTTP2:     true,
	MaxIdleConns:          100,
	MaxIdleConnsPerHost:   10,
	IdleConnTimeout:       90 * time.Second,
	TLSHandshakeTimeout:   10 * time.Second,
	ExpectContinueTimeout: time.Second,
	TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
}}

func (t cappedTransport) Do(req *http.Request) (*http.Response, error) {
	var resp *http.Response
	var err error
	if t.next != nil {
		resp, err = t.next.Do(req)
	} else {
		resp, err = defaultTransport.Do(req)
	}
	if resp != nil && resp.Body != nil {
		resp.Body = &cappedBody{ReadCloser: resp.Body, left: maxResponseBody + 1}
	}
	return resp, err
}

// errBodyTooLarge ends a response body that passes the cap.
var errBodyTooLarge = errors.New("acs: response body larger than 1 MiB")

type cappedBody struct {
	io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

// notSentError is a call given up before it was sent (see errNotSent).
func notSentError(err error) error {
	return portal.NotSent(err)
}

func transportError(ctx context.Context, err error) error {
	if errors.Is(err, errNotSent) {
		return notSentError(err) // a retry's turn, given up (see limiter.adapt)
	}
	if errors.Is(err, errBodyTooLarge) {
		return portal.Wrap(err, portal.EUNAVAILABLE, "ACS sent an answer too large to be an assignment.")
	}
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return portal.Wrap(err, portal.EUNAVAILABLE, "ACS did not answer in time.")
	}
	return portal.Wrap(err, portal.EUNAVAILABLE, "ACS could not be reached.")
}

// maxOddClientIDs bounds the client IDs that are not GUIDs kept from one
// answer (each cut at 64 characters).
const maxOddClientIDs = 20

func decodeAssignment(body []byte, tenant, object portal.GUID) (portal.Assignment, error) {
	var w wireAssignment
	unreadable := func(err error) error {
		return portal.Wrap(err, portal.EUNAVAILABLE, "ACS sent an assignment the portal could not read.")
	}
	// The client IDs are kept apart from w, in a buffer on the stack: w's
	// strings escape, and escape analysis would take the buffer with them.
	var buf [4]string
	list, ok := scanAssignment(string(body), &w, buf[:0])
	if !ok {
		var jw wireAssignment // its own variable, so that w stays on the stack
		if err := json.Unmarshal(body, &jw); err != nil {
			return portal.Assignment{}, unreadable(err)
		}
		w, list = jw, jw.ClientIDs
	}
	a := portal.Assignment{TenantID: tenant, ObjectID: object, Spelling: w.PrincipalType}
	// An unknown principalType is tolerated (the spec's enum is open), so the
	// portal can still show what ACS holds.
	a.Kind, _ = portal.ParsePrincipalKind(w.PrincipalType)
	for _, field := range [...]struct {
		got  string
		want portal.GUID
	}{{w.TenantID, tenant}, {w.ObjectID, object}} {
		if field.got == "" {
			continue
		}
		var canonical [36]byte
		if field.got == string(field.want.AppendString(canonical[:0])) {
			continue // what ACS sends; ParseGUID below takes any other spelling
		}
		if g, err := portal.ParseGUID(field.got); err != nil || g != field.want {
			return portal.Assignment{}, unreadable(fmt.Errorf("response names %q, asked for %s", field.got, field.want))
		}
	}
	// Not ParseClientIDs: its cap is for what people type. An assignment
	// made outside the portal with more IDs must still be readable, so it
	// can be shown, verified and repaired.
	// One that is not a GUID at all is kept as sent, to be shown flagged:
	// failing the read would hide the assignment it belongs to.
	clientIDs := make([]portal.GUID, 0, len(list))
	for _, v := range list {
		id, err := portal.ParseGUID(strings.TrimSpace(v))
		if err != nil {
			if len(a.OddClientIDs) < maxOddClientIDs {
				a.OddClientIDs = append(a.OddClientIDs, capText(v, 64))
			}
			continue
		}
		clientIDs = append(clientIDs, id)
	}
	a.ClientIDs = portal.NormalizeClientIDs(clientIDs)
	return a, nil
}

// scanAssignment reads an assignment the way json.Unmarshal would into w,
// for the shape ACS sends: one object whose members are among the four of
// wireAssignment, named exactly, with strings of printable ASCII and no
// escapes, or (clientIds) an array of them. The client IDs are appended to
// ids and returned, not stored in w. On anything else — other or
// differently cased names, escapes, non-ASCII, null, numbers, malformed
// JSON — it reports false, and the caller leaves the body to encoding/json,
// which reads or refuses it. The strings it returns are substrings of s.
func scanAssignment(s string, w *wireAssignment, ids []string) ([]string, bool) {
	i := skipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return ids, false
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return ids, skipSpace(s, i+1) == len(s)
	}
	for {
		name, j, ok := scanString(s, i)
		if !ok {
			return ids, false
		}
		i = skipSpace(s, j)
		if i >= len(s) || s[i] != ':' {
			return ids, false
		}
		i = skipSpace(s, i+1)
		var v string
		switch name {
		case "objectId", "tenantId", "principalType":
			if v, i, ok = scanString(s, i); !ok {
				return ids, false
			}
			switch name {
			case "objectId":
				w.ObjectID = v
			case "tenantId":
				w.TenantID = v
			default:
				w.PrincipalType = v
			}
		case "clientIds":
			if i >= len(s) || s[i] != '[' {
				return ids, false
			}
			// Like json.Unmarshal, a repeated member replaces the list.
			ids = ids[:0]
			i = skipSpace(s, i+1)
			if i < len(s) && s[i] == ']' {
				i++
				break
			}
			for {
				if v, i, ok = scanString(s, i); !ok {
					return ids, false
				}
				ids = append(ids, v)
				i = skipSpace(s, i)
				if i >= len(s) {
					return ids, false
				}
				if s[i] == ']' {
					i++
					break
				}
				if s[i] != ',' {
					return ids, false
				}
				i = skipSpace(s, i+1)
			}
		default:
			return ids, false
		}
		i = skipSpace(s, i)
		if i >= len(s) {
			return ids, false
		}
		switch s[i] {
		case ',':
			i = skipSpace(s, i+1)
		case '}':
			return ids, skipSpace(s, i+1) == len(s)
		default:
			return ids, false
		}
	}
}

// scanString reads the JSON string at s[i:] if it is plain printable ASCII
// with no escapes, returning its contents and the index after its closing
// quote.
func scanString(s string, i int) (string, int, bool) {
	if i >= len(s) || s[i] != '"' {
		return "", i, false
	}
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			return s[i+1 : j], j + 1, true
		case c < 0x20 || c == '\\' || c >= 0x80:
			return "", i, false
		}
	}
	return "", i, false
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// attempts counting: a per-retry policy bumps a counter the call created.
type attemptsKey struct{}

// eachTry is the first policy of every try. It counts the attempt, and it
// puts the api-version query on the try's URL, a copy the retry policy has
// just made: the request itself carries none, because azcore's retry policy
// formats the URL for its log on every try, even with no log listener, and
// re-encoding a query is the costliest part of that.
func eachTry(apiQuery string) policyFunc {
	return func(req *policy.Request) (*http.Response, error) {
		if n, ok := req.Raw().Context().Value(attemptsKey{}).(*atomic.Int32); ok {
			n.Add(1)
		}
		if u := req.Raw().URL; u.RawQuery == "" {
			u.RawQuery = apiQuery
		}
		return req.Next()
	}
}

type policyFunc func(*policy.Request) (*http.Response, error)

func (f policyFunc) Do(req *policy.Request) (*http.Response, error) { return f(req) }
