package static

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

// wantContentType is written out here, not read from contentTypes, so that a
// wrong entry there fails the test.
var wantContentType = map[string]string{
	".css": "text/css; charset=utf-8",
	".js":  "text/javascript; charset=utf-8",
	".svg": "image/svg+xml",
}

// embeddedNames lists the embedded files straight from the embed.FS.
func embeddedNames(t *testing.T) []string {
	t.Helper()
	var names []string
	err := fs.WalkDir(embedded, ".", func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, name)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func serve(h http.Handler, method, target string, header http.Header) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestTheExpectedFilesAreEmbedded(t *testing.T) {
	names := embeddedNames(t)
	for _, want := range []string{"app.css", "app.js", "favicon.svg", HTMX, HTMXCSP} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("%s is not embedded; embedded: %q", want, names)
		}
	}
}

func TestEveryEmbeddedFileIsServedUnderItsHashedPath(t *testing.T) {
	h := Handler()
	for _, name := range embeddedNames(t) {
		t.Run(name, func(t *testing.T) {
			body, err := fs.ReadFile(embedded, name)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(body)
			hash := hex.EncodeToString(sum[:])[:12]
			ext := path.Ext(name)
			want := "/static/" + strings.TrimSuffix(name, ext) + "." + hash + ext
			p := Path(name)
			if p != want {
				t.Fatalf("Path(%q) = %q, want %q", name, p, want)
			}

			w := serve(h, http.MethodGet, p, nil)
			if w.Code != http.StatusOK {
				t.Fatalf("GET %s: status %d, want 200", p, w.Code)
			}
			if !bytes.Equal(w.Body.Bytes(), body) {
				t.Errorf("GET %s: body differs from the embedded file", p)
			}
			etag := w.Header().Get("ETag")
			if !regexp.MustCompile(`^"[0-9a-f]{12,64}"$`).MatchString(etag) {
				t.Errorf("GET %s: ETag %q, want a quoted hex digest", p, etag)
			}
			for header, want := range map[string]string{
				"Cache-Control":          "public, max-age=31536000, immutable",
				"Content-Type":           wantContentType[ext],
				"X-Content-Type-Options": "nosniff",
				"Content-Length":         strconv.Itoa(len(body)),
			} {
				if got := w.Header().Get(header); got != want {
					t.Errorf("GET %s: %s = %q, want %q", p, header, got, want)
				}
			}

			head := serve(h, http.MethodHead, p, nil)
			if head.Code != http.StatusOK || head.Body.Len() != 0 {
				t.Errorf("HEAD %s: status %d with %d body bytes, want 200 and none", p, head.Code, head.Body.Len())
			}
			for _, header := range []string{"Cache-Control", "Content-Type", "X-Content-Type-Options", "ETag", "Content-Length"} {
				if got, want := head.Header().Get(header), w.Header().Get(header); got != want {
					t.Errorf("HEAD %s: %s = %q, GET had %q", p, header, got, want)
				}
			}

			revalidate := serve(h, http.MethodGet, p, http.Header{"If-None-Match": {etag}})
			if revalidate.Code != http.StatusNotModified || revalidate.Body.Len() != 0 {
				t.Errorf("GET %s with If-None-Match %s: status %d with %d body bytes, want 304 and none",
					p, etag, revalidate.Code, revalidate.Body.Len())
			}
			if got := revalidate.Header().Get("ETag"); got != etag {
				t.Errorf("304 for %s: ETag %q, want %q", p, got, etag)
			}
			if got := revalidate.Header().Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
				t.Errorf("304 for %s: Cache-Control %q", p, got)
			}

			stale := serve(h, http.MethodGet, p, http.Header{"If-None-Match": {`"000000000000"`}})
			if stale.Code != http.StatusOK || !bytes.Equal(stale.Body.Bytes(), body) {
				t.Errorf("GET %s with another ETag: status %d, want 200 and the file", p, stale.Code)
			}
		})
	}
}

func TestContentHash(t *testing.T) {
	// SHA-256 of the empty input is e3b0c44298fc1c14...
	if got := contentHash(nil); got != "e3b0c44298fc" {
		t.Errorf("contentHash(empty) = %q, want e3b0c44298fc", got)
	}
	a, b := contentHash([]byte("body { color: black }")), contentHash([]byte("body { color: navy }"))
	if a == b {
		t.Errorf("different content, same hash %q", a)
	}
	for _, h := range []string{a, b} {
		if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(h) {
			t.Errorf("hash %q is not 12 lower-case hex digits", h)
		}
	}
}

func TestChangedContentGetsANewNameAndTheOldOneIsGone(t *testing.T) {
	before, err := load(fstest.MapFS{"app.css": {Data: []byte("a { color: blue }")}})
	if err != nil {
		t.Fatal(err)
	}
	after, err := load(fstest.MapFS{"app.css": {Data: []byte("a { color: navy }")}})
	if err != nil {
		t.Fatal(err)
	}
	oldPath, _ := before.path("app.css")
	newPath, _ := after.path("app.css")
	if oldPath == newPath {
		t.Fatalf("path did not change with the content: %s", oldPath)
	}
	if w := serve(after, http.MethodGet, newPath, nil); w.Code != http.StatusOK || w.Body.String() != "a { color: navy }" {
		t.Errorf("GET %s: status %d body %q, want the new content", newPath, w.Code, w.Body.String())
	}
	if w := serve(after, http.MethodGet, oldPath, nil); w.Code != http.StatusNotFound {
		t.Errorf("GET old %s after the change: status %d, want 404", oldPath, w.Code)
	}
}

func TestLoadRefusesAFileTypeWithoutAContentType(t *testing.T) {
	_, err := load(fstest.MapFS{"app.css": {Data: []byte("")}, "logo.png": {Data: []byte("\x89PNG")}})
	if err == nil || !strings.Contains(err.Error(), "logo.png") {
		t.Errorf("load with a .png: error %v, want one naming logo.png", err)
	}
}

func TestUnknownAndUnhashedNamesAreNotFound(t *testing.T) {
	css := strings.TrimPrefix(Path("app.css"), "/static/") // app.<hash>.css
	hash := strings.TrimSuffix(strings.TrimPrefix(css, "app."), ".css")
	htmx := strings.TrimPrefix(Path(HTMX), "/static/")
	for _, target := range []string{
		"/static/app.css",                   // the plain name
		"/static/" + HTMX,                   // the plain vendored name
		"/static/app.000000000000.css",      // a wrong hash
		"/static/app." + hash + ".js",       // right hash, wrong file
		"/static/app." + hash[:11] + ".css", // short hash
		"/static/APP." + strings.ToUpper(hash) + ".CSS",
		"/static/" + css + "/",
		"/static/" + css + "%00",
		"/static/" + css + ".map",
		"/static/./" + css,
		"/static//" + css,
		"/static/vendor/../" + css,
		"/static/../static/" + css,
		"/static/vendor/htmx/../../" + css,
		"/static/vendor/htmx/../htmx/" + path.Base(htmx),
		"/" + css, // not under /static/
		"/static",
		"/static/",
		"/static/vendor",
		"/static/vendor/",
		"/static/vendor/htmx/",
		"/static/vendor/htmx/LICENSE",
		"/static/vendor/htmx/README.md",
		"/static/vendor/htmx/CSP.md",
		"/static/static.go",
		"/static/nope.css",
	} {
		w := serve(Handler(), http.MethodGet, target, nil)
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", target, w.Code)
		}
		if got := w.Header().Get("Cache-Control"); got != "" {
			t.Errorf("GET %s: a 404 must not be cached for a year, Cache-Control %q", target, got)
		}
		if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q, want nosniff", target, got)
		}
	}
}

func TestOtherMethodsAreNotAllowed(t *testing.T) {
	p := Path("app.css")
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions, "PROPFIND"} {
		w := serve(Handler(), method, p, nil)
		if w.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: status %d, want 405", method, p, w.Code)
		}
		if got := w.Header().Get("Allow"); got != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q, want \"GET, HEAD\"", method, p, got)
		}
		if strings.Contains(w.Body.String(), "color") {
			t.Errorf("%s %s: the response carries the file", method, p)
		}
	}
}

func TestPathPanicsForAFileThatIsNotEmbedded(t *testing.T) {
	for _, name := range []string{"", "nope.css", "app.CSS", "/app.css", "static/app.css", "app.css ",
		strings.TrimPrefix(Path("app.css"), "/static/"), "vendor/htmx/LICENSE", "vendor/htmx", "static.go"} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Path(%q) did not panic", name)
				}
			}()
			Path(name)
		})
	}
}

func TestVendoredHTMXIs401(t *testing.T) {
	if !strings.Contains(HTMX, "4.0.1") || !strings.Contains(HTMXCSP, "4.0.1") {
		t.Errorf("file names %q, %q do not carry the version", HTMX, HTMXCSP)
	}
	w := serve(Handler(), http.MethodGet, Path(HTMX), nil)
	js, _ := io.ReadAll(w.Body)
	if !bytes.Contains(js, []byte(`this.version="4.0.1"`)) {
		t.Errorf("%s does not set htmx.version to 4.0.1", HTMX)
	}
	// The options CSP.md relies on exist in this build.
	for _, s := range []string{`meta[name="htmx-config"]`, "includeIndicatorCSS", `mode:"same-origin"`, "inlineScriptNonce"} {
		if !bytes.Contains(js, []byte(s)) {
			t.Errorf("%s does not contain %q", HTMX, s)
		}
	}
	ext, err := fs.ReadFile(embedded, HTMXCSP)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(ext, []byte(`registerExtension("hx-csp"`)) {
		t.Errorf("%s does not register the hx-csp extension", HTMXCSP)
	}
}

// TestVendoredFilesMatchTheREADME keeps the vendored files byte-identical to the
// npm release that README.md names: an edit to them, or a new version without
// an updated README, fails here.
func TestVendoredFilesMatchTheREADME(t *testing.T) {
	readme, err := os.ReadFile("vendor/htmx/README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{HTMX, HTMXCSP} {
		body, err := fs.ReadFile(embedded, name)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(body)
		row := "| `" + path.Base(name) + "` |"
		line := ""
		for l := range strings.Lines(string(readme)) {
			if strings.HasPrefix(l, row) {
				line = l
			}
		}
		if want := "`" + hex.EncodeToString(sum[:]) + "`"; !strings.Contains(line, want) {
			t.Errorf("README.md row for %s is %q; the file's SHA-256 is %s", path.Base(name), strings.TrimSpace(line), want)
		}
	}
	if _, err := os.Stat("vendor/htmx/LICENSE"); err != nil {
		t.Errorf("htmx's LICENSE must be kept beside it: %v", err)
	}
}
