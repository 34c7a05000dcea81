package acs_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/acsemu"
)

// The production path, offline: azidentity's managed identity credential
// fetches a token from an App Service-style identity endpoint (faked here),
// and the client presents it to the emulator as a bearer token for ACS.
func TestManagedIdentityEndToEnd(t *testing.T) {
	const token = "mi-token-for-acs"
	var asked atomic.Int32
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		if r.Header.Get("X-IDENTITY-HEADER") != "secret-header" || r.URL.Query().Get("resource") != "https://communication.azure.com" {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{
			"access_token": token,
			"expires_on":   strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10),
			"resource":     "https://communication.azure.com",
			"token_type":   "Bearer",
		})
	}))
	defer idp.Close()
	t.Setenv("IDENTITY_ENDPOINT", idp.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", "secret-header")

	cred, err := acs.NewCredential(acs.CredentialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	emu, err := acsemu.New(acsemu.Config{VerifyBearer: acsemu.StaticTokens(token)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()
	c, err := acs.New(acs.Options{Endpoint: srv.URL, Credential: cred})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.PutAssignment(context.Background(), userAssignment(desktop)); err != nil {
		t.Fatal(err)
	}
	if r := emu.Requests(); len(r) != 1 || r[0].Auth != "bearer" || r[0].Status != 201 {
		t.Fatalf("emulator saw %+v", r)
	}
	// The token cache is process-wide, so another test may have filled it;
	// what matters is that a token for ACS was used.
	if asked.Load() > 1 {
		t.Fatalf("identity endpoint asked %d times for one token", asked.Load())
	}

	if _, err := acs.NewCredential(acs.CredentialOptions{ManagedIdentityClientID: "not-a-guid"}); err == nil {
		t.Fatal("bad client ID accepted")
	}
}
