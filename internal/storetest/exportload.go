package storetest

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// Fill writes many assignments at once, items[i] with its audit row
// evs[i], each as Commit writes one: a store's FillInventory (see
// Filler), so that a load test fills 200,000 rows in seconds rather than
// a transaction each.
type Fill func(ctx context.Context, evs []portal.AuditEvent, items []portal.InventoryItem) error

// MeasureExport is the exports' load test, run by each store under
// PORTAL_LOAD=1. It fills st with PORTAL_LOAD_ROWS (200,000) assignments
// of one tenant, each with a cached name, letting the store settle every
// 20,000 rows and at the end (nil: no need; PostgreSQL analyzes, as
// autovacuum would meanwhile: without statistics its planner serves
// PutNames' lookups by ID from an index on names, and filling slows to a
// crawl). Then it reads them three times as the assignments export does
// (the rows in object order, their names a chunk at a time, written as
// CSV to a sink that only counts), and the audit log three times as the
// audit export does. It logs the median rows/s and MB/s; the MB per
// second of this process's CPU, which other work on the machine does not
// skew as it skews MB/s (a PostgreSQL server's share is not in it); and
// how far the Go heap and the process's resident memory rose above where
// they stood before each export.
func MeasureExport(t *testing.T, st portal.Store, fill Fill, settle func(context.Context) error) {
	if os.Getenv("PORTAL_LOAD") == "" {
		t.Skip("load test: set PORTAL_LOAD=1 to run it")
	}
	ctx := context.Background()
	rows := 200000
	if n, err := strconv.Atoi(os.Getenv("PORTAL_LOAD_ROWS")); err == nil && n > 0 {
		rows = n
	}
	start := time.Now()
	if settle == nil {
		settle = func(context.Context) error { return nil }
	}
	fillExport(t, ctx, st, fill, rows, settle)
	t.Logf("filled %d assignments, their audit rows and names in %v", rows, time.Since(start).Round(time.Millisecond))

	for _, export := range []struct {
		name string
		run  func(*csv.Writer) (int, error)
	}{
		{"assignments", func(w *csv.Writer) (int, error) { return exportItems(ctx, st, w) }},
		{"audit", func(w *csv.Writer) (int, error) { return exportAudit(ctx, st, w) }},
	} {
		var runs []exportRun
		for range 3 {
			r, err := measure(export.run)
			if err != nil {
				t.Fatalf("%s export: %v", export.name, err)
			}
			if export.name == "assignments" && r.rows != rows {
				t.Fatalf("%s export: %d rows, want %d", export.name, r.rows, rows)
			}
			runs = append(runs, r)
		}
		slices.SortFunc(runs, func(a, b exportRun) int { return int(a.took - b.took) })
		m := runs[1]
		var heap, rss, cpu []string
		for _, r := range runs {
			heap = append(heap, mib(r.heapRise))
			rss = append(rss, mib(r.rssRise))
			cpu = append(cpu, strconv.FormatFloat(float64(r.bytes)/1e6/r.cpu.Seconds(), 'f', 0, 64))
		}
		t.Logf("%-11s export: %d rows, %.1f MB in %v (median of 3): %.0f rows/s, %.1f MB/s, %s MB per second of this process's CPU; heap rose %s MiB, RSS %s MiB",
			export.name, m.rows, float64(m.bytes)/1e6, m.took.Round(time.Millisecond), float64(m.rows)/m.took.Seconds(),
			float64(m.bytes)/1e6/m.took.Seconds(), strings.Join(cpu, "/"), strings.Join(heap, "/"), strings.Join(rss, "/"))
	}

	// The audit page over the same log: its first page and counts, with
	// every row and with one row per change (which reads each row's
	// phase to count it).
	for _, f := range []portal.AuditFilter{{TenantID: exportTenant}, {TenantID: exportTenant, OnePerChange: true}} {
		var took []time.Duration
		var page portal.AuditPage
		for range 3 {
			start := time.Now()
			var err error
			if page, err = st.ListAudit(ctx, f); err != nil {
				t.Fatalf("audit page: %v", err)
			}
			took = append(took, time.Since(start))
		}
		slices.Sort(took)
		t.Logf("audit page, one row per change %-5v: %v (median of 3) for %d of %d rows", f.OnePerChange, took[1].Round(time.Millisecond), len(page.Events), page.Rows)
	}
}

// exportTenant is the tenant the export load test fills.
var exportTenant = portal.MustParseGUID("1c361ff7-fb44-4685-bb78-1bad6ce5bef3")

var exportApps = []portal.GUID{
	portal.MustParseGUID("83ecbc78-e1ba-4e8f-a454-5483ef618061"),
	portal.MustParseGUID("9215f754-3568-4bed-baa4-455c404e6140"),
}

// fillExport writes rows assignments (every tenth a resource account) with
// their audit rows and names, 5,000 at a time.
func fillExport(t *testing.T, ctx context.Context, st portal.Store, fill Fill, rows int, settle func(context.Context) error) {
	const batch = 5000
	now := time.Now().UTC().Truncate(time.Millisecond)
	actor := portal.Actor{TenantID: exportTenant, ObjectID: id("loader"), Name: "System (export load)"}
	apps := []portal.DirectoryName{
		{TenantID: exportTenant, Space: portal.SpaceApp, ID: exportApps[0], Found: true, DisplayName: "Contoso Agent Desktop", FetchedAt: now},
		{TenantID: exportTenant, Space: portal.SpaceApp, ID: exportApps[1], Found: true, DisplayName: "Contoso Agent Mobile", FetchedAt: now},
	}
	if err := st.PutNames(ctx, exportTenant, apps); err != nil {
		t.Fatal(err)
	}
	for b := 0; b < rows; b += batch {
		var evs []portal.AuditEvent
		var items []portal.InventoryItem
		var names []portal.DirectoryName
		for i := b; i < min(rows, b+batch); i++ {
			// Scattered, as real object IDs are: rows are not written in
			// the order they are read.
			obj := id(fmt.Sprint("export row ", i))
			a := portal.Assignment{TenantID: exportTenant, ObjectID: obj, Kind: portal.KindUser, ClientIDs: exportApps[:1+i%2]}
			name := portal.DirectoryName{TenantID: exportTenant, Space: portal.SpaceObject, ID: obj, Found: true, Kind: portal.KindUser,
				DisplayName: fmt.Sprint("Agent ", i), UPN: fmt.Sprintf("agent%d@contoso.test", i), FetchedAt: now}
			if i%10 == 0 {
				a.Kind, a.ClientIDs = portal.KindResourceAccount, nil
				name.Kind, name.Phone = portal.KindResourceAccount, fmt.Sprintf("+1425555%04d", i%10000)
			}
			label := fmt.Sprint("Export agent ", i)
			evs = append(evs, portal.AuditEvent{Time: now, Actor: actor, ClientIP: "192.0.2.10", TenantID: exportTenant, ObjectID: obj,
				Kind: a.Kind, Action: portal.ActionAdopt, Phase: portal.PhaseEvent, Outcome: portal.OutcomeSuccess,
				After: portal.StateOf(a, label), RequestID: fmt.Sprintf("req-%08d", i)})
			items = append(items, portal.InventoryItem{Assignment: a, Label: label, CreatedAt: now, CreatedBy: actor,
				UpdatedAt: now, UpdatedBy: actor, State: portal.VerifyStates[i%len(portal.VerifyStates)], VerifiedAt: now})
			names = append(names, name)
		}
		if err := fill(ctx, evs, items); err != nil {
			t.Fatal(err)
		}
		if err := st.PutNames(ctx, exportTenant, names); err != nil {
			t.Fatal(err)
		}
		if done := min(rows, b+batch); done%20000 == 0 || done == rows {
			if err := settle(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// exportChunk is how many rows an export names with one lookup.
const exportChunk = 1000

// exportItems writes the tenant's assignments as the assignments export
// does: each row's columns and its cached names, looked up a chunk of
// rows at a time.
func exportItems(ctx context.Context, st portal.Store, w *csv.Writer) (int, error) {
	n := 0
	var chunk []portal.InventoryItem
	flush := func() error {
		ids := make([]portal.GUID, len(chunk))
		var appIDs []portal.GUID
		for i, it := range chunk {
			ids[i] = it.ObjectID
			appIDs = append(appIDs, it.ClientIDs...)
		}
		objects, err := st.Names(ctx, exportTenant, portal.SpaceObject, ids)
		if err != nil {
			return err
		}
		apps, err := st.Names(ctx, exportTenant, portal.SpaceApp, appIDs)
		if err != nil {
			return err
		}
		for _, it := range chunk {
			nm := objects[it.ObjectID]
			var clients, clientNames []string
			for _, c := range it.ClientIDs {
				clients, clientNames = append(clients, c.String()), append(clientNames, apps[c].DisplayName)
			}
			err := w.Write([]string{it.ObjectID.String(), it.Kind.String(), strings.Join(clients, ";"), it.Label, string(it.State),
				csvTime(it.VerifiedAt), csvTime(it.CreatedAt), it.CreatedBy.Name, csvTime(it.UpdatedAt), it.UpdatedBy.Name,
				strconv.FormatInt(it.Version, 10), nm.DisplayName, nm.UPN, nm.Phone, strconv.FormatBool(nm.Found),
				csvTime(nm.FetchedAt), strings.Join(clientNames, ";")})
			if err != nil {
				return err
			}
		}
		n += len(chunk)
		chunk = chunk[:0]
		w.Flush()
		return w.Error()
	}
	err := st.AllItems(ctx, exportTenant, func(it portal.InventoryItem) error {
		if chunk = append(chunk, it); len(chunk) == exportChunk {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return n, err
}

// exportAudit writes the tenant's audit rows as the audit export does.
func exportAudit(ctx context.Context, st portal.Store, w *csv.Writer) (int, error) {
	n := 0
	err := st.WalkAudit(ctx, exportTenant, func(e portal.AuditEvent) error {
		n++
		after := ""
		if e.After != nil {
			after = e.After.Kind + " [" + strings.Join(e.After.ClientIDs, ", ") + "] “" + e.After.Label + "”"
		}
		return w.Write([]string{strconv.FormatInt(e.Seq, 10), e.Time.UTC().Format(portal.AuditTimeFormat), e.Actor.TenantID.String(),
			e.Actor.ObjectID.String(), e.Actor.Name, e.ClientIP, e.ObjectID.String(), e.Kind.String(), string(e.Action), string(e.Phase),
			strconv.FormatInt(e.IntentSeq, 10), string(e.Outcome), "", after, e.Justification, strconv.Itoa(e.ACSStatus), e.ACSCode,
			e.RequestID, e.CorrelationVector, e.Detail, e.PrevHash, e.Hash})
	})
	w.Flush()
	if err == nil {
		err = w.Error()
	}
	return n, err
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// exportRun is one export's measure.
type exportRun struct {
	rows              int
	bytes             int64
	took, cpu         time.Duration // cpu: this process's, not a database server's
	heapRise, rssRise int64
}

// measure runs one export into a sink that counts its bytes, sampling the
// heap every millisecond meanwhile.
func measure(export func(*csv.Writer) (int, error)) (exportRun, error) {
	runtime.GC()
	heap0 := heapBytes()
	rss0 := resetPeakRSS()
	var sink countingSink
	buf := bufio.NewWriterSize(&sink, 64<<10)
	stop, peak := make(chan struct{}), make(chan int64)
	go func() {
		top := heap0
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				top = max(top, heapBytes())
			case <-stop:
				peak <- max(top, heapBytes())
				return
			}
		}
	}()
	began, cpu0 := time.Now(), cpuTime()
	n, err := export(csv.NewWriter(buf))
	if err == nil {
		err = buf.Flush()
	}
	took, cpu := time.Since(began), cpuTime()-cpu0
	close(stop)
	r := exportRun{rows: n, bytes: sink.n, took: took, cpu: cpu, heapRise: <-peak - heap0}
	if rss0 > 0 {
		r.rssRise = peakRSS() - rss0
	}
	return r, err
}

// cpuTime is the CPU this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type countingSink struct{ n int64 }

func (s *countingSink) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	return len(p), nil
}

var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}

// heapBytes is the heap's objects, live or not yet swept.
func heapBytes() int64 {
	metrics.Read(heapSample)
	return int64(heapSample[0].Value.Uint64())
}

// resetPeakRSS resets the process's peak resident memory (Linux) and
// returns the current one, or 0 where it cannot.
func resetPeakRSS() int64 {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return 0
	}
	return statusKB("VmRSS:")
}

func peakRSS() int64 { return statusKB("VmHWM:") }

func statusKB(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mib(b int64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) }
