package devidp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/testclock"
	"github.com/teamsphone/portal/internal/testwait"
)

const (
	testSecret     = "dev-secret-not-for-production"
	testRedirect   = "http://127.0.0.1:8080/auth/callback"
	testLogoutBack = "http://127.0.0.1:8080/signed-out"
)

// startIdP starts an IdP with the test secret and redirect URIs unless cfg
// says otherwise, and closes it when the test ends.
func startIdP(t *testing.T, cfg Config) *IdP {
	t.Helper()
	if cfg.ClientSecret == "" && !cfg.AcceptAnyAssertion {
		cfg.ClientSecret = testSecret
	}
	if cfg.RedirectURIs == nil {
		cfg.RedirectURIs = []string{testRedirect}
	}
	if cfg.PostLogoutRedirectURIs == nil {
		cfg.PostLogoutRedirectURIs = []string{testLogoutBack}
	}
	idp, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := idp.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return idp
}

// browser is a plain client that, like a test looking at one hop, does not follow redirects.
var browser = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       testwait.Patience,
}

func newPKCE() (verifier, challenge string) {
	verifier = randomToken() + "-verifier"
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorizeParams is a complete, valid authorize request for hint.
func authorizeParams(hint, challenge string) url.Values {
	v := url.Values{
		"client_id":             {ClientID},
		"redirect_uri":          {testRedirect},
		"response_type":         {"code"},
		"response_mode":         {"query"},
		"scope":                 {"openid profile User.Read"},
		"state":                 {"st&te=1 /ü"},
		"nonce":                 {"n0nce-" + hint},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
	}
	if hint != "" {
		v.Set("login_hint", hint)
	}
	return v
}

func getPage(t *testing.T, rawURL string) (*http.Response, []byte) {
	t.Helper()
	resp, err := browser.Get(rawURL)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", rawURL, err)
	}
	return resp, body
}

func authorize(t *testing.T, idp *IdP, tenant string, params url.Values) (*http.Response, []byte) {
	t.Helper()
	return getPage(t, idp.BrowserBase()+"/"+tenant+"/oauth2/v2.0/authorize?"+params.Encode())
}

// redirectQuery checks resp is a 302 to testRedirect and returns its query.
func redirectQuery(t *testing.T, resp *http.Response) url.Values {
	t.Helper()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d, want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("Location %q: %v", resp.Header.Get("Location"), err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != testRedirect {
		t.Fatalf("redirected to %s, want %s", got, testRedirect)
	}
	return loc.Query()
}

// signIn runs authorize with a login hint and returns the code and the verifier.
func signIn(t *testing.T, idp *IdP, tenant, hint string) (code, verifier string) {
	t.Helper()
	verifier, challenge := newPKCE()
	resp, _ := authorize(t, idp, tenant, authorizeParams(hint, challenge))
	q := redirectQuery(t, resp)
	if q.Get("code") == "" {
		t.Fatalf("redirect without code: %v", q)
	}
	return q.Get("code"), verifier
}

func codeForm(code, verifier string) url.Values {
	return url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {ClientID},
		"client_secret": {testSecret},
		"code":          {code},
		"redirect_uri":  {testRedirect},
		"code_verifier": {verifier},
		"scope":         {"User.Read openid offline_access profile"},
	}
}

// postToken posts form to the tenant's token endpoint and decodes the JSON answer.
func postToken(t *testing.T, idp *IdP, tenant string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := idp.HTTPClient().PostForm(idp.TLSBase()+"/"+tenant+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("token answer Content-Type %q", ct)
	}
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decoding token answer: %v", err)
	}
	return resp.StatusCode, body
}

// redeem signs hint in through tenant and redeems the code; it fails the
// test on anything but 200.
func redeem(t *testing.T, idp *IdP, tenant, hint string) map[string]any {
	t.Helper()
	code, verifier := signIn(t, idp, tenant, hint)
	status, body := postToken(t, idp, tenant, codeForm(code, verifier))
	if status != http.StatusOK {
		t.Fatalf("token status %d: %v", status, body)
	}
	return body
}

func getJSON(t *testing.T, c *http.Client, rawURL string, v any) int {
	t.Helper()
	resp, err := c.Get(rawURL)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decoding %s: %v", rawURL, err)
	}
	return resp.StatusCode
}

// keySet fetches the JWKS and returns its RSA keys by kid, checking each entry's shape.
func keySet(t *testing.T, idp *IdP, tenant string) map[string]*rsa.PublicKey {
	t.Helper()
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	if s := getJSON(t, idp.HTTPClient(), idp.TLSBase()+"/"+tenant+"/discovery/v2.0/keys", &doc); s != http.StatusOK {
		t.Fatalf("JWKS status %d", s)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range doc.Keys {
		if k["kty"] != "RSA" || k["use"] != "sig" || k["alg"] != "RS256" || k["kid"] == "" {
			t.Fatalf("JWKS entry %v", k)
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k["n"])
		e, err2 := base64.RawURLEncoding.DecodeString(k["e"])
		if err1 != nil || err2 != nil {
			t.Fatalf("JWKS n/e not base64url: %v %v", err1, err2)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() != 2048 || pub.E != 65537 {
			t.Fatalf("JWKS key: %d bits, e=%d", pub.N.BitLen(), pub.E)
		}
		keys[k["kid"]] = pub
	}
	if len(keys) != 1 {
		t.Fatalf("JWKS has %d keys, want 1", len(keys))
	}
	return keys
}

// decodeJWT splits a compact JWS without verifying it.
func decodeJWT(t *testing.T, token string) (header, claims map[string]any, sig []byte) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
	}
	sig, _ = base64.RawURLEncoding.DecodeString(parts[2])
	return header, claims, sig
}

// verifyRS256 checks token's RS256 signature with the key its kid names.
func verifyRS256(token string, keys map[string]*rsa.PublicKey) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errors.New("not three segments")
	}
	rawHeader, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return err
	}
	var header struct{ Alg, Kid string }
	if err := json.Unmarshal(rawHeader, &header); err != nil {
		return err
	}
	if header.Alg != "RS256" {
		return errors.New("alg " + header.Alg)
	}
	key, ok := keys[header.Kid]
	if !ok {
		return errors.New("unknown kid " + header.Kid)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return err
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	return rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig)
}

// onlyKey returns the one key of a key set.
func onlyKey(keys map[string]*rsa.PublicKey) (string, *rsa.PublicKey) {
	for kid, k := range keys {
		return kid, k
	}
	return "", nil
}

// page is what a test reads off one of the IdP's pages, parsed as XML
// (the pages are well-formed on purpose).
type page struct {
	title, heading, message string
	personas                []pageLink
}

type pageLink struct{ hint, href, text string }

func parsePage(t *testing.T, body []byte) page {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	var (
		pg      page
		capture *string
		link    *pageLink
	)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("page is not well-formed: %v\n%s", err, body)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			attr := func(name string) string {
				for _, a := range tok.Attr {
					if a.Name.Local == name {
						return a.Value
					}
				}
				return ""
			}
			switch {
			case tok.Name.Local == "script":
				t.Fatalf("page has a script element")
			case tok.Name.Local == "title":
				capture = &pg.title
			case tok.Name.Local == "h1":
				capture = &pg.heading
			case attr("data-testid") == "message":
				capture = &pg.message
			case tok.Name.Local == "a" && attr("data-testid") == "persona":
				pg.personas = append(pg.personas, pageLink{hint: attr("data-login-hint"), href: attr("href")})
				link = &pg.personas[len(pg.personas)-1]
			}
		case xml.EndElement:
			if tok.Name.Local == "a" {
				link = nil
			}
			if tok.Name.Local != "span" && tok.Name.Local != "strong" {
				capture = nil
			}
		case xml.CharData:
			if capture != nil {
				*capture += string(tok)
			}
			if link != nil {
				link.text += string(tok) + "|"
			}
		}
	}
	return pg
}

func TestPersonas(t *testing.T) {
	ps := Personas()
	var hints []string
	for _, p := range ps {
		hints = append(hints, p.LoginHint)
	}
	want := []string{"admin@contoso.test", "helpdesk@contoso.test", "auditor@contoso.test", "norole@contoso.test", "admin@fabrikam.test"}
	if !slices.Equal(hints, want) {
		t.Fatalf("hints %v, want %v", hints, want)
	}
	ps[0].Roles[0] = "changed"
	ps[0].Name = "changed"
	again, ok := PersonaByHint("ADMIN@Contoso.TEST")
	if !ok || again.Name != "Adele Admin" || !slices.Equal(again.Roles, []string{"Portal.Admin"}) {
		t.Fatalf("PersonaByHint after changing a copy: %+v %v", again, ok)
	}
	if again.TenantID != ContosoTenant || again.ObjectID != portal.MustParseGUID("369f18b8-e505-4795-b1cf-e40cfc95f82e") {
		t.Fatalf("admin IDs: %+v", again)
	}
	if f, _ := PersonaByHint("admin@fabrikam.test"); f.TenantID != FabrikamTenant || f.TenantName != "Fabrikam" {
		t.Fatalf("fabrikam admin: %+v", f)
	}
	if n, _ := PersonaByHint("norole@contoso.test"); n.Roles != nil {
		t.Fatalf("norole has roles %v", n.Roles)
	}
	if _, ok := PersonaByHint("nobody@contoso.test"); ok {
		t.Fatal("PersonaByHint found nobody")
	}
}

func TestStartRefusesUnworkableConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no client credential": {},
		"not loopback":         {ClientSecret: "s", HTTPAddr: "0.0.0.0:0"},
		"duplicate hint":       {ClientSecret: "s", Personas: append(Personas(), Persona{LoginHint: "Admin@Contoso.test", TenantID: ContosoTenant, ObjectID: ContosoTenant})},
		"persona without oid":  {ClientSecret: "s", Personas: []Persona{{LoginHint: "x@contoso.test", TenantID: ContosoTenant}}},
	} {
		if idp, err := Start(cfg); err == nil {
			idp.Close()
			t.Errorf("%s: Start succeeded", name)
		}
	}
}

func TestDiscovery(t *testing.T) {
	idp := startIdP(t, Config{})
	if !strings.HasPrefix(idp.TLSBase(), "https://127.0.0.1:") || !strings.HasPrefix(idp.BrowserBase(), "http://127.0.0.1:") || idp.TLSBase()[8:] == idp.BrowserBase()[7:] {
		t.Fatalf("bases %s %s", idp.TLSBase(), idp.BrowserBase())
	}
	contoso := ContosoTenant.String()
	for _, tc := range []struct{ tenant, canonical, issuer string }{
		{contoso, contoso, idp.Issuer(ContosoTenant)},
		{strings.ToUpper(contoso), contoso, idp.TLSBase() + "/" + contoso + "/v2.0"},
		{"organizations", "organizations", idp.TLSBase() + "/{tenantid}/v2.0"},
		{"common", "common", idp.TLSBase() + "/{tenantid}/v2.0"},
	} {
		var doc map[string]any
		if s := getJSON(t, idp.HTTPClient(), idp.Authority(tc.tenant)+"/v2.0/.well-known/openid-configuration", &doc); s != http.StatusOK {
			t.Fatalf("%s: status %d", tc.tenant, s)
		}
		want := map[string]any{
			"issuer":                 tc.issuer,
			"authorization_endpoint": idp.BrowserBase() + "/" + tc.canonical + "/oauth2/v2.0/authorize",
			"token_endpoint":         idp.TLSBase() + "/" + tc.canonical + "/oauth2/v2.0/token",
			"jwks_uri":               idp.TLSBase() + "/" + tc.canonical + "/discovery/v2.0/keys",
			"end_session_endpoint":   idp.BrowserBase() + "/" + tc.canonical + "/oauth2/v2.0/logout",
		}
		for k, v := range want {
			if doc[k] != v {
				t.Errorf("%s: %s = %v, want %v", tc.tenant, k, doc[k], v)
			}
		}
		if algs, _ := doc["id_token_signing_alg_values_supported"].([]any); len(algs) != 1 || algs[0] != "RS256" {
			t.Errorf("%s: algs %v", tc.tenant, doc["id_token_signing_alg_values_supported"])
		}
		for _, k := range []string{"response_types_supported", "scopes_supported", "subject_types_supported", "claims_supported"} {
			if l, _ := doc[k].([]any); len(l) == 0 {
				t.Errorf("%s: %s missing", tc.tenant, k)
			}
		}
	}
	if got := idp.Authority("organizations"); got != idp.TLSBase()+"/organizations" {
		t.Errorf("Authority = %s", got)
	}

	var e map[string]any
	if s := getJSON(t, idp.HTTPClient(), idp.TLSBase()+"/contoso.test/v2.0/.well-known/openid-configuration", &e); s != http.StatusBadRequest || e["error"] != "invalid_tenant" {
		t.Errorf("unknown tenant: %d %v", s, e)
	}

	// The client trusts this IdP only; other clients do not trust it.
	if _, err := http.Get(idp.TLSBase() + "/organizations/v2.0/.well-known/openid-configuration"); err == nil {
		t.Error("the default client trusted the IdP's self-signed certificate")
	}
	other := httptest.NewUnstartedServer(http.NotFoundHandler())
	other.Config.ErrorLog = log.New(io.Discard, "", 0) // its handshake with HTTPClient fails, as it should
	other.StartTLS()
	defer other.Close()
	if resp, err := idp.HTTPClient().Get(other.URL); err == nil {
		resp.Body.Close()
		t.Error("HTTPClient trusted another server's certificate")
	}
}

func TestAuthorizeWithHintRedirects(t *testing.T) {
	idp := startIdP(t, Config{})
	_, challenge := newPKCE()
	for _, tenant := range []string{"organizations", "common", ContosoTenant.String()} {
		params := authorizeParams("ADMIN@contoso.TEST", challenge)
		params.Set("prompt", "login") // a hint still signs in
		resp, _ := authorize(t, idp, tenant, params)
		q := redirectQuery(t, resp)
		if got := q.Get("state"); got != "st&te=1 /ü" {
			t.Errorf("%s: state %q, not echoed verbatim", tenant, got)
		}
		code := q.Get("code")
		if raw, err := base64.RawURLEncoding.DecodeString(code); err != nil || len(raw) != 32 {
			t.Errorf("%s: code %q is not 32 bytes of base64url", tenant, code)
		}
		if resp.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: Referrer-Policy %q", tenant, resp.Header.Get("Referrer-Policy"))
		}
	}
	if n := idp.Codes(); n != 3 {
		t.Errorf("Codes() = %d, want 3", n)
	}
}

func TestPickerListsPersonasAndEscapes(t *testing.T) {
	idp := startIdP(t, Config{})
	_, challenge := newPKCE()

	resp, body := authorize(t, idp, "organizations", authorizeParams("", challenge))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" {
		t.Fatalf("picker: status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	pg := parsePage(t, body)
	if len(pg.personas) != 5 {
		t.Fatalf("picker lists %d personas, want 5: %+v", len(pg.personas), pg.personas)
	}
	for i, want := range Personas() {
		got := pg.personas[i]
		if got.hint != want.LoginHint {
			t.Errorf("persona %d: hint %q, want %q", i, got.hint, want.LoginHint)
		}
		roles := strings.Join(want.Roles, ", ")
		if roles == "" {
			roles = "no app role"
		}
		for _, s := range []string{want.Name, want.LoginHint, want.TenantName, roles} {
			if !strings.Contains(got.text, s) {
				t.Errorf("persona %d shows %q, missing %q", i, got.text, s)
			}
		}
		// Each link signs its persona in.
		if i == 2 {
			link, err := url.Parse(got.href)
			if err != nil || link.IsAbs() {
				t.Fatalf("link %q", got.href)
			}
			resp, _ := getPage(t, idp.BrowserBase()+got.href)
			q := redirectQuery(t, resp)
			if q.Get("code") == "" || q.Get("state") != "st&te=1 /ü" {
				t.Errorf("following the picker link: %v", q)
			}
		}
	}
	if pg.message != "" {
		t.Errorf("message without a hint: %q", pg.message)
	}

	// A tenant's picker lists only its personas.
	_, body = authorize(t, idp, FabrikamTenant.String(), authorizeParams("", challenge))
	if pg := parsePage(t, body); len(pg.personas) != 1 || pg.personas[0].hint != "admin@fabrikam.test" {
		t.Errorf("Fabrikam picker: %+v", pg.personas)
	}

	// An unknown hint is shown, escaped, with the picker.
	evil := `"><script>alert(1)</script>`
	resp, body = authorize(t, idp, "organizations", authorizeParams(evil, challenge))
	pg = parsePage(t, body)
	if resp.StatusCode != http.StatusOK || len(pg.personas) != 5 || !strings.Contains(pg.message, evil) {
		t.Errorf("unknown hint: status %d, %d personas, message %q", resp.StatusCode, len(pg.personas), pg.message)
	}
	if bytes.Contains(body, []byte("<script>")) {
		t.Error("unknown hint reached the page unescaped")
	}

	// A persona of another tenant is not signed in.
	resp, body = authorize(t, idp, ContosoTenant.String(), authorizeParams("admin@fabrikam.test", challenge))
	pg = parsePage(t, body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(pg.message, "Fabrikam") || len(pg.personas) != 4 {
		t.Errorf("foreign persona: status %d, message %q, %d personas", resp.StatusCode, pg.message, len(pg.personas))
	}

	// prompt=select_account shows the picker even with a good hint; its links drop prompt.
	params := authorizeParams("admin@contoso.test", challenge)
	params.Set("prompt", "select_account")
	resp, body = authorize(t, idp, "organizations", params)
	pg = parsePage(t, body)
	if resp.StatusCode != http.StatusOK || len(pg.personas) != 5 || strings.Contains(pg.personas[0].href, "prompt") {
		t.Errorf("select_account: status %d, %+v", resp.StatusCode, pg.personas)
	}
	if n := idp.Codes(); n != 1 {
		t.Errorf("Codes() = %d, want 1 (from the followed link)", n)
	}

	// Names from a custom persona table are escaped too.
	odd := startIdP(t, Config{Personas: []Persona{{LoginHint: "eve@contoso.test", Name: "<b>Eve</b> & co", TenantID: ContosoTenant, TenantName: "Contoso", ObjectID: portal.MustParseGUID("11111111-2222-3333-4444-555555555555")}}})
	_, body = authorize(t, odd, "organizations", authorizeParams("", challenge))
	pg = parsePage(t, body)
	if len(pg.personas) != 1 || !strings.Contains(pg.personas[0].text, "<b>Eve</b> & co") || bytes.Contains(body, []byte("<b>Eve")) {
		t.Errorf("custom persona: %+v", pg.personas)
	}
}

func TestAuthorizeRefusesUnregisteredClientOrRedirect(t *testing.T) {
	idp := startIdP(t, Config{})
	_, challenge := newPKCE()
	for name, change := range map[string]func(url.Values){
		"unregistered redirect": func(v url.Values) { v.Set("redirect_uri", "https://evil.example/cb") },
		"longer redirect":       func(v url.Values) { v.Set("redirect_uri", testRedirect+"/x") },
		"redirect with query":   func(v url.Values) { v.Set("redirect_uri", testRedirect+"?next=https://evil.example") },
		"missing redirect":      func(v url.Values) { v.Del("redirect_uri") },
		"two redirects":         func(v url.Values) { v.Add("redirect_uri", "https://evil.example/cb") },
		"unknown client":        func(v url.Values) { v.Set("client_id", "83ecbc78-e1ba-4e8f-a454-5483ef618061") },
		"unknown tenant":        nil,
	} {
		params := authorizeParams("admin@contoso.test", challenge)
		tenant := "organizations"
		if change == nil {
			tenant = "contoso.test"
		} else {
			change(params)
		}
		resp, body := authorize(t, idp, tenant, params)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("%s: status %d, Location %q", name, resp.StatusCode, resp.Header.Get("Location"))
			continue
		}
		if pg := parsePage(t, body); !strings.HasPrefix(pg.message, "AADSTS") || len(pg.personas) != 0 {
			t.Errorf("%s: page %+v", name, pg)
		}
	}

	// SetRedirectURIs replaces the list.
	moved := "http://127.0.0.1:9999/auth/callback"
	idp.SetRedirectURIs([]string{moved}, nil)
	params := authorizeParams("admin@contoso.test", challenge)
	if resp, _ := authorize(t, idp, "organizations", params); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("old redirect URI after SetRedirectURIs: status %d", resp.StatusCode)
	}
	params.Set("redirect_uri", moved)
	if resp, _ := authorize(t, idp, "organizations", params); resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), moved+"?") {
		t.Errorf("new redirect URI: status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if idp.Codes() != 1 {
		t.Errorf("Codes() = %d, want 1", idp.Codes())
	}
}

func TestAuthorizeErrorsGoBackToTheApp(t *testing.T) {
	idp := startIdP(t, Config{})
	_, challenge := newPKCE()
	for name, tc := range map[string]struct {
		change func(url.Values)
		error  string
	}{
		"token response type": {func(v url.Values) { v.Set("response_type", "token") }, "unsupported_response_type"},
		"form_post":           {func(v url.Values) { v.Set("response_mode", "form_post") }, "invalid_request"},
		"no challenge":        {func(v url.Values) { v.Del("code_challenge") }, "invalid_request"},
		"plain challenge":     {func(v url.Values) { v.Set("code_challenge_method", "plain") }, "invalid_request"},
		"short challenge":     {func(v url.Values) { v.Set("code_challenge", "abc") }, "invalid_request"},
		"no scope":            {func(v url.Values) { v.Del("scope") }, "invalid_request"},
		"prompt none no hint": {func(v url.Values) { v.Set("prompt", "none"); v.Del("login_hint") }, "login_required"},
	} {
		params := authorizeParams("admin@contoso.test", challenge)
		tc.change(params)
		resp, _ := authorize(t, idp, "organizations", params)
		q := redirectQuery(t, resp)
		if q.Get("error") != tc.error || !strings.HasPrefix(q.Get("error_description"), "AADSTS") || q.Get("state") != "st&te=1 /ü" || q.Has("code") {
			t.Errorf("%s: redirect query %v", name, q)
		}
	}
	if idp.Codes() != 0 {
		t.Errorf("Codes() = %d after errors", idp.Codes())
	}
}

func TestTokenExchange(t *testing.T) {
	clock := testclock.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	idp := startIdP(t, Config{Now: clock.Now})
	keys := keySet(t, idp, "organizations")
	kid, _ := onlyKey(keys)

	for _, hint := range []string{"auditor@contoso.test", "norole@contoso.test", "admin@fabrikam.test"} {
		persona, _ := PersonaByHint(hint)
		body := redeem(t, idp, "organizations", hint)
		for k, want := range map[string]any{"token_type": "Bearer", "scope": "User.Read openid offline_access profile", "expires_in": 3599.0, "ext_expires_in": 3599.0} {
			if body[k] != want {
				t.Errorf("%s: %s = %v, want %v", hint, k, body[k], want)
			}
		}
		for _, k := range []string{"access_token", "refresh_token", "id_token"} {
			if s, _ := body[k].(string); s == "" {
				t.Errorf("%s: %s empty", hint, k)
			}
		}
		// The access token stands for the persona and its scopes until it
		// expires (dev mode's Graph emulator asks).
		at, _ := body["access_token"].(string)
		if g, ok := idp.AccessToken(at, clock.Now()); !ok || g.Tenant != persona.TenantID || g.ObjectID != persona.ObjectID || !slices.Contains(g.Scopes, "User.Read") {
			t.Errorf("%s: AccessToken = %+v, %v", hint, g, ok)
		}
		if _, ok := idp.AccessToken(at, clock.Now().Add(tokenLifetime)); ok {
			t.Errorf("%s: an expired access token still stands", hint)
		}
		if _, ok := idp.AccessToken("made-up", clock.Now()); ok {
			t.Errorf("a made-up access token stands")
		}

		info, _ := body["client_info"].(string)
		if strings.ContainsAny(info, "=+/") {
			t.Errorf("%s: client_info %q is not unpadded base64url", hint, info)
		}
		raw, err := base64.RawURLEncoding.DecodeString(info)
		if err != nil {
			t.Fatalf("%s: client_info: %v", hint, err)
		}
		var ci map[string]string
		if err := json.Unmarshal(raw, &ci); err != nil || ci["uid"] != persona.ObjectID.String() || ci["utid"] != persona.TenantID.String() {
			t.Errorf("%s: client_info %s (%v)", hint, raw, err)
		}

		token := body["id_token"].(string)
		if err := verifyRS256(token, keys); err != nil {
			t.Fatalf("%s: ID token does not verify with the JWKS: %v", hint, err)
		}
		header, claims, _ := decodeJWT(t, token)
		if header["alg"] != "RS256" || header["typ"] != "JWT" || header["kid"] != kid {
			t.Errorf("%s: header %v", hint, header)
		}
		now := clock.Now().Unix()
		sum := sha256.Sum256([]byte(persona.ObjectID.String() + ":" + ClientID))
		want := map[string]any{
			"iss":                idp.Issuer(persona.TenantID),
			"aud":                ClientID,
			"exp":                float64(now + 3600),
			"iat":                float64(now),
			"nbf":                float64(now),
			"auth_time":          float64(now),
			"tid":                persona.TenantID.String(),
			"oid":                persona.ObjectID.String(),
			"sub":                base64.RawURLEncoding.EncodeToString(sum[:]),
			"preferred_username": persona.LoginHint,
			"name":               persona.Name,
			"nonce":              "n0nce-" + hint,
			"ver":                "2.0",
		}
		if len(persona.Roles) > 0 {
			want["roles"] = []any{persona.Roles[0]}
		}
		if len(claims) != len(want) {
			t.Errorf("%s: claims %v, want %v", hint, claims, want)
		}
		for k, v := range want {
			if k == "roles" {
				if r, _ := claims[k].([]any); !slices.Equal(r, v.([]any)) {
					t.Errorf("%s: roles %v, want %v", hint, claims[k], v)
				}
				continue
			}
			if claims[k] != v {
				t.Errorf("%s: %s = %v, want %v", hint, k, claims[k], v)
			}
		}
		if _, has := claims["roles"]; has && len(persona.Roles) == 0 {
			t.Errorf("%s: roles claim present for a persona without roles", hint)
		}
	}
	if idp.Codes() != 0 {
		t.Errorf("Codes() = %d after redeeming all", idp.Codes())
	}
}

func TestTokenAcceptsAssertionWhenConfigured(t *testing.T) {
	idp := startIdP(t, Config{AcceptAnyAssertion: true})
	code, verifier := signIn(t, idp, "organizations", "helpdesk@contoso.test")
	form := codeForm(code, verifier)
	form.Del("client_secret")
	form.Set("client_assertion", "eyJhbGciOiJub25lIn0.e30.")
	form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	if status, body := postToken(t, idp, "organizations", form); status != http.StatusOK || body["id_token"] == nil {
		t.Fatalf("assertion: %d %v", status, body)
	}
	code, verifier = signIn(t, idp, "organizations", "helpdesk@contoso.test")
	if status, body := postToken(t, idp, "organizations", codeForm(code, verifier)); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("a secret when none is configured: %d %v", status, body)
	}
}

func TestTokenExchangeErrors(t *testing.T) {
	clock := testclock.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	idp := startIdP(t, Config{Now: clock.Now})
	contoso := ContosoTenant.String()

	type outcome struct {
		status      int
		error, code string // code: the AADSTS number the description starts with
	}
	grant := func(code string) outcome { return outcome{http.StatusBadRequest, "invalid_grant", code} }
	client := func(code string) outcome { return outcome{http.StatusUnauthorized, "invalid_client", code} }
	for _, tc := range []struct {
		name string
		// prepare gets a fresh code and its verifier and returns the token request and the tenant to send it to.
		prepare func(t *testing.T, code, verifier string) (url.Values, string)
		want    outcome
	}{
		{"wrong verifier", func(t *testing.T, c, v string) (url.Values, string) {
			f := codeForm(c, v)
			f.Set("code_verifier", v+"x")
			return f, "organizations"
		}, grant("AADSTS501481")},
		{"missing verifier", func(t *testing.T, c, v string) (url.Values, string) {
			f := codeForm(c, v)
			f.Del("code_verifier")
			return f, "organizations"
		}, grant("AADSTS501481")},
		{"reused code", func(t *testing.T, c, v string) (url.Values, string) {
			if s, b := postToken(t, idp, "organizations", codeForm(c, v)); s != http.StatusOK {
				t.Fatalf("first redemption: %d %v", s, b)
			}
			return codeForm(c, v), "organizations"
		}, grant("AADSTS54005")},
		{"other redirect_uri", func(t *testing.T, c, v string) (url.Values, string) {
			f := codeForm(c, v)
			f.Set("redirect_uri", "http://127.0.0.1:8080/other")
			return f, "organizations"
		}, grant("AADSTS50148")},
		{"expired code", func(t *testing.T, c, v string) (url.Values, string) {
			clock.Add(10*time.Minute + time.Second)
			return codeForm(c, v), "organizations"
		}, grant("AADSTS70008")},
		{"unknown code", func(t *testing.T, c, v string) (url.Values, string) { return codeForm(c+"x", v), "organizations" }, grant("AADSTS70000")},
		{"other tenant", func(t *testing.T, c, v string) (url.Values, string) { return codeForm(c, v), FabrikamTenant.String() }, grant("AADSTS70000")},
		{"wrong secret", func(t *testing.T, c, v string) (url.Values, string) {
			f := codeForm(c, v)
			f.Set("client_secret", testSecret+"x")
			return f, "organizations"
		}, client("AADSTS7000215")},
		{"no credential", func(t *testing.T, c, v string) (url.Values, string) {
			f := codeForm(c, v)
			f.Del("client_secret")
			return f, "organizations"
		}, client("AADSTS7000218")},
		{"assertion not accepted", func(t *testing.T, c, v string) (url.Values, string) {
			f := codeForm(c, v)
			f.Del("client_secret")
			f.Set("client_assertion", "x.y.z")
			f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
			return f, "organizations"
		}, client("AADSTS700027")},
		{"other client", func(t *testing.T, c, v string) (url.Values, string) {
			f := codeForm(c, v)
			f.Set("client_id", "83ecbc78-e1ba-4e8f-a454-5483ef618061")
			return f, "organizations"
		}, client("AADSTS700016")},
		{"client credentials grant", func(t *testing.T, c, v string) (url.Values, string) {
			f := codeForm(c, v)
			f.Set("grant_type", "client_credentials")
			return f, "organizations"
		}, outcome{http.StatusBadRequest, "unsupported_grant_type", "AADSTS70003"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, verifier := signIn(t, idp, contoso, "admin@contoso.test")
			form, tenant := tc.prepare(t, code, verifier)
			status, body := postToken(t, idp, tenant, form)
			desc, _ := body["error_description"].(string)
			if status != tc.want.status || body["error"] != tc.want.error || !strings.HasPrefix(desc, tc.want.code+":") {
				t.Errorf("got %d %v, want %d %s %s", status, body, tc.want.status, tc.want.error, tc.want.code)
			}
			if body["id_token"] != nil || body["access_token"] != nil {
				t.Errorf("error answer carries tokens: %v", body)
			}
			if tc.want.error == "invalid_grant" && tc.name != "unknown code" {
				// A code that met any check is spent: the right request fails now too.
				if s, _ := postToken(t, idp, contoso, codeForm(code, verifier)); s == http.StatusOK {
					t.Error("the code still worked after a failed redemption")
				}
			}
		})
	}
}

func TestRefreshToken(t *testing.T) {
	idp := startIdP(t, Config{})
	code, verifier := signIn(t, idp, "organizations", "auditor@contoso.test")
	status, first := postToken(t, idp, "organizations", codeForm(code, verifier))
	if status != http.StatusOK {
		t.Fatalf("redeem: %d %v", status, first)
	}
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"client_id":     {ClientID},
		"client_secret": {testSecret},
		"refresh_token": {first["refresh_token"].(string)},
		"scope":         {"User.Read openid offline_access profile"},
	}
	status, second := postToken(t, idp, "organizations", form)
	if status != http.StatusOK || second["access_token"] == first["access_token"] || second["access_token"] == "" {
		t.Fatalf("refresh: %d %v", status, second)
	}
	if err := verifyRS256(second["id_token"].(string), keySet(t, idp, "organizations")); err != nil {
		t.Fatalf("refreshed ID token: %v", err)
	}
	_, claims, _ := decodeJWT(t, second["id_token"].(string))
	if claims["oid"] != "a5d9498c-c90d-4479-8c8d-09c17d95dd93" {
		t.Errorf("refreshed oid %v", claims["oid"])
	}

	// Replaying the code revokes the refresh token it produced.
	if s, _ := postToken(t, idp, "organizations", codeForm(code, verifier)); s != http.StatusBadRequest {
		t.Fatalf("replay: %d", s)
	}
	if s, body := postToken(t, idp, "organizations", form); s != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("refresh after replay: %d %v", s, body)
	}
}

func TestFaults(t *testing.T) {
	clock := testclock.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	idp := startIdP(t, Config{Now: clock.Now})
	keys := keySet(t, idp, "organizations")
	kid, pub := onlyKey(keys)
	now := float64(clock.Now().Unix())
	const hint = "admin@contoso.test"
	admin, _ := PersonaByHint(hint)

	type token struct {
		raw            string
		header, claims map[string]any
		sig            []byte
		verifyErr      error // of RS256 with the JWKS
	}
	roles := func(want ...any) func(*testing.T, token) {
		return func(t *testing.T, tok token) {
			got, ok := tok.claims["roles"].([]any)
			if !ok || !slices.Equal(got, want) || tok.verifyErr != nil {
				t.Errorf("roles %#v (verify %v), want %#v", tok.claims["roles"], tok.verifyErr, want)
			}
		}
	}
	for _, tc := range []struct {
		fault Fault
		check func(*testing.T, token)
	}{
		{WrongIssuer, func(t *testing.T, tok token) {
			if tok.claims["iss"] != "https://login.microsoftonline.com/"+ContosoTenant.String()+"/v2.0" || tok.claims["tid"] != ContosoTenant.String() || tok.verifyErr != nil {
				t.Errorf("iss %v tid %v verify %v", tok.claims["iss"], tok.claims["tid"], tok.verifyErr)
			}
		}},
		{WrongAudience, func(t *testing.T, tok token) {
			if tok.claims["aud"] != graphAppID || tok.verifyErr != nil {
				t.Errorf("aud %v verify %v", tok.claims["aud"], tok.verifyErr)
			}
		}},
		{ForeignTenant, func(t *testing.T, tok token) {
			f := ForeignTenantID
			if tok.claims["tid"] != f.String() || tok.claims["iss"] != idp.Issuer(f) || f == ContosoTenant || f == FabrikamTenant || tok.verifyErr != nil {
				t.Errorf("tid %v iss %v verify %v", tok.claims["tid"], tok.claims["iss"], tok.verifyErr)
			}
		}},
		{IssuerTenantMismatch, func(t *testing.T, tok token) {
			if tok.claims["iss"] != idp.Issuer(ContosoTenant) || tok.claims["tid"] != FabrikamTenant.String() || tok.verifyErr != nil {
				t.Errorf("iss %v tid %v verify %v", tok.claims["iss"], tok.claims["tid"], tok.verifyErr)
			}
		}},
		{Expired, func(t *testing.T, tok token) {
			if exp, _ := tok.claims["exp"].(float64); exp >= now-5*60 || tok.verifyErr != nil {
				t.Errorf("exp %v (now %v) verify %v", tok.claims["exp"], now, tok.verifyErr)
			}
		}},
		{NotYetValid, func(t *testing.T, tok token) {
			nbf, _ := tok.claims["nbf"].(float64)
			exp, _ := tok.claims["exp"].(float64)
			if nbf <= now+5*60 || exp <= nbf || tok.verifyErr != nil {
				t.Errorf("nbf %v exp %v (now %v) verify %v", nbf, exp, now, tok.verifyErr)
			}
		}},
		{WrongNonce, func(t *testing.T, tok token) {
			if n, _ := tok.claims["nonce"].(string); n == "" || n == "n0nce-"+hint || tok.verifyErr != nil {
				t.Errorf("nonce %q verify %v", n, tok.verifyErr)
			}
		}},
		{MissingNonce, func(t *testing.T, tok token) {
			if _, has := tok.claims["nonce"]; has || tok.verifyErr != nil {
				t.Errorf("nonce %v verify %v", tok.claims["nonce"], tok.verifyErr)
			}
		}},
		{AlgNone, func(t *testing.T, tok token) {
			if tok.header["alg"] != "none" || len(tok.sig) != 0 || !strings.HasSuffix(tok.raw, ".") || tok.claims["oid"] != admin.ObjectID.String() {
				t.Errorf("header %v, %d signature bytes", tok.header, len(tok.sig))
			}
		}},
		{HS256WithPublicKey, func(t *testing.T, tok token) {
			der, err := x509.MarshalPKIXPublicKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			mac := hmac.New(sha256.New, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
			mac.Write([]byte(tok.raw[:strings.LastIndex(tok.raw, ".")]))
			if tok.header["alg"] != "HS256" || !hmac.Equal(mac.Sum(nil), tok.sig) {
				t.Errorf("header %v; HMAC keyed with the JWKS key's PEM does not match", tok.header)
			}
		}},
		{UnknownKid, func(t *testing.T, tok token) {
			k, _ := tok.header["kid"].(string)
			if _, known := keys[k]; known || k == "" || tok.verifyErr == nil {
				t.Errorf("kid %q verify %v", k, tok.verifyErr)
			}
			digest := sha256.Sum256([]byte(tok.raw[:strings.LastIndex(tok.raw, ".")]))
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], tok.sig); err != nil {
				t.Errorf("not signed by the real key: %v", err)
			}
		}},
		{ForeignKey, func(t *testing.T, tok token) {
			if tok.header["kid"] != kid || tok.header["alg"] != "RS256" || !errors.Is(tok.verifyErr, rsa.ErrVerification) || len(tok.sig) != 256 {
				t.Errorf("header %v verify %v, %d signature bytes", tok.header, tok.verifyErr, len(tok.sig))
			}
		}},
		{Truncated, func(t *testing.T, tok token) {
			if tok.verifyErr == nil || tok.claims["oid"] != admin.ObjectID.String() || len(tok.sig) >= 256 {
				t.Errorf("verify %v, %d signature bytes", tok.verifyErr, len(tok.sig))
			}
		}},
		{HugePayload, func(t *testing.T, tok token) {
			if len(tok.raw) < 1<<20 || tok.verifyErr != nil || tok.claims["oid"] != admin.ObjectID.String() {
				t.Errorf("%d bytes, verify %v", len(tok.raw), tok.verifyErr)
			}
		}},
		{MissingOID, func(t *testing.T, tok token) {
			if _, has := tok.claims["oid"]; has || tok.claims["sub"] == nil || tok.verifyErr != nil {
				t.Errorf("claims %v verify %v", tok.claims, tok.verifyErr)
			}
		}},
		{NoIDToken, nil}, // checked below, on the response
		{RolesMissing, func(t *testing.T, tok token) {
			if _, has := tok.claims["roles"]; has || tok.verifyErr != nil {
				t.Errorf("roles %v verify %v", tok.claims["roles"], tok.verifyErr)
			}
		}},
		{RolesEmpty, roles()},
		{RolesWrongCase, roles("portal.admin")},
		{RolesPadded, roles(" Portal.Admin")},
		{RolesUnknown, roles("Portal.Superuser")},
		{StaleAuthTime, func(t *testing.T, tok token) {
			if at, _ := tok.claims["auth_time"].(float64); at > now-60*60 || tok.verifyErr != nil {
				t.Errorf("auth_time %v (now %v) verify %v", tok.claims["auth_time"], now, tok.verifyErr)
			}
		}},
		{MissingAuthTime, func(t *testing.T, tok token) {
			if _, has := tok.claims["auth_time"]; has || tok.verifyErr != nil {
				t.Errorf("auth_time %v verify %v", tok.claims["auth_time"], tok.verifyErr)
			}
		}},
	} {
		t.Run(string(tc.fault), func(t *testing.T) {
			idp.NextTokenFaults(tc.fault)
			body := redeem(t, idp, "organizations", hint)
			if s, _ := body["access_token"].(string); s == "" {
				t.Errorf("no access token with fault %s", tc.fault)
			}
			raw, has := body["id_token"].(string)
			if tc.fault == NoIDToken {
				if _, present := body["id_token"]; present {
					t.Errorf("id_token present: %.40q", raw)
				}
			} else {
				if !has {
					t.Fatalf("no id_token: %v", body)
				}
				header, claims, sig := decodeJWT(t, raw)
				tc.check(t, token{raw: raw, header: header, claims: claims, sig: sig, verifyErr: verifyRS256(raw, keys)})
			}

			// One fault per token response: the next token is good.
			next := redeem(t, idp, "organizations", hint)
			good, _ := next["id_token"].(string)
			if err := verifyRS256(good, keys); err != nil {
				t.Fatalf("token after the fault: %v", err)
			}
			if _, claims, _ := decodeJWT(t, good); claims["aud"] != ClientID || claims["nonce"] != "n0nce-"+hint || claims["iss"] != idp.Issuer(ContosoTenant) {
				t.Errorf("token after the fault is not good: %v", claims)
			}
		})
	}

	t.Run("queue and unknown fault", func(t *testing.T) {
		idp.NextTokenFaults(WrongAudience, FaultNone, MissingNonce)
		var auds, nonces []any
		for range 3 {
			_, claims, _ := decodeJWT(t, redeem(t, idp, "organizations", hint)["id_token"].(string))
			auds, nonces = append(auds, claims["aud"]), append(nonces, claims["nonce"])
		}
		n := "n0nce-" + hint
		if !slices.Equal(auds, []any{graphAppID, ClientID, ClientID}) || !slices.Equal(nonces, []any{n, n, nil}) {
			t.Errorf("auds %v nonces %v", auds, nonces)
		}
		defer func() {
			if recover() == nil {
				t.Error("NextTokenFaults accepted an unknown fault")
			}
		}()
		idp.NextTokenFaults("wrong-audiance")
	})
}

// TestAuthTimeFollowsTheSingleSignOnSession: a sign-in reuses the persona's
// last authentication (auth_time) as Entra's session does, unless
// prompt=login or an elapsed max_age asks for a new one; a sign-out ends
// the sessions. The portal's fresh sign-in (SECURITY.md, P2 fresh sign-in)
// relies on both.
func TestAuthTimeFollowsTheSingleSignOnSession(t *testing.T) {
	clock := testclock.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	idp := startIdP(t, Config{Now: clock.Now})
	const hint = "admin@contoso.test"
	authTime := func(extra url.Values) int64 {
		t.Helper()
		verifier, challenge := newPKCE()
		params := authorizeParams(hint, challenge)
		for k, v := range extra {
			params[k] = v
		}
		q := redirectQuery(t, func() *http.Response { r, _ := authorize(t, idp, "organizations", params); return r }())
		status, body := postToken(t, idp, "organizations", codeForm(q.Get("code"), verifier))
		if status != http.StatusOK {
			t.Fatalf("token status %d: %v", status, body)
		}
		_, claims, _ := decodeJWT(t, body["id_token"].(string))
		at, _ := claims["auth_time"].(float64)
		return int64(at)
	}
	first := clock.Now().Unix()
	if got := authTime(nil); got != first {
		t.Fatalf("first sign-in: auth_time %d, want now %d", got, first)
	}
	clock.Add(20 * time.Minute)
	if got := authTime(nil); got != first {
		t.Errorf("second sign-in reuses the session: auth_time %d, want %d", got, first)
	}
	if got := authTime(url.Values{"max_age": {"3600"}}); got != first {
		t.Errorf("max_age longer than the session's age: auth_time %d, want %d", got, first)
	}
	if got := authTime(url.Values{"max_age": {"600"}}); got != clock.Now().Unix() {
		t.Errorf("max_age=600 after 20 minutes: auth_time %d, want now %d", got, clock.Now().Unix())
	}
	clock.Add(time.Minute)
	renewed := clock.Now().Add(-time.Minute).Unix()
	if got := authTime(nil); got != renewed {
		t.Errorf("after max_age the session is the new one: auth_time %d, want %d", got, renewed)
	}
	if got := authTime(url.Values{"prompt": {"login"}}); got != clock.Now().Unix() {
		t.Errorf("prompt=login: auth_time %d, want now %d", got, clock.Now().Unix())
	}
	clock.Add(time.Minute)
	if got := authTime(url.Values{"max_age": {"0"}}); got != clock.Now().Unix() {
		t.Errorf("max_age=0: auth_time %d, want now %d", got, clock.Now().Unix())
	}
	clock.Add(time.Minute)
	getPage(t, idp.BrowserBase()+"/organizations/oauth2/v2.0/logout")
	if got := authTime(nil); got != clock.Now().Unix() {
		t.Errorf("after sign-out: auth_time %d, want now %d", got, clock.Now().Unix())
	}
	for _, bad := range []string{"-1", "ten", "1.5"} {
		_, challenge := newPKCE()
		params := authorizeParams(hint, challenge)
		params.Set("max_age", bad)
		resp, _ := authorize(t, idp, "organizations", params)
		if q := redirectQuery(t, resp); q.Get("error") != "invalid_request" {
			t.Errorf("max_age=%s: %v", bad, q)
		}
	}
}

func TestLogout(t *testing.T) {
	idp := startIdP(t, Config{})
	logout := func(back string) (*http.Response, []byte) {
		return getPage(t, idp.BrowserBase()+"/organizations/oauth2/v2.0/logout?"+url.Values{"post_logout_redirect_uri": {back}, "state": {"s 1"}}.Encode())
	}
	resp, _ := logout(testLogoutBack)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != testLogoutBack+"?state=s+1" {
		t.Errorf("registered: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, back := range []string{"https://evil.example/", testRedirect, ""} {
		resp, body := logout(back)
		pg := parsePage(t, body)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" || pg.heading != "You are signed out" {
			t.Errorf("%q: %d %q %+v", back, resp.StatusCode, resp.Header.Get("Location"), pg)
		}
		if back != "" && !strings.Contains(pg.message, back) {
			t.Errorf("%q: message %q", back, pg.message)
		}
	}
}

// TestMSALRoundTrip signs in through MSAL Go as the portal does, and records
// which URLs MSAL asks for.
func TestMSALRoundTrip(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []string
	)
	trace := func(listener string, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, listener+" "+r.Method+" "+r.URL.Path)
	}
	for _, tc := range []struct {
		name, tenant, hint string
		cfg                Config
		cred               func() (confidential.Credential, error)
	}{
		{"organizations with secret", "organizations", "auditor@contoso.test", Config{},
			func() (confidential.Credential, error) { return confidential.NewCredFromSecret(testSecret) }},
		{"tenant with assertion", FabrikamTenant.String(), "admin@fabrikam.test", Config{AcceptAnyAssertion: true},
			func() (confidential.Credential, error) {
				return confidential.NewCredFromAssertionCallback(func(context.Context, confidential.AssertionRequestOptions) (string, error) {
					return "federated.assertion.from-managed-identity", nil
				}), nil
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			cfg := tc.cfg
			cfg.trace = trace
			idp := startIdP(t, cfg)
			ctx, cancel := context.WithTimeout(t.Context(), testwait.Patience)
			defer cancel()
			cred, err := tc.cred()
			if err != nil {
				t.Fatal(err)
			}
			app, err := confidential.New(idp.Authority(tc.tenant), ClientID, cred,
				confidential.WithInstanceDiscovery(false), confidential.WithHTTPClient(idp.HTTPClient()))
			if err != nil {
				t.Fatalf("confidential.New: %v", err)
			}
			authURL, err := app.AuthCodeURL(ctx, ClientID, testRedirect, []string{"openid", "profile", "User.Read"}, confidential.WithLoginHint(tc.hint))
			if err != nil {
				t.Fatalf("AuthCodeURL: %v", err)
			}
			if !strings.HasPrefix(authURL, idp.BrowserBase()+"/") {
				t.Fatalf("AuthCodeURL %s is not on the browser listener", authURL)
			}
			verifier, challenge := newPKCE()
			extra := url.Values{"state": {"msal-state"}, "nonce": {"msal-nonce"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
			resp, _ := getPage(t, authURL+"&"+extra.Encode())
			q := redirectQuery(t, resp)
			if q.Get("state") != "msal-state" {
				t.Errorf("state %q", q.Get("state"))
			}
			res, err := app.AcquireTokenByAuthCode(ctx, q.Get("code"), testRedirect, []string{"User.Read"}, confidential.WithChallenge(verifier))
			if err != nil {
				t.Fatalf("AcquireTokenByAuthCode: %v", err)
			}
			persona, _ := PersonaByHint(tc.hint)
			if res.IDToken.Oid != persona.ObjectID.String() || res.IDToken.TenantID != persona.TenantID.String() || res.IDToken.PreferredUsername != tc.hint {
				t.Errorf("IDToken oid %s tid %s upn %s", res.IDToken.Oid, res.IDToken.TenantID, res.IDToken.PreferredUsername)
			}
			if err := verifyRS256(res.IDToken.RawToken, keySet(t, idp, tc.tenant)); err != nil {
				t.Errorf("MSAL's raw ID token: %v", err)
			}
			if _, claims, _ := decodeJWT(t, res.IDToken.RawToken); claims["nonce"] != "msal-nonce" {
				t.Errorf("nonce %v", claims["nonce"])
			}
			if res.AccessToken == "" || res.Account.HomeAccountID != persona.ObjectID.String()+"."+persona.TenantID.String() {
				t.Errorf("access token %d bytes, home account %q", len(res.AccessToken), res.Account.HomeAccountID)
			}

			mu.Lock()
			got := slices.Clone(seen)
			mu.Unlock()
			t.Logf("requests: %q", got)
			want := []string{
				"tls GET /" + tc.tenant + "/v2.0/.well-known/openid-configuration",
				"http GET /" + tc.tenant + "/oauth2/v2.0/authorize",
				"tls POST /" + tc.tenant + "/oauth2/v2.0/token",
				"tls GET /" + tc.tenant + "/discovery/v2.0/keys", // this test's own JWKS fetch
			}
			if !slices.Equal(got, want) {
				t.Errorf("requests %q, want %q", got, want)
			}
		})
	}
}
