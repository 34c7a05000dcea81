package jobs_test

import (
	"context"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/jobs"
	"github.com/teamsphone/portal/internal/portal"
)

// TestBulkThroughput measures a bulk job of 1,000 creates, through the real
// runner, use cases, SQLite store and ACS client, against an emulator that
// adds 25 ms to every call and allows 1,000 calls a second, then 100; and a
// script's sequential loop of 1,000 PUTs through the same client:
//
//	PORTAL_LOAD=1 go test -run TestBulkThroughput -v -count=1 ./internal/jobs/
//
// It reports each job's time against the ideal for the limit (rows / rate),
// its speed-up over the loop, the share of calls answered 429, and how
// long a person's single change waited while the job ran. It asserts
// nothing about speed (a shared machine drifts): the goals are
// within 1.3x of ideal, 20x the loop at 1,000/s, under 5 % 429s.
// PORTAL_LOAD_ROWS changes the 1,000, PORTAL_LOAD_RATES the limits
// (e.g. "1000,100"), PORTAL_LOAD_SKIP_LOOP=1 skips the loop (26 s), and
// PORTAL_LOAD_FIXED=N fixes the client at N calls in flight, to compare.
func TestBulkThroughput(t *testing.T) {
	if os.Getenv("PORTAL_LOAD") == "" {
		t.Skip("load test: set PORTAL_LOAD=1 to run it (about a minute)")
	}
	rows := 1000
	if n, err := strconv.Atoi(os.Getenv("PORTAL_LOAD_ROWS")); err == nil && n > 0 {
		rows = n
	}
	const latency = 25 * time.Millisecond
	type result struct {
		rate                 float64
		took, ideal          time.Duration
		calls, throttled     int
		person50, personMax  time.Duration
		allowedEnd, personsN int
		personThrottled      int
	}
	var results []result
	rates := []float64{1000, 100}
	if v := os.Getenv("PORTAL_LOAD_RATES"); v != "" {
		rates = nil
		for f := range strings.SplitSeq(v, ",") {
			r, err := strconv.ParseFloat(f, 64)
			if err != nil || r <= 0 {
				t.Fatalf("PORTAL_LOAD_RATES: %q is not a rate", f)
			}
			rates = append(rates, r)
		}
	}
	for _, rate := range rates {
		e := newThroughputEnv(t)
		_, job := e.plan(t, grants(rows))
		e.emu.SetRates(acsemu.Rates{Latency: latency, Rate: rate})
		e.emu.ResetRequests()

		// A person changes one assignment every half second while the job
		// runs (their calls share the limit: few, to leave the job's
		// ideal meaningful).
		stop := make(chan struct{})
		waits := make(chan []time.Duration)
		go func() {
			var ds []time.Duration
			person := portal.Assignment{TenantID: contoso, ObjectID: object(rows + 1), Kind: portal.KindUser, ClientIDs: []portal.GUID{appA}}
			tick := time.NewTicker(500 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					waits <- ds
					return
				case <-tick.C:
				}
				began := time.Now()
				if _, _, err := e.client.PutAssignment(context.Background(), person); err == nil {
					ds = append(ds, time.Since(began))
				}
			}
		}()
		runner := &jobs.BulkRunner{Service: e.svc, Jobs: e.db}
		start := time.Now()
		if !runner.RunOnce(context.Background()) {
			t.Fatal("the runner took no job")
		}
		took := time.Since(start)
		close(stop)
		ds := <-waits
		final, err := e.db.GetJob(context.Background(), contoso, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		if final.State != portal.JobDone || final.Outcomes[portal.OutcomeSuccess] != rows {
			t.Fatalf("rate %g: job %s, %v", rate, final.State, final.Outcomes)
		}
		r := result{rate: rate, took: took, ideal: time.Duration(float64(rows) / rate * float64(time.Second)),
			allowedEnd: e.client.CallsAllowed(), personsN: len(ds)}
		for _, req := range e.emu.Requests() {
			r.calls++
			if req.Status == http.StatusTooManyRequests {
				r.throttled++
				if strings.Contains(req.RequestURI, object(rows+1).String()) {
					r.personThrottled++
				}
			}
		}
		if len(ds) > 0 {
			slices.Sort(ds)
			r.person50, r.personMax = ds[len(ds)/2], ds[len(ds)-1]
		}
		results = append(results, r)
		t.Logf("rate %g/s: %d rows in %v", rate, rows, took.Round(time.Millisecond))
	}

	// The script: one PUT after another, through the same kind of client,
	// against the same emulator (at 1,000/s: the loop never meets the limit).
	e := newThroughputEnv(t)
	e.emu.SetRates(acsemu.Rates{Latency: latency, Rate: 1000})
	start := time.Now()
	for i := range rows {
		if os.Getenv("PORTAL_LOAD_SKIP_LOOP") != "" {
			break
		}
		a := portal.Assignment{TenantID: contoso, ObjectID: object(i), Kind: portal.KindUser, ClientIDs: []portal.GUID{appA}}
		if _, _, err := e.client.PutAssignment(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	loop := time.Since(start)

	t.Logf("%d creates, %v per call; sequential loop of PUTs: %v", rows, latency, loop.Round(time.Millisecond))
	t.Logf("| emulator limit | job time | ideal | ratio to ideal | vs sequential loop | calls answered 429 | a person's change while it runs (median / max) |")
	t.Logf("| --- | --- | --- | --- | --- | --- | --- |")
	for _, r := range results {
		t.Logf("| %g calls/s | %.2f s | %.2f s | %.2f x | %.1f x | %d of %d (%.1f %%) | %.0f / %.0f ms (%d changes) |",
			r.rate, r.took.Seconds(), r.ideal.Seconds(), r.took.Seconds()/r.ideal.Seconds(), loop.Seconds()/r.took.Seconds(),
			r.throttled, r.calls, 100*float64(r.throttled)/float64(r.calls), ms(r.person50), ms(r.personMax), r.personsN)
	}
	for _, r := range results {
		t.Logf("rate %g/s: the client allowed %d calls in flight at the end; %d of the 429s were a person's", r.rate, r.allowedEnd, r.personThrottled)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// newThroughputEnv is a bulkEnv with the client's production defaults
// (only the endpoint and key set), or PORTAL_LOAD_FIXED calls in flight.
func newThroughputEnv(t *testing.T) *bulkEnv {
	t.Helper()
	var opts acs.Options
	if n, err := strconv.Atoi(os.Getenv("PORTAL_LOAD_FIXED")); err == nil && n > 0 {
		opts.MaxConcurrency, opts.FixedConcurrency = n, true
	}
	return newBulkEnvWith(t, opts)
}
