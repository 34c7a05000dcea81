package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/portal"
)

// syncBuffer is a bytes.Buffer safe to read while run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func noEnv(string) string { return "" }

func TestVersionAndUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"version"}, noEnv, &out, &errOut); err != nil || !strings.HasPrefix(out.String(), "portal ") {
		t.Fatalf("version: %q, %v", out.String(), err)
	}
	for _, args := range [][]string{nil, {"frobnicate"}, {"emulator", "-no-such-flag"}, {"emulator", "extra"}} {
		out.Reset()
		errOut.Reset()
		if err := run(context.Background(), args, noEnv, &out, &errOut); !errors.Is(err, errUsage) || exitCode(err) != 2 {
			t.Errorf("%q: err %v, want a usage error", args, err)
		}
		if errOut.Len() == 0 {
			t.Errorf("%q: nothing said on stderr", args)
		}
	}
}

func TestEmulatorRefusesBadSettings(t *testing.T) {
	for _, args := range [][]string{
		{"-addr", "0.0.0.0:0"},
		{"-addr", "nonsense"},
		{"-addr", "127.0.0.1:0", "-access-key", "not base64!"},
		{"-addr", "127.0.0.1:0", "-faults", "429=2"},
		{"-addr", "127.0.0.1:0", "-delete-missing", "500"},
		{"-addr", "127.0.0.1:0", "-users-without-client-ids", "maybe"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"emulator"}, args...), noEnv, &out, &errOut)
		if err == nil || out.Len() != 0 {
			t.Errorf("%q: err %v, stdout %q; want an error and no connection string", args, err, out.String())
		}
	}
}

// The emulator subcommand prints a connection string that the portal's own
// client can use as it is, serves until its context ends, and then stops.
func TestEmulatorServesItsConnectionString(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"emulator", "-addr", "127.0.0.1:0", "-state", t.TempDir() + "/acs.json"}, noEnv, &out, &errOut)
	}()
	waitFor(t, "the emulator to print its connection string", func() bool { return strings.HasSuffix(out.String(), "\n") },
		func() string { return "stdout:\n" + out.String() + "\nstderr:\n" + errOut.String() })
	cs, ok := strings.CutPrefix(strings.TrimSpace(out.String()), "PORTAL_ACS_CONNECTION_STRING=")
	if !ok {
		cancel()
		t.Fatalf("stdout %q, stderr %q", out.String(), errOut.String())
	}
	conn, err := acs.ParseConnectionString(cs)
	if err != nil {
		t.Fatal(err)
	}
	c, err := acs.New(acs.Options{Endpoint: conn.Endpoint, AccessKey: conn.AccessKey})
	if err != nil {
		t.Fatal(err)
	}
	a := portal.Assignment{
		TenantID: portal.MustParseGUID("1c361ff7-fb44-4685-bb78-1bad6ce5bef3"),
		ObjectID: portal.MustParseGUID("b27b64b9-39d2-44a3-869d-67700b74e805"),
		Kind:     portal.KindResourceAccount,
	}
	if created, _, err := c.PutAssignment(ctx, a); err != nil || !created {
		t.Fatalf("PUT: %v %v", created, err)
	}
	// Faults change while it runs, as portal dev's emulator's do.
	faults := func(spec string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPut, strings.TrimSuffix(conn.Endpoint, "/")+"/_emulator/faults", strings.NewReader(spec))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT faults %q: %d", spec, resp.StatusCode)
		}
	}
	faults("429=1,retry-after=3600") // past the client's bound: it fails at once
	if _, _, err := c.GetAssignment(ctx, a.TenantID, a.ObjectID); portal.ErrorCode(err) != portal.ETHROTTLED {
		t.Errorf("with every call throttled: %v", err)
	}
	faults("")
	if _, _, err := c.GetAssignment(ctx, a.TenantID, a.ObjectID); err != nil {
		t.Errorf("faults off: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(patience):
		t.Fatalf("emulator did not stop within %v", patience)
	}
	if !strings.Contains(errOut.String(), `"status":201`) {
		t.Fatalf("no request log line: %q", errOut.String())
	}
}
