package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/teamsphone/portal/internal/pgtest"
	"github.com/teamsphone/portal/internal/storetest"
)

// TestScale is the load script of issue 13: for each inventory size and
// store, it fills one tenant's inventory, then measures the list beside
// /healthz in the same run, on the real binary:
//
//	PORTAL_LOAD=1 PORTAL_TEST_POSTGRES_URL=… go test -run TestScale -v -count=1 -timeout 30m ./cmd/portal
//
// Knobs: PORTAL_SCALE_ROWS (10000,50000,200000), PORTAL_SCALE_STORE
// (sqlite, postgres or both; both by default, PostgreSQL skipped without
// PORTAL_TEST_POSTGRES_URL), PORTAL_SCALE_CLIENTS (32),
// PORTAL_SCALE_SECONDS (10 per phase), PORTAL_SCALE_WRITES (35 changes a
// second), PORTAL_SCALE_PROFILE (a folder for the portal's CPU profile of
// each size and store), PORTAL_SCALE_PAGE_SIZES (none; say 10,100,200 for
// more phases of random deep pages of that many rows, after the one of
// 50: what a list request costs apart from its rows, and what a row adds).
// Each size and store takes about two minutes (fill included), all six
// about a quarter of an hour.
//
// Each size and store gets a portal of its own: `portal dev` (what
// `portal serve` needs of Entra cannot be faked here) on a fresh SQLite
// file or PostgreSQL schema, against a separate `portal emulator`
// process, so that the portal's memory holds no ACS state; dev mode still
// embeds its identity provider and Graph emulator, whose state does not
// grow with the inventory. The inventory is written straight into the
// store (FillInventory: rows and their audit rows, and every row's names)
// while the portal runs; on PostgreSQL the script analyzes the tables
// meanwhile and after, as autovacuum would (see autoAnalyze). Then, 32 signed-in auditors, closed loop, each
// phase 10 s: /healthz; the same search again and again; a different
// search each request (object-ID fragments, names, user names, labels,
// app names and IDs); random deep pages; kind and state filters with
// every sort order, either way, on random pages; the export, by one
// person; a different search each request while admins make 35 changes a
// second through the forms (grants, edits, revocations); /healthz again.
//
// It prints the figures as three markdown tables for the README, the last
// the CPU each request cost the portal, this process (the load
// generator), PostgreSQL and the whole machine: a phase's share of
// /healthz's rate is the inverse ratio of their machine figures. It asserts
// only what must hold whatever the machine: no errors, searches that
// match, complete exports; the goals are reported, not asserted,
// since a shared 2-core machine drifts.
func TestScale(t *testing.T) {
	if os.Getenv("PORTAL_LOAD") == "" {
		t.Skip("scale load script: set PORTAL_LOAD=1 to run it (about 15 minutes; see the comment)")
	}
	k := scaleKnobs{
		sizes:     envInts(t, "PORTAL_SCALE_ROWS", []int{10000, 50000, 200000}),
		clients:   envInt("PORTAL_SCALE_CLIENTS", 32),
		phase:     time.Duration(envInt("PORTAL_SCALE_SECONDS", 10)) * time.Second,
		writes:    envInt("PORTAL_SCALE_WRITES", 35),
		pageSizes: envInts(t, "PORTAL_SCALE_PAGE_SIZES", nil),
	}
	if i := slices.IndexFunc(k.pageSizes, func(n int) bool { return n > 200 }); i >= 0 {
		t.Fatalf("PORTAL_SCALE_PAGE_SIZES: %d rows a page; the list shows at most 200", k.pageSizes[i])
	}
	switch s := os.Getenv("PORTAL_SCALE_STORE"); s {
	case "", "both":
		k.stores = []string{"sqlite", "postgres"}
	case "sqlite", "postgres":
		k.stores = []string{s}
	default:
		t.Fatalf("PORTAL_SCALE_STORE=%q: sqlite, postgres or both", s)
	}
	if deadline, ok := t.Deadline(); ok {
		var need time.Duration
		for _, rows := range k.sizes {
			need += k.estimate(rows) * time.Duration(len(k.stores))
		}
		if left := time.Until(deadline); left < need {
			t.Fatalf("this run needs about %v and the test's deadline is %v away: add -timeout %dm", need.Round(time.Minute), left.Round(time.Second), int(need.Minutes()*1.5)+5)
		}
	}
	load0 := loadAverage()
	var results []scaleResult
	for _, store := range k.stores {
		for _, rows := range k.sizes {
			t.Run(fmt.Sprintf("%s/%d", store, rows), func(t *testing.T) {
				results = append(results, runScale(t, store, rows, k))
			})
		}
	}
	if len(results) > 0 {
		fmt.Print(scaleTables(results, k, load0, loadAverage()))
	}
}

type scaleKnobs struct {
	stores  []string
	sizes   []int
	clients int
	phase   time.Duration
	writes  int // changes a second in the last phase
	// pageSizes are the rows a page of the extra deep-page phases, after
	// the one of 50: what a request costs apart from its rows, and what
	// each row adds.
	pageSizes []int
}

// estimate is about how long one size on one store takes here: eight
// phases and those of other page sizes, the fill (~1,500 rows/s on
// PostgreSQL with names, faster on SQLite) and start-up.
func (k scaleKnobs) estimate(rows int) time.Duration {
	return time.Duration(8+len(k.pageSizes))*k.phase + time.Duration(rows/1500)*time.Second + 30*time.Second
}

// scaleResult is what one size on one store measured.
type scaleResult struct {
	store              string
	rows               int
	fill, firstList    time.Duration
	healthBefore       phaseResult
	healthAfter        phaseResult
	same, varied, deep phaseResult
	sized              []sizedPhase // deep pages of other sizes (PORTAL_SCALE_PAGE_SIZES)
	filtered, writing  phaseResult
	writes             writeResult
	export             exportResult
	// The portal's resident memory: signed in, before the fill; after
	// the first list read the filled inventory; its peak. The ACS
	// emulator's at the end.
	rssStart, rssFilled, rssPeak, emulatorRSS int64
}

// sizedPhase is random deep pages of rows rows each.
type sizedPhase struct {
	rows int
	r    phaseResult
}

type namedPhase struct {
	name string
	r    phaseResult
}

// phases are the measured phases in the order they ran.
func (r scaleResult) phases() []namedPhase {
	out := []namedPhase{{"/healthz before", r.healthBefore}, {"same search", r.same}, {"different searches", r.varied}, {"random deep pages", r.deep}}
	for _, s := range r.sized {
		out = append(out, namedPhase{fmt.Sprintf("deep pages of %d", s.rows), s.r})
	}
	return append(out, namedPhase{"filters + sort", r.filtered}, namedPhase{"searches + writes", r.writing}, namedPhase{"/healthz after", r.healthAfter})
}

// health is /healthz's rate, the mean of before and after the list phases.
func (r scaleResult) health() float64 { return (r.healthBefore.rps + r.healthAfter.rps) / 2 }

type phaseResult struct {
	loadResult
	cpu float64 // the portal's CPU per request, µs
	// Where else the machine's CPU went, per request, µs: this process
	// (the load generator, and the writers in the last phase), the
	// PostgreSQL server's processes (see dbCPU; 0 on SQLite, which is the
	// portal's own), and everything the machine ran (every process's user and
	// system time, the kernel's interrupts; not time stolen by the host).
	// A phase's share of /healthz's rate is, on a saturated machine, the
	// ratio of their machine figures.
	loadgen, db, machine float64
	rss                  int64 // the portal's resident memory at the end
}

// rowMarker marks each row of the list's table.
const rowMarker = `data-testid="assignment-row"`

func runScale(t *testing.T, store string, rows int, k scaleKnobs) scaleResult {
	res := scaleResult{store: store, rows: rows}
	ctx := context.Background()
	emulatorPID, acsFlag := startEmulatorProc(t)
	dataDir := t.TempDir()
	db := database{SQLitePath: filepath.Join(dataDir, "portal.db")}
	flags := []string{"-acs-connection-string", acsFlag, "-reconcile-every", "0"}
	if dir := os.Getenv("PORTAL_SCALE_PROFILE"); dir != "" {
		// The portal's CPU profile over the whole run, one file per size and store.
		flags = append(flags, "-cpuprofile", filepath.Join(dir, fmt.Sprintf("%s-%d.cpu", store, rows)))
	}
	schema, postmaster := "", 0 // postmaster: PostgreSQL's, whose CPU each phase reports
	if store == "postgres" {
		schema = pgtest.FreshSchema(t)
		db = database{PostgresURL: schema}
		flags = append(flags, "-database", schema)
		postmaster = postmasterOf(t, schema)
	}
	p := startPortalProc(t, dataDir, flags...)
	pid := p.cmd.Process.Pid
	readers := signInClients(t, p.base, "auditor@contoso.test", k.clients)
	// A session may make 120 changes a minute (PORTAL_LIMIT_CHANGES_PER_MINUTE):
	// enough admins that none makes more than 100.
	admins := signInClients(t, p.base, "admin@contoso.test", max(4, (k.writes*int(min(k.phase, time.Minute)/time.Second)+99)/100))
	exporter := signInClients(t, p.base, "auditor@contoso.test", 1)[0]
	exporter.Timeout = 5 * time.Minute
	for _, c := range admins {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	res.rssStart, _ = memory(t, pid)

	start := time.Now()
	inv := newScaleInventory(rows, time.Now())
	generated := time.Since(start)
	start = time.Now()
	st, err := db.open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	filler, ok := st.(storetest.Filler)
	if !ok {
		t.Fatalf("%T cannot fill in bulk", st)
	}
	analyzed := func() error { return nil }
	if schema != "" {
		analyzed = autoAnalyze(schema, 2*time.Second)
	}
	filledRows, filledNames, err := inv.fill(ctx, filler)
	st.Close()
	if err := errors.Join(err, analyzed()); err != nil {
		t.Fatal(err)
	}
	res.fill = time.Since(start)
	inv.items, inv.events, inv.names = nil, nil, nil // only rows are asked about from now on
	t.Logf("%s, %d rows: generated in %v, filled in %v (%.0f rows/s): rows and audit in %v, names beside them in %v", store, rows,
		generated.Round(time.Millisecond), res.fill.Round(time.Millisecond), float64(rows)/res.fill.Seconds(),
		filledRows.Round(time.Millisecond), filledNames.Round(time.Millisecond))

	// The first list after the fill reads the whole inventory.
	start = time.Now()
	if page := mustGet(t, readers[0], p.base+"/assignments"); strings.Count(page, rowMarker) != min(rows, 50) {
		t.Fatalf("the first page shows %d rows, want %d:\n%.1000s", strings.Count(page, rowMarker), min(rows, 50), page)
	}
	res.firstList = time.Since(start)
	res.rssFilled, _ = memory(t, pid)

	// Every kind of question has answers: a few of each, one at a time.
	for _, kind := range searchKinds {
		hits := 0
		for range 10 {
			if strings.Contains(mustGet(t, readers[0], p.base+searchURL(inv.search(kind))), rowMarker) {
				hits++
			}
		}
		t.Logf("searches by %-9s that found rows: %d of 10", kind, hits)
		if hits < 10 {
			t.Errorf("searches by %s: only %d of 10 found rows, though each was drawn from a row", kind, hits)
		}
	}
	for what, next := range map[string]func() string{"deep page": inv.deepPage, "filtered page": inv.filtered} {
		for range 10 {
			if u := next(); !strings.Contains(mustGet(t, readers[0], p.base+u), rowMarker) {
				t.Errorf("a %s shows no rows: %s", what, u)
			}
		}
	}

	phase := func(next func() string) phaseResult {
		cpu0, self0, db0, machine0 := cpuTime(t, pid), selfCPU(t), dbCPU(postmaster), machineCPU(t)
		r := hammerURLs(t, readers, func() string { return p.base + next() }, k.phase)
		rss, _ := memory(t, pid)
		return phaseResult{loadResult: r, cpu: perRequest(cpuTime(t, pid)-cpu0, r.n), rss: rss,
			loadgen: perRequest(selfCPU(t)-self0, r.n), db: perRequest(max(0, dbCPU(postmaster)-db0), r.n), machine: perRequest(machineCPU(t)-machine0, r.n)}
	}
	varied := func() string { return searchURL(inv.search(searchKinds[rand.IntN(len(searchKinds))])) }
	same := searchURL("sales floor, london")
	health := func() string { return "/healthz" }
	res.healthBefore = phase(health)
	res.same = phase(func() string { return same })
	res.varied = phase(varied)
	res.deep = phase(inv.deepPage)
	for _, n := range k.pageSizes {
		res.sized = append(res.sized, sizedPhase{n, phase(func() string {
			return "/assignments?size=" + strconv.Itoa(n) + "&page=" + strconv.Itoa(1+rand.IntN((rows+n-1)/n))
		})})
	}
	res.filtered = phase(inv.filtered)
	res.export = exportPhase(t, exporter, p.base+"/assignments.csv", pid, k.phase)
	if res.export.lines != rows+1 {
		t.Errorf("the export has %d lines, want %d rows and a header", res.export.lines, rows)
	}
	writesDone := make(chan writeResult)
	go func() { writesDone <- writeSteadily(p.base, admins, k.writes, k.phase) }()
	res.writing = phase(varied)
	res.writes = <-writesDone
	res.healthAfter = phase(health)
	_, res.rssPeak = memory(t, pid)
	res.emulatorRSS, _ = memory(t, emulatorPID)

	h := res.health()
	t.Logf("%s, %d rows, %d clients, %v per phase:", store, rows, k.clients, k.phase)
	for _, ph := range res.phases() {
		t.Logf("  %-19s %7.0f req/s (%5.1f %%)  p50 %7.2f ms  p99 %7.2f ms  CPU µs/request: portal %4.0f, load generator %3.0f, PostgreSQL %3.0f, machine %4.0f; %.1f KB a response; RSS %d MB after  (%d requests, %d errors)",
			ph.name+":", ph.r.rps, 100*ph.r.rps/h, ms(ph.r.p50), ms(ph.r.p99), ph.r.cpu, ph.r.loadgen, ph.r.db, ph.r.machine, ph.r.kbPer(), ph.r.rss>>20, ph.r.n, ph.r.errors)
		if ph.r.errors > 0 {
			t.Errorf("%s: %d errors under load", ph.name, ph.r.errors)
		}
	}
	w := res.writes
	t.Logf("  writes:              %.1f changes/s of %d asked (%d done, %d failed %v, %d skipped: too many under way); p50 %.0f ms, p99 %.0f ms",
		w.rate, k.writes, w.done, w.failed, w.statuses, w.skipped, ms(w.p50), ms(w.p99))
	if w.failed > 0 {
		t.Errorf("%d changes failed: %v", w.failed, w.statuses)
	}
	e := res.export
	t.Logf("  export:              %d × %.1f MB in %v: %.1f MB/s; RSS %d MB before, %d MB at most while exporting",
		e.n, float64(e.bytes)/1e6, e.took.Round(time.Millisecond), e.mbps(), e.rssBefore>>20, e.rssMax>>20)
	t.Logf("  portal RSS:          %d MB signed in, %d MB after the first list (%v) of the filled inventory, peak %d MB; per assignment %.2f KB filled, %.2f KB at the peak; ACS emulator %d MB",
		res.rssStart>>20, res.rssFilled>>20, res.firstList.Round(time.Millisecond), res.rssPeak>>20, res.perRow(res.rssFilled)/1024, res.perRow(res.rssPeak)/1024, res.emulatorRSS>>20)
	return res
}

// perRow is the portal's memory growth per assignment, from signed in to
// rss (after the fill, or the peak).
func (r scaleResult) perRow(rss int64) float64 { return float64(rss-r.rssStart) / float64(r.rows) }

// exportResult is what exporting the inventory again and again measured.
type exportResult struct {
	n, lines          int
	bytes             int64 // of one export
	took              time.Duration
	rssBefore, rssMax int64
}

func (e exportResult) mbps() float64 {
	return float64(e.bytes) * float64(e.n) / 1e6 / e.took.Seconds()
}

// exportPhase downloads the export one after another for d (at least
// once), sampling the portal's resident memory meanwhile.
func exportPhase(t *testing.T, c *http.Client, addr string, pid int, d time.Duration) exportResult {
	var res exportResult
	res.rssBefore, _ = memory(t, pid)
	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if rss, _ := memory(t, pid); rss > peak.Load() {
				peak.Store(rss)
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	for res.n == 0 || time.Since(start) < d {
		resp, err := c.Get(addr)
		if err != nil {
			t.Fatal(err)
		}
		lines := &lineCounter{}
		n, err := io.Copy(lines, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("export: %d, %v", resp.StatusCode, err)
		}
		res.n, res.bytes, res.lines = res.n+1, n, lines.n
	}
	res.took = time.Since(start)
	close(stop)
	<-sampled
	res.rssMax = peak.Load()
	return res
}

// lineCounter counts the lines written to it.
type lineCounter struct{ n int }

func (l *lineCounter) Write(p []byte) (int, error) {
	l.n += bytes.Count(p, []byte{'\n'})
	return len(p), nil
}

// startEmulatorProc starts `portal emulator` as a process of its own,
// stopped when t ends, and returns its process ID and the
// -acs-connection-string that reaches it.
func startEmulatorProc(t *testing.T) (pid int, acsFlag string) {
	t.Helper()
	bin, err := buildPortal()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "emulator", "-addr", "127.0.0.1:0")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(patience):
			cmd.Process.Kill()
			<-exited
		}
	})
	sc := bufio.NewScanner(stdout)
	deadline := time.AfterFunc(patience, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PORTAL_ACS_CONNECTION_STRING="); ok {
			go io.Copy(io.Discard, stdout)
			return cmd.Process.Pid, v
		}
	}
	t.Fatal("portal emulator printed no connection string")
	return 0, ""
}

// autoAnalyze runs ANALYZE on the database at url every interval, and
// once more when stop is called, which returns the first failure: what
// autovacuum does during and soon after a bulk load where it is on. It is
// off on the test server here, and without statistics PostgreSQL plans
// badly: PutNames' UPDATE walked the tenant's whole by-name index for
// every name (50,000 names took a minute, 200,000 more than ten), and at
// 50,000 rows the portal's random deep pages fell to 0.4 % of /healthz,
// p50 0.7 s, the portal idle, waiting on the database.
func autoAnalyze(url string, interval time.Duration) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	analyze := func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		_, err = conn.Exec(ctx, "ANALYZE")
		return err
	}
	failed := make(chan error, 1)
	go func() {
		defer close(failed)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(interval):
			}
			if err := analyze(ctx); err != nil && ctx.Err() == nil {
				failed <- fmt.Errorf("ANALYZE: %w", err)
				return
			}
		}
	}()
	return func() error {
		cancel()
		if err := <-failed; err != nil {
			return err
		}
		if err := analyze(context.Background()); err != nil {
			return fmt.Errorf("ANALYZE: %w", err)
		}
		return nil
	}
}

// envInts reads a comma-separated list of positive numbers.
func envInts(t *testing.T, name string, def []int) []int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var out []int
	for _, s := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			t.Fatalf("%s=%q: a comma-separated list of positive numbers", name, v)
		}
		out = append(out, n)
	}
	return out
}

// loadAverage is the machine's one-minute load average, as text.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// scaleTables is the figures as three markdown tables, for the README.
func scaleTables(results []scaleResult, k scaleKnobs, load0, load1 string) string {
	var b strings.Builder
	cell := func(r phaseResult, health float64) string {
		return fmt.Sprintf("%s, p50 %s, p99 %s", percent(r.rps/health), msText(r.p50), msText(r.p99))
	}
	fmt.Fprintf(&b, "\nThe list beside `/healthz` (share of its req/s in the same run; p50, p99), %d clients, %v phases:\n\n", k.clients, k.phase)
	fmt.Fprintf(&b, "| store | assignments | `/healthz` | same search | a different search each request | random deep pages | filters + sort | different searches while %d changes/s are written |\n", k.writes)
	b.WriteString("| --- | ---: | ---: | --- | --- | --- | --- | --- |\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %s | %s req/s | %s | %s | %s | %s | %s; %.1f changes/s, p99 %s |\n", storeName(r.store), thousands(r.rows),
			thousands(int(r.health())), cell(r.same, r.health()), cell(r.varied, r.health()), cell(r.deep, r.health()),
			cell(r.filtered, r.health()), cell(r.writing, r.health()), r.writes.rate, msText(r.writes.p99))
	}
	b.WriteString("\nFill, export and memory (`portal dev` against a separate `portal emulator`):\n\n")
	b.WriteString("| store | assignments | fill | first list after it | export | portal RSS: start / filled / peak | per assignment: filled / peak | emulator RSS |\n")
	b.WriteString("| --- | ---: | --- | ---: | --- | --- | ---: | ---: |\n")
	for _, r := range results {
		e := r.export
		fmt.Fprintf(&b, "| %s | %s | %.1f s (%s rows/s) | %s | %.0f MB/s (%.1f MB), RSS +%d MB | %d / %d / %d MB | %.1f / %.1f KB | %d MB |\n",
			storeName(r.store), thousands(r.rows), r.fill.Seconds(), thousands(int(float64(r.rows)/r.fill.Seconds())), msText(r.firstList),
			e.mbps(), float64(e.bytes)/1e6, max(0, e.rssMax-e.rssBefore)>>20,
			r.rssStart>>20, r.rssFilled>>20, r.rssPeak>>20, r.perRow(r.rssFilled)/1024, r.perRow(r.rssPeak)/1024, r.emulatorRSS>>20)
	}
	b.WriteString("\nWhere the machine's CPU went, µs a request: the portal / the load generator / PostgreSQL's processes / the whole machine (all its processes and the kernel's interrupts):\n\n")
	b.WriteString("| store | assignments |")
	for _, ph := range results[0].phases() {
		fmt.Fprintf(&b, " %s |", ph.name)
	}
	b.WriteString("\n| --- | ---: |" + strings.Repeat(" ---: |", len(results[0].phases())) + "\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %s |", storeName(r.store), thousands(r.rows))
		for _, ph := range r.phases() {
			fmt.Fprintf(&b, " %.0f / %.0f / %.0f / %.0f |", ph.r.cpu, ph.r.loadgen, ph.r.db, ph.r.machine)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\nMeasured %s on a shared 2-core machine (load average %s at the start, %s at the end).\n\n",
		time.Now().Format("2006-01-02"), load0, load1)
	return b.String()
}

func storeName(s string) string {
	if s == "postgres" {
		return "PostgreSQL"
	}
	return "SQLite"
}

// percent is a share in per cent, with a decimal below 10 %, two below
// 0.1 %.
func percent(share float64) string {
	switch {
	case share < 0.001:
		return fmt.Sprintf("%.2f %%", 100*share)
	case share < 0.1:
		return fmt.Sprintf("%.1f %%", 100*share)
	}
	return fmt.Sprintf("%.0f %%", 100*share)
}

// msText is a duration in ms, with a decimal below 10 ms; in s, with a
// decimal, from 1 s.
func msText(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", ms(d))
	}
	return fmt.Sprintf("%.0f ms", ms(d))
}

// thousands writes n with thousands separators: 200,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
