package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/devidp"
)

// readDevLog is dev mode's log file in dataDir as it stands ("" before it
// exists).
func readDevLog(dataDir string) string {
	b, _ := os.ReadFile(filepath.Join(dataDir, devLogName))
	return string(b)
}

// What a developer sees on starting portal dev: the banner first (nothing
// logged above it), naming the address, every persona with its role and
// the data folder; then a page that loads fine is in the log file only,
// and a page that fails shows on the console as well.
func TestDevConsole(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var console syncBuffer // stdout and stderr, interleaved as a terminal shows them
	data := t.TempDir()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"dev", "-addr", "127.0.0.1:0", "-data", data}, noEnv, &console, &console)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("portal dev: %v", err)
		}
	}()
	first := regexp.MustCompile(`^Teams Phone Access Portal \(dev\) at (http://127\.0\.0\.1:\d+)\n`)
	waitFor(t, "portal dev's banner", func() bool { return strings.Contains(console.String(), "Graph emulator: ") },
		func() string { return console.String() })
	out := console.String()
	m := first.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the console does not start with the banner:\n%s", out)
	}
	base := m[1]
	banner, _, _ := strings.Cut(out, "\n\n  ACS emulator: ")
	for _, p := range devidp.Personas() {
		role := "no role"
		if len(p.Roles) > 0 {
			role = strings.TrimPrefix(p.Roles[0], "Portal.") // Portal.Admin: Admin
		}
		line := regexp.MustCompile(`(?m)^    ` + regexp.QuoteMeta(p.LoginHint) + ` +` + p.TenantName + ` +` + role + ` +\S`)
		if !line.MatchString(banner) {
			t.Errorf("no line for %s (%s, %s) in the banner:\n%s", p.LoginHint, p.TenantName, role, banner)
		}
	}
	if !strings.Contains(banner, "data: "+data+" (delete it") || !strings.Contains(banner, "    portal.log: every log line") {
		t.Errorf("the banner does not say where the data and the log are (%s):\n%s", data, banner)
	}

	get := func(path string) string {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("X-Request-ID")
	}
	ok := get("/")
	waitFor(t, "the start page's request in the log file", func() bool { return strings.Contains(readDevLog(data), ok) },
		func() string { return readDevLog(data) })
	missing := get("/no-such-page")
	waitFor(t, "the failed request on the console", func() bool { return strings.Contains(console.String(), missing) },
		func() string { return console.String() })

	var logged bool
	for line := range strings.SplitSeq(readDevLog(data), "\n") {
		logged = logged || strings.Contains(line, `"msg":"request"`) && strings.Contains(line, `"request_id":"`+ok+`"`) && strings.Contains(line, `"status":200`)
	}
	if !logged {
		t.Errorf("no JSON line for the start page's request %s in %s:\n%.3000s", ok, devLogName, readDevLog(data))
	}
	if strings.Contains(console.String(), ok) {
		t.Errorf("a page that loaded fine is on the console:\n%s", console.String())
	}
	if !regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d INFO  request  method=GET path=/no-such-page status=404 .*request_id=` + missing + `$`).MatchString(console.String()) {
		t.Errorf("the failed request's console line:\n%s", console.String())
	}
}

// The console shows, unless -v, warnings and the requests that failed or
// were slow, a short line each.
func TestDevConsoleShows(t *testing.T) {
	at := time.Date(2026, 12, 7, 16, 45, 36, 0, time.UTC)
	request := func(status int, d time.Duration) slog.Record {
		r := slog.NewRecord(at, slog.LevelInfo, accessLogMessage, 0)
		r.AddAttrs(slog.String("request_id", "r1"), slog.String("method", "GET"), slog.String("path", "/x"),
			slog.Int("status", status), slog.Duration("duration", d))
		return r
	}
	event := func(level slog.Level, msg string) slog.Record {
		r := slog.NewRecord(at, level, msg, 0)
		r.AddAttrs(slog.String("event", "e"), slog.Int("status", 500))
		return r
	}
	for _, tc := range []struct {
		name    string
		r       slog.Record
		quiet   string // the line without -v; "" for none
		verbose bool   // shown with -v
	}{
		{"a page", request(200, time.Millisecond), "", true},
		{"a redirect", request(303, time.Millisecond), "", true},
		{"a missing page", request(404, time.Millisecond), "16:45:36 INFO  request  method=GET path=/x status=404 duration=1ms request_id=r1\n", true},
		{"a failure", request(500, time.Millisecond), "16:45:36 INFO  request  method=GET path=/x status=500 duration=1ms request_id=r1\n", true},
		{"a slow page", request(200, 2*time.Second), "16:45:36 INFO  request  method=GET path=/x status=200 duration=2s request_id=r1\n", true},
		{"an event", event(slog.LevelInfo, "audit checkpoint signed"), "", true},
		{"an emulator's failed call", event(slog.LevelInfo, "acsemu request"), "", true},
		{"a warning", event(slog.LevelWarn, "the portal may not call ACS"), "16:45:36 WARN  the portal may not call ACS  event=e status=500\n", true},
		{"an error", event(slog.LevelError, "job failed"), "16:45:36 ERROR job failed  event=e status=500\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var quiet, verbose strings.Builder
			if err := newConsoleHandler(&quiet, false).Handle(context.Background(), tc.r); err != nil {
				t.Fatal(err)
			}
			if err := newConsoleHandler(&verbose, true).Handle(context.Background(), tc.r); err != nil {
				t.Fatal(err)
			}
			if quiet.String() != tc.quiet {
				t.Errorf("without -v: %q, want %q", quiet.String(), tc.quiet)
			}
			if (verbose.Len() > 0) != tc.verbose {
				t.Errorf("with -v: %q", verbose.String())
			}
		})
	}
}

// What is logged while dev mode starts comes below the banner, in order.
func TestHeldWriter(t *testing.T) {
	var out strings.Builder
	h := &heldWriter{w: &out}
	logger := devLogger(&strings.Builder{}, h, false)
	logger.Warn("first")
	logger.Warn("second")
	if out.Len() != 0 {
		t.Fatalf("written before release: %q", out.String())
	}
	out.WriteString("banner\n")
	h.Release()
	logger.Warn("third")
	h.Release()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || lines[0] != "banner" || !strings.HasSuffix(lines[1], "first") || !strings.HasSuffix(lines[2], "second") || !strings.HasSuffix(lines[3], "third") {
		t.Errorf("console:\n%s", out.String())
	}
}
