package acs_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/portal"
)

// BenchmarkGet compares, in one run against one emulator on loopback, a GET
// through the client (pipeline, retries, signing, decoding) with a bare
// http.Client.Do of a request with the same headers, equally signed, whose
// body is only drained (not decoded).
// The target: the client adds at most 25 % to the bare round trip.
//
//	go test -run '^$' -bench BenchmarkGet -benchmem -count 6 ./internal/acs
func BenchmarkGet(b *testing.B) {
	emu, err := acsemu.New(acsemu.Config{AccessKey: testKey})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()
	defer emu.Close()
	if err := emu.Seed(acsemu.Stored{Host: "127.0.0.1", TenantID: contoso, ObjectID: alice, PrincipalType: "user", ClientIDs: []string{desktop.String(), mobile.String()}}); err != nil {
		b.Fatal(err)
	}
	// The request log would grow with b.N and skew memory; keep it small.
	resetLog := func(i int) {
		if i%1024 == 0 {
			emu.ResetRequests()
		}
	}

	b.Run("client", func(b *testing.B) {
		c, err := acs.New(acs.Options{Endpoint: srv.URL, AccessKey: testKey})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			resetLog(i)
			if _, _, err := c.GetAssignment(ctx, contoso, alice); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("bare", func(b *testing.B) {
		u, _ := url.Parse(srv.URL + "/access/teamsExtension/tenants/" + contoso.String() + "/assignments/" + alice.String() + "?api-version=" + acs.APIVersion)
		hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		hash := acs.ContentHash(nil)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			resetLog(i)
			date := time.Now().UTC().Format(http.TimeFormat)
			sts, _ := acs.StringToSign(http.MethodGet, u.RequestURI(), date, u.Host, hash)
			req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
			req.Header.Set("x-ms-client-request-id", uuid.NewString())
			req.Header.Set("Accept", "application/json")
			req.Header.Set("x-ms-date", date)
			req.Header.Set("x-ms-content-sha256", hash)
			req.Header.Set("Authorization", "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature="+acs.Sign(testKey, sts))
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatal(resp.Status)
			}
		}
	})
}

// BenchmarkInterleaved is BenchmarkGet with the two sides taking turns, in
// blocks of pairs in alternating order, so that a change in the machine's
// load during the run (other work on a shared machine) falls on both alike.
// BenchmarkGet runs all of one side, then all of the other, and on a busy
// machine its ratio swings with the load more than with the code.
// client/bare is the median of the blocks' ratios.
//
//	go test -run '^$' -bench BenchmarkInterleaved -benchtime 30000x ./internal/acs
func BenchmarkInterleaved(b *testing.B) {
	emu, err := acsemu.New(acsemu.Config{AccessKey: testKey})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()
	defer emu.Close()
	if err := emu.Seed(acsemu.Stored{Host: "127.0.0.1", TenantID: contoso, ObjectID: alice, PrincipalType: "user", ClientIDs: []string{desktop.String(), mobile.String()}}); err != nil {
		b.Fatal(err)
	}
	c, err := acs.New(acs.Options{Endpoint: srv.URL, AccessKey: testKey})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	client := func() {
		if _, _, err := c.GetAssignment(ctx, contoso, alice); err != nil {
			b.Fatal(err)
		}
	}
	bare := newBareGet(b, srv.URL, &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()})
	client() // connect both before timing
	bare()

	const block = 100
	var ratios []float64
	var sum [2]time.Duration
	var inBlock [2]time.Duration
	timed := func(side int, f func()) {
		start := time.Now()
		f()
		d := time.Since(start)
		sum[side] += d
		inBlock[side] += d
	}
	i := 0
	for ; b.Loop(); i++ {
		if i%1024 == 0 {
			emu.ResetRequests()
		}
		if (i/block)%2 == 0 {
			timed(0, client)
			timed(1, bare)
		} else {
			timed(1, bare)
			timed(0, client)
		}
		if (i+1)%block == 0 {
			ratios = append(ratios, float64(inBlock[0])/float64(inBlock[1]))
			inBlock = [2]time.Duration{}
		}
	}
	b.ReportMetric(float64(sum[0])/float64(i), "client-ns/op")
	b.ReportMetric(float64(sum[1])/float64(i), "bare-ns/op")
	if len(ratios) > 0 {
		slices.Sort(ratios)
		b.ReportMetric(ratios[len(ratios)/2], "client/bare")
	}
}

// BenchmarkOverhead is BenchmarkGet's two sides against a transport that
// answers at once, with no network and no emulator: what each costs in CPU
// of its own, which on a loopback benchmark competes with the emulator for
// the machine's cores.
//
//	go test -run '^$' -bench BenchmarkOverhead -benchmem ./internal/acs
func BenchmarkOverhead(b *testing.B) {
	body := `{"objectId":"` + alice.String() + `","tenantId":"` + contoso.String() + `","principalType":"user","clientIds":["` + desktop.String() + `","` + mobile.String() + `"]}`
	instant := instantTransport(body)

	b.Run("client", func(b *testing.B) {
		c, err := acs.New(acs.Options{Endpoint: "http://127.0.0.1:8080", AccessKey: testKey, Transport: instant})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := c.GetAssignment(ctx, contoso, alice); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("bare", func(b *testing.B) {
		bare := newBareGet(b, "http://127.0.0.1:8080", &http.Client{Transport: instant})
		b.ReportAllocs()
		for b.Loop() {
			bare()
		}
	})
}

// newBareGet returns BenchmarkGet's bare side as a function: one signed GET
// of the assignment with the client's headers, its body drained.
func newBareGet(b *testing.B, endpoint string, hc *http.Client) func() {
	u, err := url.Parse(endpoint + "/access/teamsExtension/tenants/" + contoso.String() + "/assignments/" + alice.String() + "?api-version=" + acs.APIVersion)
	if err != nil {
		b.Fatal(err)
	}
	hash := acs.ContentHash(nil)
	return func() {
		date := time.Now().UTC().Format(http.TimeFormat)
		sts, _ := acs.StringToSign(http.MethodGet, u.RequestURI(), date, u.Host, hash)
		req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
		req.Header.Set("x-ms-client-request-id", uuid.NewString())
		req.Header.Set("Accept", "application/json")
		req.Header.Set("x-ms-date", date)
		req.Header.Set("x-ms-content-sha256", hash)
		req.Header.Set("Authorization", "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature="+acs.Sign(testKey, sts))
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatal(resp.Status)
		}
	}
}

// instantTransport answers every request at once with 200 and itself as
// the body, as the emulator would answer BenchmarkGet. It serves as both a
// policy.Transporter and an http.RoundTripper.
type instantTransport string

func (t instantTransport) Do(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode:    200,
		Header:        http.Header{"Content-Type": {"application/json"}, "Ms-Cv": {"aGVsbG8.1"}, "X-Ms-Client-Request-Id": r.Header["X-Ms-Client-Request-Id"]},
		Body:          io.NopCloser(strings.NewReader(string(t))),
		ContentLength: int64(len(t)),
		Request:       r,
	}, nil
}

func (t instantTransport) RoundTrip(r *http.Request) (*http.Response, error) { return t.Do(r) }

var _ portal.ACS = (*acs.Client)(nil)
