// Package acs is the portal's client for the ACS Teams Phone extensibility
// access-assignment API: GET, PUT and DELETE of one assignment, on the azcore
// pipeline (retries with backoff and Retry-After, per-try timeouts), signed
// with an access key (HMAC) or an Entra token from an azidentity credential.
//
// There is no Go data-plane SDK for this API, hence this package.
package acs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/google/uuid"

	"github.com/teamsphone/portal/internal/portal"
)

// APIVersion is the api-version this client speaks.
const APIVersion = "2025-06-30"

// Scope is the Entra scope of an ACS data-plane token.
const Scope = "https://communication.azure.com/.default"

// maxResponseBody caps what is read of any response: an assignment is a few
// hundred bytes, so anything near this is a fault, not data worth holding.
const maxResponseBody = 1 << 20

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

	// ResourceAccountSpelling is the principalType sent for resource accounts:
	// "teamsResourceAccount" (default, what the docs and live use) or
	// "resourceAccount" (the OpenAPI spec's enum).
	ResourceAccountSpelling string

	// MaxConcurrency bounds the calls in flight to ACS across every caller of
	// this client (default 8); further calls wait their turn.
	MaxConcurrency int
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
	// Now stamps x-ms-date (default time.Now).
	Now func() time.Time
}

// Client calls ACS. It is safe for concurrent use; its concurrency bound is
// shared by every caller.
type Client struct {
	endpoint string
	spelling string
	timeout  time.Duration
	pipeline runtime.Pipeline
	slots    chan struct{}
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
	setDefault(&opts.MaxConcurrency, 8)
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
		Telemetry: policy.TelemetryOptions{ApplicationID: "teams-phone-portal"},
		Transport: opts.Transport,
	}
	pl := runtime.NewPipeline("acs", "v1", runtime.PipelineOptions{
		PerRetry: []policy.Policy{policyFunc(countAttempt), auth},
	}, clientOpts)
	return &Client{
		endpoint: endpoint,
		spelling: spelling,
		timeout:  opts.Timeout,
		pipeline: pl,
		slots:    make(chan struct{}, opts.MaxConcurrency),
	}, nil
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
	resp, body, call, err := c.do(ctx, http.MethodGet, tenant, object, nil)
	if err != nil {
		return portal.Assignment{}, call, err
	}
	if resp.StatusCode != http.StatusOK {
		return portal.Assignment{}, call, unexpectedStatus(resp, call)
	}
	a, err := decodeAssignment(body, tenant, object)
	if err != nil {
		return portal.Assignment{}, call, err
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
	resp, _, call, err := c.do(ctx, http.MethodPut, a.TenantID, a.ObjectID, payload)
	if err != nil {
		return false, call, err
	}
	switch resp.StatusCode {
	case http.StatusCreated:
		return true, call, nil
	case http.StatusOK:
		return false, call, nil
	}
	return false, call, unexpectedStatus(resp, call)
}

// DeleteAssignment removes the assignment of (tenant, object), which revokes
// the principal's tokens at once. alreadyGone is true, with no error, when ACS
// had none (404) — as a retried DELETE whose first attempt landed will see.
func (c *Client) DeleteAssignment(ctx context.Context, tenant, object portal.GUID) (alreadyGone bool, call portal.ACSCall, err error) {
	resp, _, call, err := c.do(ctx, http.MethodDelete, tenant, object, nil)
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return true, call, nil
	}
	if err != nil {
		return false, call, err
	}
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return false, call, unexpectedStatus(resp, call)
	}
	return false, call, nil
}

// do sends one logical call: it waits for a concurrency slot, sends with one
// client request ID on every attempt, and reads a capped body. A non-2xx
// answer comes back as an error wrapping *ResponseError.
func (c *Client) do(ctx context.Context, method string, tenant, object portal.GUID, payload []byte) (*http.Response, []byte, portal.ACSCall, error) {
	call := portal.ACSCall{RequestID: uuid.NewString()}
	if tenant.IsZero() || object.IsZero() {
		return nil, nil, call, portal.Errorf(portal.EINVALID, "Both a tenant ID and an object ID are needed.")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	select {
	case c.slots <- struct{}{}:
		defer func() { <-c.slots }()
	case <-ctx.Done():
		return nil, nil, call, portal.Wrap(ctx.Err(), portal.EUNAVAILABLE, "The portal is busy talking to ACS; try again in a moment.")
	}

	attempts := new(atomic.Int32)
	ctx = context.WithValue(ctx, attemptsKey{}, attempts)
	// GUIDs print as plain hex and dashes, so the path needs no escaping and
	// can never hold another segment.
	u := c.endpoint + "/access/teamsExtension/tenants/" + tenant.String() + "/assignments/" + object.String() + "?api-version=" + APIVersion
	req, err := runtime.NewRequest(ctx, method, u)
	if err != nil {
		return nil, nil, call, portal.Wrap(err, portal.EINTERNAL, "The portal could not build the request to ACS.")
	}
	req.Raw().Header.Set("x-ms-client-request-id", call.RequestID)
	req.Raw().Header.Set("Accept", "application/json")
	if payload != nil {
		if err := req.SetBody(streaming.NopCloser(bytes.NewReader(payload)), "application/json"); err != nil {
			return nil, nil, call, portal.Wrap(err, portal.EINTERNAL, "The portal could not build the request to ACS.")
		}
	}
	// Read the body ourselves, with a cap, instead of letting azcore buffer
	// whatever size the server sends.
	runtime.SkipBodyDownload(req)

	resp, err := c.pipeline.Do(req)
	call.Attempts = int(attempts.Load())
	if err != nil {
		return nil, nil, call, transportError(ctx, err)
	}
	defer resp.Body.Close()
	call.Status = resp.StatusCode
	call.CorrelationVector = resp.Header.Get("MS-CV")
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	if err != nil {
		return nil, nil, call, portal.Wrap(err, portal.EUNAVAILABLE, "The connection to ACS broke while it was answering; the change may or may not have been made.")
	}
	if len(body) > maxResponseBody {
		return nil, nil, call, portal.Errorf(portal.EUNAVAILABLE, "ACS sent an answer too large to be an assignment.")
	}
	if resp.StatusCode >= 300 {
		return resp, body, call, responseError(resp, body, call)
	}
	return resp, body, call, nil
}

func transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return portal.Wrap(err, portal.EUNAVAILABLE, "ACS did not answer in time.")
	}
	return portal.Wrap(err, portal.EUNAVAILABLE, "ACS could not be reached.")
}

func decodeAssignment(body []byte, tenant, object portal.GUID) (portal.Assignment, error) {
	var w wireAssignment
	unreadable := func(err error) error {
		return portal.Wrap(err, portal.EUNAVAILABLE, "ACS sent an assignment the portal could not read.")
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return portal.Assignment{}, unreadable(err)
	}
	a := portal.Assignment{TenantID: tenant, ObjectID: object, Spelling: w.PrincipalType}
	// An unknown principalType is tolerated (the spec's enum is open), so the
	// portal can still show what ACS holds.
	a.Kind, _ = portal.ParsePrincipalKind(w.PrincipalType)
	for _, field := range []struct {
		got  string
		want portal.GUID
	}{{w.TenantID, tenant}, {w.ObjectID, object}} {
		if field.got == "" {
			continue
		}
		if g, err := portal.ParseGUID(field.got); err != nil || g != field.want {
			return portal.Assignment{}, unreadable(fmt.Errorf("response names %q, asked for %s", field.got, field.want))
		}
	}
	ids, err := portal.ParseClientIDs(w.ClientIDs)
	if err != nil {
		return portal.Assignment{}, unreadable(err)
	}
	a.ClientIDs = ids
	return a, nil
}

// attempts counting: a per-retry policy bumps a counter the call created.
type attemptsKey struct{}

func countAttempt(req *policy.Request) (*http.Response, error) {
	if n, ok := req.Raw().Context().Value(attemptsKey{}).(*atomic.Int32); ok {
		n.Add(1)
	}
	return req.Next()
}

type policyFunc func(*policy.Request) (*http.Response, error)

func (f policyFunc) Do(req *policy.Request) (*http.Response, error) { return f(req) }
