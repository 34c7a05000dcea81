package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/sqlite"
)

// TestLoad measures the assignments list against /healthz in one run, on
// the real binary in dev mode with 10,000 inventory rows:
//
//	PORTAL_LOAD=1 go test -run TestLoad -v -count=1 ./cmd/portal
//
// Knobs: PORTAL_LOAD_ROWS (10000), PORTAL_LOAD_CLIENTS (32),
// PORTAL_LOAD_SECONDS (10 per phase), PORTAL_LOAD_PROFILE=FILE (the portal's
// CPU profile). It reports throughput, latency
// percentiles, the ratio and the portal's resident memory; it asserts the
// targets of the assignments issue only when PORTAL_LOAD_ASSERT=1, since
// a shared 2-core machine drifts.
func TestLoad(t *testing.T) {
	if os.Getenv("PORTAL_LOAD") == "" {
		t.Skip("load test: set PORTAL_LOAD=1 to run it (about a minute)")
	}
	rows := envInt("PORTAL_LOAD_ROWS", 10000)
	clients := envInt("PORTAL_LOAD_CLIENTS", 32)
	phase := time.Duration(envInt("PORTAL_LOAD_SECONDS", 10)) * time.Second
	dir := t.TempDir()

	start := time.Now()
	seedLoadRows(t, filepath.Join(dir, "data"), rows)
	t.Logf("seeded %d inventory rows in %v", rows, time.Since(start).Round(time.Millisecond))

	bin := filepath.Join(dir, "portal")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	args := []string{"dev", "-addr", "127.0.0.1:0", "-data", filepath.Join(dir, "data")}
	profile := os.Getenv("PORTAL_LOAD_PROFILE") // a CPU profile of the portal over both phases
	if profile != "" {
		args = append(args, "-cpuprofile", profile)
	}
	cmd := exec.Command(bin, args...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = nil // warnings only: the access log goes to portal.log in the data folder, as serve's to stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// An interrupt lets the portal stop cleanly (and write its profile).
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	})
	base := readBase(t, stdout)
	go io.Copy(io.Discard, stdout)

	// Sign in 32 people, each with their own session.
	sessions := signInClients(t, base, "auditor@contoso.test", clients)
	list := "/assignments?q=agent+42&size=50"
	if p := mustGet(t, sessions[0], base+list); !strings.Contains(p, "Load agent 42") {
		t.Fatalf("the list does not show the seeded rows:\n%.500s", p)
	}

	cpu0 := cpuTime(t, cmd.Process.Pid)
	health := hammer(t, sessions, base+"/healthz", phase)
	cpu1 := cpuTime(t, cmd.Process.Pid)
	listing := hammer(t, sessions, base+list, phase)
	cpu2 := cpuTime(t, cmd.Process.Pid)
	// The same page again and again is what the issue measures, and what
	// many people opening the list see; renderings are reused then. A
	// different search on every request reuses nothing: measured too.
	var n atomic.Int64
	varied := hammerURLs(t, sessions, func() string {
		return base + "/assignments?size=50&q=agent+" + strconv.FormatInt(n.Add(7919)%9973, 10)
	}, phase)
	cpu3 := cpuTime(t, cmd.Process.Pid)
	rss, hwm := memory(t, cmd.Process.Pid)
	ratio := listing.rps / health.rps
	t.Logf("clients %d, %v per phase, %d rows", clients, phase, rows)
	t.Logf("/healthz:            %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  (%d requests, %d errors)", health.rps, ms(health.p50), ms(health.p99), health.n, health.errors)
	t.Logf("list (q, 50/page):   %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  (%d requests, %d errors)", listing.rps, ms(listing.p50), ms(listing.p99), listing.n, listing.errors)
	t.Logf("list, varied terms:  %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  (%d requests, %d errors)", varied.rps, ms(varied.p50), ms(varied.p99), varied.n, varied.errors)
	t.Logf("ratio list/healthz:  %.1f %% (varied terms: %.1f %%)", 100*ratio, 100*varied.rps/health.rps)
	t.Logf("portal CPU/request:  /healthz %.0f µs, list %.0f µs, varied %.0f µs (the rest of the 2 cores is the load generator)",
		perRequest(cpu1-cpu0, health.n), perRequest(cpu2-cpu1, listing.n), perRequest(cpu3-cpu2, varied.n))
	t.Logf("portal memory:       RSS %d MB, peak %d MB", rss>>20, hwm>>20)
	if listing.errors > 0 || health.errors > 0 || varied.errors > 0 {
		t.Errorf("errors under load")
	}
	if os.Getenv("PORTAL_LOAD_ASSERT") == "1" {
		if ratio < 0.30 || listing.p99 > 50*time.Millisecond || hwm > 100<<20 {
			t.Errorf("targets missed: ratio %.2f (≥0.30), p99 %v (<50ms), peak RSS %d MB (<100)", ratio, listing.p99, hwm>>20)
		}
	}
}

// seedLoadRows writes rows straight into a fresh dev database, as adoptions
// by a system actor, so the chain and counts are real.
func seedLoadRows(t *testing.T, dataDir string, rows int) {
	ctx := context.Background()
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(dataDir, "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	actor := portal.Actor{TenantID: devidp.ContosoTenant, Name: "System (load seed)"}
	for i := range rows {
		obj := portal.MustParseGUID(fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, i+1))
		a := portal.Assignment{TenantID: devidp.ContosoTenant, ObjectID: obj, Kind: portal.KindUser, ClientIDs: []portal.GUID{appDesktop}}
		if i%10 == 0 {
			a.Kind, a.ClientIDs = portal.KindResourceAccount, nil
		}
		label := "Load agent " + strconv.Itoa(i)
		ev := portal.AuditEvent{Time: now, Actor: actor, TenantID: a.TenantID, ObjectID: obj, Kind: a.Kind, Action: portal.ActionAdopt,
			Phase: portal.PhaseEvent, Outcome: portal.OutcomeSuccess, After: portal.StateOf(a, label)}
		item := portal.InventoryItem{Assignment: a, Label: label, CreatedAt: now, CreatedBy: actor, UpdatedAt: now, UpdatedBy: actor,
			State: portal.VerifyStates[i%len(portal.VerifyStates)], VerifiedAt: now}
		if _, _, err := db.Commit(ctx, ev, portal.InventoryChange{Op: portal.InventoryPut, Item: item}); err != nil {
			t.Fatal(err)
		}
	}
}

func readBase(t *testing.T, r io.Reader) string {
	sc := bufio.NewScanner(r)
	deadline := time.AfterFunc(30*time.Second, func() { t.Error("the portal did not start") })
	defer deadline.Stop()
	for sc.Scan() {
		if _, after, ok := strings.Cut(sc.Text(), " at "); ok && strings.HasPrefix(after, "http://") {
			return strings.TrimSpace(after)
		}
	}
	t.Fatal("the portal printed no address")
	return ""
}

// TestBulkPlanMemory plans a 50,000-row CSV on the real binary and reports
// the time and the portal's peak memory (target: under 150 MB):
//
//	PORTAL_LOAD=1 go test -run TestBulkPlanMemory -v -count=1 ./cmd/portal
func TestBulkPlanMemory(t *testing.T) {
	if os.Getenv("PORTAL_LOAD") == "" {
		t.Skip("load test: set PORTAL_LOAD=1 to run it")
	}
	dir := t.TempDir()
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
	c := &http.Client{Jar: jar, Timeout: 5 * time.Minute}
	resp, err := c.Get(base + "/auth/login?login_hint=admin@contoso.test")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	var csv strings.Builder
	csv.WriteString("objectId,kind,clientIds,label\n")
	for i := range 50000 {
		fmt.Fprintf(&csv, "%08x-0000-4000-8000-%012x,user,%s,Bulk agent %d\n", i+1, i+1, appDesktop, i)
	}
	var body strings.Builder
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "agents.csv")
	io.WriteString(fw, csv.String())
	mw.Close()
	_, hwm0 := memory(t, cmd.Process.Pid)
	start := time.Now()
	req, _ := http.NewRequest("POST", base+"/bulk", strings.NewReader(body.String()))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	elapsed := time.Since(start)
	_, hwm := memory(t, cmd.Process.Pid)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	t.Logf("planned 50,000 rows (%.1f MB) in %v; portal peak memory %d MB (before: %d MB)", float64(csv.Len())/1e6, elapsed.Round(time.Millisecond), hwm>>20, hwm0>>20)
	if os.Getenv("PORTAL_LOAD_ASSERT") == "1" && hwm > 150<<20 {
		t.Errorf("peak memory %d MB over 150 MB", hwm>>20)
	}
}

// TestBulkApplySpeed measures applying 1,000 grants as a bulk job against
// 1,000 single grants sent one after another through the grant form, in
// the same run, with the emulator adding 25 ms to every ACS call:
//
//	PORTAL_LOAD=1 go test -run TestBulkApplySpeed -v -count=1 ./cmd/portal
//
// Targets (issue 5): the job within 1.3 × its ideal (1,000 × 25 ms ÷ 8, the
// client's fixed bound then; it now adapts up to 64, and the time against
// that ideal is reported too) and at least 10 × faster than the sequential
// loop.
// It also times 1,000 PUTs sent straight to the emulator one after another,
// the loop a script would run, for comparison. PORTAL_LOAD_ROWS changes
// the count.
func TestBulkApplySpeed(t *testing.T) {
	if os.Getenv("PORTAL_LOAD") == "" {
		t.Skip("load test: set PORTAL_LOAD=1 to run it (about 2 minutes)")
	}
	rows := envInt("PORTAL_LOAD_ROWS", 1000)
	// Issue 5's ideal: 8 calls in flight all busy, the client's fixed
	// bound then. It adapts now, up to its ceiling, which gives a second.
	const latency, workers = 25 * time.Millisecond, 8
	flags := []string{"-acs-faults", "latency=25ms", "-reconcile-every", "0"}
	if f := os.Getenv("PORTAL_LOAD_MEMPROFILE"); f != "" {
		flags = append(flags, "-memprofile", f) // the portal's heap when it stops
	}
	p := startPortalProc(t, t.TempDir(), flags...)
	admin := p.client(t, "admin@contoso.test")
	object := func(set, i int) string { return fmt.Sprintf("%08x-0000-4000-8%03x-%012x", i+1, set, i+1) }

	// 1. One grant after another through the form, as a person (or a
	// script driving the portal) would. A session may make 120 changes a
	// minute: each of these admins makes at most 100 in all.
	forms := make([]*http.Client, (rows+99)/100)
	for i := range forms {
		forms[i] = p.client(t, "admin@contoso.test")
	}
	start := time.Now()
	for i := range rows {
		// Made-up people: confirmed as not in the directory, as a script
		// granting them would (the check would refuse them otherwise).
		form := url.Values{"objectId": {object(1, i)}, "kind": {"user"}, "clientId": {appDesktop.String()}, "label": {"Sequential " + strconv.Itoa(i)}, "confirmAbsent": {object(1, i)}}
		if status, _, page := send(t, forms[i/100], "POST", p.base+"/assignments", "application/x-www-form-urlencoded", strings.NewReader(form.Encode())); status != http.StatusSeeOther {
			t.Fatalf("grant %d: %d %.300s", i, status, page)
		}
	}
	sequential := time.Since(start)
	rssSeq, _ := memory(t, p.cmd.Process.Pid)

	// 2. The same number of PUTs straight to ACS, one after another.
	client, err := acs.New(acs.Options{Endpoint: p.emuURL, AccessKey: devAccessKey})
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	for i := range rows {
		a := portal.Assignment{TenantID: devidp.ContosoTenant, ObjectID: portal.MustParseGUID(object(2, i)), Kind: portal.KindUser, ClientIDs: []portal.GUID{appDesktop}}
		if _, _, err := client.PutAssignment(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	rawPUTs := time.Since(start)
	rssRaw, _ := memory(t, p.cmd.Process.Pid)

	// 3. A bulk job of new grants.
	var file strings.Builder
	file.WriteString("objectId,kind,clientIds,label\n")
	for i := range rows {
		fmt.Fprintf(&file, "%s,user,%s,Bulk %d\n", object(3, i), appDesktop, i)
	}
	start = time.Now()
	job := p.applyCSV(t, admin, file.String())
	queued := time.Since(start)
	p.waitJob(t, admin, job, 10*time.Minute, func(state string, _ int) bool { return state == string(portal.JobDone) })
	bulk := time.Since(start)
	rssBulk, hwm := memory(t, p.cmd.Process.Pid)

	ideal := time.Duration(rows) * latency / workers
	ceilingIdeal := time.Duration(rows) * latency / acs.DefaultMaxConcurrency
	t.Logf("%d grants, emulator latency %v, at most %d calls in flight (starting at 8)", rows, latency, acs.DefaultMaxConcurrency)
	t.Logf("sequential grants through the form: %v (%.1f ms each: a GET and a PUT)", sequential.Round(time.Millisecond), ms(sequential)/float64(rows))
	t.Logf("sequential PUTs straight to ACS:    %v (%.1f ms each)", rawPUTs.Round(time.Millisecond), ms(rawPUTs)/float64(rows))
	t.Logf("bulk job (upload, plan, apply, done): %v (upload and plan %v); issue 5's ideal at 8 in flight %v → %.2f ×; at the ceiling %v → %.2f ×",
		bulk.Round(time.Millisecond), queued.Round(time.Millisecond), ideal, bulk.Seconds()/ideal.Seconds(), ceilingIdeal, bulk.Seconds()/ceilingIdeal.Seconds())
	t.Logf("bulk is %.1f × faster than the sequential form loop, %.1f × faster than sequential raw PUTs", sequential.Seconds()/bulk.Seconds(), rawPUTs.Seconds()/bulk.Seconds())
	t.Logf("portal memory (with its emulator): RSS %d MB after the form loop, %d MB after the raw PUTs, %d MB after the job; peak %d MB", rssSeq>>20, rssRaw>>20, rssBulk>>20, hwm>>20)
	if _, _, result := send(t, admin, "GET", p.base+job+"/result.csv", "", nil); strings.Count(result, ",success,") != rows {
		t.Errorf("not every row succeeded:\n%.1000s", result)
	}
	if os.Getenv("PORTAL_LOAD_ASSERT") == "1" && (bulk.Seconds() > 1.3*ideal.Seconds() || sequential.Seconds() < 10*bulk.Seconds()) {
		t.Errorf("targets missed: %.2f × ideal (≤ 1.3), %.1f × faster (≥ 10)", bulk.Seconds()/ideal.Seconds(), sequential.Seconds()/bulk.Seconds())
	}
}
