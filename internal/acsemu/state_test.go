package acsemu

import (
	"net/http"
	"os"
	"path/filepath"
	"reflect"
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
	if len(entries) != 1 || entries[0].Name() != "acs-state.json" {
		t.Errorf("state directory holds %v, want only acs-state.json (no temp files left)", entries)
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

// TestStateWriteFailureChangesNothing: if the state cannot be saved, the PUT
// fails with 500 and memory does not claim what a restart would forget.
func TestStateWriteFailureChangesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.StatePath = filepath.Join(dir, "state.json")
	h := newHarness(t, cfg)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	res := h.call("PUT", mainPath, `{"principalType":"teamsResourceAccount"}`)
	if res.status != 500 {
		t.Fatalf("PUT with an unwritable state: %d, want 500", res.status)
	}
	if len(h.emu.All()) != 0 {
		t.Error("the assignment was kept in memory although it could not be saved")
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
