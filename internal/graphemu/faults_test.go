package graphemu

import (
	"bytes"
	"encoding/json"
	"log/slog"
	mathrand "math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/testwait"
)

// TestScriptedThrottle: a scripted 429 is answered in Graph's words with
// its Retry-After, takes the place of the answer, and only for one request.
func TestScriptedThrottle(t *testing.T) {
	h := newHarness(t)
	h.emu.Script(acsemu.Fault{Status: http.StatusTooManyRequests, RetryAfter: "3"})

	res := h.get("/v1.0/users/"+alice.String(), tokenA, false)
	expectError(t, res, http.StatusTooManyRequests, "TooManyRequests", "")
	if got := res.header.Get("Retry-After"); got != "3" {
		t.Errorf("Retry-After = %q, want 3", got)
	}
	if strings.Contains(string(res.body), "Alice") {
		t.Errorf("a throttled answer carried data: %s", res.body)
	}
	if res := h.get("/v1.0/users/"+alice.String(), tokenA, false); res.status != http.StatusOK {
		t.Errorf("after the script: status %d", res.status)
	}
	reqs := h.emu.Requests()
	if len(reqs) != 2 || reqs[0].Fault != "status=429" || reqs[0].Status != 429 || reqs[1].Fault != "" || reqs[1].Status != 200 {
		t.Errorf("log = %+v", reqs)
	}
	// Faults come before authentication, as a gateway's throttling does,
	// but the log still records who called.
	if reqs[0].Auth != "ok" || reqs[0].Tenant != tenantA {
		t.Errorf("faulted request logged as auth %q tenant %v", reqs[0].Auth, reqs[0].Tenant)
	}
}

// TestScriptedThrottleWithoutRetryAfter: a scripted 429 is sent as
// written, so a client's "no Retry-After" path can be tested.
func TestScriptedThrottleWithoutRetryAfter(t *testing.T) {
	h := newHarness(t)
	h.emu.Script(acsemu.Fault{Status: http.StatusTooManyRequests})
	res := h.get("/v1.0/users", tokenA, false)
	if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") != "" {
		t.Errorf("status %d, Retry-After %q; want 429 without it", res.status, res.header.Get("Retry-After"))
	}
}

// TestRates: rates written as for acsemu apply here; a 429 drawn from them
// carries Retry-After, the configured one or "1".
func TestRates(t *testing.T) {
	for spec, wantRetry := range map[string]string{"429=1,retry-after=2": "2", "throttle=1": "1"} {
		t.Run(spec, func(t *testing.T) {
			h := newHarness(t)
			rates, err := acsemu.ParseRates(spec)
			if err != nil {
				t.Fatal(err)
			}
			h.emu.SetRates(rates)
			for range 3 {
				res := h.post("/v1.0/directoryObjects/getByIds", tokenA, getByIDsBody(nil, alice.String()))
				expectError(t, res, http.StatusTooManyRequests, "TooManyRequests", "")
				if got := res.header.Get("Retry-After"); got != wantRetry {
					t.Errorf("Retry-After = %q, want %q", got, wantRetry)
				}
			}
			h.emu.SetRates(acsemu.Rates{})
			if res := h.get("/v1.0/users", tokenA, false); res.status != http.StatusOK {
				t.Errorf("rates off: status %d", res.status)
			}
		})
	}
}

// TestRatesServerErrors: 5xx and 503 answer with Graph's codes, and the
// mix follows the rates (seeded, so the test is exact).
func TestRatesServerErrors(t *testing.T) {
	emu := New(Config{
		Verify: StaticTokens(map[string]Grant{tokenA: {Tenant: tenantA, Scopes: allScopes}}),
		Rand:   mathrand.New(mathrand.NewPCG(1, 2)),
	})
	rates, err := acsemu.ParseRates("429=0.2,retry-after=1,503=0.05,latency=1ms")
	if err != nil {
		t.Fatal(err)
	}
	emu.SetRates(rates)
	counts := map[int]int{}
	for range 400 {
		req, _ := http.NewRequest(http.MethodGet, "/v1.0/users", nil)
		req.Header.Set("Authorization", "Bearer "+tokenA)
		rec := newRecorder()
		emu.ServeHTTP(rec, req)
		counts[rec.code]++
		if rec.code == http.StatusServiceUnavailable && !strings.Contains(rec.body.String(), `"code":"serviceNotAvailable"`) {
			t.Errorf("503 body: %s", rec.body.String())
		}
	}
	if counts[429] < 50 || counts[429] > 110 || counts[503] < 5 || counts[503] > 40 || counts[200]+counts[429]+counts[503] != 400 {
		t.Errorf("counts %v, want about 80 429s, 20 503s, the rest 200", counts)
	}
	for _, r := range emu.Requests() {
		if !strings.HasPrefix(r.Fault, "latency=1ms") {
			t.Fatalf("latency not applied: %q", r.Fault)
		}
	}
}

// recorder is a minimal ResponseWriter for faults that answer (never for
// those that drop the connection, which need a real server).
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func newRecorder() *recorder                    { return &recorder{header: http.Header{}} }
func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(code int)        { r.code = code }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }

// TestResetAndTruncate: a reset drops the connection; a truncated body is
// cut JSON.
func TestResetAndTruncate(t *testing.T) {
	h := newHarness(t)
	h.emu.Script(acsemu.Fault{Reset: true}, acsemu.Fault{TruncateBody: true}, acsemu.Fault{ResetAfterApply: true})

	if _, err := h.try(h.request(http.MethodGet, "/v1.0/users", tokenA, "")); err == nil {
		t.Error("reset: got an answer")
	}
	res := h.get("/v1.0/users", tokenA, false)
	var v any
	if res.status != http.StatusOK || json.Unmarshal(res.body, &v) == nil {
		t.Errorf("truncated: status %d, body decodes: %s", res.status, res.body)
	}
	if _, err := h.try(h.request(http.MethodGet, "/v1.0/users", tokenA, "")); err == nil {
		t.Error("reset after apply: got an answer")
	}
	reqs := h.emu.Requests()
	if len(reqs) != 3 || reqs[0].Fault != "reset" || reqs[0].Status != 0 || reqs[1].Fault != "truncate-body" || reqs[2].Fault != "reset-after-apply" {
		t.Errorf("log = %+v", reqs)
	}
}

// TestHangReleasedByClose: a hanging request is visible in the log while it
// hangs and is dropped when the emulator closes.
func TestHangReleasedByClose(t *testing.T) {
	h := newHarness(t)
	h.emu.Script(acsemu.Fault{Hang: true})
	done := make(chan error, 1)
	go func() {
		_, err := h.try(h.request(http.MethodGet, "/v1.0/users", tokenA, ""))
		done <- err
	}()
	testwait.For(t, "the hanging request in the log", func() bool { return len(h.emu.Requests()) == 1 })
	select {
	case <-done:
		t.Fatal("the hanging request was answered")
	case <-time.After(50 * time.Millisecond):
	}
	h.emu.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("got an answer, want the connection dropped")
		}
	case <-time.After(testwait.Patience):
		t.Fatal("Close did not release the hanging request")
	}
	if r := h.emu.Requests()[0]; r.Fault != "hang" || r.Status != 0 {
		t.Errorf("log = %+v", r)
	}
}

// TestRequestLog: the log records what a client sent, and ResetRequests
// empties it.
func TestRequestLog(t *testing.T) {
	var logs bytes.Buffer
	emu := New(Config{
		Verify: StaticTokens(map[string]Grant{tokenA: {Tenant: tenantA, Scopes: allScopes}}),
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Now:    func() time.Time { return t0 },
	})
	body := getByIDsBody(nil, alice.String())
	req, _ := http.NewRequest(http.MethodPost, "/v1.0/directoryObjects/getByIds?x=1", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tokenA)
	req.Header.Set("client-request-id", "c-1")
	req.Header.Set("ConsistencyLevel", "eventual")
	emu.ServeHTTP(newRecorder(), req)
	req, _ = http.NewRequest(http.MethodGet, "/v1.0/users", nil)
	emu.ServeHTTP(newRecorder(), req)

	reqs := emu.Requests()
	if len(reqs) != 2 {
		t.Fatalf("log has %d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.RequestURI != "/v1.0/directoryObjects/getByIds?x=1" || r.ClientRequestID != "c-1" ||
		r.ConsistencyLevel != "eventual" || r.Auth != "ok" || r.Tenant != tenantA || string(r.Body) != body ||
		r.Status != http.StatusOK || !r.Time.Equal(t0) {
		t.Errorf("first = %+v", r)
	}
	if reqs[1].Auth != "none" || !reqs[1].Tenant.IsZero() || reqs[1].Status != http.StatusUnauthorized {
		t.Errorf("second = %+v", reqs[1])
	}
	if !strings.Contains(logs.String(), "graphemu request") || !strings.Contains(logs.String(), "status=401") {
		t.Errorf("logger got: %s", logs.String())
	}
	reqs[0].Body[0] = 'X'
	if emu.Requests()[0].Body[0] == 'X' {
		t.Error("Requests returned the log's own body")
	}
	emu.ResetRequests()
	if n := len(emu.Requests()); n != 0 {
		t.Errorf("after ResetRequests: %d requests", n)
	}
}
