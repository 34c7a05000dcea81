package web

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"golang.org/x/net/html"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/bulk"
	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/entra"
	"github.com/teamsphone/portal/internal/graph"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/sqlite"
	"github.com/teamsphone/portal/internal/storetest"
	"github.com/teamsphone/portal/internal/testclock"
	"github.com/teamsphone/portal/internal/testwait"
)

const testSecret = "web-test-client-secret"

// testFreshSignIn is the tests' fresh sign-in window, the default's.
const testFreshSignIn = 10 * time.Minute

var testACSKey = []byte("web-test-acs-access-key")

var (
	appDesktop    = portal.MustParseGUID("83ecbc78-e1ba-4e8f-a454-5483ef618061")
	appMobile     = portal.MustParseGUID("9215f754-3568-4bed-baa4-455c404e6140")
	testKnownApps = []portal.KnownApp{{ID: appDesktop, Name: "Contoso Agent Desktop"}, {ID: appMobile, Name: "Contoso Agent Mobile"}}
)

// logSink collects every log line of a test, so tests can prove that no
// secret ever reaches the logs.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// portalEnv is the real portal (router, sessions on SQLite, MSAL sign-in)
// against the dev identity provider, on loopback.
type portalEnv struct {
	t      testing.TB
	srv    *httptest.Server
	server *Server
	idp    *devidp.IdP
	db     *sqlite.DB
	logs   *logSink
	clock  *testclock.Clock
	emu    *acsemu.Emulator
	emuURL string
	access *access.Service
	// accessCfg is what access was made with (withGraph adds Graph).
	accessCfg access.Config
	dbPath    string // the SQLite file of db
	// signer signs the audit log's checkpoints; the audit page checks
	// them with its public key.
	signer portal.CheckpointSigner
	// authCfg is what auth was made with: another instance's sign-in
	// is entra.New(authCfg) again.
	authCfg entra.Config
	auth    *entra.Authenticator
}

// testGraphScopes are the delegated Graph permissions test sign-ins ask for.
var testGraphScopes = []string{graph.ScopeUsers, graph.ScopeResourceAccounts, graph.ScopeApps}

func newPortal(t testing.TB, opts SessionOptions) *portalEnv {
	t.Helper()
	e := &portalEnv{t: t, logs: &logSink{}, clock: testclock.New(time.Now())}
	e.srv = httptest.NewUnstartedServer(nil)
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	base := e.srv.URL

	var err error
	e.idp, err = devidp.Start(devidp.Config{
		ClientSecret:           testSecret,
		RedirectURIs:           []string{base + "/auth/callback"},
		PostLogoutRedirectURIs: []string{base + "/"},
		// The portal's clock: auth_time, iat and exp agree with it when a
		// test moves time on.
		Now: e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.idp.Close() })
	e.dbPath = filepath.Join(t.TempDir(), "portal.db")
	e.db, err = sqlite.Open(context.Background(), e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.db.Close() })
	cred, _ := confidential.NewCredFromSecret(testSecret)
	sealer, _ := entra.NewSealer(bytes.Repeat([]byte{9}, 32))
	e.authCfg = entra.Config{
		Authority:      e.idp.Authority("organizations"),
		ClientID:       devidp.ClientID,
		Credential:     cred,
		RedirectURL:    base + "/auth/callback",
		AllowedTenants: []portal.GUID{devidp.ContosoTenant, devidp.FabrikamTenant},
		HTTPClient:     e.idp.HTTPClient(),
		DevIdP:         true,
		Graph:          &entra.GraphConfig{Scopes: testGraphScopes, Caches: e.db, Sealer: sealer},
		Now:            e.clock.Now,
	}
	auth, err := entra.New(e.authCfg)
	if err != nil {
		t.Fatal(err)
	}
	e.auth = auth
	e.emu, err = acsemu.New(acsemu.Config{AccessKey: testACSKey})
	if err != nil {
		t.Fatal(err)
	}
	emuSrv := httptest.NewServer(e.emu)
	t.Cleanup(emuSrv.Close)
	e.emuURL = emuSrv.URL
	client, err := acs.New(acs.Options{Endpoint: emuSrv.URL, AccessKey: testACSKey, RetryDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e.signer = storetest.NewSigner(t)
	e.accessCfg = access.Config{ACS: client, Store: e.db, Now: e.clock.Now, LockWait: 2 * time.Second, FreshSignIn: testFreshSignIn,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil)), CheckpointKeys: e.signer.Public()}
	e.access = access.New(e.accessCfg)
	names := map[portal.GUID]string{}
	for _, p := range devidp.Personas() {
		names[p.TenantID] = p.TenantName
	}
	e.server = New(Deps{
		Auth:          auth,
		Sessions:      e.db,
		Access:        e.access,
		Bulk:          &bulk.Planner{Access: e.access, Plans: e.db, Limits: bulk.Limits{Now: e.clock.Now}},
		SignOutOrigin: e.idp.BrowserBase(),
		KnownApps:     testKnownApps,
		Logger:        slog.New(slog.NewJSONHandler(e.logs, nil)),
		BaseURL:       base,
		TenantNames:   names,
		ProbeTenant:   devidp.ContosoTenant,
		Session:       opts,
		DevMode:       true,
		Now:           e.clock.Now,
		// Tests sign in and fail to, many times a minute from one
		// address; TestFloodsAreLimited sets its own limits.
		Limits: Limits{FailedSignInsPerMinute: 1000, MutationsPerMinute: 1000},
	})
	e.srv.Config.Handler = e.server
	t.Cleanup(func() { e.assertNoSecretsLogged() })
	return e
}

// browser is a cookie-keeping client that follows redirects, like a person's.
func (e *portalEnv) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: testwait.Patience}
}

// noFollow is a browser that stops at the first redirect.
func noFollow(c *http.Client) *http.Client {
	cp := *c
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

type page struct {
	status int
	header http.Header
	doc    *html.Node
	body   string
	url    *url.URL
}

func (e *portalEnv) get(c *http.Client, path string) page {
	e.t.Helper()
	u := path
	if strings.HasPrefix(path, "/") {
		u = e.srv.URL + path
	}
	resp, err := c.Get(u)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	return readPage(e.t, resp)
}

func readPage(t testing.TB, resp *http.Response) page {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	doc, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return page{status: resp.StatusCode, header: resp.Header, doc: doc, body: string(b), url: resp.Request.URL}
}

// testid returns the text of the first element with data-testid=id, and
// whether there is one.
func (p page) testid(id string) (string, bool) {
	all := p.testids(id)
	if len(all) == 0 {
		return "", false
	}
	return all[0], true
}

// testids returns the text of every element with data-testid=id, in
// document order.
func (p page) testids(id string) []string {
	var out []string
	var text func(*html.Node, *strings.Builder)
	text = func(n *html.Node, sb *strings.Builder) {
		if n.Type == html.TextNode {
			sb.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			text(c, sb)
		}
	}
	for _, n := range p.allByTestID(id) {
		var sb strings.Builder
		text(n, &sb)
		out = append(out, strings.TrimSpace(sb.String()))
	}
	return out
}

// allByTestID is every element with data-testid=id, in document order
// (not looking inside one found).
func (p page) allByTestID(id string) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && slices.ContainsFunc(n.Attr, func(a html.Attribute) bool { return a.Key == "data-testid" && a.Val == id }) {
			out = append(out, n)
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(p.doc)
	return out
}

// attr returns attribute key of the first element with data-testid=id
// ("" when there is no such element or attribute).
func (p page) attr(id, key string) string {
	if n := p.byTestID(id); n != nil {
		for _, a := range n.Attr {
			if a.Key == key {
				return a.Val
			}
		}
	}
	return ""
}

// byTestID is the first element with data-testid=id, or nil.
func (p page) byTestID(id string) *html.Node {
	return findElement(p.doc, func(n *html.Node) bool {
		return slices.ContainsFunc(n.Attr, func(a html.Attribute) bool { return a.Key == "data-testid" && a.Val == id })
	})
}

// findElement returns the first element under n (in document order) that
// match accepts, or nil.
func findElement(n *html.Node, match func(*html.Node) bool) *html.Node {
	if n.Type == html.ElementNode && match(n) {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if found := findElement(c, match); found != nil {
			return found
		}
	}
	return nil
}

// signIn signs a persona in through MSAL and the dev IdP and returns the
// page the browser lands on.
func (e *portalEnv) signIn(c *http.Client, hint string) page {
	e.t.Helper()
	return e.get(c, "/auth/login?login_hint="+url.QueryEscape(hint))
}

// signedInAs reports who the portal thinks the browser is ("" if nobody).
func (e *portalEnv) signedInAs(c *http.Client) string {
	e.t.Helper()
	p := e.get(c, "/")
	name, _ := p.testid("user-name")
	return name
}

func (e *portalEnv) assertNoSecretsLogged() {
	logs := e.logs.String()
	for _, secret := range []string{"eyJ", "Bearer ", "code=", testSecret, "access_token", "id_token\":"} {
		if strings.Contains(logs, secret) {
			i := strings.Index(logs, secret)
			e.t.Errorf("a log line holds %q: …%s…", secret, logs[max(0, i-80):min(len(logs), i+80)])
		}
	}
}

func (e *portalEnv) srvURL() *url.URL {
	u, _ := url.Parse(e.srv.URL)
	return u
}

func httptestServer(t *testing.T, h http.Handler) string {
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}
