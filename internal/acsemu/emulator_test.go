package acsemu

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// authFunc sets a request's credentials; body is what is sent.
type authFunc func(req *http.Request, body []byte)

func signed(req *http.Request, body []byte) {
	signHMAC(req, testKey, body, t0.Format(http.TimeFormat), "")
}

func unsigned(*http.Request, []byte) {}

func signedAt(date string) authFunc {
	return func(req *http.Request, body []byte) { signHMAC(req, testKey, body, date, "") }
}

// signedThen signs correctly, then sets (or, with "", deletes) a header.
func signedThen(name, value string) authFunc {
	return func(req *http.Request, body []byte) {
		signed(req, body)
		if value == "" {
			req.Header.Del(name)
		} else {
			req.Header.Set(name, value)
		}
	}
}

// signedForBody signs as if another body were sent: the body was changed in
// transit after signing.
func signedForBody(other string) authFunc {
	return func(req *http.Request, _ []byte) { signed(req, []byte(other)) }
}

func bearer(token string) authFunc {
	return func(req *http.Request, _ []byte) { req.Header.Set("Authorization", "Bearer "+token) }
}

func userSeed(clients ...string) Stored {
	return Stored{Host: "127.0.0.1", TenantID: mustGUID(tenantID), ObjectID: mustGUID(objectID), PrincipalType: "user", ClientIDs: clients}
}

// TestEmulatorAnswers walks the emulator's answer table: one row per case of
// the API (internal/acs/API.md, "What the emulator answers"), each over real
// HTTP, each checking the status, the ACS error code and message, and the
// headers every answer has.
func TestEmulatorAnswers(t *testing.T) {
	const (
		userBody = `{"principalType":"user","clientIds":["` + clientA + `"]}`
		raBody   = `{"principalType":"teamsResourceAccount"}`
	)
	userJSON := `{"objectId":"` + objectID + `","tenantId":"` + tenantID + `","principalType":"user","clientIds":["` + clientA + `"]}`
	denied := "Denied by the resource provider."
	listPath := "/access/teamsExtension/tenants/" + tenantID + "/assignments" + apiQuery
	tooBig := `{"principalType":"user","clientIds":["` + clientA + `"],"pad":"` + strings.Repeat("x", 64<<10) + `"}`

	tests := []struct {
		name               string
		cfg                func(*Config)
		seed               []Stored
		method, path, body string
		auth               authFunc // default: signed
		want               int
		code, msg          string            // error code and a substring of its message
		header             map[string]string // headers that must be present
		json               string            // exact success body
		check              func(t *testing.T, e *Emulator)
	}{
		// Authentication.
		{name: "no auth", method: "GET", path: mainPath, auth: unsigned, want: 401, code: "Denied", msg: denied},
		{name: "unknown scheme", method: "GET", path: mainPath, auth: signedThen("Authorization", "Basic dXNlcjpwYXNz"), want: 401, code: "Denied", msg: denied},
		{name: "wrong bearer", method: "GET", path: mainPath, auth: bearer("stolen"), want: 401, code: "Denied", msg: denied},
		{name: "empty bearer", method: "GET", path: mainPath, auth: bearer(""), want: 401, code: "Denied", msg: denied},
		{name: "good bearer", method: "GET", path: mainPath, auth: bearer(goodToken), want: 404, code: "NotFound"},
		{name: "bearer with no verifier", cfg: func(c *Config) { c.VerifyBearer = nil }, method: "GET", path: mainPath, auth: bearer(goodToken), want: 401, code: "Denied", msg: denied},
		{name: "hmac with no access key", cfg: func(c *Config) { c.AccessKey = nil }, method: "GET", path: mainPath, want: 401, code: "Denied", msg: denied},
		{name: "hmac with no access key, signed with the empty key", cfg: func(c *Config) { c.AccessKey = nil }, method: "GET", path: mainPath,
			auth: func(req *http.Request, b []byte) { signHMAC(req, nil, b, t0.Format(http.TimeFormat), "") }, want: 401, code: "Denied", msg: denied},
		{name: "empty bearer to a verifier that accepts anything", cfg: func(c *Config) { c.VerifyBearer = func(context.Context, string) error { return nil } },
			method: "GET", path: mainPath, auth: bearer(""), want: 401, code: "Denied", msg: denied},
		{name: "garbled hmac credential", method: "GET", path: mainPath, auth: signedThen("Authorization", "HMAC-SHA256 Signature=abc"), want: 401, code: "Denied", msg: denied},
		{name: "other signed headers", method: "GET", path: mainPath, auth: func(req *http.Request, b []byte) {
			signed(req, b)
			req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), "x-ms-date;host;", "host;x-ms-date;", 1))
		}, want: 401, code: "Denied", msg: denied},
		{name: "body hash mismatch", method: "PUT", path: mainPath, body: userBody, auth: signedForBody(raBody), want: 401, code: "Denied",
			msg: "Request 'x-ms-content-sha256' differs from generated content hash.",
			check: func(t *testing.T, e *Emulator) {
				if _, ok := e.Lookup("127.0.0.1", mustGUID(tenantID), mustGUID(objectID)); ok {
					t.Error("a PUT with a tampered body was stored")
				}
			}},
		{name: "content hash header missing", method: "GET", path: mainPath, auth: signedThen("x-ms-content-sha256", ""), want: 401, code: "Denied", msg: denied},
		{name: "x-ms-date missing", method: "GET", path: mainPath, auth: signedAt(""), want: 401, code: "Denied", msg: denied},
		{name: "x-ms-date unparsable", method: "GET", path: mainPath, auth: signedAt("yesterday at noon"), want: 401, code: "Denied", msg: denied},
		{name: "x-ms-date not GMT RFC 1123", method: "GET", path: mainPath, auth: signedAt(t0.Format(time.RFC3339)), want: 401, code: "Denied", msg: denied},
		{name: "x-ms-date 16 minutes old", method: "GET", path: mainPath, auth: signedAt(t0.Add(-16 * time.Minute).Format(http.TimeFormat)), want: 401, code: "Denied", msg: denied},
		{name: "x-ms-date 16 minutes ahead", method: "GET", path: mainPath, auth: signedAt(t0.Add(16 * time.Minute).Format(http.TimeFormat)), want: 401, code: "Denied", msg: denied},
		{name: "x-ms-date 14 minutes old is fine", method: "GET", path: mainPath, auth: signedAt(t0.Add(-14 * time.Minute).Format(http.TimeFormat)), want: 404, code: "NotFound"},

		// api-version.
		{name: "api-version missing", method: "GET", path: assignmentPath(tenantID, objectID), want: 400, code: "UnsupportedApiVersion",
			header: map[string]string{"api-supported-versions": "2025-03-02-preview, 2025-06-30, 2026-07-22, 2026-09-23"}},
		{name: "api-version unknown", method: "GET", path: assignmentPath(tenantID, objectID) + "?api-version=2024-01-01", want: 400, code: "UnsupportedApiVersion", msg: "2024-01-01",
			header: map[string]string{"api-supported-versions": "2025-03-02-preview, 2025-06-30, 2026-07-22, 2026-09-23"}},
		{name: "api-version twice", method: "GET", path: mainPath + "&api-version=2025-06-30", want: 400, code: "UnsupportedApiVersion",
			header: map[string]string{"api-supported-versions": "2025-03-02-preview, 2025-06-30, 2026-07-22, 2026-09-23"}},
		{name: "api-version preview", seed: []Stored{userSeed(clientA)}, method: "GET", path: assignmentPath(tenantID, objectID) + "?api-version=2025-03-02-preview", want: 200, json: userJSON},
		{name: "api-version 2026-07-22", seed: []Stored{userSeed(clientA)}, method: "GET", path: assignmentPath(tenantID, objectID) + "?api-version=2026-07-22", want: 200, json: userJSON},
		{name: "api-version 2026-09-23", seed: []Stored{userSeed(clientA)}, method: "GET", path: assignmentPath(tenantID, objectID) + "?api-version=2026-09-23", want: 200, json: userJSON},

		// PUT.
		{name: "PUT new user", method: "PUT", path: mainPath, body: userBody, want: 201, json: userJSON},
		{name: "PUT new resource account: clientIds absent", method: "PUT", path: mainPath, body: raBody, want: 201,
			json: `{"objectId":"` + objectID + `","tenantId":"` + tenantID + `","principalType":"teamsResourceAccount"}`},
		{name: "PUT keeps principalType spelling, canonicalises client IDs", method: "PUT", path: mainPath,
			body: `{"PrincipalType":"User","clientIds":["` + strings.ToUpper(clientB) + `","` + clientA + `"]}`, want: 201,
			json: `{"objectId":"` + objectID + `","tenantId":"` + tenantID + `","principalType":"User","clientIds":["` + clientB + `","` + clientA + `"]}`},
		{name: "PUT resourceAccount spelling", method: "PUT", path: mainPath, body: `{"principalType":"RESOURCEACCOUNT","clientIds":[]}`, want: 201,
			json: `{"objectId":"` + objectID + `","tenantId":"` + tenantID + `","principalType":"RESOURCEACCOUNT"}`},
		{name: "PUT existing replaces wholly", seed: []Stored{userSeed(clientA, clientB)}, method: "PUT", path: mainPath, body: raBody, want: 200,
			json: `{"objectId":"` + objectID + `","tenantId":"` + tenantID + `","principalType":"teamsResourceAccount"}`,
			check: func(t *testing.T, e *Emulator) {
				s, ok := e.Lookup("127.0.0.1", mustGUID(tenantID), mustGUID(objectID))
				if !ok || s.PrincipalType != "teamsResourceAccount" || s.ClientIDs != nil || !s.Updated.Equal(t0) {
					t.Errorf("stored %+v, %v; want a resource account with no client IDs updated at t0", s, ok)
				}
			}},
		{name: "PUT in another tenant is another assignment", seed: []Stored{userSeed(clientA)}, method: "PUT",
			path: assignmentPath("97cd3c2e-7c4c-44e0-8c3e-22865289e758", objectID) + apiQuery, body: userBody, want: 201},
		{name: "PUT bad JSON", method: "PUT", path: mainPath, body: `{"principalType":"user",`, want: 400, code: "BadRequest", msg: "not valid JSON"},
		{name: "PUT empty body", method: "PUT", path: mainPath, want: 400, code: "BadRequest", msg: "empty"},
		{name: "PUT JSON array", method: "PUT", path: mainPath, body: `[1,2]`, want: 400, code: "BadRequest", msg: "JSON object"},
		{name: "PUT trailing garbage", method: "PUT", path: mainPath, body: raBody + `x`, want: 400, code: "BadRequest", msg: "not valid JSON"},
		{name: "PUT body over 64 KiB", method: "PUT", path: mainPath, body: tooBig, want: 400, code: "BadRequest", msg: "larger than 65536 bytes"},
		{name: "PUT principalType missing", method: "PUT", path: mainPath, body: `{"clientIds":["` + clientA + `"]}`, want: 400, code: "BadRequest", msg: "principalType is required"},
		{name: "PUT principalType null", method: "PUT", path: mainPath, body: `{"principalType":null}`, want: 400, code: "BadRequest", msg: "principalType is required"},
		{name: "PUT principalType not a string", method: "PUT", path: mainPath, body: `{"principalType":1}`, want: 400, code: "BadRequest", msg: "must be a string"},
		{name: "PUT principalType unknown", method: "PUT", path: mainPath, body: `{"principalType":"group"}`, want: 400, code: "BadRequest", msg: `Unknown principalType "group"`},
		{name: "PUT clientIds not an array", method: "PUT", path: mainPath, body: `{"principalType":"user","clientIds":"` + clientA + `"}`, want: 400, code: "BadRequest", msg: "must be an array"},
		{name: "PUT clientIds holds a number", method: "PUT", path: mainPath, body: `{"principalType":"user","clientIds":[42]}`, want: 400, code: "BadRequest", msg: "clientIds[0] must be a GUID string"},
		{name: "PUT clientIds holds a non-GUID", method: "PUT", path: mainPath, body: `{"principalType":"user","clientIds":["` + clientA + `","nope"]}`, want: 400, code: "BadRequest", msg: `clientIds[1] "nope" is not a GUID`},
		{name: "PUT clientIds holds a braced GUID", method: "PUT", path: mainPath, body: `{"principalType":"user","clientIds":["{` + clientA + `}"]}`, want: 400, code: "BadRequest", msg: "is not a GUID"},
		{name: "PUT clientIds holds the nil GUID", method: "PUT", path: mainPath, body: `{"principalType":"user","clientIds":["00000000-0000-0000-0000-000000000000"]}`, want: 400, code: "BadRequest", msg: "is not a GUID"},
		{name: "PUT user without clientIds", method: "PUT", path: mainPath, body: `{"principalType":"user"}`, want: 400, code: "BadRequest", msg: "at least one client ID"},
		{name: "PUT user with empty clientIds", method: "PUT", path: mainPath, body: `{"principalType":"user","clientIds":[]}`, want: 400, code: "BadRequest", msg: "at least one client ID"},
		{name: "PUT resource account with clientIds", method: "PUT", path: mainPath, body: `{"principalType":"teamsResourceAccount","clientIds":["` + clientA + `"]}`, want: 400, code: "BadRequest", msg: "takes no clientIds"},
		{name: "PUT bad body changes nothing", seed: []Stored{userSeed(clientA)}, method: "PUT", path: mainPath, body: `{"principalType":"user"}`, want: 400, code: "BadRequest",
			check: func(t *testing.T, e *Emulator) {
				if s, ok := e.Lookup("127.0.0.1", mustGUID(tenantID), mustGUID(objectID)); !ok || len(s.ClientIDs) != 1 {
					t.Errorf("after a refused PUT: %+v, %v; want the seeded assignment unchanged", s, ok)
				}
			}},

		// Path segments.
		{name: "tenant not a GUID", method: "GET", path: assignmentPath("contoso", objectID) + apiQuery, want: 400, code: "BadRequest", msg: "tenantId path segment"},
		{name: "object not a GUID", method: "GET", path: assignmentPath(tenantID, "12345") + apiQuery, want: 400, code: "BadRequest", msg: "objectId path segment"},
		{name: "object encoded slash", method: "GET", path: assignmentPath(tenantID, "..%2F..") + apiQuery, want: 400, code: "BadRequest", msg: `"..%2F.."`},
		{name: "tenant encoded dots", method: "DELETE", path: assignmentPath("%2e%2e", objectID) + apiQuery, want: 400, code: "BadRequest", msg: "tenantId"},
		{name: "tenant encoded slash with a GUID", method: "GET", path: assignmentPath(tenantID+"%2F"+objectID, objectID) + apiQuery, want: 400, code: "BadRequest", msg: "tenantId"},
		{name: "object in encoded braces", method: "GET", path: assignmentPath(tenantID, "%7B"+objectID+"%7D") + apiQuery, want: 400, code: "BadRequest", msg: "objectId"},
		{name: "object percent-encoded hex", method: "GET", path: assignmentPath(tenantID, "%33"+objectID[1:]) + apiQuery, want: 400, code: "BadRequest", msg: "objectId"},
		{name: "object nil GUID", method: "PUT", path: assignmentPath(tenantID, "00000000-0000-0000-0000-000000000000") + apiQuery, body: raBody, want: 400, code: "BadRequest", msg: "objectId"},
		{name: "upper-case GUIDs are the same assignment", seed: []Stored{userSeed(clientA)}, method: "GET",
			path: assignmentPath(strings.ToUpper(tenantID), strings.ToUpper(objectID)) + apiQuery, want: 200, json: userJSON},

		// GET and DELETE.
		{name: "GET present", seed: []Stored{userSeed(clientA)}, method: "GET", path: mainPath, want: 200, json: userJSON},
		{name: "GET absent", method: "GET", path: mainPath, want: 404, code: "NotFound"},
		{name: "GET another object is absent", seed: []Stored{userSeed(clientA)}, method: "GET", path: assignmentPath(tenantID, object2ID) + apiQuery, want: 404, code: "NotFound"},
		{name: "DELETE present", seed: []Stored{userSeed(clientA)}, method: "DELETE", path: mainPath, want: 204,
			check: func(t *testing.T, e *Emulator) {
				if _, ok := e.Lookup("127.0.0.1", mustGUID(tenantID), mustGUID(objectID)); ok {
					t.Error("still stored after DELETE")
				}
			}},
		{name: "DELETE absent", method: "DELETE", path: mainPath, want: 404, code: "NotFound"},
		{name: "DELETE absent, configured 204", cfg: func(c *Config) { c.DeleteMissingStatus = 204 }, method: "DELETE", path: mainPath, want: 204},

		// Routes and methods.
		{name: "list route", seed: []Stored{userSeed(clientA)}, method: "GET", path: listPath, want: 404, code: "NotFound"},
		{name: "list route with trailing slash", method: "GET", path: assignmentPath(tenantID, "") + apiQuery, want: 404, code: "NotFound"},
		{name: "trailing slash after object", method: "GET", path: assignmentPath(tenantID, objectID) + "/" + apiQuery, want: 404, code: "NotFound"},
		{name: "other path", method: "GET", path: "/access/entra/assignments" + apiQuery, want: 404, code: "NotFound"},
		{name: "root", method: "GET", path: "/", want: 404, code: "NotFound"},
		{name: "route is case-sensitive", method: "GET", path: strings.Replace(mainPath, "teamsExtension", "teamsextension", 1), want: 404, code: "NotFound"},
		{name: "PATCH", seed: []Stored{userSeed(clientA)}, method: "PATCH", path: mainPath, body: userBody, want: 405, code: "MethodNotAllowed",
			header: map[string]string{"Allow": "GET, PUT, DELETE"}},
		{name: "POST", method: "POST", path: mainPath, body: userBody, want: 405, code: "MethodNotAllowed", header: map[string]string{"Allow": "GET, PUT, DELETE"}},
		{name: "OPTIONS", method: "OPTIONS", path: mainPath, want: 405, code: "MethodNotAllowed", header: map[string]string{"Allow": "GET, PUT, DELETE"}},

		// Order of checks: route → auth → api-version → method → GUIDs → body.
		{name: "order: route before auth", method: "GET", path: listPath, auth: unsigned, want: 404, code: "NotFound"},
		{name: "order: auth before api-version", method: "GET", path: assignmentPath(tenantID, objectID), auth: unsigned, want: 401, code: "Denied"},
		{name: "order: api-version before method", method: "PATCH", path: assignmentPath(tenantID, objectID), want: 400, code: "UnsupportedApiVersion"},
		{name: "order: method before GUIDs", method: "PATCH", path: assignmentPath("nope", objectID) + apiQuery, want: 405, code: "MethodNotAllowed"},
		{name: "order: GUIDs before body", method: "PUT", path: assignmentPath("nope", objectID) + apiQuery, body: `{`, want: 400, code: "BadRequest", msg: "tenantId"},
		{name: "order: tenant before object", method: "GET", path: assignmentPath("nope", "nope2") + apiQuery, want: 400, code: "BadRequest", msg: "tenantId"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			h := newHarness(t, cfg)
			for _, s := range tc.seed {
				if err := h.emu.Seed(s); err != nil {
					t.Fatalf("Seed: %v", err)
				}
			}
			req := h.newRequest(tc.method, tc.path, tc.body)
			auth := tc.auth
			if auth == nil {
				auth = signed
			}
			auth(req, []byte(tc.body))
			res := h.do(req)

			if res.status != tc.want {
				t.Fatalf("status = %d, want %d; body %s", res.status, tc.want, res.body)
			}
			checkCommon(t, res, req.Header.Get("x-ms-client-request-id"))
			for k, v := range tc.header {
				if got := res.header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			switch {
			case tc.code != "":
				code, msg := acsError(t, res.body)
				if code != tc.code {
					t.Errorf("code = %q, want %q (message %q)", code, tc.code, msg)
				}
				if !strings.Contains(msg, tc.msg) {
					t.Errorf("message = %q, want it to contain %q", msg, tc.msg)
				}
			case tc.json != "":
				jsonEqual(t, res.body, tc.json)
			case tc.want == http.StatusNoContent:
				if len(res.body) != 0 {
					t.Errorf("204 with body %q", res.body)
				}
			}
			if tc.check != nil {
				tc.check(t, h.emu)
			}
		})
	}
}

// TestPutThenGetRoundTrip follows one assignment through its life over the
// wire: create, read, replace, read, delete, read.
func TestPutThenGetRoundTrip(t *testing.T) {
	h := newHarness(t, testConfig())
	steps := []struct {
		method, body string
		want         int
		json         string
	}{
		{"PUT", `{"principalType":"user","clientIds":["` + clientA + `"]}`, 201, ""},
		{"GET", "", 200, `{"objectId":"` + objectID + `","tenantId":"` + tenantID + `","principalType":"user","clientIds":["` + clientA + `"]}`},
		{"PUT", `{"principalType":"user","clientIds":["` + clientB + `"]}`, 200, ""},
		{"GET", "", 200, `{"objectId":"` + objectID + `","tenantId":"` + tenantID + `","principalType":"user","clientIds":["` + clientB + `"]}`},
		{"DELETE", "", 204, ""},
		{"GET", "", 404, ""},
		{"DELETE", "", 404, ""},
	}
	for i, s := range steps {
		res := h.call(s.method, mainPath, s.body)
		if res.status != s.want {
			t.Fatalf("step %d %s: status %d, want %d (%s)", i, s.method, res.status, s.want, res.body)
		}
		if s.json != "" {
			jsonEqual(t, res.body, s.json)
		}
	}
}

// TestBodyBeyondReadLimit: a body too large even to hash is refused with 400
// (before authentication, the one exception to the order of checks).
func TestBodyBeyondReadLimit(t *testing.T) {
	h := newHarness(t, testConfig())
	body := strings.Repeat("x", maxReadBytes+1)
	res := h.call("PUT", mainPath, body)
	if res.status != 400 {
		t.Fatalf("status %d, want 400", res.status)
	}
	if code, _ := acsError(t, res.body); code != "BadRequest" {
		t.Errorf("code %q, want BadRequest", code)
	}
	if len(h.emu.Requests()[0].Body) != maxBodyBytes+1 {
		t.Errorf("logged body of %d bytes, want it cut at %d", len(h.emu.Requests()[0].Body), maxBodyBytes+1)
	}
}

// TestRequestLog: every request is logged in arrival order with what was
// sent and what was answered.
func TestRequestLog(t *testing.T) {
	h := newHarness(t, testConfig())
	body := `{"principalType":"teamsResourceAccount"}`
	h.call("PUT", mainPath, body)

	req := h.newRequest("GET", mainPath, "")
	bearer(goodToken)(req, nil)
	h.do(req)

	req = h.newRequest("GET", mainPath, "")
	req.Header.Set("Authorization", "HMAC-SHA256 nonsense")
	h.do(req)

	req = h.newRequest("GET", "/elsewhere", "")
	req.Header.Del("x-ms-client-request-id")
	h.do(req)

	got := h.emu.Requests()
	want := []Request{
		{Method: "PUT", Auth: "hmac", Status: 201, Body: []byte(body), ClientRequestID: "req-PUT-42", XMsDate: t0.Format(http.TimeFormat), TenantSegment: tenantID, ObjectSegment: objectID},
		{Method: "GET", Auth: "bearer", Status: 200, ClientRequestID: "req-GET-42", TenantSegment: tenantID, ObjectSegment: objectID},
		{Method: "GET", Auth: "bad", Status: 401, ClientRequestID: "req-GET-42", TenantSegment: tenantID, ObjectSegment: objectID},
		{Method: "GET", Auth: "none", Status: 404},
	}
	if len(got) != len(want) {
		t.Fatalf("%d requests logged, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Method != w.Method || g.Auth != w.Auth || g.Status != w.Status || string(g.Body) != string(w.Body) ||
			g.ClientRequestID != w.ClientRequestID || g.XMsDate != w.XMsDate || g.TenantSegment != w.TenantSegment ||
			g.ObjectSegment != w.ObjectSegment || g.Fault != "" {
			t.Errorf("request %d = %+v\nwant        %+v", i, g, w)
		}
		if !strings.HasPrefix(g.Host, "127.0.0.1:") || g.Time != t0 {
			t.Errorf("request %d: host %q time %v", i, g.Host, g.Time)
		}
	}
	if got[0].RequestURI != mainPath {
		t.Errorf("RequestURI = %q, want %q", got[0].RequestURI, mainPath)
	}
	got[0].Body[0] = 'X'
	if h.emu.Requests()[0].Body[0] != '{' {
		t.Error("Requests returned the log's own body bytes, not a copy")
	}
	h.emu.ResetRequests()
	if n := len(h.emu.Requests()); n != 0 {
		t.Errorf("%d requests after ResetRequests", n)
	}
}

func TestNewRefusesBadDeleteMissingStatus(t *testing.T) {
	if _, err := New(Config{DeleteMissingStatus: 200}); err == nil {
		t.Error("New accepted DeleteMissingStatus 200")
	}
}

// TestParseSegment: only the bare 36-character GUID is a path segment; the
// braces portal.ParseGUID allows for people are refused (over HTTP a client
// always percent-encodes them, so this is checked directly).
func TestParseSegment(t *testing.T) {
	if g, err := parseSegment("objectId", strings.ToUpper(objectID)); err != nil || g.String() != objectID {
		t.Errorf("upper-case GUID: %v, %v", g, err)
	}
	for _, seg := range []string{"{" + objectID + "}", "", objectID[:35], objectID + "0", "%7B" + objectID + "%7D", "00000000-0000-0000-0000-000000000000",
		strings.ReplaceAll(objectID, "-", "")} {
		if g, err := parseSegment("objectId", seg); err == nil {
			t.Errorf("parseSegment(%q) = %v, want an error", seg, g)
		}
	}
}

// The specification marks clientIds optional for a user; the service as
// seen refuses such a PUT. Both behaviours can be had.
func TestUsersWithoutClientIDs(t *testing.T) {
	for _, accept := range []bool{false, true} {
		cfg := testConfig()
		cfg.UsersWithoutClientIDs = accept
		h := newHarness(t, cfg)
		res := h.do(h.signedRequest("PUT", mainPath, `{"principalType":"user"}`))
		if want := map[bool]int{false: 400, true: 201}[accept]; res.status != want {
			t.Errorf("accept=%v: PUT a user without clientIds: %d, want %d: %s", accept, res.status, want, res.body)
		}
		err := h.emu.Seed(Stored{Host: "127.0.0.1", TenantID: mustGUID(tenantID), ObjectID: mustGUID(object2ID), PrincipalType: "user"})
		if (err == nil) != accept {
			t.Errorf("accept=%v: seed a user without client IDs: %v", accept, err)
		}
	}
}
