package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// What the load tests (TestLoad, TestScale) share: signing many people in,
// the closed-loop request runner, and reading a process's CPU time and
// memory from /proc.

// signInClients signs n people in as persona on the portal at base, each
// with a session of their own, following the sign-in's redirects.
func signInClients(t *testing.T, base, persona string, n int) []*http.Client {
	t.Helper()
	clients := make([]*http.Client, n)
	for i := range clients {
		jar, _ := cookiejar.New(nil)
		clients[i] = &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
		resp, err := clients[i].Get(base + "/auth/login?login_hint=" + persona)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return clients
}

type loadResult struct {
	n, errors int
	rps       float64
	p50, p99  time.Duration
	bytes     int64 // of all the responses' bodies
}

// kbPer is the mean size of a response's body, KB.
func (r loadResult) kbPer() float64 { return float64(r.bytes) / 1e3 / float64(max(r.n, 1)) }

func perRequest(cpu time.Duration, n int) float64 {
	return float64(cpu.Microseconds()) / float64(max(n, 1))
}

// hammer sends requests from every client, back to back, for d.
func hammer(t *testing.T, clients []*http.Client, url string, d time.Duration) loadResult {
	return hammerURLs(t, clients, func() string { return url }, d)
}

// hammerURLs is hammer with a new URL for every request.
func hammerURLs(t *testing.T, clients []*http.Client, next func() string, d time.Duration) loadResult {
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		latencies []time.Duration
		errs      atomic.Int64
		received  atomic.Int64
	)
	stop := time.Now().Add(d)
	began := time.Now()
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(stop) {
				t0 := time.Now()
				resp, err := c.Get(next())
				if err != nil {
					errs.Add(1)
					continue
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				received.Add(n)
				if resp.StatusCode != 200 {
					errs.Add(1)
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	slices.Sort(latencies)
	r := loadResult{n: len(latencies), errors: int(errs.Load()), rps: float64(len(latencies)) / elapsed.Seconds(), bytes: received.Load()}
	if len(latencies) > 0 {
		r.p50 = latencies[len(latencies)/2]
		r.p99 = latencies[len(latencies)*99/100]
	}
	return r
}

// cpuTime reads the process's user+system CPU time from /proc.
func cpuTime(t *testing.T, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Logf("cpu: %v", err)
		return 0
	}
	return statCPU(b)
}

// statFields are the fields of a /proc/<pid>/stat after the command name
// (which may hold spaces): the process's state first.
func statFields(b []byte) []string {
	return strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
}

// statCPU is the user+system CPU time in a /proc/<pid>/stat.
func statCPU(b []byte) time.Duration {
	f := statFields(b)
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond // USER_HZ = 100
}

// selfCPU is this process's user+system CPU time.
func selfCPU(t *testing.T) time.Duration { return cpuTime(t, os.Getpid()) }

// dbCPU is the user+system CPU time of the PostgreSQL server whose
// postmaster is postmaster (0: none, as on SQLite): it and its children,
// among them the backends serving the portal's pooled connections, which
// live through a phase. A process that exits meanwhile takes its time
// with it: an approximation, good while connections are pooled.
func dbCPU(postmaster int) time.Duration {
	if postmaster == 0 {
		return 0
	}
	dirs, _ := os.ReadDir("/proc")
	var sum time.Duration
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // gone meanwhile
		}
		if pid == postmaster || statParent(b) == postmaster {
			sum += statCPU(b)
		}
	}
	return sum
}

// postmasterOf is the process ID of the PostgreSQL server at url: the
// parent of the backend a connection gets.
func postmasterOf(t *testing.T, url string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var backend int
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", backend))
	if err != nil {
		t.Fatalf("PostgreSQL's backend %d is not a process of this machine: %v", backend, err)
	}
	return statParent(b)
}

// statParent is the parent's process ID in a /proc/<pid>/stat.
func statParent(b []byte) int {
	ppid, _ := strconv.Atoi(statFields(b)[1])
	return ppid
}

// machineCPU is the CPU time the whole machine spent running anything
// (/proc/stat's user, nice, system, irq and softirq; not idle, I/O wait
// or steal), summed over its cores.
func machineCPU(t *testing.T) time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Logf("cpu: %v", err)
		return 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line)) // cpu user nice system idle iowait irq softirq steal …
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7} {
		n, _ := strconv.ParseInt(f[i], 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ = 100
}

// memory reads the process's resident set and its peak from /proc.
func memory(t *testing.T, pid int) (rss, hwm int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Logf("memory: %v", err)
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			hwm = kb << 10
		}
	}
	return rss, hwm
}

func mustGet(t *testing.T, c *http.Client, url string) string {
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
