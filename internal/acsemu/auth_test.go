package acsemu

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// hmacVector is one known-answer vector, computed independently in Go and
// Python from the ACS signing spec.
type hmacVector struct {
	Name         string `json:"name"`
	AccessKey    string `json:"accessKey"`
	Method       string `json:"method"`
	Host         string `json:"host"`
	PathAndQuery string `json:"pathAndQuery"`
	XMsDate      string `json:"xMsDate"`
	Body         string `json:"body"`
	ContentHash  string `json:"contentHash"`
	Signature    string `json:"signature"`
}

func loadVectors(t *testing.T) []hmacVector {
	t.Helper()
	data, err := os.ReadFile("../acs/testdata/acs-hmac-vectors.json")
	if err != nil {
		t.Fatalf("reading vectors: %v", err)
	}
	var f struct {
		Vectors []hmacVector `json:"vectors"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("parsing vectors: %v", err)
	}
	if len(f.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	return f.Vectors
}

// TestHMACVectors holds the verifier to the real algorithm: its
// string-to-sign and signature reproduce every known answer, and a request
// carrying the vector's headers is accepted end to end (and refused once
// its signature is altered).
func TestHMACVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			key, err := base64.StdEncoding.DecodeString(v.AccessKey)
			if err != nil {
				t.Fatalf("access key: %v", err)
			}
			sum := sha256.Sum256([]byte(v.Body))
			if got := base64.StdEncoding.EncodeToString(sum[:]); got != v.ContentHash {
				t.Errorf("content hash = %s, want %s", got, v.ContentHash)
			}
			sts := stringToSign(v.Method, v.PathAndQuery, v.XMsDate, v.Host, v.ContentHash)
			wantSTS := v.Method + "\n" + v.PathAndQuery + "\n" + v.XMsDate + ";" + v.Host + ";" + v.ContentHash
			if sts != wantSTS {
				t.Errorf("string to sign = %q, want %q", sts, wantSTS)
			}
			if got := base64.StdEncoding.EncodeToString(hmacSignature(key, sts)); got != v.Signature {
				t.Errorf("signature = %s, want %s", got, v.Signature)
			}

			date, err := time.Parse(http.TimeFormat, v.XMsDate)
			if err != nil {
				t.Fatalf("vector date: %v", err)
			}
			e, err := New(Config{AccessKey: key, Now: func() time.Time { return date.Add(time.Minute) }})
			if err != nil {
				t.Fatal(err)
			}
			build := func(signature string) *http.Request {
				req := httptest.NewRequest(v.Method, v.PathAndQuery, strings.NewReader(v.Body))
				req.Host = v.Host
				req.Header.Set("x-ms-date", v.XMsDate)
				req.Header.Set("x-ms-content-sha256", v.ContentHash)
				req.Header.Set("Authorization", "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature="+signature)
				return req
			}
			if got := e.authenticate(build(v.Signature), v.ContentHash); got.kind != "hmac" || got.deny != "" {
				t.Errorf("vector request refused: %+v", got)
			}
			altered := []byte(v.Signature)
			altered[0] ^= 1
			if got := e.authenticate(build(string(altered)), v.ContentHash); got.kind != "bad" || got.deny != msgDenied {
				t.Errorf("altered signature: %+v, want bad/Denied", got)
			}
		})
	}
}

// TestHMACRefusals: each way a signature can be wrong is a 401 Denied, and
// the same request signed correctly is accepted — so it is the fault named,
// not something else, that the emulator refuses.
func TestHMACRefusals(t *testing.T) {
	body := `{"principalType":"user","clientIds":["` + clientA + `"]}`
	otherPath := assignmentPath(tenantID, object2ID) + apiQuery
	now := t0.Format(http.TimeFormat)
	tests := []struct {
		name string
		sign func(h *harness, req *http.Request)
		want int
		msg  string
	}{
		{"correct", func(h *harness, req *http.Request) { signHMAC(req, testKey, []byte(body), now, "") }, 201, ""},
		{"host without port", func(h *harness, req *http.Request) { signHMAC(req, testKey, []byte(body), now, "127.0.0.1") }, 201, ""},
		{"wrong key", func(h *harness, req *http.Request) {
			signHMAC(req, []byte("another key entirely, 32 bytes!!"), []byte(body), now, "")
		}, 401, msgDenied},
		{"tampered body", func(h *harness, req *http.Request) {
			signHMAC(req, testKey, []byte(strings.Replace(body, clientA, clientB, 1)), now, "")
		}, 401, msgHashMismatch},
		{"hash header rewritten to match tampered body", func(h *harness, req *http.Request) {
			signHMAC(req, testKey, []byte(`{"principalType":"teamsResourceAccount"}`), now, "")
			sum := sha256.Sum256([]byte(body))
			req.Header.Set("x-ms-content-sha256", base64.StdEncoding.EncodeToString(sum[:]))
		}, 401, msgDenied},
		{"signed for another path", func(h *harness, req *http.Request) {
			other, _ := http.NewRequest("PUT", h.srv.URL+otherPath, nil)
			signHMAC(other, testKey, []byte(body), now, "")
			req.Header = other.Header
		}, 401, msgDenied},
		{"signed for another method", func(h *harness, req *http.Request) {
			req.Method = "GET"
			signHMAC(req, testKey, []byte(body), now, "")
			req.Method = "PUT"
		}, 401, msgDenied},
		{"signed for another host", func(h *harness, req *http.Request) { signHMAC(req, testKey, []byte(body), now, "evil.example") }, 401, msgDenied},
		{"signed for another port", func(h *harness, req *http.Request) { signHMAC(req, testKey, []byte(body), now, "127.0.0.1:1") }, 401, msgDenied},
		{"old date", func(h *harness, req *http.Request) {
			signHMAC(req, testKey, []byte(body), t0.Add(-time.Hour).Format(http.TimeFormat), "")
		}, 401, msgDenied},
		{"date header changed after signing", func(h *harness, req *http.Request) {
			signHMAC(req, testKey, []byte(body), now, "")
			req.Header.Set("x-ms-date", t0.Add(time.Second).Format(http.TimeFormat))
		}, 401, msgDenied},
		{"Microsoft's sample: a Date header, signed as date", func(h *harness, req *http.Request) {
			signHMAC(req, testKey, []byte(body), now, "")
			req.Header.Set("Date", req.Header.Get("x-ms-date"))
			req.Header.Del("x-ms-date")
			req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), "SignedHeaders=x-ms-date;", "SignedHeaders=date;", 1))
		}, 201, ""},
		{"signed as date, but no Date header", func(h *harness, req *http.Request) {
			signHMAC(req, testKey, []byte(body), now, "")
			req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), "SignedHeaders=x-ms-date;", "SignedHeaders=date;", 1))
		}, 401, msgDenied},
		{"another signed-headers list", func(h *harness, req *http.Request) {
			signHMAC(req, testKey, []byte(body), now, "")
			req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), "SignedHeaders=x-ms-date;host;", "SignedHeaders=x-ms-date;", 1))
		}, 401, msgDenied},
		{"signature not base64", func(h *harness, req *http.Request) {
			signHMAC(req, testKey, []byte(body), now, "")
			req.Header.Set("Authorization", "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=***")
		}, 401, msgDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testConfig())
			req := h.newRequest("PUT", mainPath, body)
			tc.sign(h, req)
			res := h.do(req)
			if res.status != tc.want {
				t.Fatalf("status %d, want %d: %s", res.status, tc.want, res.body)
			}
			if tc.want == 401 {
				if code, msg := acsError(t, res.body); code != "Denied" || msg != tc.msg {
					t.Errorf("error %s %q, want Denied %q", code, msg, tc.msg)
				}
				if len(h.emu.All()) != 0 {
					t.Error("a refused PUT was stored")
				}
			}
		})
	}
}

// TestHMACSignsRequestURIAsSent: the path and query are verified exactly as
// they arrived, escapes and parameter order included.
func TestHMACSignsRequestURIAsSent(t *testing.T) {
	h := newHarness(t, testConfig())
	path := assignmentPath(strings.ToUpper(tenantID), objectID) + "?x=%41&api-version=2025-06-30"
	req := h.newRequest("GET", path, "")
	signHMAC(req, testKey, nil, t0.Format(http.TimeFormat), "")
	if res := h.do(req); res.status != 404 {
		t.Fatalf("status %d, want 404 (authenticated, absent): %s", res.status, res.body)
	}

	req = h.newRequest("GET", path, "")
	// Signed over the decoded form: not what was sent.
	decoded := strings.Replace(path, "%41", "A", 1)
	signed, _ := http.NewRequest("GET", h.srv.URL+decoded, nil)
	signHMAC(signed, testKey, nil, t0.Format(http.TimeFormat), req.URL.Host)
	req.Header = signed.Header
	if res := h.do(req); res.status != 401 {
		t.Fatalf("status %d, want 401", res.status)
	}
}

// TestHMACHostForms: the Host as sent and the Host without its port are both
// accepted (the Java SDK drops the port); a custom Host header is what counts.
func TestHMACHostForms(t *testing.T) {
	h := newHarness(t, testConfig())
	for _, tc := range []struct{ host, signHost string }{
		{"", ""},          // as sent: 127.0.0.1:port
		{"", "127.0.0.1"}, // port dropped
		{"My-Resource.Communication.Azure.com:443", "My-Resource.Communication.Azure.com:443"},
		{"My-Resource.Communication.Azure.com:443", "My-Resource.Communication.Azure.com"},
	} {
		req := h.newRequest("GET", mainPath, "")
		if tc.host != "" {
			req.Host = tc.host
		}
		signHMAC(req, testKey, nil, t0.Format(http.TimeFormat), tc.signHost)
		if res := h.do(req); res.status != 404 {
			t.Errorf("Host %q signed as %q: status %d, want 404 (authenticated): %s", tc.host, tc.signHost, res.status, res.body)
		}
	}
	// Signing with a lower-cased host when another case was sent is refused:
	// the host is signed as sent.
	req := h.newRequest("GET", mainPath, "")
	req.Host = "My-Resource.Communication.Azure.com"
	signHMAC(req, testKey, nil, t0.Format(http.TimeFormat), "my-resource.communication.azure.com")
	if res := h.do(req); res.status != 401 {
		t.Errorf("host case changed: status %d, want 401", res.status)
	}
}

func TestStaticTokens(t *testing.T) {
	verify := StaticTokens("alpha", "", "beta")
	ctx := context.Background()
	for _, tok := range []string{"alpha", "beta"} {
		if err := verify(ctx, tok); err != nil {
			t.Errorf("%q refused: %v", tok, err)
		}
	}
	for _, tok := range []string{"", "alph", "alphaa", "ALPHA", "gamma"} {
		if err := verify(ctx, tok); err == nil {
			t.Errorf("%q accepted", tok)
		}
	}
	if err := StaticTokens()(ctx, ""); err == nil {
		t.Error("StaticTokens() accepted the empty token")
	}
}
