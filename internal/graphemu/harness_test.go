package graphemu

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/testwait"
)

// Tenants, tokens and directory objects used throughout the tests.
var (
	tenantA = portal.MustParseGUID("1c361ff7-fb44-4685-bb78-1bad6ce5bef3")
	tenantB = portal.MustParseGUID("7d2c1a9e-3b4f-4c5d-8e6f-0a1b2c3d4e5f")

	alice  = portal.MustParseGUID("10000000-0000-4000-8000-000000000001")
	bob    = portal.MustParseGUID("10000000-0000-4000-8000-000000000002")
	malia  = portal.MustParseGUID("10000000-0000-4000-8000-000000000003")
	carol  = portal.MustParseGUID("10000000-0000-4000-8000-000000000004")
	dave   = portal.MustParseGUID("10000000-0000-4000-8000-000000000005") // deleted
	sean   = portal.MustParseGUID("10000000-0000-4000-8000-000000000006")
	line   = portal.MustParseGUID("20000000-0000-4000-8000-000000000001") // resource account
	line2  = portal.MustParseGUID("20000000-0000-4000-8000-000000000002") // resource account, other ACS resource
	spID   = portal.MustParseGUID("30000000-0000-4000-8000-000000000001")
	appID  = portal.MustParseGUID("40000000-0000-4000-8000-000000000001")
	raApp  = portal.MustParseGUID("40000000-0000-4000-8000-000000000002")
	bUser  = portal.MustParseGUID("50000000-0000-4000-8000-000000000001") // tenant B's
	bLine  = portal.MustParseGUID("50000000-0000-4000-8000-000000000002") // tenant B's
	bSP    = portal.MustParseGUID("50000000-0000-4000-8000-000000000003") // tenant B's
	bAppID = portal.MustParseGUID("50000000-0000-4000-8000-000000000004")
)

const (
	acsResource1 = "6a1f0c2e-9d3b-4e5f-a6b7-c8d9e0f1a2b3"
	acsResource2 = "0b9e8d7c-6a5b-4c3d-9e2f-1a0b9c8d7e6f"

	tokenA        = "token-a"         // tenant A, every permission the portal uses
	tokenB        = "token-b"         // tenant B, the same
	tokenADir     = "token-a-dir"     // tenant A, Directory.Read.All only
	tokenANothing = "token-a-nothing" // tenant A, User.Read only (signs in, reads nobody else)
)

// allScopes are the delegated permissions the portal asks for.
var allScopes = []string{"User.ReadBasic.All", "TeamsResourceAccount.Read.All", "Application.Read.All"}

// t0 is the emulator's fixed clock.
var t0 = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

// harness is an emulator seeded with two tenants, served over real HTTP.
type harness struct {
	t      *testing.T
	emu    *Emulator
	srv    *httptest.Server
	client *http.Client
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	emu := New(Config{
		Verify: StaticTokens(map[string]Grant{
			tokenA:        {Tenant: tenantA, Scopes: allScopes},
			tokenB:        {Tenant: tenantB, Scopes: allScopes},
			tokenADir:     {Tenant: tenantA, Scopes: []string{"Directory.Read.All"}},
			tokenANothing: {Tenant: tenantA, Scopes: []string{"User.Read"}},
		}),
		Now: func() time.Time { return t0 },
	})
	emu.Seed(tenantA,
		[]User{
			{ID: alice, DisplayName: "Alice Smith", UserPrincipalName: "alice.smith@contoso.com", Mail: "alice@contoso.com"},
			{ID: bob, DisplayName: "Bob Alistair", UserPrincipalName: "bob@contoso.com"},
			{ID: malia, DisplayName: "Malia Jones", UserPrincipalName: "malia@contoso.com"},
			{ID: carol, DisplayName: "Carol King", UserPrincipalName: "ali.king@contoso.com"},
			{ID: dave, DisplayName: "Ali Deleted", UserPrincipalName: "ali.deleted@contoso.com", Deleted: true},
			{ID: sean, DisplayName: "Seán O'Brien", UserPrincipalName: "sean@contoso.com"},
		},
		[]ResourceAccount{
			{ID: line, DisplayName: "Ali Line", UserPrincipalName: "ra_line@contoso.com", AppID: raApp,
				PhoneNumber: "tel:+14255550100", ACSResourceID: acsResource1},
			{ID: line2, DisplayName: "Support Queue", UserPrincipalName: "ra_support@contoso.com", AppID: raApp,
				PhoneNumber: "tel:+14255550101", ACSResourceID: acsResource2},
		},
		[]ServicePrincipal{{ID: spID, AppID: appID, DisplayName: "Contoso Contact Center"}},
	)
	emu.Seed(tenantB,
		[]User{{ID: bUser, DisplayName: "Alina Other", UserPrincipalName: "alina@fabrikam.com"}},
		[]ResourceAccount{{ID: bLine, DisplayName: "Fabrikam Line", UserPrincipalName: "ra@fabrikam.com", AppID: raApp,
			PhoneNumber: "tel:+14255550199", ACSResourceID: acsResource1}},
		[]ServicePrincipal{{ID: bSP, AppID: bAppID, DisplayName: "Fabrikam App"}},
	)
	srv := httptest.NewServer(emu)
	// Cleanups run last-in first-out: release hanging requests before the
	// server waits for its handlers.
	t.Cleanup(srv.Close)
	t.Cleanup(emu.Close)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: testwait.Patience}
	return &harness{t: t, emu: emu, srv: srv, client: client}
}

// result is a response read in full.
type result struct {
	status int
	header http.Header
	body   []byte
}

// request builds a request to the harness; target is a path with its query
// or an absolute URL (a next link). token "" sends no Authorization.
func (h *harness) request(method, target, token, body string) *http.Request {
	h.t.Helper()
	if !strings.HasPrefix(target, "http") {
		target = h.srv.URL + target
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		h.t.Fatalf("NewRequest: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// do sends req and reads the whole answer, failing the test on a transport
// error.
func (h *harness) do(req *http.Request) result {
	h.t.Helper()
	res, err := h.try(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return res
}

// try sends req and reads the whole answer; safe from any goroutine.
func (h *harness) try(req *http.Request) (result, error) {
	resp, err := h.client.Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{}, err
	}
	return result{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// get sends a GET with token and, if eventual, "ConsistencyLevel: eventual".
func (h *harness) get(target, token string, eventual bool) result {
	h.t.Helper()
	req := h.request(http.MethodGet, target, token, "")
	if eventual {
		req.Header.Set("ConsistencyLevel", "eventual")
	}
	return h.do(req)
}

// post sends a POST of a JSON body with token.
func (h *harness) post(target, token, body string) result {
	h.t.Helper()
	return h.do(h.request(http.MethodPost, target, token, body))
}

// usersURL is /v1.0/users with the given query options, encoded as a
// client would.
func usersURL(opts ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(opts); i += 2 {
		q.Set(opts[i], opts[i+1])
	}
	if len(q) == 0 {
		return "/v1.0/users"
	}
	return "/v1.0/users?" + q.Encode()
}

// listPage is a decoded collection answer.
type listPage struct {
	Context string           `json:"@odata.context"`
	Count   *int             `json:"@odata.count"`
	Next    string           `json:"@odata.nextLink"`
	Value   []map[string]any `json:"value"`
}

func decodePage(t *testing.T, res result) listPage {
	t.Helper()
	if res.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", res.status, res.body)
	}
	var p listPage
	if err := json.Unmarshal(res.body, &p); err != nil {
		t.Fatalf("not a collection (%v): %s", err, res.body)
	}
	if p.Value == nil {
		t.Fatalf("no value array: %s", res.body)
	}
	return p
}

// ids returns the "id" of each item, in order.
func (p listPage) ids() []string {
	var out []string
	for _, v := range p.Value {
		s, _ := v["id"].(string)
		out = append(out, s)
	}
	return out
}

// sortedIDs is the canonical strings of ids, sorted (the emulator answers
// in ID order).
func sortedIDs(ids ...portal.GUID) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, id.String())
	}
	slices.Sort(out)
	return out
}

var guidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// expectError asserts a Graph error answer: the status, the code, the
// message (when want is not ""), and an innerError whose IDs are the
// response's headers and whose date is the emulator's clock.
func expectError(t *testing.T, res result, status int, code, message string) {
	t.Helper()
	if res.status != status {
		t.Fatalf("status %d, want %d: %s", res.status, status, res.body)
	}
	var e struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError struct {
				Date            string `json:"date"`
				RequestID       string `json:"request-id"`
				ClientRequestID string `json:"client-request-id"`
			} `json:"innerError"`
		} `json:"error"`
	}
	if err := json.Unmarshal(res.body, &e); err != nil {
		t.Fatalf("not a Graph error body (%v): %s", err, res.body)
	}
	if e.Error.Code != code {
		t.Errorf("code = %q, want %q (%s)", e.Error.Code, code, e.Error.Message)
	}
	if message != "" && e.Error.Message != message {
		t.Errorf("message = %q, want %q", e.Error.Message, message)
	}
	if e.Error.Message == "" {
		t.Error("empty message")
	}
	in := e.Error.InnerError
	if in.Date != "2026-03-04T10:00:00" {
		t.Errorf("innerError.date = %q, want 2026-03-04T10:00:00", in.Date)
	}
	if !guidPattern.MatchString(in.RequestID) || in.RequestID != res.header.Get("request-id") {
		t.Errorf("innerError.request-id = %q, header %q", in.RequestID, res.header.Get("request-id"))
	}
	if in.ClientRequestID == "" || in.ClientRequestID != res.header.Get("client-request-id") {
		t.Errorf("innerError.client-request-id = %q, header %q", in.ClientRequestID, res.header.Get("client-request-id"))
	}
}
