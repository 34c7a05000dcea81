package devidp

import (
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
)

// discoveryDocument is the part of Entra's v2.0 OpenID configuration that
// MSAL and go-oidc read, with Entra's field names.
type discoveryDocument struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
}

// handleDiscovery serves GET /{tenant}/v2.0/.well-known/openid-configuration.
// For a tenant GUID the issuer is that tenant's; for organizations and common
// it is Entra's template with a literal "{tenantid}", which a verifier fills
// in with the token's tid.
func (p *IdP) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	t, ok := parseTenant(r.PathValue("tenant"))
	if !ok {
		writeTenantNotFound(w, r.PathValue("tenant"))
		return
	}
	issuer := p.tlsBase + "/{tenantid}/v2.0"
	if t.multi == "" {
		issuer = p.Issuer(t.id)
	}
	writeJSON(w, http.StatusOK, discoveryDocument{
		Issuer:                            issuer,
		AuthorizationEndpoint:             p.browserBase + "/" + t.String() + "/oauth2/v2.0/authorize",
		TokenEndpoint:                     p.tlsBase + "/" + t.String() + "/oauth2/v2.0/token",
		JWKSURI:                           p.tlsBase + "/" + t.String() + "/discovery/v2.0/keys",
		EndSessionEndpoint:                p.browserBase + "/" + t.String() + "/oauth2/v2.0/logout",
		IDTokenSigningAlgValuesSupported:  []string{"RS256"},
		ResponseTypesSupported:            []string{"code"},
		ResponseModesSupported:            []string{"query"},
		ScopesSupported:                   []string{"openid", "profile", "email", "offline_access"},
		SubjectTypesSupported:             []string{"pairwise"},
		ClaimsSupported:                   []string{"sub", "iss", "aud", "exp", "iat", "nbf", "auth_time", "nonce", "tid", "oid", "name", "preferred_username", "roles", "ver"},
		TokenEndpointAuthMethodsSupported: []string{"client_secret_post", "private_key_jwt"},
		CodeChallengeMethodsSupported:     []string{"S256"},
		RequestURIParameterSupported:      false,
	})
}

type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// handleKeys serves GET /{tenant}/discovery/v2.0/keys: the one signing key, the
// same for every tenant (as Entra's keys are).
func (p *IdP) handleKeys(w http.ResponseWriter, r *http.Request) {
	if _, ok := parseTenant(r.PathValue("tenant")); !ok {
		writeTenantNotFound(w, r.PathValue("tenant"))
		return
	}
	pub := &p.signingKey.PublicKey
	writeJSON(w, http.StatusOK, struct {
		Keys []jwk `json:"keys"`
	}{[]jwk{{
		Kty: "RSA",
		Use: "sig",
		Alg: "RS256",
		Kid: p.kid,
		N:   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// oauthError is the body of every error answer of the TLS endpoints.
type oauthError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, oauthError{Error: code, ErrorDescription: description})
}

func writeTenantNotFound(w http.ResponseWriter, tenant string) {
	writeOAuthError(w, http.StatusBadRequest, "invalid_tenant",
		"AADSTS90002: Tenant '"+truncate(tenant, 80)+"' not found. The dev IdP knows tenant GUIDs, 'organizations' and 'common'.")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "devidp: encoding the answer failed", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// truncate cuts s to at most n bytes, so that echoing attacker input stays short.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
