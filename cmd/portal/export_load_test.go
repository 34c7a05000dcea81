package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/sqlite"
)

// TestExportLoad downloads both exports, whole and filtered, from the
// real binary in dev mode (SQLite), three times each, with
// PORTAL_LOAD_ROWS (50,000) inventory rows, each with a cached name, and
// reports the median MB/s, the MB
// written per second of the portal's own CPU (which a busy machine does
// not skew), and how far the portal's resident memory rose above where it
// stood before each download:
//
//	PORTAL_LOAD=1 PORTAL_LOAD_ROWS=200000 go test -run TestExportLoad -v -count=1 ./cmd/portal
//
// Filling goes through Commit, a transaction a row (about 1,000 a second
// here); the stores' own load tests (internal/sqlite, internal/postgres)
// fill in batches and measure the stores' reads alone.
func TestExportLoad(t *testing.T) {
	if os.Getenv("PORTAL_LOAD") == "" {
		t.Skip("load test: set PORTAL_LOAD=1 to run it")
	}
	rows := envInt("PORTAL_LOAD_ROWS", 50000)
	dir := t.TempDir()
	start := time.Now()
	seedLoadRows(t, filepath.Join(dir, "data"), rows)
	nameLoadRows(t, filepath.Join(dir, "data"), rows)
	t.Logf("seeded %d inventory rows and their names in %v", rows, time.Since(start).Round(time.Millisecond))

	bin := filepath.Join(dir, "portal")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "dev", "-addr", "127.0.0.1:0", "-data", filepath.Join(dir, "data"))
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	base := readBase(t, stdout)
	go io.Copy(io.Discard, stdout)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Minute}
	mustGet(t, c, base+"/auth/login?login_hint=auditor@contoso.test")

	// Each whole, then filtered as a page shows them: the list's rows from
	// its index (nine in ten are users), the log's by action (all).
	for _, path := range []string{"/assignments.csv", "/audit.csv", "/assignments.csv?kind=user", "/audit.csv?action=adopt"} {
		type run struct {
			bytes     int64
			took, cpu time.Duration
			rss, rise int64
		}
		var runs []run
		for range 3 {
			rss0 := resetPeakRSS(t, cmd.Process.Pid)
			cpu0 := cpuTime(t, cmd.Process.Pid)
			began := time.Now()
			resp, err := c.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			took := time.Since(began)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET %s: %d, %v", path, resp.StatusCode, err)
			}
			_, hwm := memory(t, cmd.Process.Pid)
			runs = append(runs, run{bytes: n, took: took, cpu: cpuTime(t, cmd.Process.Pid) - cpu0, rss: rss0, rise: hwm - rss0})
		}
		slices.SortFunc(runs, func(a, b run) int { return int(a.took - b.took) })
		m := runs[1]
		var rises, cpus []string
		for _, r := range runs {
			rises = append(rises, fmt.Sprintf("%d→+%d", r.rss>>20, r.rise>>20))
			cpus = append(cpus, fmt.Sprintf("%.0f", float64(r.bytes)/1e6/r.cpu.Seconds()))
		}
		t.Logf("%-17s %.1f MB in %v (median of 3): %.1f MB/s; per second of the portal's CPU: %s MB; portal RSS before→rise during, MB: %s",
			path, float64(m.bytes)/1e6, m.took.Round(time.Millisecond), float64(m.bytes)/1e6/m.took.Seconds(), strings.Join(cpus, "/"), strings.Join(rises, ", "))
	}
}

// nameLoadRows caches a directory name for every row seedLoadRows wrote,
// 5,000 to a call, as Graph lookups would have.
func nameLoadRows(t *testing.T, dataDir string, rows int) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dataDir, "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	for b := 0; b < rows; b += 5000 {
		var names []portal.DirectoryName
		for i := b; i < min(rows, b+5000); i++ {
			obj := portal.MustParseGUID(fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, i+1))
			names = append(names, portal.DirectoryName{TenantID: devidp.ContosoTenant, Space: portal.SpaceObject, ID: obj, Found: true,
				Kind: portal.KindUser, DisplayName: "Load person " + strconv.Itoa(i), UPN: "load" + strconv.Itoa(i) + "@contoso.test", FetchedAt: now})
		}
		if err := db.PutNames(ctx, devidp.ContosoTenant, names); err != nil {
			t.Fatal(err)
		}
	}
}

// resetPeakRSS resets the process's peak resident memory and returns its
// resident memory now.
func resetPeakRSS(t *testing.T, pid int) int64 {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		t.Logf("cannot reset the peak RSS: %v", err)
	}
	rss, _ := memory(t, pid)
	return rss
}
