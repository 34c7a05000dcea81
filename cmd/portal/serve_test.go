package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// portal serve with missing or bad settings exits non-zero with one line per
// problem and never a stack trace.
func TestServeRefusesIncompleteSettings(t *testing.T) {
	for name, tc := range map[string]struct {
		env  map[string]string
		want []string
	}{
		"nothing set": {map[string]string{}, []string{"PORTAL_BASE_URL", "PORTAL_ENTRA_TENANT_ID", "PORTAL_ENTRA_CLIENT_ID", "PORTAL_ENTRA_CLIENT_SECRET", "PORTAL_ACS_ENDPOINT", "PORTAL_DATABASE_URL"}},
		"malformed": {map[string]string{
			"PORTAL_BASE_URL":              "http://portal.example.com",
			"PORTAL_ENTRA_TENANT_ID":       "contoso",
			"PORTAL_ENTRA_CLIENT_ID":       "b40eb512",
			"PORTAL_ENTRA_CLIENT_SECRET":   "s3cret-value",
			"PORTAL_ACS_CONNECTION_STRING": "endpoint=http://x.communication.azure.com/;accesskey=c2VjcmV0",
			"PORTAL_DATABASE_URL":          "mysql://x",
			"PORTAL_SESSION_IDLE_TIMEOUT":  "forever",
		}, []string{"PORTAL_BASE_URL", "tenant ID \"contoso\"", "PORTAL_ENTRA_CLIENT_ID", "PORTAL_ACS_CONNECTION_STRING", "PORTAL_DATABASE_URL", "PORTAL_SESSION_IDLE_TIMEOUT"}},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), []string{"serve"}, envOf(tc.env), &out, &errOut)
			if err == nil || exitCode(err) == 0 {
				t.Fatalf("err %v", err)
			}
			lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
			if len(lines) != len(tc.want) {
				t.Errorf("%d lines, want %d:\n%s", len(lines), len(tc.want), errOut.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("no line about %s:\n%s", w, errOut.String())
				}
			}
			if strings.Contains(errOut.String(), "goroutine") || strings.Contains(errOut.String(), "s3cret-value") || strings.Contains(errOut.String(), "c2VjcmV0") {
				t.Errorf("leaks a stack or a secret:\n%s", errOut.String())
			}
		})
	}
}

func TestServeStartsWithCompleteSettings(t *testing.T) {
	// Serve briefly, then stop: what matters is that the settings pass and
	// the server starts and shuts down cleanly.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	env := map[string]string{
		"PORTAL_ADDR":                  "127.0.0.1:0",
		"PORTAL_BASE_URL":              "https://portal.example.com",
		"PORTAL_ENTRA_TENANT_ID":       "1c361ff7-fb44-4685-bb78-1bad6ce5bef3",
		"PORTAL_ENTRA_CLIENT_ID":       "b40eb512-a78a-485a-a591-76f8fcfa070a",
		"PORTAL_ENTRA_CLIENT_SECRET":   "s3cret-value",
		"PORTAL_ACS_CONNECTION_STRING": "endpoint=https://x.communication.azure.com/;accesskey=c2VjcmV0",
		"PORTAL_DATABASE_URL":          "sqlite:" + t.TempDir() + "/portal.db",
	}
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"serve"}, envOf(env), &out, &errOut); err != nil {
		t.Fatalf("err %v\n%s", err, errOut.String())
	}
}
