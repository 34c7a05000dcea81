package acsemu

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/testwait"
)

const raBody = `{"principalType":"teamsResourceAccount"}`

// lastRequest waits until the log's last request is answered (or given up)
// and returns it.
func lastRequest(t *testing.T, e *Emulator, n int) Request {
	t.Helper()
	var last Request
	testwait.For(t, "the request log", func() bool {
		reqs := e.Requests()
		if len(reqs) != n {
			return false
		}
		last = reqs[n-1]
		return true
	})
	return last
}

// expectDropped asserts a transport error that is not the client's own
// timeout: the server dropped the connection.
func expectDropped(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("got an answer, want the connection dropped")
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("got a client timeout, want the connection dropped: %v", err)
	}
}

func stored(e *Emulator) bool {
	_, ok := e.Lookup("127.0.0.1", mustGUID(tenantID), mustGUID(objectID))
	return ok
}

// TestFaultStatus: a status fault answers in ACS's style, with the raw retry
// headers, and does not perform the operation.
func TestFaultStatus(t *testing.T) {
	httpDate := "Wed, 04 Mar 2026 10:00:05 GMT"
	tests := []struct {
		fault      Fault
		code       string
		retryAfter string
		retryMs    string
	}{
		{Fault{Status: 429, RetryAfter: "1"}, "TooManyRequests", "1", ""},
		{Fault{Status: 429, RetryAfter: "0", RetryAfterMs: "1500"}, "TooManyRequests", "0", "1500"},
		{Fault{Status: 429, RetryAfter: "-1"}, "TooManyRequests", "-1", ""},
		{Fault{Status: 429, RetryAfter: "abc"}, "TooManyRequests", "abc", ""},
		{Fault{Status: 429, RetryAfter: httpDate}, "TooManyRequests", httpDate, ""},
		{Fault{Status: 429}, "TooManyRequests", "", ""},
		{Fault{Status: 503, RetryAfter: "2"}, "ServiceUnavailable", "2", ""},
		{Fault{Status: 500}, "InternalServerError", "", ""},
		{Fault{Status: 502}, "BadGateway", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.fault.Describe()+"/"+tc.retryAfter, func(t *testing.T) {
			h := newHarness(t, testConfig())
			h.emu.Script(tc.fault)
			req := h.signedRequest("PUT", mainPath, raBody)
			res := h.do(req)
			if res.status != tc.fault.Status {
				t.Fatalf("status %d, want %d", res.status, tc.fault.Status)
			}
			checkCommon(t, res, req.Header.Get("x-ms-client-request-id"))
			if code, _ := acsError(t, res.body); code != tc.code {
				t.Errorf("code %q, want %q", code, tc.code)
			}
			if _, present := res.header["Retry-After"]; present != (tc.retryAfter != "") || res.header.Get("Retry-After") != tc.retryAfter {
				t.Errorf("Retry-After = %q (present %v), want %q", res.header.Get("Retry-After"), present, tc.retryAfter)
			}
			if got := res.header.Get("retry-after-ms"); got != tc.retryMs {
				t.Errorf("retry-after-ms = %q, want %q", got, tc.retryMs)
			}
			if stored(h.emu) {
				t.Error("the PUT was performed although a status fault answered it")
			}
			if r := lastRequest(t, h.emu, 1); r.Status != tc.fault.Status || r.Fault != "status="+strconv.Itoa(tc.fault.Status) || r.Auth != "hmac" {
				t.Errorf("logged %+v", r)
			}
		})
	}
}

// TestFaultStatusBeforeEverything: faults apply before route, auth and
// validation.
func TestFaultStatusBeforeEverything(t *testing.T) {
	h := newHarness(t, testConfig())
	h.emu.Script(Fault{Status: 503}, Fault{Status: 429})
	if res := h.do(h.newRequest("GET", "/nowhere", "")); res.status != 503 {
		t.Errorf("unrouted, unsigned: %d, want 503", res.status)
	}
	if res := h.do(h.newRequest("PATCH", assignmentPath("x", "y"), "")); res.status != 429 {
		t.Errorf("unsigned PATCH: %d, want 429", res.status)
	}
	if r := h.emu.Requests()[1]; r.Auth != "none" || r.Status != 429 || r.TenantSegment != "x" {
		t.Errorf("logged %+v", r)
	}
}

// TestFaultLatency: the answer is delayed by about the latency, then normal.
func TestFaultLatency(t *testing.T) {
	h := newHarness(t, testConfig())
	const latency = 150 * time.Millisecond
	h.emu.Script(Fault{Latency: latency})
	start := time.Now()
	res := h.call("PUT", mainPath, raBody)
	elapsed := time.Since(start)
	if res.status != 201 {
		t.Fatalf("status %d, want 201", res.status)
	}
	if elapsed < latency || elapsed > latency+2*time.Second {
		t.Errorf("answered after %v, want about %v", elapsed, latency)
	}
	if r := lastRequest(t, h.emu, 1); r.Fault != "latency=150ms" || r.Status != 201 {
		t.Errorf("logged %+v", r)
	}

	// Latency then a status.
	h.emu.Script(Fault{Latency: 50 * time.Millisecond, Status: 503})
	start = time.Now()
	if res := h.call("GET", mainPath, ""); res.status != 503 || time.Since(start) < 50*time.Millisecond {
		t.Errorf("latency+503: status %d after %v", res.status, time.Since(start))
	}
	if r := lastRequest(t, h.emu, 2); r.Fault != "latency=50ms+status=503" {
		t.Errorf("logged fault %q", r.Fault)
	}
}

// TestFaultLatencyEndsWhenClientLeaves: a client that gives up during the
// latency is not answered, and nothing is done.
func TestFaultLatencyEndsWhenClientLeaves(t *testing.T) {
	h := newHarness(t, testConfig())
	h.client.Timeout = 100 * time.Millisecond
	h.emu.Script(Fault{Latency: time.Minute})
	start := time.Now()
	_, err := h.try(h.signedRequest("PUT", mainPath, raBody))
	if err == nil {
		t.Fatal("got an answer despite a minute of latency")
	}
	testwait.For(t, "the handler to give up", func() bool {
		r := h.emu.Requests()
		return len(r) == 1 && r[0].Status == 0 && time.Since(start) < 3*time.Second
	})
	time.Sleep(20 * time.Millisecond)
	if stored(h.emu) {
		t.Error("the PUT was performed for a client that left")
	}
}

// TestFaultHangReleasedByClientTimeout: a hanging request never answers; the
// client's own timeout ends it.
func TestFaultHangReleasedByClientTimeout(t *testing.T) {
	h := newHarness(t, testConfig())
	h.client.Timeout = 200 * time.Millisecond
	h.emu.Script(Fault{Hang: true})
	start := time.Now()
	_, err := h.try(h.signedRequest("PUT", mainPath, raBody))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("got %v, want a client timeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("hang lasted %v", d)
	}
	if r := lastRequest(t, h.emu, 1); r.Fault != "hang" || r.Status != 0 {
		t.Errorf("logged %+v", r)
	}
	if stored(h.emu) {
		t.Error("a hanging PUT was performed")
	}
	// The emulator still serves.
	if res := h.call("GET", mainPath, ""); res.status != 404 {
		t.Errorf("after the hang: %d, want 404", res.status)
	}
}

// TestFaultHangReleasedByClose: Close drops every hanging request at once.
func TestFaultHangReleasedByClose(t *testing.T) {
	h := newHarness(t, testConfig())
	h.emu.Script(Fault{Hang: true}, Fault{Hang: true})
	errs := make(chan error, 2)
	for range 2 {
		req := h.signedRequest("GET", mainPath, "")
		go func() {
			_, err := h.try(req)
			errs <- err
		}()
	}
	testwait.For(t, "both requests to hang", func() bool { return len(h.emu.Requests()) == 2 })
	select {
	case err := <-errs:
		t.Fatalf("a hanging request ended before Close: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	start := time.Now()
	h.emu.Close()
	for range 2 {
		select {
		case err := <-errs:
			expectDropped(t, err)
		case <-time.After(testwait.Patience):
			t.Fatal("Close did not release a hanging request")
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("release took %v", d)
	}
}

// TestFaultReset: the connection is reset (RST, not a clean close) without
// an answer, and nothing is done; the next request is served.
func TestFaultReset(t *testing.T) {
	h := newHarness(t, testConfig())
	h.emu.Script(Fault{Reset: true})
	_, err := h.try(h.signedRequest("PUT", mainPath, raBody))
	expectDropped(t, err)
	if runtime.GOOS == "linux" && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("got %v, want connection reset by peer", err)
	}
	if r := lastRequest(t, h.emu, 1); r.Fault != "reset" || r.Status != 0 {
		t.Errorf("logged %+v", r)
	}
	if stored(h.emu) {
		t.Error("a reset PUT was performed")
	}
	if res := h.call("PUT", mainPath, raBody); res.status != 201 {
		t.Errorf("after the reset: %d, want 201", res.status)
	}
}

// TestFaultResetAfterApply: the operation happens, but the client never
// learns it.
func TestFaultResetAfterApply(t *testing.T) {
	h := newHarness(t, testConfig())
	h.emu.Script(Fault{ResetAfterApply: true})
	_, err := h.try(h.signedRequest("PUT", mainPath, raBody))
	expectDropped(t, err)
	if !stored(h.emu) {
		t.Fatal("the PUT was not performed")
	}
	if r := lastRequest(t, h.emu, 1); r.Fault != "reset-after-apply" || r.Status != 0 {
		t.Errorf("logged %+v", r)
	}
	// A retry now sees the replace, not the create.
	if res := h.call("PUT", mainPath, raBody); res.status != 200 {
		t.Errorf("retried PUT: %d, want 200", res.status)
	}
}

// TestFaultTruncateBody: normal status, half the JSON.
func TestFaultTruncateBody(t *testing.T) {
	h := newHarness(t, testConfig())
	h.emu.Script(Fault{TruncateBody: true})
	res := h.call("PUT", mainPath, raBody)
	if res.status != 201 {
		t.Fatalf("status %d, want 201", res.status)
	}
	full := h.call("GET", mainPath, "").body
	if len(res.body) != len(full)/2 || !bytes.HasPrefix(full, res.body) {
		t.Errorf("body %q, want the first half of %q", res.body, full)
	}
	if json.Valid(res.body) {
		t.Errorf("truncated body %q is still valid JSON", res.body)
	}
	if !stored(h.emu) {
		t.Error("the PUT was not performed")
	}
}

// TestScriptOrder: scripted faults are taken one per request in order,
// Fault{} behaves normally, and Script appends.
func TestScriptOrder(t *testing.T) {
	h := newHarness(t, testConfig())
	h.emu.SetRates(Rates{Throttle: 1})
	h.emu.Script(Fault{Status: 429}, Fault{}, Fault{Status: 503})
	h.emu.Script(Fault{Status: 500}, Fault{})
	want := []int{429, 404, 503, 500, 404}
	for i, w := range want {
		if res := h.call("GET", mainPath, ""); res.status != w {
			t.Errorf("request %d: %d, want %d", i, res.status, w)
		}
	}
	// The script is used up: the rates apply again.
	if res := h.call("GET", mainPath, ""); res.status != 429 {
		t.Errorf("after the script: %d, want 429 from the rates", res.status)
	}
}

// TestRates: random faults by rate, reproducible with a seeded Rand.
func TestRates(t *testing.T) {
	cfg := testConfig()
	cfg.Rand = rand.New(rand.NewPCG(1, 2))
	h := newHarness(t, cfg)

	h.emu.SetRates(Rates{Throttle: 1, RetryAfter: "2"})
	res := h.call("GET", mainPath, "")
	if res.status != 429 || res.header.Get("Retry-After") != "2" {
		t.Errorf("throttle=1: %d Retry-After %q, want 429 and 2", res.status, res.header.Get("Retry-After"))
	}

	h.emu.SetRates(Rates{ServerError: 1})
	seen := map[int]int{}
	for range 20 {
		seen[h.call("GET", mainPath, "").status]++
	}
	if len(seen) != 2 || seen[500] == 0 || seen[503] == 0 {
		t.Errorf("5xx=1 over 20 requests gave %v, want both 500 and 503 only", seen)
	}

	h.emu.SetRates(Rates{Reset: 1})
	_, err := h.try(h.signedRequest("GET", mainPath, ""))
	expectDropped(t, err)

	h.emu.SetRates(Rates{Hang: 1})
	h.client.Timeout = 100 * time.Millisecond
	if _, err := h.try(h.signedRequest("GET", mainPath, "")); err == nil {
		t.Error("hang=1 answered")
	}
	h.client.Timeout = testwait.Patience

	h.emu.SetRates(Rates{Latency: 30 * time.Millisecond})
	start := time.Now()
	if res := h.call("GET", mainPath, ""); res.status != 404 || time.Since(start) < 30*time.Millisecond {
		t.Errorf("latency only: %d after %v", res.status, time.Since(start))
	}

	h.emu.SetRates(Rates{})
	if res := h.call("GET", mainPath, ""); res.status != 404 {
		t.Errorf("no rates: %d, want 404", res.status)
	}
}

// TestRatesProportions draws many faults: each kind comes at about its rate.
func TestRatesProportions(t *testing.T) {
	e, err := New(Config{Rand: rand.New(rand.NewPCG(7, 7))})
	if err != nil {
		t.Fatal(err)
	}
	e.SetRates(Rates{Throttle: 0.2, ServerError: 0.1, Hang: 0.05, Reset: 0.05})
	counts := map[string]int{}
	const n = 10000
	for range n {
		e.mu.Lock()
		f := e.nextFaultLocked()
		e.mu.Unlock()
		switch {
		case f.Status == 429:
			counts["429"]++
		case f.Status == 500 || f.Status == 503:
			counts["5xx"]++
		case f.Hang:
			counts["hang"]++
		case f.Reset:
			counts["reset"]++
		default:
			counts["none"]++
		}
	}
	for kind, want := range map[string]float64{"429": 0.2, "5xx": 0.1, "hang": 0.05, "reset": 0.05, "none": 0.6} {
		if got := float64(counts[kind]) / n; got < want-0.02 || got > want+0.02 {
			t.Errorf("%s: %.3f of requests, want about %.2f", kind, got, want)
		}
	}
}

func TestParseRates(t *testing.T) {
	good := []struct {
		spec string
		want Rates
	}{
		{"", Rates{}},
		{"   ", Rates{}},
		{"429=0.2,retry-after=1,5xx=0.05,latency=20ms,hang=0.01,reset=0.01",
			Rates{Throttle: 0.2, RetryAfter: "1", ServerError: 0.05, Latency: 20 * time.Millisecond, Hang: 0.01, Reset: 0.01}},
		{" throttle = 1 , retry-after = -1 ", Rates{Throttle: 1, RetryAfter: "-1"}},
		{"429=0.5,retry-after=Wed, 04 Mar 2026 10:00:05 GMT,5xx=0.5", Rates{Throttle: 0.5, RetryAfter: "Wed, 04 Mar 2026 10:00:05 GMT", ServerError: 0.5}},
		{"LATENCY=1s", Rates{Latency: time.Second}},
		{"429=0,5xx=1", Rates{ServerError: 1}},
		{"429=0.2,retry-after=1,503=0.05,latency=20ms", Rates{Throttle: 0.2, RetryAfter: "1", Unavailable: 0.05, Latency: 20 * time.Millisecond}},
		{"403=1", Rates{Forbidden: 1}},
		{"403=0.5,403-code=AuthorizationFailed", Rates{Forbidden: 0.5, ForbiddenCode: "AuthorizationFailed"}},
	}
	for _, tc := range good {
		got, err := ParseRates(tc.spec)
		if err != nil || got != tc.want {
			t.Errorf("ParseRates(%q) = %+v, %v; want %+v", tc.spec, got, err, tc.want)
		}
	}
	bad := []struct{ spec, mention string }{
		{"429=2", "429"},
		{"429=-0.1", "429"},
		{"429=abc", "429"},
		{"429=NaN", "429"},
		{"429=", "429"},
		{"5xx=0.6,429=0.6", "more than 1"},
		{"latency=abc", "latency"},
		{"403-code=SubscriptionNotAllowed", "needs 403"},
		{"403=1,403-code=two words", "403-code"},
		{"403=0.6,429=0.6", "more than 1"},
		{"latency=-5ms", "latency"},
		{"latency=20", "latency"},
		{"teapot=0.1", "unknown key"},
		{"429", "key=value"},
		{"=0.1", "key=value"},
		{"429=0.1,429=0.2", "twice"},
		{"retry-after=", "retry-after"},
	}
	for _, tc := range bad {
		got, err := ParseRates(tc.spec)
		if err == nil {
			t.Errorf("ParseRates(%q) = %+v, want an error", tc.spec, got)
			continue
		}
		if !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("ParseRates(%q): %q does not mention %q", tc.spec, err, tc.mention)
		}
	}
}

// TestLogger: with a Logger, each request is one line with its outcome.
func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	cfg := testConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	h := newHarness(t, cfg)
	h.emu.Script(Fault{Status: 429})
	h.call("GET", mainPath, "")
	h.call("PUT", mainPath, raBody)
	out := buf.String()
	for _, want := range []string{`status=429 fault="status=429"`, "method=PUT", "status=201", "client_request_id=req-PUT-42"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Signature=") || strings.Contains(out, "HMAC-SHA256") {
		t.Errorf("log contains credentials:\n%s", out)
	}
}

// TestFaultResetOverHTTP2: where the connection cannot be hijacked (HTTP/2),
// a reset aborts the stream; the client still gets no answer.
func TestFaultResetOverHTTP2(t *testing.T) {
	emu, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(emu)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	t.Cleanup(emu.Close)
	emu.Script(Fault{}, Fault{Reset: true}, Fault{Hang: true})
	client := srv.Client()
	client.Timeout = testwait.Patience

	get := func() (*http.Response, error) {
		req, _ := http.NewRequest("GET", srv.URL+mainPath, nil)
		signHMAC(req, testKey, nil, t0.Format(http.TimeFormat), "")
		return client.Do(req)
	}
	resp, err := get()
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 404 {
		t.Fatalf("%s %d, want HTTP/2 404", resp.Proto, resp.StatusCode)
	}
	resp, err = get()
	if err == nil {
		resp.Body.Close()
		t.Fatalf("reset over HTTP/2 answered %d", resp.StatusCode)
	}
	expectDropped(t, err)

	done := make(chan error, 1)
	go func() {
		resp, err := get()
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	testwait.For(t, "the hang", func() bool { return len(emu.Requests()) == 3 })
	emu.Close()
	select {
	case err := <-done:
		expectDropped(t, err)
	case <-time.After(testwait.Patience):
		t.Fatal("Close did not release a hanging HTTP/2 request")
	}
	if r := emu.Requests(); r[1].Fault != "reset" || r[1].Status != 0 || r[2].Fault != "hang" || r[2].Status != 0 {
		t.Errorf("logged %+v", r)
	}
}

var _ http.Handler = (*Emulator)(nil)
