package main

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/acsemu"
)

// buildPortal builds the portal binary once per test binary run.
var buildPortal = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "portal-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "portal")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build: %v\n%s", err, out)
	}
	return bin, nil
})

// portalProc is a real `portal dev` process.
type portalProc struct {
	cmd    *exec.Cmd
	base   string // the portal
	emuURL string // its ACS emulator
	stderr *syncBuffer
	exited chan struct{}
}

// startPortalProc starts `portal dev` on dataDir with extra flags and waits
// for its banner. It is stopped (interrupted, then killed) when t ends.
func startPortalProc(t *testing.T, dataDir string, flags ...string) *portalProc {
	t.Helper()
	bin, err := buildPortal()
	if err != nil {
		t.Fatal(err)
	}
	p := &portalProc{stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"dev", "-addr", "127.0.0.1:0", "-data", dataDir}, flags...)...)
	stdout, _ := p.cmd.StdoutPipe()
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { p.stop(t) })
	sc := bufio.NewScanner(stdout)
	banner := regexp.MustCompile(`\(dev\) at (http://127\.0\.0\.1:\d+)`)
	emulator := regexp.MustCompile(`endpoint=(http://127\.0\.0\.1:\d+)/;`)
	deadline := time.AfterFunc(patience, func() { p.cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		if m := banner.FindStringSubmatch(sc.Text()); m != nil {
			p.base = m[1]
		}
		if m := emulator.FindStringSubmatch(sc.Text()); m != nil {
			p.emuURL = m[1]
		}
		if p.base != "" && p.emuURL != "" {
			break
		}
	}
	if p.base == "" || p.emuURL == "" {
		t.Fatalf("portal dev printed no addresses\nstderr:\n%.2000s", p.stderr.String())
	}
	go io.Copy(io.Discard, stdout)
	return p
}

// stop interrupts the portal and waits for it to finish cleanly.
func (p *portalProc) stop(t *testing.T) {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(patience):
		t.Errorf("portal did not stop within %v of an interrupt", patience)
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// kill ends the portal at once, as a crash would.
func (p *portalProc) kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

// setFaults changes the dev emulator's injected faults.
func (p *portalProc) setFaults(t *testing.T, spec string) {
	t.Helper()
	req, _ := http.NewRequest("PUT", p.emuURL+"/_emulator/faults", strings.NewReader(spec))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("faults %q: %d", spec, resp.StatusCode)
	}
}

// client signs persona in through the dev identity provider, as a plain
// HTTP client, and returns it; it does not follow redirects after that.
func (p *portalProc) client(t *testing.T, persona string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 5 * time.Minute}
	resp, err := c.Get(p.base + "/auth/login?login_hint=" + url.QueryEscape(persona))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// send makes a request and returns its status, Location and body.
func send(t *testing.T, c *http.Client, method, addr, contentType string, body io.Reader) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(method, addr, body)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// applyCSV uploads a file of changes, applies its plan and returns the
// job's address. Tests make their agents up: the dev directory has none of
// them, so applying confirms their IDs were checked.
func (p *portalProc) applyCSV(t *testing.T, c *http.Client, file string) string {
	t.Helper()
	var body strings.Builder
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "agents.csv")
	io.WriteString(fw, file)
	mw.Close()
	status, plan, page := send(t, c, "POST", p.base+"/bulk", mw.FormDataContentType(), strings.NewReader(body.String()))
	if status != http.StatusSeeOther {
		t.Fatalf("upload: %d %.500s", status, page)
	}
	status, job, page := send(t, c, "POST", p.base+plan+"/apply", "application/x-www-form-urlencoded", strings.NewReader("justification=load+test&ids_checked=yes"))
	if status != http.StatusSeeOther || !strings.HasPrefix(job, "/bulk/jobs/") {
		t.Fatalf("apply: %d %.500s", status, page)
	}
	return job
}

var (
	stateAttr = regexp.MustCompile(`data-testid="job-progress" data-state="([a-z]+)"`)
	doneCount = regexp.MustCompile(`data-testid="job-done">(\d+)<`)
)

// jobState reads a job's state and rows done from its progress card.
func (p *portalProc) jobState(t *testing.T, c *http.Client, job string) (string, int) {
	t.Helper()
	status, _, page := send(t, c, "GET", p.base+job+"/progress", "", nil)
	s, d := stateAttr.FindStringSubmatch(page), doneCount.FindStringSubmatch(page)
	if status != 200 || s == nil || d == nil {
		t.Fatalf("progress: %d %.500s", status, page)
	}
	n, _ := strconv.Atoi(d[1])
	return s[1], n
}

// waitJob polls a job until until says stop, for at most patience more
// than within, which is how long the wait is expected to take on a quick
// machine (a slow one only makes it longer).
func (p *portalProc) waitJob(t *testing.T, c *http.Client, job string, within time.Duration, until func(state string, done int) bool) (string, int) {
	t.Helper()
	within += patience
	deadline := time.Now().Add(within)
	for {
		state, done := p.jobState(t, c, job)
		if until(state, done) {
			return state, done
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: still %s with %d done after %v", job, state, done, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sharedACS is an ACS emulator several portal processes use, and the
// -acs-connection-string that points them at it.
func sharedACS(t *testing.T) (*acsemu.Emulator, string) {
	t.Helper()
	key := []byte("shared-acs-test-key")
	emu, err := acsemu.New(acsemu.Config{AccessKey: key})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return emu, "endpoint=" + srv.URL + "/;accesskey=" + base64.StdEncoding.EncodeToString(key)
}
