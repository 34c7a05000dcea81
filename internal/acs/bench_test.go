package acs_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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

var _ portal.ACS = (*acs.Client)(nil)
