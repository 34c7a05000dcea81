// Package graphemu emulates the few Microsoft Graph calls the portal makes to
// show people, resource accounts and apps by name, and to check whether
// access can work (service principals, delegated permission grants,
// people's accountEnabled and assignedPlans, resource accounts' app ID,
// binding and number), as an http.Handler, so that dev mode and tests can
// run without a Microsoft Entra tenant.
//
// It is the sibling of acsemu and behaves the same way where it can: the
// same fault injection (acsemu.Fault, acsemu.Rates, acsemu.ParseRates), the
// same request log, the same order of "fault first, then the real answer".
// It is meant to be faithful where a client can tell the difference: the
// routes, query options, headers, error bodies and statuses Microsoft
// documents, including the awkward ones ($search needs ConsistencyLevel,
// $top is capped at 999, getByIds silently leaves out what it cannot find).
//
// The tenant of every call comes only from the verified bearer token (see
// Config.Verify): there is no tenant in any Graph URL, so one tenant's
// directory can never be read with another tenant's token.
//
// Graph calls it serves: GET /v1.0/users ($search, $filter with startswith
// or id in (…) of at most 15 IDs, $select including accountEnabled and
// assignedPlans for a token that may read full profiles), GET
// /v1.0/users/{id}, POST /v1.0/directoryObjects/getByIds, GET
// /v1.0/servicePrincipals(appId='…'), GET /v1.0/oauth2PermissionGrants
// ($filter on clientId, resourceId, consentType, principalId) and GET
// /beta/admin/teams/resourceAccounts. Each needs one of the permissions
// Microsoft documents for it (routeScopes), or answers 403.
//
// Beside faults (Script, SetRates) a tenant's admin can be made to
// withhold consent to permissions (Withhold): the calls needing them
// answer 403 Authorization_RequestDenied. And the directory can be changed
// while the emulator runs, by the Add methods or, for people with curl, by
// the state routes under /_emulator/tenants/{tenant} (see serveControl for
// the list): create a service principal (POST …/servicePrincipals
// {"appId":…}), add or delete a permission grant (POST
// …/oauth2PermissionGrants {"clientAppId":…,"resourceAppId":…,
// "consentType":"AllPrincipals","scope":…}), enable a person or give them
// Teams Phone (PATCH …/users/{id} {"accountEnabled":true,
// "assignedPlans":[…]}), bind a resource account or set its number or app
// ID (PATCH …/resourceAccounts/{id} {"acsResourceId":…,"phoneNumber":…,
// "appId":…}), withhold permissions (PUT …/withheldPermissions [...]) and
// read the tenant's whole state (GET /_emulator/tenants/{tenant}). They
// take no token and no fault: serve the emulator on loopback only.
package graphemu

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/portal"
)

// maxBodyBytes bounds what is read of a request body. A getByIds body of
// 1000 IDs is about 40 KiB; 1 MiB leaves room for a client that sends too
// many (which must get Graph's 400, not a read error) without letting one
// make the emulator buffer gigabytes.
const maxBodyBytes = 1 << 20

// Config configures an Emulator. The zero value is valid but refuses every
// request with 401: set Verify.
type Config struct {
	// Verify checks a bearer token (without its "Bearer " prefix) and
	// returns the tenant it was issued for and the permissions it grants
	// (delegated scp or application roles, short names such as
	// "User.ReadBasic.All"). An error, or a zero tenant, is a 401. Nil
	// refuses every token. See StaticTokens.
	Verify func(r *http.Request, token string) (tenant portal.GUID, scopes []string, err error)
	// Logger, when set, receives one line per request. Nil logs nothing.
	Logger *slog.Logger
	// Now is the clock of Date headers, innerError dates and the request
	// log. Default time.Now.
	Now func() time.Time
	// Rand drives the random fault rates (see SetRates). Default: randomly
	// seeded. It is only used under the emulator's lock.
	Rand *mathrand.Rand
	// MaxPageSize caps every page of a list, whatever $top asks: Graph
	// may return fewer objects than $top, and a client must follow
	// @odata.nextLink regardless. 0: no cap below $top.
	MaxPageSize int
}

// Emulator is an emulated Microsoft Graph holding one directory per tenant.
// It is safe for concurrent use. Create it with New; call Close when done so
// that hanging requests (acsemu.Fault.Hang) are released.
type Emulator struct {
	verify func(r *http.Request, token string) (portal.GUID, []string, error)
	logger *slog.Logger
	now    func() time.Time
	// maxPage is Config.MaxPageSize.
	maxPage int

	closed    chan struct{}
	closeOnce sync.Once

	// control serves the state routes (control.go), built once.
	control     http.Handler
	controlOnce sync.Once

	// mu guards everything below. It is never held while waiting on a
	// client or a timer.
	mu       sync.Mutex
	tenants  map[portal.GUID]*directory
	requests []*Request
	script   []acsemu.Fault
	rates    acsemu.Rates
	rng      *mathrand.Rand
}

// New returns an empty Emulator for cfg.
func New(cfg Config) *Emulator {
	e := &Emulator{
		verify:  cfg.Verify,
		logger:  cfg.Logger,
		now:     cfg.Now,
		closed:  make(chan struct{}),
		tenants: make(map[portal.GUID]*directory),
		rng:     cfg.Rand,
		maxPage: cfg.MaxPageSize,
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.rng == nil {
		e.rng = mathrand.New(mathrand.NewPCG(mathrand.Uint64(), mathrand.Uint64()))
	}
	return e
}

// Close releases every request that is hanging or waiting out injected
// latency: their connections are dropped at once, and later requests with
// a hang fault are dropped immediately. The directory is kept. Close may be
// called more than once.
func (e *Emulator) Close() {
	e.closeOnce.Do(func() { close(e.closed) })
}

// pageSize is how many objects a page holds when the client asked for top.
func (e *Emulator) pageSize(top int) int {
	if e.maxPage > 0 {
		return min(top, e.maxPage)
	}
	return top
}

// reply is one HTTP answer, built before anything is written so that faults
// can drop or truncate it.
type reply struct {
	status int
	header http.Header // extra headers, e.g. Allow or Retry-After
	body   []byte      // nil: no body
}

// call is what the emulator learnt about a request before answering it.
type call struct {
	r  *http.Request
	at time.Time // arrival, by Config.Now
	// requestID is the request-id of the answer; clientRequestID is the
	// caller's client-request-id, or requestID when it sent none (as Graph
	// does). Both are repeated in the innerError of an error body.
	requestID, clientRequestID string
	body                       []byte
	readErr                    error
	tenant                     portal.GUID // zero unless authenticated
	scopes                     []string
	authKind                   string // "ok", "none" or "bad", for the request log
	authDeny                   string // message of the 401; "" when authenticated
}

// ServeHTTP answers one request: a state route (under /_emulator/) at
// once; a Graph call after logging it and applying the next fault
// (scripted first, then random rates), and otherwise checking, in this
// order, authentication (401), route (404), method (405), permission (403,
// less what the tenant withholds) and query or body (400) before reading
// the directory.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, controlPrefix) {
		e.serveControl(w, r)
		return
	}
	entry, fault := e.arrive(r)
	c := e.inspect(r)
	e.mu.Lock()
	entry.Body = c.body
	entry.Tenant = c.tenant
	entry.Auth = c.authKind
	e.mu.Unlock()

	ctx := r.Context()
	if fault.Latency > 0 && !e.wait(ctx, fault.Latency) {
		e.finish(entry, 0)
		acsemu.DropConnection(w)
		return
	}
	switch {
	case fault.Hang:
		e.wait(ctx, -1)
		e.finish(entry, 0)
		acsemu.DropConnection(w)
		return
	case fault.Reset:
		e.finish(entry, 0)
		acsemu.DropConnection(w)
		return
	case fault.Status != 0:
		rep := e.faultReply(c, fault)
		e.finish(entry, rep.status)
		e.send(w, c, rep)
		return
	}

	rep := e.handle(c)
	if fault.ResetAfterApply {
		e.finish(entry, 0)
		acsemu.DropConnection(w)
		return
	}
	if fault.TruncateBody && rep.body != nil {
		rep.body = rep.body[:len(rep.body)/2]
	}
	e.finish(entry, rep.status)
	e.send(w, c, rep)
}

// inspect reads the body and authenticates. It acts on nothing: faults come
// first, and the log records who called even for faulted requests.
func (e *Emulator) inspect(r *http.Request) *call {
	c := &call{r: r, at: e.now(), requestID: newGUID(), clientRequestID: r.Header.Get("client-request-id")}
	if c.clientRequestID == "" {
		c.clientRequestID = c.requestID
	}
	if r.Body != nil {
		c.body, c.readErr = io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
		if c.readErr == nil && len(c.body) > maxBodyBytes {
			c.readErr = errors.New("body too large")
		}
	}
	c.tenant, c.scopes, c.authKind, c.authDeny = e.authenticate(r)
	if !c.tenant.IsZero() {
		e.mu.Lock()
		c.scopes = e.withoutWithheldLocked(c.tenant, c.scopes)
		e.mu.Unlock()
	}
	return c
}

// route is one operation the emulator serves.
type route int

const (
	routeNone route = iota
	routeUserList
	routeUserGet
	routeGetByIDs
	routeResourceAccounts
	routeServicePrincipal
	routeGrants
)

// matchRoute maps a request path to an operation and its key (the user ID
// or UPN, or the appId), both unescaped. It splits the escaped path so that
// an encoded slash stays inside its segment. Paths are matched with their
// case as Microsoft documents them: a client that spells them differently
// should find out here, not in production.
func matchRoute(escapedPath string) (rt route, key string) {
	segs := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	unescape := func(s string) (string, bool) {
		u, err := url.PathUnescape(s)
		return u, err == nil
	}
	switch {
	case len(segs) == 2 && segs[0] == "v1.0" && segs[1] == "users":
		return routeUserList, ""
	case len(segs) == 3 && segs[0] == "v1.0" && segs[1] == "users" && segs[2] != "":
		if k, ok := unescape(segs[2]); ok {
			return routeUserGet, k
		}
	case len(segs) == 3 && segs[0] == "v1.0" && segs[1] == "directoryObjects" &&
		(segs[2] == "getByIds" || segs[2] == "microsoft.graph.getByIds"):
		return routeGetByIDs, ""
	case len(segs) == 2 && segs[0] == "v1.0" && segs[1] == "oauth2PermissionGrants":
		return routeGrants, ""
	case len(segs) == 4 && segs[0] == "beta" && segs[1] == "admin" && segs[2] == "teams" && segs[3] == "resourceAccounts":
		return routeResourceAccounts, ""
	case len(segs) == 2 && segs[0] == "v1.0":
		// servicePrincipals(appId='…'): the quotes may arrive escaped.
		s, ok := unescape(segs[1])
		if !ok {
			break
		}
		if rest, found := strings.CutPrefix(s, "servicePrincipals(appId='"); found {
			if appID, found := strings.CutSuffix(rest, "')"); found {
				return routeServicePrincipal, appID
			}
		}
	}
	return routeNone, ""
}

// handle runs the checks and the operation for a request no fault has
// taken over.
func (e *Emulator) handle(c *call) reply {
	if c.authDeny != "" {
		rep := c.errorReply(http.StatusUnauthorized, "InvalidAuthenticationToken", c.authDeny)
		// Graph tells a client without a token where to get one.
		rep.header.Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
		return rep
	}
	rt, key := matchRoute(c.r.URL.EscapedPath())
	if rt == routeNone {
		return c.errorReply(http.StatusNotFound, "Request_ResourceNotFound",
			fmt.Sprintf("Resource not found for the segment '%s'.", truncate(lastSegment(c.r.URL.Path), 60)))
	}
	allowed := http.MethodGet
	if rt == routeGetByIDs {
		allowed = http.MethodPost
	}
	if c.r.Method != allowed {
		rep := c.errorReply(http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
		rep.header.Set("Allow", allowed)
		return rep
	}
	if !hasAnyScope(c.scopes, routeScopes[rt]) {
		return c.errorReply(http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
	}
	switch rt {
	case routeUserList:
		return e.handleUserList(c)
	case routeUserGet:
		return e.handleUserGet(c, key)
	case routeGetByIDs:
		return e.handleGetByIDs(c)
	case routeResourceAccounts:
		return e.handleResourceAccountList(c)
	case routeGrants:
		return e.handleGrantList(c)
	default:
		return e.handleServicePrincipalGet(c, key)
	}
}

func lastSegment(p string) string {
	p = strings.TrimRight(p, "/")
	return p[strings.LastIndex(p, "/")+1:]
}

// errorReply builds Graph's error body, whose innerError repeats the
// request's IDs and the time (UTC, without a zone, as Graph writes it).
func (c *call) errorReply(status int, code, message string) reply {
	return reply{status: status, header: http.Header{}, body: encodeJSON(jsonObject{
		{"error", jsonObject{
			{"code", code},
			{"message", message},
			{"innerError", jsonObject{
				{"date", c.at.UTC().Format("2006-01-02T15:04:05")},
				{"request-id", c.requestID},
				{"client-request-id", c.clientRequestID},
			}},
		}},
	})}
}

// okReply is a 200 with a JSON body.
func okReply(v any) reply {
	return reply{status: http.StatusOK, header: http.Header{}, body: encodeJSON(v)}
}

// send writes rep with the headers every Graph response carries: request-id,
// client-request-id (echoed, or the request-id when none was sent), and a
// Date from the emulator's clock.
func (e *Emulator) send(w http.ResponseWriter, c *call, rep reply) {
	h := w.Header()
	for k, v := range rep.header {
		h[k] = v
	}
	h.Set("request-id", c.requestID)
	h.Set("client-request-id", c.clientRequestID)
	h.Set("Date", c.at.UTC().Format(http.TimeFormat))
	if rep.body != nil {
		// Graph's own content type; clients must accept its parameters.
		h.Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
		h.Set("OData-Version", "4.0")
		h.Set("Content-Length", strconv.Itoa(len(rep.body)))
	}
	w.WriteHeader(rep.status)
	if rep.body != nil {
		_, _ = w.Write(rep.body)
	}
}

// jsonObject is a JSON object whose members keep their order, so answers
// read like Graph's (@odata.context first, then the properties in
// $select order). A nil value is written as null.
type jsonObject []jsonMember

type jsonMember struct {
	name  string
	value any
}

// MarshalJSON writes the members in order, HTML left unescaped.
func (o jsonObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(encodeJSON(m.name))
		b.WriteByte(':')
		b.Write(encodeJSON(m.value))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// encodeJSON marshals v without escaping <, > and &: Graph sends a display
// name such as "<b>Ann</b>" as it is, and escaping it for HTML is the
// renderer's job, not the API's. A test of the renderer against the
// emulator must see the raw characters.
func encodeJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only the emulator's own values are encoded: strings, numbers,
		// jsonObjects and slices of them. Failing here is a bug.
		panic(fmt.Sprintf("graphemu: encoding an answer: %v", err))
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// newGUID returns a random (version 4) GUID string, for request IDs.
func newGUID() string {
	var g portal.GUID
	_, _ = rand.Read(g[:])
	g[6] = g[6]&0x0f | 0x40
	g[8] = g[8]&0x3f | 0x80
	return g.String()
}

// truncate shortens caller-controlled text before it is quoted back.
func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
