package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"testing"

	"github.com/teamsphone/portal/internal/devidp"
)

// The metrics address serves Prometheus's text with the portal's own
// counts; the portal's public address does not serve it.
func TestMetricsEndpoint(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"dev", "-addr", "127.0.0.1:0", "-data", t.TempDir(), "-metrics-addr", "127.0.0.1:0"}, noEnv, &out, &errOut)
	}()
	defer func() { cancel(); <-done }()
	banner := regexp.MustCompile(`\(dev\) at (http://[0-9.:]+)\n(?s:.*)metrics: (http://[0-9.:]+/metrics)\n`)
	var m []string
	waitFor(t, "portal dev to print its addresses", func() bool { m = banner.FindStringSubmatch(out.String()); return m != nil },
		func() string { return out.String() + "\n" + errOut.String() })
	base, metricsURL := m[1], m[2]
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	for _, path := range []string{"/auth/login?login_hint=admin@contoso.test", "/assignments", "/lookup?objectId=e5b7f628-ea94-4fdc-b3d9-1af1fe231111"} {
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(b)
	for _, want := range []string{
		`portal_http_requests_total{method="GET",route="/assignments",status="200"}`,
		`portal_acs_calls_total{method="GET",status="200"}`,
		`portal_audit_rows `,
		`portal_sessions_active `,
		`portal_list_index_rows `, // the list was viewed above
		`portal_list_index_bytes `,
		`portal_acs_access{state="pass"} 1`, // the dev emulator lets the portal in
		`portal_acs_access{state="fail"} 0`,
		`portal_http_request_duration_seconds_bucket{route="/lookup"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if resp, err := http.Get(base + "/metrics"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("the portal's public address serves /metrics")
		}
	}
}

// Dev mode signs its audit log's head with a key it made in its data
// folder: the checkpoint goes to the metrics and the JSON log, and when
// the portal stops it signs the rows the last checkpoint left, so verify
// then finds every row anchored (issue 14).
func TestDevSignsTheAuditHead(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	data := t.TempDir()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"dev", "-addr", "127.0.0.1:0", "-data", data, "-metrics-addr", "127.0.0.1:0"}, noEnv, &out, &errOut)
	}()
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			<-done
		}
	}()
	banner := regexp.MustCompile(`\(dev\) at (http://[0-9.:]+)\n(?s:.*)metrics: (http://[0-9.:]+/metrics)\n`)
	var m []string
	waitFor(t, "portal dev to print its addresses", func() bool { m = banner.FindStringSubmatch(out.String()); return m != nil },
		func() string { return out.String() + "\n" + errOut.String() })
	checkpoint := regexp.MustCompile(`(?m)^portal_audit_checkpoint_seq ([0-9]+)$`)
	waitFor(t, "a checkpoint in the metrics", func() bool {
		resp, err := http.Get(m[2])
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return checkpoint.Match(b)
	}, func() string { return readDevLog(data) })
	if !strings.Contains(readDevLog(data), `"event":"audit.checkpoint"`) {
		t.Errorf("no checkpoint in the log:\n%s", readDevLog(data))
	}
	// A row after the checkpoint: a sign-in.
	jar, _ := cookiejar.New(nil)
	if resp, err := (&http.Client{Jar: jar}).Get(m[1] + "/auth/login?login_hint=auditor@contoso.test"); err == nil {
		resp.Body.Close()
	}
	cancel()
	stopped = true
	if err := <-done; err != nil {
		t.Fatalf("portal dev: %v", err)
	}
	var verified bytes.Buffer
	if err := run(context.Background(), []string{"audit", "verify", "-data", data}, noEnv, &verified, &verified); err != nil ||
		!strings.Contains(verified.String(), "audit chain intact") || !strings.Contains(verified.String(), "checkpoint signatures checked with key") ||
		strings.Contains(verified.String(), "unanchored") {
		t.Errorf("verify after a clean stop: %v\n%s", err, verified.String())
	}
}

// Dev mode runs a Graph emulator that accepts only the dev IdP's tokens,
// and a sign-in keeps the person's Graph tokens with the session.
func TestDevGraph(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	data := t.TempDir()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"dev", "-addr", "127.0.0.1:0", "-data", data}, noEnv, &out, &errOut) }()
	defer func() { cancel(); <-done }()
	banner := regexp.MustCompile(`\(dev\) at (http://[0-9.:]+)\n(?s:.*)Graph emulator: (http://[0-9.:]+) `)
	var m []string
	waitFor(t, "portal dev to print its Graph emulator", func() bool { m = banner.FindStringSubmatch(out.String()); return m != nil },
		func() string { return out.String() + "\n" + errOut.String() })
	req, _ := http.NewRequest("GET", m[2]+"/v1.0/users?$filter=startswith(displayName,'Alice')", nil)
	req.Header.Set("Authorization", "Bearer made-up")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a made-up token: %d, want 401", resp.StatusCode)
	}
	// The state routes are served beside the fault switch.
	resp, err = http.Get(m[2] + "/_emulator/tenants/" + devidp.ContosoTenant.String())
	if err != nil {
		t.Fatal(err)
	}
	state, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(state), `"gita.rao@contoso.test"`) {
		t.Errorf("the Graph emulator's state: %d %.300s", resp.StatusCode, state)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err = c.Get(m[1] + "/auth/login?login_hint=helpdesk@contoso.test")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if log := readDevLog(data); resp.StatusCode != 200 || !strings.Contains(log, `"auth.success"`) || strings.Contains(log, `"auth.tokens"`) {
		t.Errorf("sign-in with Graph scopes: %d; log:\n%.2000s", resp.StatusCode, log)
	}
}
