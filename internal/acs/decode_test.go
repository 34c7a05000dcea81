package acs

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/teamsphone/portal/internal/portal"
)

var scanSeeds = []string{
	`{"objectId":"e5b7f628-ea94-4fdc-b3d9-1af1fe231111","tenantId":"1c361ff7-fb44-4685-bb78-1bad6ce5bef3","principalType":"user","clientIds":["83ecbc78-e1ba-4e8f-a454-5483ef618061","9215f754-3568-4bed-baa4-455c404e6140"]}`,
	" \t\r\n{ \"principalType\" : \"teamsResourceAccount\" , \"objectId\":\"x\" } \n",
	`{}`,
	` { } `,
	`{"clientIds":[]}`,
	`{"clientIds":[ ]}`,
	`{"clientIds":["a"],"clientIds":["b","c"]}`,
	`{"principalType":"user","principalType":"User"}`,
	`{"principalType":""}`,
	"{\"principalType\":\"us\x7fer\"}", // DEL is a plain character to JSON
	// Left to encoding/json: escapes, non-ASCII, other names or cases, null,
	// numbers, nesting, and malformed JSON.
	`{"principalType":"us\u0065r"}`,
	`{"principalType":"us\"er"}`,
	`{"principalType":"usér"}`,
	`{"PrincipalType":"user"}`,
	`{"principaltype":"user"}`,
	`{"updatedAt":"2025-07-07T12:00:00Z","principalType":"user"}`,
	`{"clientIds":null}`,
	`{"objectId":null}`,
	`{"clientIds":[1]}`,
	`{"clientIds":[["a"]]}`,
	`{"error":{"code":"x"}}`,
	`{"principalType":"user",}`,
	`{"clientIds":["a",]}`,
	`{"principalType":"user"} x`,
	`{"principalType":"user"}{}`,
	`{"principalType":"user"`,
	`{"principalType" "user"}`,
	`{"principalType":"user}`,
	`["user"]`,
	`"user"`,
	``,
	"{\"principalType\":\"us\ter\"}",
	"{\"principalType\":\"us\xffer\"}",
}

// scanAssignment must read exactly what encoding/json reads, or decline.
func checkScanAgrees(t *testing.T, body string) {
	t.Helper()
	var w wireAssignment
	ids, ok := scanAssignment(body, &w, nil)
	if !ok {
		return
	}
	w.ClientIDs = ids
	var want wireAssignment
	if err := json.Unmarshal([]byte(body), &want); err != nil {
		t.Fatalf("%q: scanned as %+v, but encoding/json refuses it: %v", body, w, err)
	}
	if w.ObjectID != want.ObjectID || w.TenantID != want.TenantID || w.PrincipalType != want.PrincipalType || !slices.Equal(w.ClientIDs, want.ClientIDs) {
		t.Fatalf("%q: scanned %+v, encoding/json reads %+v", body, w, want)
	}
}

func TestScanAssignmentAgreesWithEncodingJSON(t *testing.T) {
	scanned := 0
	for _, body := range scanSeeds {
		checkScanAgrees(t, body)
		if _, ok := scanAssignment(body, new(wireAssignment), nil); ok {
			scanned++
		}
	}
	// The plain shapes ACS sends must take the fast path.
	if scanned != 10 {
		t.Fatalf("%d of the seeds scanned, want the first 10", scanned)
	}
}

func FuzzScanAssignment(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add(s)
	}
	f.Fuzz(checkScanAgrees)
}

// Whatever path it takes, decodeAssignment gives the same assignment.
func TestDecodeAssignmentFallsBackToEncodingJSON(t *testing.T) {
	fast := `{"objectId":"e5b7f628-ea94-4fdc-b3d9-1af1fe231111","tenantId":"1c361ff7-fb44-4685-bb78-1bad6ce5bef3","principalType":"user","clientIds":["83ecbc78-e1ba-4e8f-a454-5483ef618061","9215f754-3568-4bed-baa4-455c404e6140"]}`
	slow := strings.Replace(fast, `"user"`, `"us\u0065r"`, 1)
	slow = strings.Replace(slow, `"objectId":"e5b7f628-ea94-4fdc-b3d9-1af1fe231111"`, `"ObjectID":"{E5B7F628-EA94-4FDC-B3D9-1AF1FE231111}","extra":{"n":[1,2]}`, 1)
	tenant, object := portal.MustParseGUID("1c361ff7-fb44-4685-bb78-1bad6ce5bef3"), portal.MustParseGUID("e5b7f628-ea94-4fdc-b3d9-1af1fe231111")
	a, err := decodeAssignment([]byte(fast), tenant, object)
	if err != nil {
		t.Fatal(err)
	}
	b, err := decodeAssignment([]byte(slow), tenant, object)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Equal(b) || a.Spelling != b.Spelling || len(a.ClientIDs) != 2 {
		t.Fatalf("fast path %+v, encoding/json %+v", a, b)
	}
	// Another object, in either spelling, is refused.
	other := strings.Replace(fast, "e5b7f628", "e5b7f629", 1)
	if _, err := decodeAssignment([]byte(other), tenant, object); err == nil {
		t.Fatal("an answer about another object was accepted")
	}
	if _, err := decodeAssignment([]byte(strings.Replace(other, "user", `us\u0065r`, 1)), tenant, object); err == nil {
		t.Fatal("an answer about another object was accepted (encoding/json path)")
	}
}

// The client sets the User-Agent itself, with azcore's telemetry policy
// off; it must be what that policy would have sent.
func TestUserAgentIsAzcoreTelemetrys(t *testing.T) {
	var got string
	pl := runtime.NewPipeline(module, version, runtime.PipelineOptions{}, &policy.ClientOptions{
		Telemetry: policy.TelemetryOptions{ApplicationID: applicationID},
		Transport: transporterFunc(func(r *http.Request) (*http.Response, error) {
			got = r.Header.Get("User-Agent")
			return &http.Response{StatusCode: 204, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
		}),
	})
	req, err := runtime.NewRequest(context.Background(), http.MethodGet, "https://x.communication.azure.com/")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pl.Do(req); err != nil {
		t.Fatal(err)
	}
	if want := userAgent(applicationID, module, version); got != want {
		t.Fatalf("azcore sends User-Agent %q, the client %q", got, want)
	}
}

type transporterFunc func(*http.Request) (*http.Response, error)

func (f transporterFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// Client IDs that are not GUIDs (an assignment made outside the portal) do
// not make the assignment unreadable: they are kept, as sent, to be shown.
func TestDecodeKeepsOddClientIDs(t *testing.T) {
	tenant := portal.MustParseGUID("1c361ff7-fb44-4685-bb78-1bad6ce5bef3")
	object := portal.MustParseGUID("e5b7f628-ea94-4fdc-b3d9-1af1fe231111")
	for _, body := range []string{
		`{"principalType":"user","clientIds":["83ecbc78-e1ba-4e8f-a454-5483ef618061","contoso-dialer"," 42 "]}`,
		`{"principalType":"user","clientIds":["83ecbc78-e1ba-4e8f-a454-5483ef618061","contoso-dialer"," 42 "],"updatedAt":"x"}`, // encoding/json's path
	} {
		a, err := decodeAssignment([]byte(body), tenant, object)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if len(a.ClientIDs) != 1 || !slices.Equal(a.OddClientIDs, []string{"contoso-dialer", " 42 "}) {
			t.Errorf("%s: %v, odd %q", body, a.ClientIDs, a.OddClientIDs)
		}
		if a.Validate() == nil || a.Equal(portal.Assignment{TenantID: tenant, ObjectID: object, Kind: portal.KindUser, ClientIDs: a.ClientIDs}) {
			t.Errorf("%s: odd client IDs must refuse adoption and differ from the clean assignment", body)
		}
	}
}
