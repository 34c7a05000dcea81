package acsemu

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/testwait"
)

// IDs used throughout the tests (the dev personas' tenant and objects).
const (
	tenantID  = "1c361ff7-fb44-4685-bb78-1bad6ce5bef3"
	objectID  = "369f18b8-e505-4795-b1cf-e40cfc95f82e"
	object2ID = "dc5bfeeb-3feb-4969-9ae9-92f428410341"
	clientA   = "1bfa671a-dc6b-47f3-8940-45c0f1af0fa6"
	clientB   = "e5b7f628-ea94-4fdc-b3d9-1af1fe231111"
	apiQuery  = "?api-version=2025-06-30"
	goodToken = "good-token"
)

var (
	testKey = []byte("a test access key of 32 bytes!!!")
	// t0 is the emulator's fixed clock in most tests.
	t0 = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
)

func assignmentPath(tenant, object string) string {
	return "/access/teamsExtension/tenants/" + tenant + "/assignments/" + object
}

var mainPath = assignmentPath(tenantID, objectID) + apiQuery

// harness is an emulator served over real HTTP on loopback.
type harness struct {
	t      *testing.T
	emu    *Emulator
	srv    *httptest.Server
	client *http.Client
}

// testConfig is the configuration most tests use: the test key, a bearer
// token, the fixed clock.
func testConfig() Config {
	return Config{
		AccessKey:    testKey,
		VerifyBearer: StaticTokens(goodToken),
		Now:          func() time.Time { return t0 },
	}
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	emu, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(emu)
	// Cleanups run last-in first-out: release hanging requests before the
	// server waits for its handlers.
	t.Cleanup(srv.Close)
	t.Cleanup(emu.Close)
	// A fresh connection per request, so the transport never retries a
	// request on a reused connection and every fault lands where scripted.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: testwait.Patience}
	return &harness{t: t, emu: emu, srv: srv, client: client}
}

// newRequest builds a request to the harness with an x-ms-client-request-id.
func (h *harness) newRequest(method, pathAndQuery, body string) *http.Request {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.srv.URL+pathAndQuery, rd)
	if err != nil {
		h.t.Fatalf("NewRequest: %v", err)
	}
	req.Header.Set("x-ms-client-request-id", "req-"+method+"-42")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// result is a response read in full.
type result struct {
	status int
	header http.Header
	body   []byte
}

// do sends req and reads the whole answer, failing the test on a transport
// error. Only for the test's own goroutine.
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

// call sends a correctly signed request.
func (h *harness) call(method, pathAndQuery, body string) result {
	h.t.Helper()
	return h.do(h.signedRequest(method, pathAndQuery, body))
}

// signedRequest builds a correctly signed request.
func (h *harness) signedRequest(method, pathAndQuery, body string) *http.Request {
	h.t.Helper()
	req := h.newRequest(method, pathAndQuery, body)
	signHMAC(req, testKey, []byte(body), t0.Format(http.TimeFormat), "")
	return req
}

// signHMAC signs req the way the ACS spec says, written independently of the
// emulator's verifier: contentHash = base64(sha256(body)); stringToSign =
// METHOD\npathAndQuery\ndate;host;contentHash; signature =
// base64(HMAC-SHA256(key, stringToSign)). host "" means req.URL.Host (what
// the transport sends as Host, port included).
func signHMAC(req *http.Request, key, body []byte, date, host string) {
	if host == "" {
		host = req.URL.Host
	}
	sum := sha256.Sum256(body)
	contentHash := base64.StdEncoding.EncodeToString(sum[:])
	toSign := req.Method + "\n" + req.URL.RequestURI() + "\n" + date + ";" + host + ";" + contentHash
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(toSign))
	req.Header.Set("x-ms-date", date)
	req.Header.Set("x-ms-content-sha256", contentHash)
	req.Header.Set("Authorization", "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature="+
		base64.StdEncoding.EncodeToString(mac.Sum(nil)))
}

var msCV = regexp.MustCompile(`^[A-Za-z0-9+/]{22}\.0$`)

// checkCommon asserts what every response carries: the echoed request ID,
// an MS-CV, a Date, and Content-Type exactly when there is a body.
func checkCommon(t *testing.T, res result, requestID string) {
	t.Helper()
	if requestID != "" {
		if got := res.header.Get("x-ms-client-request-id"); got != requestID {
			t.Errorf("x-ms-client-request-id = %q, want %q", got, requestID)
		}
	}
	if cv := res.header.Get("MS-CV"); !msCV.MatchString(cv) {
		t.Errorf("MS-CV = %q, want 22 base64 characters and .0", cv)
	}
	if _, err := http.ParseTime(res.header.Get("Date")); err != nil {
		t.Errorf("Date = %q: %v", res.header.Get("Date"), err)
	}
	ct := res.header.Get("Content-Type")
	if len(res.body) > 0 && ct != "application/json" {
		t.Errorf("Content-Type = %q with a body, want application/json", ct)
	}
	if len(res.body) == 0 && ct != "" {
		t.Errorf("Content-Type = %q without a body", ct)
	}
}

// acsError decodes an ACS error body, failing the test if it is not one.
func acsError(t *testing.T, body []byte) (code, message string) {
	t.Helper()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("not an ACS error body (%v): %s", err, body)
	}
	return e.Error.Code, e.Error.Message
}

// jsonEqual asserts that got holds the same JSON value as want (so a field
// that must be absent is absent, not null or []).
func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("response is not JSON (%v): %s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expected JSON %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("body = %s\nwant   %s", got, want)
	}
}

func mustGUID(s string) portal.GUID { return portal.MustParseGUID(s) }
