package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/pgtest"
)

// TestSoak drives two portals on one PostgreSQL database with simulated
// people for a while, the emulator throttling and failing, and checks what
// must hold afterwards:
//
//	PORTAL_LOAD=1 PORTAL_TEST_POSTGRES_URL=… go test -run TestSoak -v -count=1 ./cmd/portal
//
// Knobs: PORTAL_LOAD_USERS (200), PORTAL_LOAD_SECONDS (60). Each person
// signs in (on either instance) and then, back to back, mostly searches
// the list and opens assignments, and sometimes grants, edits or revokes
// their own, each request on a random instance. ACS answers 10 % 429
// (Retry-After 1 s) and 5 % 503. Afterwards: no 5xx but the deliberate
// "ACS unavailable" page, every audit intent has its outcome, the
// inventory equals what ACS holds (a reconcile would find no drift), and
// memory is sampled through the run.
func TestSoak(t *testing.T) {
	if os.Getenv("PORTAL_LOAD") == "" {
		t.Skip("soak test: set PORTAL_LOAD=1 (and PORTAL_TEST_POSTGRES_URL) to run it")
	}
	users := envInt("PORTAL_LOAD_USERS", 200)
	length := time.Duration(envInt("PORTAL_LOAD_SECONDS", 60)) * time.Second
	schema := pgtest.FreshSchema(t)
	emu, acsFlag := sharedACS(t)
	flags := []string{"-database", schema, "-acs-connection-string", acsFlag, "-reconcile-every", "0"}
	inst := []*portalProc{startPortalProc(t, t.TempDir(), flags...), startPortalProc(t, t.TempDir(), flags...)}

	// Sign everyone in first (the dev identity provider is not under test).
	clients := make([]*http.Client, users)
	for i := range clients {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
		persona := []string{"admin@contoso.test", "helpdesk@contoso.test", "auditor@contoso.test"}[i%3]
		resp, err := c.Get(inst[i%2].base + "/auth/login?login_hint=" + persona)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		clients[i] = c
	}
	// One assignment everyone opens.
	shared := url.Values{"objectId": {"e5b7f628-ea94-4fdc-b3d9-1af1fe231111"}, "kind": {"user"}, "clientId": {appDesktop.String()}, "label": {"Alice"}}
	if status, _, page := send(t, clients[0], "POST", inst[0].base+"/assignments", "application/x-www-form-urlencoded", strings.NewReader(shared.Encode())); status != http.StatusSeeOther {
		t.Fatalf("grant: %d %.300s", status, page)
	}
	rates, _ := acsemu.ParseRates("429=0.1,retry-after=1,503=0.05")
	emu.SetRates(rates)

	type sample struct {
		kind   string
		status int
		d      time.Duration
		acs    bool // the answer says ACS was unavailable or throttled
	}
	var (
		mu      sync.Mutex
		samples []sample
		rss     [][2]int64 // RSS of each instance, every 5 s
	)
	stop := time.Now().Add(length)
	go func() {
		for time.Now().Before(stop) {
			a, _ := memory(t, inst[0].cmd.Process.Pid)
			b, _ := memory(t, inst[1].cmd.Process.Pid)
			mu.Lock()
			rss = append(rss, [2]int64{a, b})
			mu.Unlock()
			time.Sleep(5 * time.Second)
		}
	}()
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			mine := []string{} // object IDs this person granted
			writer := i%3 != 2 // auditors only read
			for n := 0; time.Now().Before(stop); n++ {
				p := inst[rng.IntN(2)]
				kind, method, path, body := "list", "GET", fmt.Sprintf("/assignments?q=%d", rng.IntN(100)), ""
				switch r := rng.IntN(100); {
				case writer && r < 10:
					obj := fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, n+1)
					kind, method, path = "grant", "POST", "/assignments"
					// Made up: confirmed as not in the directory.
					body = url.Values{"objectId": {obj}, "kind": {"user"}, "clientId": {appDesktop.String()}, "label": {"Soak " + obj}, "confirmAbsent": {obj}}.Encode()
					mine = append(mine, obj)
				case writer && r < 18 && len(mine) > 0:
					obj := mine[rng.IntN(len(mine))]
					_, _, page := send(t, c, "GET", p.base+"/assignments/"+obj, "", nil)
					kind, method, path = "edit", "POST", "/assignments/"+obj
					apps := []string{appDesktop.String()}
					if rng.IntN(2) == 0 {
						apps = append(apps, appMobile.String())
					}
					body = url.Values{"version": {hiddenField(page, "version")}, "seen": {hiddenField(page, "seen")}, "clientId": apps}.Encode()
				case writer && r < 21 && len(mine) > 0:
					k := rng.IntN(len(mine))
					obj := mine[k]
					_, _, page := send(t, c, "GET", p.base+"/assignments/"+obj, "", nil)
					kind, method, path = "revoke", "POST", "/assignments/"+obj+"/delete"
					body = url.Values{"version": {hiddenField(page, "version")}, "seen": {hiddenField(page, "seen")}}.Encode()
					mine = slices.Delete(mine, k, k+1)
				case r < 40:
					kind, path = "detail", "/assignments/e5b7f628-ea94-4fdc-b3d9-1af1fe231111"
				}
				began := time.Now()
				var status int
				var page string
				if method == "POST" {
					status, _, page = send(t, c, method, p.base+path, "application/x-www-form-urlencoded", strings.NewReader(body))
				} else {
					status, _, page = send(t, c, method, p.base+path, "", nil)
				}
				s := sample{kind: kind, status: status, d: time.Since(began), acs: strings.Contains(page, "ACS")}
				mu.Lock()
				samples = append(samples, s)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	emu.SetRates(acsemu.Rates{})

	// Throughput, latency and errors by kind.
	byKind := map[string][]sample{}
	for _, s := range samples {
		byKind[s.kind] = append(byKind[s.kind], s)
	}
	all := make([]time.Duration, 0, len(samples))
	for _, s := range samples {
		all = append(all, s.d)
	}
	p50, p99 := percentiles(all)
	t.Logf("%d people, %v, 2 instances on PostgreSQL, ACS 10%% 429 (Retry-After 1) + 5%% 503", users, took.Round(time.Second))
	t.Logf("all: %d requests, %.0f req/s, p50 %v, p99 %v", len(samples), float64(len(samples))/took.Seconds(), p50.Round(time.Millisecond), p99.Round(time.Millisecond))
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	bad := 0
	for _, k := range kinds {
		ss := byKind[k]
		statuses := map[int]int{}
		var ds []time.Duration
		for _, s := range ss {
			statuses[s.status]++
			ds = append(ds, s.d)
			if s.status >= 500 && !(s.status == http.StatusServiceUnavailable && s.acs) {
				bad++
			}
		}
		p50, p99 := percentiles(ds)
		t.Logf("  %-7s %6d  p50 %7v  p99 %7v  statuses %v", k, len(ss), p50.Round(time.Millisecond), p99.Round(time.Millisecond), statuses)
	}
	if bad > 0 {
		t.Errorf("%d answers were 5xx other than the deliberate ACS-unavailable page", bad)
	}
	var line strings.Builder
	for i, m := range rss {
		if i%3 == 0 || i == len(rss)-1 {
			fmt.Fprintf(&line, " %ds %d/%d", i*5, m[0]>>20, m[1]>>20)
		}
	}
	t.Logf("memory (RSS MB, A/B) at:%s", line.String())

	// Every intent has its outcome; the inventory equals ACS.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, schema)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var intents, dangling int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM audit_log o WHERE o.phase = 'outcome' AND o.intent_seq = i.seq))
		FROM audit_log i WHERE i.phase = 'intent'`).Scan(&intents, &dangling); err != nil {
		t.Fatal(err)
	}
	t.Logf("audit: %d changes attempted, %d without an outcome", intents, dangling)
	if dangling > 0 {
		t.Errorf("%d audit intents have no outcome", dangling)
	}
	rows, err := conn.Query(ctx, `SELECT object_id::text, client_ids::text[] FROM inventory WHERE tenant_id = $1`, devidp.ContosoTenant.String())
	if err != nil {
		t.Fatal(err)
	}
	inventory := map[string]string{}
	for rows.Next() {
		var obj string
		var apps []string
		if err := rows.Scan(&obj, &apps); err != nil {
			t.Fatal(err)
		}
		slices.Sort(apps)
		inventory[obj] = strings.Join(apps, ",")
	}
	rows.Close()
	drift := 0
	for _, s := range emu.All() {
		if s.TenantID != devidp.ContosoTenant {
			continue
		}
		apps := slices.Clone(s.ClientIDs)
		slices.Sort(apps)
		if got, ok := inventory[s.ObjectID.String()]; !ok || got != strings.Join(apps, ",") {
			drift++
		}
		delete(inventory, s.ObjectID.String())
	}
	drift += len(inventory)
	t.Logf("inventory against ACS: %d differences", drift)
	if drift > 0 {
		t.Errorf("%d assignments differ between the inventory and ACS", drift)
	}
}

func percentiles(ds []time.Duration) (p50, p99 time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	slices.Sort(ds)
	return ds[len(ds)/2], ds[len(ds)*99/100]
}
