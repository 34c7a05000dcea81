package acs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/portal"
)

var (
	contoso   = portal.MustParseGUID("1c361ff7-fb44-4685-bb78-1bad6ce5bef3")
	alice     = portal.MustParseGUID("e5b7f628-ea94-4fdc-b3d9-1af1fe231111")
	frontDesk = portal.MustParseGUID("b27b64b9-39d2-44a3-869d-67700b74e805")
	desktop   = portal.MustParseGUID("83ecbc78-e1ba-4e8f-a454-5483ef618061")
	mobile    = portal.MustParseGUID("9215f754-3568-4bed-baa4-455c404e6140")
)

var testKey = []byte("emulator-test-key-0123456789abcdef")

type env struct {
	emu    *acsemu.Emulator
	srv    *httptest.Server
	client *acs.Client
}

// newEnv starts an emulator on loopback and a client for it with fast
// retries, so fault tests take milliseconds, not the production defaults.
func newEnv(t *testing.T, tweak func(*acs.Options)) *env {
	t.Helper()
	emu, err := acsemu.New(acsemu.Config{AccessKey: testKey, VerifyBearer: acsemu.StaticTokens("good-token")})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { emu.Close(); srv.Close() })
	opts := acs.Options{
		Endpoint:      srv.URL,
		AccessKey:     testKey,
		RetryDelay:    5 * time.Millisecond,
		MaxRetryAfter: 2 * time.Second,
		// Far above any answer of the emulator on loopback, even on a
		// loaded machine: a try cut short would be retried and change the
		// attempts the tests count. The tests of the cut set their own.
		TryTimeout: 30 * time.Second,
	}
	if tweak != nil {
		tweak(&opts)
	}
	c, err := acs.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return &env{emu: emu, srv: srv, client: c}
}

func userAssignment(apps ...portal.GUID) portal.Assignment {
	return portal.Assignment{TenantID: contoso, ObjectID: alice, Kind: portal.KindUser, ClientIDs: apps}
}

func TestRoundTripHMAC(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()

	created, call, err := e.client.PutAssignment(ctx, userAssignment(mobile, desktop))
	if err != nil || !created {
		t.Fatalf("first PUT: created=%v err=%v", created, err)
	}
	if call.Status != 201 || call.Attempts != 1 || call.RequestID == "" || call.CorrelationVector == "" {
		t.Fatalf("call = %+v", call)
	}
	got, _, err := e.client.GetAssignment(ctx, contoso, alice)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(userAssignment(desktop, mobile)) || got.Spelling != "user" {
		t.Fatalf("GET = %+v", got)
	}

	// PUT replaces the whole assignment.
	created, _, err = e.client.PutAssignment(ctx, userAssignment(desktop))
	if err != nil || created {
		t.Fatalf("second PUT: created=%v err=%v", created, err)
	}
	if got, _, _ := e.client.GetAssignment(ctx, contoso, alice); !got.Equal(userAssignment(desktop)) {
		t.Fatalf("after replace: %+v", got)
	}

	gone, call, err := e.client.DeleteAssignment(ctx, contoso, alice)
	if err != nil || gone || call.Status != 204 {
		t.Fatalf("DELETE: gone=%v call=%+v err=%v", gone, call, err)
	}
	_, call, err = e.client.GetAssignment(ctx, contoso, alice)
	if portal.ErrorCode(err) != portal.ENOTFOUND || call.Status != 404 || call.Attempts != 1 {
		t.Fatalf("GET after DELETE: call=%+v err=%v, want ENOTFOUND once", call, err)
	}
	gone, _, err = e.client.DeleteAssignment(ctx, contoso, alice)
	if err != nil || !gone {
		t.Fatalf("second DELETE: gone=%v err=%v, want already gone", gone, err)
	}
}

type staticCredential string

func (s staticCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func TestRoundTripBearer(t *testing.T) {
	e := newEnv(t, func(o *acs.Options) { o.AccessKey, o.Credential = nil, staticCredential("good-token") })
	ra := portal.Assignment{TenantID: contoso, ObjectID: frontDesk, Kind: portal.KindResourceAccount}
	if created, _, err := e.client.PutAssignment(context.Background(), ra); err != nil || !created {
		t.Fatalf("PUT: %v %v", created, err)
	}
	got, _, err := e.client.GetAssignment(context.Background(), contoso, frontDesk)
	if err != nil || !got.Equal(ra) || got.Spelling != "teamsResourceAccount" {
		t.Fatalf("GET = %+v, %v", got, err)
	}
	if r := e.emu.Requests(); r[0].Auth != "bearer" {
		t.Fatalf("emulator saw auth %q", r[0].Auth)
	}

	bad := newEnv(t, func(o *acs.Options) { o.AccessKey, o.Credential = nil, staticCredential("stolen-token") })
	_, call, err := bad.client.GetAssignment(context.Background(), contoso, frontDesk)
	assertDenied(t, err, call)
}

func assertDenied(t *testing.T, err error, call portal.ACSCall) {
	t.Helper()
	var re *acs.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 401 || re.Code != "Denied" {
		t.Fatalf("err = %v, want a 401 Denied ResponseError", err)
	}
	if portal.ErrorCode(err) != portal.EUNAVAILABLE || !strings.Contains(portal.ErrorMessage(err), "credentials") {
		t.Fatalf("code %q message %q", portal.ErrorCode(err), portal.ErrorMessage(err))
	}
	if call.Attempts != 1 {
		t.Fatalf("401 was retried: %d attempts", call.Attempts)
	}
}

func TestWrongKeyIsDeniedAndNotRetried(t *testing.T) {
	e := newEnv(t, func(o *acs.Options) { o.AccessKey = []byte("some-other-key") })
	_, call, err := e.client.GetAssignment(context.Background(), contoso, alice)
	assertDenied(t, err, call)
	if n := len(e.emu.Requests()); n != 1 {
		t.Fatalf("emulator saw %d requests", n)
	}
}

func TestResourceAccountSpellingIsConfigurable(t *testing.T) {
	e := newEnv(t, func(o *acs.Options) { o.ResourceAccountSpelling = "resourceAccount" })
	ra := portal.Assignment{TenantID: contoso, ObjectID: frontDesk, Kind: portal.KindResourceAccount}
	if _, _, err := e.client.PutAssignment(context.Background(), ra); err != nil {
		t.Fatal(err)
	}
	s, ok := e.emu.Lookup("127.0.0.1", contoso, frontDesk)
	if !ok || s.PrincipalType != "resourceAccount" || len(s.ClientIDs) != 0 {
		t.Fatalf("stored %+v, %v", s, ok)
	}
	if _, err := acs.New(acs.Options{Endpoint: "https://x.communication.azure.com", AccessKey: testKey, ResourceAccountSpelling: "ResourceAcct"}); portal.ErrorCode(err) != portal.EINVALID {
		t.Fatalf("bad spelling accepted: %v", err)
	}
}

func TestReadsEverySpelling(t *testing.T) {
	e := newEnv(t, nil)
	for spelling, want := range map[string]portal.PrincipalKind{
		"User": portal.KindUser, "USER": portal.KindUser,
		"resourceAccount": portal.KindResourceAccount, "TeamsResourceAccount": portal.KindResourceAccount,
	} {
		s := acsemu.Stored{Host: "127.0.0.1", TenantID: contoso, ObjectID: alice, PrincipalType: spelling}
		if want == portal.KindUser {
			s.ClientIDs = []string{desktop.String()}
		}
		if err := e.emu.Seed(s); err != nil {
			t.Fatal(err)
		}
		got, _, err := e.client.GetAssignment(context.Background(), contoso, alice)
		if err != nil || got.Kind != want || got.Spelling != spelling {
			t.Errorf("%s: got %+v, %v; want kind %v", spelling, got, err, want)
		}
	}
}

// The spec's principalType enum is open: a type the portal does not know is
// read, not refused, so people can still see what ACS holds.
func TestToleratesAnUnknownPrincipalType(t *testing.T) {
	ct := &captureTransport{status: 200, body: `{"objectId":"e5b7f628-ea94-4fdc-b3d9-1af1fe231111","tenantId":"1c361ff7-fb44-4685-bb78-1bad6ce5bef3","principalType":"application"}`}
	c, err := acs.New(acs.Options{Endpoint: "https://x.communication.azure.com", AccessKey: testKey, Transport: ct})
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := c.GetAssignment(context.Background(), contoso, alice)
	if err != nil || got.Kind != portal.KindUnknown || got.Spelling != "application" {
		t.Fatalf("got %+v, %v", got, err)
	}
	// An answer about another object is not tolerated.
	ct.body = `{"objectId":"9215f754-3568-4bed-baa4-455c404e6140","principalType":"user","clientIds":["83ecbc78-e1ba-4e8f-a454-5483ef618061"]}`
	if _, _, err := c.GetAssignment(context.Background(), contoso, alice); portal.ErrorCode(err) != portal.EUNAVAILABLE {
		t.Fatalf("mismatched object: %v", err)
	}
}

func TestInvalidAssignmentIsNotSent(t *testing.T) {
	e := newEnv(t, nil)
	for _, a := range []portal.Assignment{
		userAssignment(), // a user with no apps
		{TenantID: contoso, ObjectID: frontDesk, Kind: portal.KindResourceAccount, ClientIDs: []portal.GUID{desktop}},
		{ObjectID: alice, Kind: portal.KindUser, ClientIDs: []portal.GUID{desktop}},
	} {
		if _, _, err := e.client.PutAssignment(context.Background(), a); portal.ErrorCode(err) != portal.EINVALID {
			t.Errorf("%+v: err %v, want EINVALID", a, err)
		}
	}
	if _, _, err := e.client.GetAssignment(context.Background(), portal.GUID{}, alice); portal.ErrorCode(err) != portal.EINVALID {
		t.Errorf("nil tenant: err %v", err)
	}
	if n := len(e.emu.Requests()); n != 0 {
		t.Fatalf("emulator saw %d requests", n)
	}
}

// What reaches ACS is always one canonical GUID segment: IDs are parsed once
// into bytes, so every spelling that parses is sent the same way, and one
// that does not parse never leaves the portal.
func TestOnlyCanonicalIDsReachACS(t *testing.T) {
	e := newEnv(t, nil)
	for _, spelled := range []string{"E5B7F628-EA94-4FDC-B3D9-1AF1FE231111", "{e5b7f628-ea94-4fdc-b3d9-1af1fe231111}"} {
		id, err := portal.ParseGUID(spelled)
		if err != nil {
			t.Fatal(err)
		}
		e.client.GetAssignment(context.Background(), contoso, id)
	}
	for _, bad := range []string{"..%2F..%2Fother", "%2e%2e", "A%2FB", "..;/", "urn:uuid:e5b7f628-ea94-4fdc-b3d9-1af1fe231111", "e5b7f628ea944fdcb3d91af1fe231111", "00000000-0000-0000-0000-000000000000", "e5b7f628-ea94-4fdc-b3d9-1af1fe23111\u0430"} {
		if _, err := portal.ParseGUID(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	reqs := e.emu.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	for _, r := range reqs {
		if r.TenantSegment != contoso.String() || r.ObjectSegment != alice.String() {
			t.Errorf("emulator saw segments %q / %q", r.TenantSegment, r.ObjectSegment)
		}
	}
}

func TestRetryAfterIsHonouredWithOneRequestIDAndFreshDates(t *testing.T) {
	e := newEnv(t, nil)
	e.emu.Script(acsemu.Fault{Status: 429, RetryAfter: "1"})
	start := time.Now()
	_, call, err := e.client.PutAssignment(context.Background(), userAssignment(desktop))
	if err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Fatalf("retried after %v, before Retry-After: 1", waited)
	}
	reqs := e.emu.Requests()
	if len(reqs) != 2 || call.Attempts != 2 || call.Status != 201 {
		t.Fatalf("%d requests, call %+v", len(reqs), call)
	}
	if reqs[0].ClientRequestID != call.RequestID || reqs[1].ClientRequestID != call.RequestID {
		t.Fatalf("request IDs %q, %q; call %q", reqs[0].ClientRequestID, reqs[1].ClientRequestID, call.RequestID)
	}
	if reqs[0].XMsDate == reqs[1].XMsDate {
		t.Fatalf("both attempts signed with x-ms-date %q", reqs[0].XMsDate)
	}
}

func TestRetryAfterBeyondTheBoundFailsFastAsThrottled(t *testing.T) {
	e := newEnv(t, nil)
	e.emu.Script(acsemu.Fault{Status: 429, RetryAfter: "3600"})
	start := time.Now()
	_, call, err := e.client.GetAssignment(context.Background(), contoso, alice)
	if portal.ErrorCode(err) != portal.ETHROTTLED {
		t.Fatalf("err %v, want ETHROTTLED", err)
	}
	if call.Attempts != 1 || time.Since(start) > time.Second {
		t.Fatalf("waited %v over %d attempts", time.Since(start), call.Attempts)
	}
}

// Retry-After values that mean nothing fall back to the client's own backoff.
func TestMeaninglessRetryAfterFallsBackToBackoff(t *testing.T) {
	for _, ra := range []string{"0", "-1", "abc", "Wed, 21 Oct 2015 07:28:00 GMT", ""} {
		e := newEnv(t, nil)
		e.emu.Script(acsemu.Fault{Status: 429, RetryAfter: ra}, acsemu.Fault{Status: 503})
		start := time.Now()
		_, call, err := e.client.PutAssignment(context.Background(), userAssignment(desktop))
		if err != nil || call.Attempts != 3 {
			t.Errorf("Retry-After %q: attempts %d, err %v", ra, call.Attempts, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Retry-After %q: took %v", ra, d)
		}
	}
}

func TestServerErrorsAreRetriedThenReported(t *testing.T) {
	e := newEnv(t, func(o *acs.Options) { o.MaxRetries = 2 })
	e.emu.Script(acsemu.Fault{Status: 500}, acsemu.Fault{Status: 503}, acsemu.Fault{Status: 500})
	_, call, err := e.client.GetAssignment(context.Background(), contoso, alice)
	if portal.ErrorCode(err) != portal.EUNAVAILABLE || call.Attempts != 3 || call.Status != 500 {
		t.Fatalf("call %+v err %v", call, err)
	}
	if strings.Contains(portal.ErrorMessage(err), "goroutine") || !strings.Contains(portal.ErrorMessage(err), "500") {
		t.Fatalf("message %q", portal.ErrorMessage(err))
	}
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	e := newEnv(t, nil)
	_, call, err := e.client.GetAssignment(context.Background(), contoso, alice)
	if portal.ErrorCode(err) != portal.ENOTFOUND || call.Attempts != 1 {
		t.Fatalf("404: call %+v err %v", call, err)
	}
}

func TestHangIsCutByTheTryTimeout(t *testing.T) {
	e := newEnv(t, func(o *acs.Options) { o.TryTimeout = 200 * time.Millisecond })
	e.emu.Script(acsemu.Fault{Hang: true})
	start := time.Now()
	_, call, err := e.client.PutAssignment(context.Background(), userAssignment(desktop))
	if err != nil || call.Attempts != 2 {
		t.Fatalf("call %+v err %v", call, err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 2*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestCallerDeadlineBoundsTheWholeCall(t *testing.T) {
	e := newEnv(t, nil)
	e.emu.Script(acsemu.Fault{Hang: true})
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := e.client.GetAssignment(ctx, contoso, alice)
	if portal.ErrorCode(err) != portal.EUNAVAILABLE || !strings.Contains(portal.ErrorMessage(err), "in time") {
		t.Fatalf("err %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestDroppedConnectionIsRetried(t *testing.T) {
	e := newEnv(t, nil)
	e.emu.Script(acsemu.Fault{Reset: true})
	if _, call, err := e.client.PutAssignment(context.Background(), userAssignment(desktop)); err != nil || call.Attempts != 2 {
		t.Fatalf("call %+v err %v", call, err)
	}
}

// A DELETE that landed but whose answer was lost is retried; the retry's 404
// means the first attempt worked.
func TestDeleteWhoseRetrySees404IsAlreadyGone(t *testing.T) {
	e := newEnv(t, nil)
	if _, _, err := e.client.PutAssignment(context.Background(), userAssignment(desktop)); err != nil {
		t.Fatal(err)
	}
	e.emu.Script(acsemu.Fault{ResetAfterApply: true})
	gone, call, err := e.client.DeleteAssignment(context.Background(), contoso, alice)
	if err != nil || !gone || call.Attempts != 2 {
		t.Fatalf("gone=%v call=%+v err=%v", gone, call, err)
	}
	if _, ok := e.emu.Lookup("127.0.0.1", contoso, alice); ok {
		t.Fatal("assignment still there")
	}
}

// A PUT whose answer was lost is retried: PUT is idempotent, so the retry
// replaces what the first attempt created and reports "replaced".
func TestPutWhoseAnswerWasLostIsRetried(t *testing.T) {
	e := newEnv(t, nil)
	e.emu.Script(acsemu.Fault{ResetAfterApply: true})
	created, call, err := e.client.PutAssignment(context.Background(), userAssignment(desktop))
	if err != nil || created || call.Attempts != 2 || call.Status != 200 {
		t.Fatalf("created=%v call=%+v err=%v", created, call, err)
	}
}

func TestTruncatedAnswerIsAnError(t *testing.T) {
	e := newEnv(t, nil)
	e.client.PutAssignment(context.Background(), userAssignment(desktop))
	e.emu.Script(acsemu.Fault{TruncateBody: true})
	if _, _, err := e.client.GetAssignment(context.Background(), contoso, alice); portal.ErrorCode(err) != portal.EUNAVAILABLE {
		t.Fatalf("err %v", err)
	}
}

func TestOversizedAnswerIsRefused(t *testing.T) {
	ct := &captureTransport{status: 200, body: `{"principalType":"user","clientIds":["` + strings.Repeat("a", 2<<20) + `"]}`}
	c, err := acs.New(acs.Options{Endpoint: "https://x.communication.azure.com", AccessKey: testKey, Transport: ct})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.GetAssignment(context.Background(), contoso, alice); portal.ErrorCode(err) != portal.EUNAVAILABLE || !strings.Contains(portal.ErrorMessage(err), "too large") {
		t.Fatalf("err %v", err)
	}
}

func TestConcurrencyIsBoundedAcrossCallers(t *testing.T) {
	emu, err := acsemu.New(acsemu.Config{AccessKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	emu.SetRates(acsemu.Rates{Latency: 50 * time.Millisecond})
	var inFlight, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		emu.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { emu.Close(); srv.Close() })
	c, err := acs.New(acs.Options{Endpoint: srv.URL, AccessKey: testKey, MaxConcurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { c.GetAssignment(context.Background(), contoso, alice) })
	}
	wg.Wait()
	if p := peak.Load(); p != 2 {
		t.Fatalf("peak in flight %d, want 2", p)
	}
}

// An error answer of 50 MB is cut at the cap, not read into memory: azcore
// reads error bodies itself, so the cap sits in the transport.
func TestHugeErrorBodyIsCapped(t *testing.T) {
	var sent, started, finished atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		defer finished.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for range 800 { // 50 MiB
			n, err := w.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	reader := &countingTransport{}
	c, err := acs.New(acs.Options{Endpoint: srv.URL, AccessKey: []byte("k"), MaxRetries: 1, RetryDelay: time.Millisecond, Transport: reader})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.GetAssignment(context.Background(), contoso, alice)
	if portal.ErrorCode(err) != portal.EUNAVAILABLE || !strings.Contains(portal.ErrorMessage(err), "too large") {
		t.Fatalf("err = %v", err)
	}
	// What the client read, not what the server got out: the kernel's
	// socket buffers take several MB more on a busy machine.
	if n, answers := reader.read.Load(), started.Load(); n > answers*(1<<20+64<<10) {
		t.Errorf("the client read %d KiB of %d error bodies, more than 1 MiB each", n>>10, answers)
	}
	// The client closed the connection rather than draining it: each
	// answer's writes failed before its 50 MiB were out.
	for deadline := time.Now().Add(time.Minute); finished.Load() < started.Load(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the server was still writing a minute later: the connection was not closed")
		}
	}
	if n, answers := sent.Load(), started.Load(); n >= answers*800*64<<10 {
		t.Errorf("the server got all %d MB of %d answers out: the body was drained", n>>20, answers)
	}
}

// countingTransport sends requests as the client's default would, counting
// the response body bytes the client reads.
type countingTransport struct{ read atomic.Int64 }

func (c *countingTransport) Do(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		resp.Body = countingBody{resp.Body, &c.read}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// A 401 or 403 shows ACS's own code and message, and says what to do for
// each: the subscription not enabled, the role missing, the credentials.
func TestRefusalsSayWhatACSSaidAndWhatToDo(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		fault acsemu.Fault
		want  []string
	}{
		{acsemu.Fault{Status: 403, Code: "SubscriptionNotAllowed"}, []string{"HTTP 403 SubscriptionNotAllowed", "not allowed to use this feature", "not enabled for Teams Phone extensibility"}},
		{acsemu.Fault{Status: 403, Code: "AuthorizationFailed", Message: "The client does not have authorization."}, []string{"HTTP 403 AuthorizationFailed", "does not have authorization", "role on the ACS resource"}},
		{acsemu.Fault{Status: 401, Code: "Denied", Message: "Denied by the resource provider."}, []string{"HTTP 401 Denied", "Denied by the resource provider.", "PORTAL_ACS_CONNECTION_STRING"}},
	} {
		e.emu.Script(tc.fault)
		_, call, err := e.client.GetAssignment(context.Background(), contoso, alice)
		msg := portal.ErrorMessage(err)
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%d %s: %q lacks %q", tc.fault.Status, tc.fault.Code, msg, w)
			}
		}
		var re *acs.ResponseError
		if !errors.As(err, &re) || re.ACSErrorCode() != tc.fault.Code || call.Attempts != 1 {
			t.Errorf("%d %s: %v after %d attempts", tc.fault.Status, tc.fault.Code, err, call.Attempts)
		}
	}
}

// The api-version is a setting: every published one is sent as given (the
// emulator serves them all); a malformed one is refused at once; one ACS
// does not serve is ACS's 400, with the versions it does.
func TestAPIVersionSetting(t *testing.T) {
	for _, v := range acs.APIVersions {
		e := newEnv(t, func(o *acs.Options) { o.APIVersion = v })
		if _, _, err := e.client.GetAssignment(context.Background(), contoso, alice); portal.ErrorCode(err) != portal.ENOTFOUND {
			t.Fatalf("%s: %v", v, err)
		}
		if r := e.emu.Requests(); !strings.HasSuffix(r[len(r)-1].RequestURI, "?api-version="+v) {
			t.Errorf("%s: sent %s", v, r[len(r)-1].RequestURI)
		}
	}
	for _, v := range []string{"2025/06/30", "latest", "2025-6-30", "2025-06-30-beta"} {
		if _, err := acs.New(acs.Options{Endpoint: "https://x.communication.azure.com", AccessKey: testKey, APIVersion: v}); portal.ErrorCode(err) != portal.EINVALID {
			t.Errorf("%q: %v", v, err)
		}
	}
	e := newEnv(t, func(o *acs.Options) { o.APIVersion = "2031-01-01" })
	_, _, err := e.client.GetAssignment(context.Background(), contoso, alice)
	if portal.ErrorCode(err) != portal.EINVALID || !strings.Contains(portal.ErrorMessage(err), "2026-09-23") {
		t.Errorf("an api-version ACS does not serve: %v", err)
	}
}

// A Retry-After beyond the bound fails the call at once, saying the real
// wait and until when, never "in a minute" when ACS asked for an hour.
func TestThrottledSaysTheRealWait(t *testing.T) {
	now := time.Date(2026, 12, 7, 7, 15, 0, 0, time.UTC)
	e := newEnv(t, func(o *acs.Options) { o.MaxRetryAfter = 10 * time.Second; o.Now = func() time.Time { return now } })
	for _, tc := range []struct{ retryAfter, want string }{
		{"20", "wait 20 s; try again after 07:15:20 UTC"},
		{"3600", "wait 1 h; try again after 08:15:00 UTC"},
		{"125", "wait 2 min 5 s; try again after 07:17:05 UTC"},
	} {
		e.emu.Script(acsemu.Fault{Status: 429, RetryAfter: tc.retryAfter})
		_, call, err := e.client.GetAssignment(context.Background(), contoso, alice)
		if portal.ErrorCode(err) != portal.ETHROTTLED || !strings.Contains(portal.ErrorMessage(err), tc.want) {
			t.Errorf("Retry-After %s: %v", tc.retryAfter, err)
		}
		var re *acs.ResponseError
		// One attempt: the call did not wait (the wait is past the bound).
		if !errors.As(err, &re) || re.RetryAfter <= 10*time.Second || call.Attempts != 1 {
			t.Errorf("Retry-After %s: %+v after %d attempts", tc.retryAfter, re, call.Attempts)
		}
	}
}

// A 503 that says how long to wait says it too, not "try again shortly",
// and the wait is found in the error for callers that schedule work.
func TestUnavailableSaysTheRealWait(t *testing.T) {
	now := time.Date(2026, 12, 7, 7, 15, 0, 0, time.UTC)
	e := newEnv(t, func(o *acs.Options) { o.MaxRetryAfter = 10 * time.Second; o.Now = func() time.Time { return now } })
	e.emu.Script(acsemu.Fault{Status: 503, RetryAfter: "3600"})
	_, _, err := e.client.GetAssignment(context.Background(), contoso, alice)
	if msg := portal.ErrorMessage(err); portal.ErrorCode(err) != portal.EUNAVAILABLE || !strings.Contains(msg, "wait 1 h; try again after 08:15:00 UTC") || strings.Contains(msg, "shortly") {
		t.Errorf("503 with Retry-After: 3600: %v", err)
	}
	if got := portal.RetryAfter(err); got != time.Hour {
		t.Errorf("portal.RetryAfter = %v, want 1h", got)
	}
}

// The caller hears of every Retry-After ACS answers (portal.WhenAskedToWait),
// also of one the client waits out itself and then succeeds: a bulk job
// pauses on it at once.
func TestClientSaysWhenACSAsksToWait(t *testing.T) {
	e := newEnv(t, nil)
	e.emu.Script(acsemu.Fault{Status: 429, RetryAfterMs: "50"}, acsemu.Fault{Status: 503, RetryAfter: "3600"})
	var heard []time.Duration
	ctx := portal.WhenAskedToWait(context.Background(), func(d time.Duration) { heard = append(heard, d) })
	if _, _, err := e.client.PutAssignment(ctx, userAssignment(desktop)); err == nil || portal.RetryAfter(err) != time.Hour {
		t.Fatalf("err = %v, want the 503's hour", err)
	}
	if len(heard) != 2 || heard[0] != 50*time.Millisecond || heard[1] != time.Hour {
		t.Errorf("heard %v, want [50ms 1h]", heard)
	}
	heard = nil
	if _, _, err := e.client.PutAssignment(ctx, userAssignment(desktop)); err != nil || len(heard) != 0 {
		t.Errorf("an answer without Retry-After: %v, heard %v", err, heard)
	}
}

// A background call whose work stops waiting while it waits to be tried
// again (its slot given up after a 429) is not tried again: it ends
// unsent, at once, without the retry policy's further tries.
func TestRetryOfStoppedWorkIsNotSent(t *testing.T) {
	e := newEnv(t, nil)
	e.emu.Script(acsemu.Fault{Status: 429, RetryAfterMs: "50"})
	stop := make(chan struct{})
	ctx := portal.WhenAskedToWait(portal.BackgroundUntil(context.Background(), stop), func(time.Duration) { close(stop) })
	_, call, err := e.client.PutAssignment(ctx, userAssignment(desktop))
	if portal.ErrorCode(err) != portal.EUNAVAILABLE || !strings.Contains(portal.ErrorMessage(err), "Not sent to ACS") {
		t.Errorf("err = %v, want not sent", err)
	}
	if n := len(e.emu.Requests()); n != 1 || call.Attempts != 2 {
		t.Errorf("%d requests over %d attempts; want the throttled one, and a second attempt that sent nothing", n, call.Attempts)
	}
}
