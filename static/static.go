package static

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// HTMX is the name (for Path) of the vendored htmx file.
const HTMX = "vendor/htmx/htmx-4.0.1.min.js"

// HTMXCSP is the name (for Path) of htmx's own hx-csp extension, vendored from
// the same npm tarball as HTMX. When loaded (after HTMX, approved by the
// htmx-config meta tag), htmx ignores the hx-* attributes of every element
// whose hx-nonce does not match the page's CSP nonce; see vendor/htmx/CSP.md.
const HTMXCSP = "vendor/htmx/hx-csp-4.0.1.min.js"

// urlPrefix is the path Handler expects to be mounted under, and the start of
// every path that Path returns.
const urlPrefix = "/static/"

// cacheControl lets browsers and proxies keep a file for a year without asking
// again: its name changes whenever its content does.
const cacheControl = "public, max-age=31536000, immutable"

// contentTypes lists the types of file that may be embedded; loading any other
// kind fails at init, so a new file type gets a deliberate Content-Type.
var contentTypes = map[string]string{
	".css": "text/css; charset=utf-8",
	".js":  "text/javascript; charset=utf-8",
	".svg": "image/svg+xml",
}

//go:embed app.css app.js favicon.svg vendor/htmx/*.js
var embedded embed.FS

// files is built once from the embedded files; it is read-only afterwards, so
// concurrent requests share it safely.
var files = mustLoad(embedded)

// Path returns the URL path of a static file under its content-hashed name,
// e.g. Path("app.css") == "/static/app.3f2a1b0c9d8e.css"; it panics for a file
// that is not embedded (a typo in a template must fail tests, not render a
// broken link). Names are as embedded: "app.css", "favicon.svg", HTMX.
func Path(name string) string {
	p, ok := files.path(name)
	if !ok {
		panic(fmt.Sprintf("static: no embedded file %q", name))
	}
	return p
}

// Handler serves /static/<hashed name> with Cache-Control "public,
// max-age=31536000, immutable", the right Content-Type (text/css;
// charset=utf-8, text/javascript; charset=utf-8, image/svg+xml),
// X-Content-Type-Options nosniff, ETag, and 404 for unknown or unhashed names
// and for directory listings. It expects the full request path (mount it at
// "/static/*" without stripping).
//
// GET and HEAD are served; If-None-Match with the file's ETag gets 304 Not
// Modified; any other method on a file gets 405 with "Allow: GET, HEAD".
func Handler() http.Handler {
	return files
}

// asset is one embedded file, ready to serve.
type asset struct {
	hashedName  string // e.g. "vendor/htmx/htmx-4.0.1.min.3f2a1b0c9d8e.js"
	body        []byte
	contentType string
	etag        string
}

// catalog holds the embedded files by their plain and their hashed names.
type catalog struct {
	byName       map[string]*asset
	byHashedName map[string]*asset
}

func mustLoad(fsys fs.FS) *catalog {
	c, err := load(fsys)
	if err != nil {
		panic(err)
	}
	return c
}

// load reads every file in fsys and names it by its content. It fails for a
// file whose extension has no entry in contentTypes.
func load(fsys fs.FS) (*catalog, error) {
	c := &catalog{
		byName:       make(map[string]*asset),
		byHashedName: make(map[string]*asset),
	}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		contentType, ok := contentTypes[path.Ext(name)]
		if !ok {
			return fmt.Errorf("static: %s: no Content-Type known for %q files", name, path.Ext(name))
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		hash := contentHash(body)
		a := &asset{
			hashedName:  hashedName(name, hash),
			body:        body,
			contentType: contentType,
			// The URL already names this exact content, so the hash is a
			// sufficient strong validator.
			etag: `"` + hash + `"`,
		}
		c.byName[name] = a
		c.byHashedName[a.hashedName] = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// contentHash returns the first 12 hex digits of the SHA-256 of body: 48 bits,
// ample to tell the versions of one file apart.
func contentHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])[:12]
}

// hashedName puts hash before the extension: "app.css" → "app.<hash>.css".
func hashedName(name, hash string) string {
	ext := path.Ext(name)
	return strings.TrimSuffix(name, ext) + "." + hash + ext
}

// path returns the URL path of name, and false if name is not embedded.
func (c *catalog) path(name string) (string, bool) {
	a, ok := c.byName[name]
	if !ok {
		return "", false
	}
	return urlPrefix + a.hashedName, true
}

// ServeHTTP serves a file by its exact hashed name. The lookup is an exact map
// match on the request path, so "..", doubled slashes, directories, plain
// names and stale hashes all miss and get 404.
func (c *catalog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")

	name, ok := strings.CutPrefix(r.URL.Path, urlPrefix)
	a := c.byHashedName[name]
	if !ok || a == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}

	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", cacheControl)
	h.Set("ETag", a.etag)
	// ServeContent answers If-None-Match with 304, HEAD without a body, and
	// Range requests; the zero time leaves out Last-Modified, which the ETag
	// makes unnecessary.
	http.ServeContent(w, r, a.hashedName, time.Time{}, bytes.NewReader(a.body))
}
