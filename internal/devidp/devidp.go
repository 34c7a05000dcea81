// Package devidp is a local look-alike of Microsoft Entra ID for the portal's
// dev mode and tests: OpenID discovery, the authorize page (with a persona
// picker), the token endpoint, the signing keys (JWKS) and sign-out, for a
// fixed set of personas in two tenants.
//
// It runs two loopback listeners. Discovery, token and JWKS are served over
// TLS with a certificate made at Start and trusted only by HTTPClient, because
// MSAL Go insists on an https authority. The pages a browser visits
// (authorize, logout) are served over plain http on another port, so a browser
// never meets the self-signed certificate; MSAL compares only the issuer's
// scheme and host with the authority, not the authorize endpoint's.
//
// Anyone who can reach the authorize page can sign in as any persona: the
// package refuses to listen anywhere but on loopback. It is for development
// and tests only, and it logs nothing.
//
// Test hooks (NextTokenFaults) make the token endpoint hand out the bad ID
// tokens that SECURITY.md, P0-2 (ID token validated by the portal) requires
// the portal to reject.
package devidp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// Config configures Start. The zero value, plus a ClientSecret (or
// AcceptAnyAssertion) and the portal's redirect URIs, is a working dev IdP.
type Config struct {
	// ClientID is the one application the IdP knows; default ClientID.
	ClientID string
	// ClientSecret is the secret the token endpoint requires in client_secret.
	ClientSecret string
	// AcceptAnyAssertion makes the token endpoint accept any non-empty
	// client_assertion of type jwt-bearer instead of a secret (the portal's
	// federated-credential mode). The assertion is not checked.
	AcceptAnyAssertion bool
	// RedirectURIs are the registered redirect URIs; authorize redirects only
	// to one of them, compared exactly. SetRedirectURIs replaces them later.
	RedirectURIs []string
	// PostLogoutRedirectURIs are where logout may send the browser back to.
	PostLogoutRedirectURIs []string
	// Personas who can sign in; default Personas().
	Personas []Persona
	// Now is the clock for codes and tokens; default time.Now.
	Now func() time.Time
	// HTTPAddr and TLSAddr are the loopback addresses of the browser-facing
	// and the TLS listener; default "127.0.0.1:0" each.
	HTTPAddr, TLSAddr string

	// trace, when set (by this package's tests), sees every request first.
	trace func(listener string, r *http.Request)
}

// IdP is a running dev identity provider. Its methods are safe for
// concurrent use.
type IdP struct {
	clientID           string
	clientSecret       string
	acceptAnyAssertion bool
	personas           []Persona
	now                func() time.Time

	signingKey *rsa.PrivateKey
	kid        string
	foreignKey func() *rsa.PrivateKey // made on first use: only the ForeignKey fault needs it

	tlsBase, browserBase string
	client               *http.Client
	servers              []*http.Server
	served               sync.WaitGroup
	closeOnce            sync.Once
	closeErr             error

	mu             sync.Mutex // guards the fields below
	redirectURIs   []string
	postLogoutURIs []string
	codes          map[string]*authCode
	refreshGrants  map[string]refreshGrant
	accessTokens   map[string]AccessGrant
	faults         []Fault
	// authenticated is when each persona (by lower-case login hint) last
	// authenticated: Entra's single sign-on session, which a sign-in
	// reuses unless prompt=login or max_age asks for a new one.
	authenticated map[string]time.Time
}

// Start makes the signing key and the TLS certificate, binds both listeners
// (so a bad or non-loopback address fails here, at once) and serves them in
// goroutines until Close. It fails when the Config cannot work: no way for a
// client to authenticate, or personas without a login hint, tenant or object
// ID, or two personas with the same login hint.
func Start(cfg Config) (*IdP, error) {
	if cfg.ClientID == "" {
		cfg.ClientID = ClientID
	}
	if cfg.ClientSecret == "" && !cfg.AcceptAnyAssertion {
		return nil, errors.New("devidp: Config needs a ClientSecret or AcceptAnyAssertion, or no client can redeem a code")
	}
	if cfg.Personas == nil {
		cfg.Personas = Personas()
	}
	if err := checkPersonas(cfg.Personas); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = "127.0.0.1:0"
	}
	if cfg.TLSAddr == "" {
		cfg.TLSAddr = "127.0.0.1:0"
	}

	signingKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("devidp: making the signing key: %w", err)
	}
	cert, pool, err := selfSignedCert()
	if err != nil {
		return nil, err
	}

	p := &IdP{
		clientID:           cfg.ClientID,
		clientSecret:       cfg.ClientSecret,
		acceptAnyAssertion: cfg.AcceptAnyAssertion,
		personas:           clonePersonas(cfg.Personas),
		now:                cfg.Now,
		signingKey:         signingKey,
		kid:                keyID(&signingKey.PublicKey),
		foreignKey: sync.OnceValue(func() *rsa.PrivateKey {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err) // crypto/rand does not fail
			}
			return k
		}),
		redirectURIs:   slices.Clone(cfg.RedirectURIs),
		postLogoutURIs: slices.Clone(cfg.PostLogoutRedirectURIs),
		codes:          map[string]*authCode{},
		refreshGrants:  map[string]refreshGrant{},
		accessTokens:   map[string]AccessGrant{},
		authenticated:  map[string]time.Time{},
	}

	tlsLn, err := listenLoopback(cfg.TLSAddr)
	if err != nil {
		return nil, err
	}
	httpLn, err := listenLoopback(cfg.HTTPAddr)
	if err != nil {
		tlsLn.Close()
		return nil, err
	}
	p.tlsBase = "https://" + tlsLn.Addr().String()
	p.browserBase = "http://" + httpLn.Addr().String()

	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        10,
		IdleConnTimeout:     30 * time.Second,
		TLSHandshakeTimeout: 5 * time.Second,
	}
	p.client = &http.Client{Transport: tr, Timeout: 30 * time.Second}

	quiet := log.New(io.Discard, "", 0) // TLS handshake noise from untrusting clients, and anything else
	tlsSrv := &http.Server{
		Handler:           traced("tls", cfg.trace, p.tlsRoutes()),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          quiet,
	}
	httpSrv := &http.Server{
		Handler:           traced("http", cfg.trace, p.browserRoutes()),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          quiet,
	}
	p.servers = []*http.Server{tlsSrv, httpSrv}
	p.served.Add(2)
	go func() {
		defer p.served.Done()
		_ = tlsSrv.ServeTLS(tlsLn, "", "") // returns ErrServerClosed after Close
	}()
	go func() {
		defer p.served.Done()
		_ = httpSrv.Serve(httpLn)
	}()
	return p, nil
}

// Close stops both listeners, drops open connections and waits for the
// servers to stop. Codes and refresh tokens die with it. Calling it again
// returns the first call's result.
func (p *IdP) Close() error {
	p.closeOnce.Do(func() {
		var errs []error
		for _, s := range p.servers {
			errs = append(errs, s.Close())
		}
		p.served.Wait()
		p.client.CloseIdleConnections()
		p.closeErr = errors.Join(errs...)
	})
	return p.closeErr
}

// TLSBase returns the base URL of the TLS listener, "https://127.0.0.1:PORT"
// (or "https://[::1]:PORT"), with no trailing slash.
func (p *IdP) TLSBase() string { return p.tlsBase }

// BrowserBase returns the base URL of the plain-http listener that serves
// the authorize and logout pages, "http://127.0.0.1:PORT".
func (p *IdP) BrowserBase() string { return p.browserBase }

// Authority returns the MSAL authority for tenant: TLSBase + "/" + tenant,
// where tenant is "organizations", "common" or a tenant GUID string.
func (p *IdP) Authority(tenant string) string { return p.tlsBase + "/" + tenant }

// Issuer returns the issuer of ID tokens for the tenant, TLSBase +
// "/<tid>/v2.0", as Entra's discovery document for that tenant states it.
func (p *IdP) Issuer(tenant portal.GUID) string { return p.tlsBase + "/" + tenant.String() + "/v2.0" }

// HTTPClient returns the client to reach the TLS listener with. It trusts this
// IdP's certificate and nothing else (no system roots), so it cannot be
// pointed at anything real by mistake. Every call returns the same client.
func (p *IdP) HTTPClient() *http.Client { return p.client }

// SetRedirectURIs replaces the registered redirect URIs and post-logout
// redirect URIs (the portal's address is known only after it binds). Codes
// already issued keep the redirect URI they were issued for.
func (p *IdP) SetRedirectURIs(redirect, postLogout []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.redirectURIs = slices.Clone(redirect)
	p.postLogoutURIs = slices.Clone(postLogout)
}

func (p *IdP) redirectURIRegistered(u string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Contains(p.redirectURIs, u)
}

func (p *IdP) postLogoutURIRegistered(u string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Contains(p.postLogoutURIs, u)
}

// tlsRoutes is what MSAL and the portal's verifier call.
func (p *IdP) tlsRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", p.handleDiscovery)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", p.handleToken)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", p.handleKeys)
	return mux
}

// browserRoutes is what a person's browser visits.
func (p *IdP) browserRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/authorize", p.handleAuthorize)
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/logout", p.handleLogout)
	return mux
}

func traced(listener string, trace func(string, *http.Request), h http.Handler) http.Handler {
	if trace == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		trace(listener, r)
		h.ServeHTTP(w, r)
	})
}

// listenLoopback binds addr and refuses anything but a loopback address: a dev
// IdP signs anyone in as an admin, so it must not be reachable from outside.
func listenLoopback(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("devidp: listening on %s: %w", addr, err)
	}
	if a, ok := ln.Addr().(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
		ln.Close()
		return nil, fmt.Errorf("devidp: %s is not a loopback address; the dev IdP listens on loopback only", addr)
	}
	return ln, nil
}

// selfSignedCert makes a one-year ECDSA certificate for 127.0.0.1 and ::1 and
// a pool that trusts exactly it.
func selfSignedCert() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("devidp: making the TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("devidp: making the TLS serial: %w", err)
	}
	// Real time, not Config.Now: the client checks the certificate against
	// its own clock, whatever clock the tokens use.
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "devidp loopback", Organization: []string{"teamsphone portal dev IdP"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("devidp: making the TLS certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("devidp: reading back the TLS certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}

// keyID names a signing key by a hash of its public part, so the kid changes
// whenever the key does.
func keyID(pub *rsa.PublicKey) string {
	sum := sha256.Sum256(x509.MarshalPKCS1PublicKey(pub))
	return base64.RawURLEncoding.EncodeToString(sum[:20])
}

func checkPersonas(ps []Persona) error {
	seen := map[string]bool{}
	for i, p := range ps {
		switch {
		case p.LoginHint == "":
			return fmt.Errorf("devidp: persona %d has no LoginHint", i)
		case p.TenantID.IsZero():
			return fmt.Errorf("devidp: persona %s has no TenantID", p.LoginHint)
		case p.ObjectID.IsZero():
			return fmt.Errorf("devidp: persona %s has no ObjectID", p.LoginHint)
		}
		k := strings.ToLower(p.LoginHint)
		if seen[k] {
			return fmt.Errorf("devidp: two personas have the login hint %s", p.LoginHint)
		}
		seen[k] = true
	}
	return nil
}

// tenantPath is the {tenant} segment of a route: a tenant GUID, or
// "organizations"/"common", which admit a persona of any tenant.
type tenantPath struct {
	id    portal.GUID // zero for organizations/common
	multi string      // "organizations" or "common"; "" for a GUID
}

// parseTenant reads a {tenant} segment; false for anything Entra would answer
// with AADSTS90002 here (domain names, "consumers", garbage).
func parseTenant(s string) (tenantPath, bool) {
	for _, m := range []string{"organizations", "common"} {
		if strings.EqualFold(s, m) {
			return tenantPath{multi: m}, true
		}
	}
	id, err := portal.ParseGUID(s)
	if err != nil {
		return tenantPath{}, false
	}
	return tenantPath{id: id}, true
}

// String is the segment as the IdP writes it in URLs: canonical GUID or keyword.
func (t tenantPath) String() string {
	if t.multi != "" {
		return t.multi
	}
	return t.id.String()
}

// admits reports whether a persona may sign in through this tenant's endpoints.
func (t tenantPath) admits(p Persona) bool { return t.multi != "" || t.id == p.TenantID }
