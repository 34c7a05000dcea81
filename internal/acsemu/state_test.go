package acsemu

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStateSurvivesRestart: an emulator started again on the same state file
// — and on another port — answers as the first one would have.
func TestStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "acs-state.json")
	cfg := testConfig()
	cfg.StatePath = path

	first := newHarness(t, cfg)
	if res := first.call("PUT", mainPath, `{"principalType":"User","clientIds":["`+clientB+`","`+clientA+`"]}`); res.status != 201 {
		t.Fatalf("PUT: %d %s", res.status, res.body)
	}
	ra := assignmentPath(tenantID, object2ID) + apiQuery
	if res := first.call("PUT", ra, `{"principalType":"teamsResourceAccount"}`); res.status != 201 {
		t.Fatalf("PUT: %d %s", res.status, res.body)
	}
	gone := assignmentPath(tenantID, "a5d9498c-c90d-4479-8c8d-09c17d95dd93") + apiQuery
	first.call("PUT", gone, `{"principalType":"teamsResourceAccount"}`)
	if res := first.call("DELETE", gone, ""); res.status != 204 {
		t.Fatalf("DELETE: %d", res.status)
	}
	before := first.emu.All()
	first.emu.Close()
	first.srv.Close()

	second := newHarness(t, cfg)
	if second.srv.URL == first.srv.URL {
		t.Fatal("the second server has the same address; the test needs another port")
	}
	if after := second.emu.All(); !reflect.DeepEqual(after, before) {
		t.Errorf("after restart:\n%+v\nwant\n%+v", after, before)
	}
	res := second.call("GET", mainPath, "")
	if res.status != 200 {
		t.Fatalf("GET after restart: %d %s", res.status, res.body)
	}
	jsonEqual(t, res.body, `{"objectId":"`+objectID+`","tenantId":"`+tenantID+`","principalType":"User","clientIds":["`+clientB+`","`+clientA+`"]}`)
	if res := second.call("GET", ra, ""); res.status != 200 {
		t.Errorf("GET resource account after restart: %d", res.status)
	}
	if res := second.call("GET", gone, ""); res.status != 404 {
		t.Errorf("GET deleted after restart: %d, want 404", res.status)
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, en := range entries {
		names = append(names, en.Name())
	}
	if !reflect.DeepEqual(names, []string{"acs-state.json", "acs-state.json.journal"}) {
		t.Errorf("state directory holds %v, want acs-state.json and its journal (no temp files left)", names)
	}
	if journal := readFile(t, path+".journal"); len(journal) != 0 {
		t.Errorf("the journal holds %q after Close, want it folded into the state file", journal)
	}
}

// TestStateSurvivesKill: an emulator that is never closed — the process was
// killed — leaves its changes in the journal, and the next emulator on the
// same path sees exactly what the first one held.
func TestStateSurvivesKill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acs-state.json")
	cfg := testConfig()
	cfg.StatePath = path

	first := newHarness(t, cfg)
	if res := first.call("PUT", mainPath, `{"principalType":"User","clientIds":["`+clientB+`","`+clientA+`"]}`); res.status != 201 {
		t.Fatalf("PUT: %d %s", res.status, res.body)
	}
	if res := first.call("PUT", mainPath, `{"principalType":"user","clientIds":["`+clientA+`"]}`); res.status != 200 {
		t.Fatalf("PUT again: %d %s", res.status, res.body)
	}
	ra := assignmentPath(tenantID, object2ID) + apiQuery
	if res := first.call("PUT", ra, `{"principalType":"teamsResourceAccount"}`); res.status != 201 {
		t.Fatalf("PUT: %d %s", res.status, res.body)
	}
	if res := first.call("DELETE", ra, ""); res.status != 204 {
		t.Fatalf("DELETE: %d", res.status)
	}
	seeded := Stored{Host: "other.example", TenantID: mustGUID(tenantID), ObjectID: mustGUID(object2ID), PrincipalType: "teamsResourceAccount"}
	removed := seeded
	removed.ObjectID = mustGUID(objectID)
	for _, s := range []Stored{seeded, removed} {
		if err := first.emu.Seed(s); err != nil {
			t.Fatal(err)
		}
	}
	if !first.emu.Remove(removed.Host, removed.TenantID, removed.ObjectID) {
		t.Fatal("Remove found nothing")
	}
	before := first.emu.All()
	if len(before) != 2 {
		t.Fatalf("%d assignments before the kill, want 2: %+v", len(before), before)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the state file exists before any compaction (%v): the test would not exercise the journal", err)
	}

	// No Close: what is on disk now is what a SIGKILL would leave.
	second, err := New(cfg)
	if err != nil {
		t.Fatalf("New after the kill: %v", err)
	}
	t.Cleanup(second.Close)
	if after := second.All(); !reflect.DeepEqual(after, before) {
		t.Errorf("after the kill:\n%+v\nwant\n%+v", after, before)
	}
}

// TestStateSurvivesSIGKILL is TestStateSurvivesKill with a real SIGKILL: a
// child process (this test binary again) seeds and removes, reports that it
// is done and is killed while its journal is open and never synced. What the
// kernel holds is enough.
func TestStateSurvivesSIGKILL(t *testing.T) {
	const n = 300
	seed := func(i int) Stored {
		s := Stored{Host: "killed.example", TenantID: mustGUID(tenantID), ObjectID: mustGUID(objectID), PrincipalType: "user", ClientIDs: []string{clientA}, Updated: t0}
		binary.BigEndian.PutUint32(s.ObjectID[12:], uint32(i))
		return s
	}
	if path := os.Getenv("ACSEMU_KILL_STATE"); path != "" {
		e, err := New(Config{StatePath: path})
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		for i := range n {
			if err := e.Seed(seed(i)); err != nil {
				fmt.Println(err)
				os.Exit(1)
			}
			if i%3 == 0 && !e.Remove("killed.example", mustGUID(tenantID), seed(i).ObjectID) {
				fmt.Println("Remove found nothing")
				os.Exit(1)
			}
		}
		fmt.Println("done")
		select {} // until killed
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}

	path := filepath.Join(t.TempDir(), "state.json")
	cmd := exec.Command(os.Args[0], "-test.run=^TestStateSurvivesSIGKILL$")
	cmd.Env = append(os.Environ(), "ACSEMU_KILL_STATE="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if line != "done\n" {
		t.Fatalf("child: %q, %v", line, err)
	}

	e, err := New(Config{StatePath: path})
	if err != nil {
		t.Fatalf("New after SIGKILL: %v", err)
	}
	defer e.Close()
	var want []Stored
	for i := range n {
		if i%3 != 0 {
			want = append(want, seed(i))
		}
	}
	if got := e.All(); !reflect.DeepEqual(got, want) {
		t.Errorf("after SIGKILL: %d assignments, want %d", len(got), len(want))
	}
}

// TestJournalTornLastLine: a last line cut short by the process dying is
// ignored; a bad line anywhere else is an error that names it, and leaves the
// files as they were.
func TestJournalTornLastLine(t *testing.T) {
	put := `{"op":"put","assignment":{"host":"Res.Example:443","tenantId":"` + tenantID + `","objectId":"` + objectID + `","principalType":"user","clientIds":["` + clientA + `"],"updated":"2026-03-04T10:00:00Z"}}`
	put2 := `{"op":"put","assignment":{"host":"res.example","tenantId":"` + tenantID + `","objectId":"` + object2ID + `","principalType":"teamsResourceAccount","updated":"2026-03-04T10:00:00Z"}}`
	del2 := `{"op":"delete","host":"res.example","tenantId":"` + tenantID + `","objectId":"` + object2ID + `"}`
	want := []Stored{{Host: "res.example", TenantID: mustGUID(tenantID), ObjectID: mustGUID(objectID), PrincipalType: "user", ClientIDs: []string{clientA}, Updated: t0}}

	for name, journal := range map[string]string{
		"torn last line":                       put + "\n" + put2 + "\n" + del2 + "\n" + put2[:40],
		"complete last line without a newline": put + "\n" + put2 + "\n" + del2,
	} {
		path := filepath.Join(t.TempDir(), "state.json")
		writeFile(t, path+".journal", journal)
		e, err := New(Config{StatePath: path})
		if err != nil {
			t.Errorf("%s: New: %v", name, err)
			continue
		}
		if got := e.All(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: loaded\n%+v\nwant\n%+v", name, got, want)
		}
		e.Close()
	}

	for name, tc := range map[string]struct{ journal, line string }{
		"bad line in the middle":          {put + "\n" + put2[:40] + "\n" + del2 + "\n", "line 2"},
		"bad last line with its newline":  {put + "\n" + put2[:40] + "\n", "line 2"},
		"blank line":                      {put + "\n\n" + del2 + "\n", "line 2"},
		"unknown op":                      {put + "\n" + `{"op":"patch"}` + "\n", "line 2"},
		"put without an assignment":       {`{"op":"put"}` + "\n" + put, "line 1"},
		"delete without an object":        {put + "\n" + `{"op":"delete","host":"res.example","tenantId":"` + tenantID + `"}` + "\n", "line 2"},
		"unknown principalType":           {strings.Replace(put, `"user"`, `"group"`, 1) + "\n", "line 1"},
		"torn line followed by good ones": {put[:40] + "\n" + put + "\n", "line 1"},
	} {
		path := filepath.Join(t.TempDir(), "state.json")
		writeFile(t, path+".journal", tc.journal)
		_, err := New(Config{StatePath: path})
		if err == nil || !strings.Contains(err.Error(), tc.line) {
			t.Errorf("%s: New = %v, want an error naming %s", name, err, tc.line)
		}
		if got := readFile(t, path+".journal"); got != tc.journal {
			t.Errorf("%s: the journal was changed to %q", name, got)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%s: a state file was written (%v)", name, err)
		}
	}
}

// TestLoadCompactsJournal: loading folds the journal into a fresh state file
// and empties the journal, so it only ever holds one run's changes.
func TestLoadCompactsJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	cfg := testConfig()
	cfg.StatePath = path
	first, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(first.Close)
	for i := range 50 {
		s := Stored{Host: "res.example", TenantID: mustGUID(tenantID), ObjectID: mustGUID(objectID), PrincipalType: "resourceAccount"}
		binary.BigEndian.PutUint32(s.ObjectID[12:], uint32(i))
		if err := first.Seed(s); err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			first.Remove(s.Host, s.TenantID, s.ObjectID)
		}
	}
	if n := strings.Count(readFile(t, path+".journal"), "\n"); n != 60 {
		t.Errorf("the journal holds %d lines, want 60 (50 puts, 10 deletes)", n)
	}
	want := first.All()

	second, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(second.Close)
	if journal := readFile(t, path+".journal"); journal != "" {
		t.Errorf("the journal holds %q after load, want it empty", journal)
	}
	var f stateFile
	if err := json.Unmarshal([]byte(readFile(t, path)), &f); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Assignments, want) || !reflect.DeepEqual(second.All(), want) {
		t.Errorf("state file holds %d assignments, the emulator %d; want %d", len(f.Assignments), len(second.All()), len(want))
	}
}

// TestLoadsStateFileWithoutJournal: a state file written before there was a
// journal loads as it is, and is left untouched.
func TestLoadsStateFileWithoutJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acs-emulator.json")
	old := `{
  "assignments": [
    {
      "host": "127.0.0.1",
      "tenantId": "` + tenantID + `",
      "objectId": "` + objectID + `",
      "principalType": "User",
      "clientIds": [
        "` + clientB + `",
        "` + clientA + `"
      ],
      "updated": "2026-03-04T10:00:00Z"
    },
    {
      "host": "127.0.0.1",
      "tenantId": "` + tenantID + `",
      "objectId": "` + object2ID + `",
      "principalType": "teamsResourceAccount",
      "updated": "2026-03-04T10:00:00Z"
    }
  ]
}
`
	writeFile(t, path, old)
	cfg := testConfig()
	cfg.StatePath = path
	h := newHarness(t, cfg)
	want := []Stored{
		{Host: "127.0.0.1", TenantID: mustGUID(tenantID), ObjectID: mustGUID(objectID), PrincipalType: "User", ClientIDs: []string{clientB, clientA}, Updated: t0},
		{Host: "127.0.0.1", TenantID: mustGUID(tenantID), ObjectID: mustGUID(object2ID), PrincipalType: "teamsResourceAccount", Updated: t0},
	}
	if got := h.emu.All(); !reflect.DeepEqual(got, want) {
		t.Errorf("loaded\n%+v\nwant\n%+v", got, want)
	}
	if res := h.call("GET", mainPath, ""); res.status != 200 {
		t.Errorf("GET: %d %s", res.status, res.body)
	}
	if got := readFile(t, path); got != old {
		t.Errorf("the state file was rewritten on load:\n%s", got)
	}
}

// TestChangesAfterCloseAreKept: requests still finishing when Close runs (it
// is a server shutdown hook) change state after it; those changes are saved
// too, and a second Close does no harm.
func TestChangesAfterCloseAreKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	cfg := testConfig()
	cfg.StatePath = path
	h := newHarness(t, cfg)
	if res := h.call("PUT", mainPath, `{"principalType":"teamsResourceAccount"}`); res.status != 201 {
		t.Fatalf("PUT: %d %s", res.status, res.body)
	}
	h.emu.Close()
	ra := assignmentPath(tenantID, object2ID) + apiQuery
	if res := h.call("PUT", ra, `{"principalType":"teamsResourceAccount"}`); res.status != 201 {
		t.Fatalf("PUT after Close: %d %s", res.status, res.body)
	}
	if res := h.call("DELETE", mainPath, ""); res.status != 204 {
		t.Fatalf("DELETE after Close: %d %s", res.status, res.body)
	}
	h.emu.Close()
	want := h.emu.All()

	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if got := e.All(); !reflect.DeepEqual(got, want) || len(got) != 1 {
		t.Errorf("after restart:\n%+v\nwant\n%+v", got, want)
	}
}

// TestMemoryOnlyWritesNothing: without a StatePath no file is touched.
func TestMemoryOnlyWritesNothing(t *testing.T) {
	t.Chdir(t.TempDir())
	h := newHarness(t, testConfig())
	if res := h.call("PUT", mainPath, `{"principalType":"teamsResourceAccount"}`); res.status != 201 {
		t.Fatalf("PUT: %d %s", res.status, res.body)
	}
	h.emu.Close()
	if entries, _ := os.ReadDir("."); len(entries) != 0 {
		t.Errorf("memory-only emulator wrote %v", entries)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptStateFileIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte(`{"assignments":[{"host":`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{StatePath: path}); err == nil {
		t.Error("New accepted a corrupt state file")
	}
	if err := os.WriteFile(path, []byte(`{"assignments":[{"host":"x","tenantId":"not-a-guid"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{StatePath: path}); err == nil {
		t.Error("New accepted a state file with a bad GUID")
	}
}

// TestStateWriteFailureChangesNothing: if a change cannot be saved, the PUT
// or DELETE fails with 500 and memory does not claim what a restart would
// forget.
func TestStateWriteFailureChangesNothing(t *testing.T) {
	cfg := testConfig()
	cfg.StatePath = filepath.Join(t.TempDir(), "state.json")
	h := newHarness(t, cfg)
	ra := assignmentPath(tenantID, object2ID) + apiQuery
	if res := h.call("PUT", ra, `{"principalType":"teamsResourceAccount"}`); res.status != 201 {
		t.Fatalf("PUT: %d %s", res.status, res.body)
	}
	before := h.emu.All()
	// A journal that can no longer be written (closed under the emulator,
	// standing in for a full or failing disk).
	h.emu.mu.Lock()
	_ = h.emu.journal.Close()
	h.emu.mu.Unlock()
	if res := h.call("PUT", mainPath, `{"principalType":"teamsResourceAccount"}`); res.status != 500 {
		t.Errorf("PUT with an unwritable state: %d, want 500", res.status)
	}
	if res := h.call("DELETE", ra, ""); res.status != 500 {
		t.Errorf("DELETE with an unwritable state: %d, want 500", res.status)
	}
	if err := h.emu.Seed(Stored{Host: "x.example", TenantID: mustGUID(tenantID), ObjectID: mustGUID(objectID), PrincipalType: "resourceAccount"}); err == nil {
		t.Error("Seed succeeded with an unwritable state")
	}
	if after := h.emu.All(); !reflect.DeepEqual(after, before) {
		t.Errorf("memory holds\n%+v\nwant what could be saved\n%+v", after, before)
	}
}

// TestSeedVisibleThroughGET: seeded assignments (made "outside the portal")
// are served like any other, under the normalised host.
func TestSeedVisibleThroughGET(t *testing.T) {
	h := newHarness(t, testConfig())
	seed := Stored{Host: "127.0.0.1:9999", TenantID: mustGUID(tenantID), ObjectID: mustGUID(objectID), PrincipalType: "user",
		ClientIDs: []string{"1BFA671A-DC6B-47F3-8940-45C0F1AF0FA6"}}
	if err := h.emu.Seed(seed); err != nil {
		t.Fatal(err)
	}
	res := h.call("GET", mainPath, "")
	if res.status != 200 {
		t.Fatalf("GET seeded: %d %s", res.status, res.body)
	}
	jsonEqual(t, res.body, `{"objectId":"`+objectID+`","tenantId":"`+tenantID+`","principalType":"user","clientIds":["`+clientA+`"]}`)
	if len(h.emu.Requests()) != 1 {
		t.Errorf("Seed appeared in the request log: %+v", h.emu.Requests())
	}
	s, ok := h.emu.Lookup("127.0.0.1", mustGUID(tenantID), mustGUID(objectID))
	if !ok || s.Host != "127.0.0.1" || !s.Updated.Equal(t0) {
		t.Errorf("Lookup = %+v, %v", s, ok)
	}
}

func TestSeedRefusesWhatACSWouldRefuse(t *testing.T) {
	e, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	good := Stored{Host: "r.example", TenantID: mustGUID(tenantID), ObjectID: mustGUID(objectID), PrincipalType: "user", ClientIDs: []string{clientA}}
	for name, mutate := range map[string]func(*Stored){
		"no host":                      func(s *Stored) { s.Host = "" },
		"no tenant":                    func(s *Stored) { s.TenantID = [16]byte{} },
		"no object":                    func(s *Stored) { s.ObjectID = [16]byte{} },
		"unknown principalType":        func(s *Stored) { s.PrincipalType = "group" },
		"bad client ID":                func(s *Stored) { s.ClientIDs = []string{"nope"} },
		"user without client IDs":      func(s *Stored) { s.ClientIDs = nil },
		"resource account with client": func(s *Stored) { s.PrincipalType = "teamsResourceAccount" },
	} {
		s := good
		mutate(&s)
		if err := e.Seed(s); err == nil {
			t.Errorf("%s: Seed accepted %+v", name, s)
		}
	}
	if n := len(e.All()); n != 0 {
		t.Errorf("%d assignments after refused seeds", n)
	}
}

// TestStateKeyedByHostTenantObject: the same tenant and object under two
// resource hosts are two assignments; Host case and port do not matter.
func TestStateKeyedByHostTenantObject(t *testing.T) {
	h := newHarness(t, testConfig())
	put := func(host, body string) int {
		req := h.newRequest("PUT", mainPath, body)
		req.Host = host
		signHMAC(req, testKey, []byte(body), t0.Format(http.TimeFormat), host)
		return h.do(req).status
	}
	if got := put("Res-A.example:8443", `{"principalType":"user","clientIds":["`+clientA+`"]}`); got != 201 {
		t.Fatalf("PUT A: %d", got)
	}
	if got := put("res-b.example", `{"principalType":"teamsResourceAccount"}`); got != 201 {
		t.Fatalf("PUT B: %d", got)
	}
	if got := put("RES-A.EXAMPLE", `{"principalType":"user","clientIds":["`+clientB+`"]}`); got != 200 {
		t.Fatalf("PUT A again, other case, no port: %d, want 200", got)
	}
	all := h.emu.All()
	if len(all) != 2 || all[0].Host != "res-a.example" || all[1].Host != "res-b.example" || all[0].ClientIDs[0] != clientB {
		t.Errorf("All = %+v", all)
	}
	if _, ok := h.emu.Lookup("127.0.0.1", mustGUID(tenantID), mustGUID(objectID)); ok {
		t.Error("an assignment leaked to another host")
	}
	if !h.emu.Remove("Res-B.Example:1", mustGUID(tenantID), mustGUID(objectID)) {
		t.Error("Remove found nothing")
	}
	if h.emu.Remove("res-b.example", mustGUID(tenantID), mustGUID(objectID)) {
		t.Error("Remove of a removed assignment reported true")
	}
}

func TestAllSorted(t *testing.T) {
	e, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"ffffffff-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002", "80000000-0000-4000-8000-000000000003"}
	for _, host := range []string{"b.example", "a.example"} {
		for _, tn := range ids[:2] {
			for _, ob := range ids {
				if err := e.Seed(Stored{Host: host, TenantID: mustGUID(tn), ObjectID: mustGUID(ob), PrincipalType: "resourceAccount"}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	all := e.All()
	if len(all) != 12 {
		t.Fatalf("%d assignments, want 12", len(all))
	}
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		if a.Host > b.Host || (a.Host == b.Host && (a.TenantID.String() > b.TenantID.String() ||
			(a.TenantID == b.TenantID && a.ObjectID.String() >= b.ObjectID.String()))) {
			t.Errorf("All not sorted at %d: %v then %v", i, a, b)
		}
	}
}

// TestConcurrentUse exercises the lock under the race detector: parallel
// PUTs, GETs, seeds and log reads.
func TestConcurrentUse(t *testing.T) {
	cfg := testConfig()
	cfg.StatePath = filepath.Join(t.TempDir(), "state.json")
	h := newHarness(t, cfg)
	h.client.Transport = &http.Transport{MaxIdleConnsPerHost: 16}
	var wg sync.WaitGroup
	for i := range 16 {
		var req *http.Request
		switch i % 4 {
		case 0:
			req = h.signedRequest("PUT", mainPath, `{"principalType":"teamsResourceAccount"}`)
		case 1:
			req = h.signedRequest("GET", mainPath, "")
		}
		wg.Go(func() {
			switch i % 4 {
			case 0, 1:
				if res, err := h.try(req); err != nil || res.status >= 300 && res.status != 404 {
					t.Errorf("%s: %v %d %s", req.Method, err, res.status, res.body)
				}
			case 2:
				_ = h.emu.Seed(Stored{Host: "x.example", TenantID: mustGUID(tenantID), ObjectID: mustGUID(objectID), PrincipalType: "resourceAccount", Updated: time.Unix(int64(i), 0)})
			default:
				_ = h.emu.Requests()
				_ = h.emu.All()
			}
		})
	}
	wg.Wait()
	if n := len(h.emu.Requests()); n != 8 {
		t.Errorf("%d requests logged, want 8", n)
	}
}

// BenchmarkSeedWithState measures 2,000 seeds (PUTs without HTTP) against a
// state file, one after another and from 8 writers as a bulk apply does: the
// cost of persisting each change, which every writer waits for under the
// lock.
func BenchmarkSeedWithState(b *testing.B) {
	const n = 2000
	seeds := make([]Stored, n)
	for i := range seeds {
		obj := mustGUID(objectID)
		binary.BigEndian.PutUint32(obj[12:], uint32(i))
		seeds[i] = Stored{Host: "bench.example", TenantID: mustGUID(tenantID), ObjectID: obj, PrincipalType: "user", ClientIDs: []string{clientA, clientB}}
	}
	for _, writers := range []int{1, 8} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				cfg := testConfig()
				cfg.StatePath = filepath.Join(b.TempDir(), "state.json")
				e, err := New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				var wg sync.WaitGroup
				for w := range writers {
					wg.Go(func() {
						for i := w; i < n; i += writers {
							if err := e.Seed(seeds[i]); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				e.Close()
				if got := len(e.All()); got != n {
					b.Fatalf("%d assignments, want %d", got, n)
				}
				b.StartTimer()
			}
		})
	}
}
