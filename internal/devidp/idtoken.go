package devidp

import (
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// Fault is a defect the token endpoint builds into the next token response,
// so that a test can prove the portal refuses it (SECURITY.md, P0-2). Each
// fault changes only what its name says; everything else is a good token for
// the persona signed in.
type Fault string

// The faults. FaultNone queues a good token, to make a sequence explicit.
const (
	FaultNone            Fault = ""
	WrongIssuer          Fault = "wrong-issuer"           // iss is https://login.microsoftonline.com/<tid>/v2.0: right tenant, another host
	WrongAudience        Fault = "wrong-audience"         // aud is Microsoft Graph's app ID, 00000003-0000-0000-c000-000000000000
	ForeignTenant        Fault = "foreign-tenant"         // tid and iss of tenant ForeignTenantID, in no allowlist
	IssuerTenantMismatch Fault = "issuer-tenant-mismatch" // iss of Contoso, tid of Fabrikam, whoever signs in
	Expired              Fault = "expired"                // iat and nbf 70 minutes ago, exp 10 minutes ago
	NotYetValid          Fault = "not-yet-valid"          // nbf an hour from now, exp two hours from now
	WrongNonce           Fault = "wrong-nonce"            // nonce is another random value
	MissingNonce         Fault = "missing-nonce"          // no nonce claim
	AlgNone              Fault = "alg-none"               // header alg "none", empty signature
	HS256WithPublicKey   Fault = "hs256-with-public-key"  // alg HS256, HMAC keyed with the PEM of the RSA public key in the JWKS
	UnknownKid           Fault = "unknown-kid"            // signed with the real key, but kid names no key in the JWKS
	ForeignKey           Fault = "foreign-key"            // signed by another RSA key under the real kid
	Truncated            Fault = "truncated"              // a good token with the last 16 characters of its signature cut off
	HugePayload          Fault = "huge-payload"           // a good token with a 1 MiB "filler" claim (about 1.4 MB encoded)
	MissingOID           Fault = "missing-oid"            // no oid claim (client_info still carries it)
	NoIDToken            Fault = "no-id-token"            // the response has no id_token at all
	RolesMissing         Fault = "roles-missing"          // no roles claim, whatever the persona's roles
	RolesEmpty           Fault = "roles-empty"            // "roles": []
	RolesWrongCase       Fault = "roles-wrong-case"       // "roles": ["portal.admin"]
	RolesPadded          Fault = "roles-padded"           // "roles": [" Portal.Admin"]
	RolesUnknown         Fault = "roles-unknown"          // "roles": ["Portal.Superuser"]
	StaleAuthTime        Fault = "stale-auth-time"        // auth_time two hours ago, as from an IdP that ignored max_age and prompt=login
	MissingAuthTime      Fault = "missing-auth-time"      // no auth_time claim (Entra sends it only as an optional claim)
)

// ForeignTenantID is the tenant of the ForeignTenant fault's tokens.
var ForeignTenantID = portal.MustParseGUID("5f3e0f6d-7a2b-4c1e-9d8a-2b6c4e1f0a37")

// graphAppID is Microsoft Graph's application ID: a real audience, not the portal.
const graphAppID = "00000003-0000-0000-c000-000000000000"

var knownFaults = []Fault{
	FaultNone, WrongIssuer, WrongAudience, ForeignTenant, IssuerTenantMismatch, Expired, NotYetValid,
	WrongNonce, MissingNonce, AlgNone, HS256WithPublicKey, UnknownKid, ForeignKey, Truncated, HugePayload,
	MissingOID, NoIDToken, RolesMissing, RolesEmpty, RolesWrongCase, RolesPadded, RolesUnknown,
	StaleAuthTime, MissingAuthTime,
}

// NextTokenFaults queues faults for the next token responses, one consumed by
// each successful token response (error answers consume none); when the
// queue is empty, tokens are good. It panics on a Fault not declared here, so
// a typo fails the test at once instead of yielding a good token.
func (p *IdP) NextTokenFaults(f ...Fault) {
	for _, x := range f {
		if !slices.Contains(knownFaults, x) {
			panic(fmt.Sprintf("devidp: unknown Fault %q", string(x)))
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, f...)
}

func (p *IdP) nextFault() Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.faults) == 0 {
		return FaultNone
	}
	f := p.faults[0]
	p.faults = p.faults[1:]
	return f
}

// idToken returns the persona's signed ID token, with fault built in;
// authTime is when the persona last authenticated (auth_time).
func (p *IdP) idToken(now time.Time, persona Persona, authTime time.Time, nonce string, fault Fault) string {
	tid := persona.TenantID
	oid := persona.ObjectID.String()
	sum := sha256.Sum256([]byte(oid + ":" + p.clientID))
	claims := map[string]any{
		"iss":                p.Issuer(tid),
		"aud":                p.clientID,
		"iat":                now.Unix(),
		"nbf":                now.Unix(),
		"auth_time":          authTime.Unix(),
		"exp":                now.Add(tokenLifetime).Unix(),
		"tid":                tid.String(),
		"oid":                oid,
		"sub":                base64.RawURLEncoding.EncodeToString(sum[:]),
		"preferred_username": persona.LoginHint,
		"name":               persona.Name,
		"ver":                "2.0",
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	if len(persona.Roles) > 0 {
		claims["roles"] = slices.Clone(persona.Roles)
	}
	header := map[string]any{"alg": "RS256", "typ": "JWT", "kid": p.kid}
	key := p.signingKey

	switch fault {
	case WrongIssuer:
		claims["iss"] = "https://login.microsoftonline.com/" + tid.String() + "/v2.0"
	case WrongAudience:
		claims["aud"] = graphAppID
	case ForeignTenant:
		claims["tid"] = ForeignTenantID.String()
		claims["iss"] = p.Issuer(ForeignTenantID)
	case IssuerTenantMismatch:
		claims["iss"] = p.Issuer(ContosoTenant)
		claims["tid"] = FabrikamTenant.String()
	case Expired:
		claims["iat"] = now.Add(-70 * time.Minute).Unix()
		claims["nbf"] = now.Add(-70 * time.Minute).Unix()
		claims["exp"] = now.Add(-10 * time.Minute).Unix()
	case NotYetValid:
		claims["nbf"] = now.Add(time.Hour).Unix()
		claims["exp"] = now.Add(2 * time.Hour).Unix()
	case WrongNonce:
		claims["nonce"] = randomToken()
	case MissingNonce:
		delete(claims, "nonce")
	case AlgNone:
		header = map[string]any{"alg": "none", "typ": "JWT"}
	case HS256WithPublicKey:
		header["alg"] = "HS256"
	case UnknownKid:
		header["kid"] = "unknown-" + p.kid
	case ForeignKey:
		key = p.foreignKey()
	case HugePayload:
		claims["filler"] = strings.Repeat("A", 1<<20)
	case MissingOID:
		delete(claims, "oid")
	case RolesMissing:
		delete(claims, "roles")
	case RolesEmpty:
		claims["roles"] = []string{}
	case RolesWrongCase:
		claims["roles"] = []string{"portal.admin"}
	case RolesPadded:
		claims["roles"] = []string{" Portal.Admin"}
	case RolesUnknown:
		claims["roles"] = []string{"Portal.Superuser"}
	case StaleAuthTime:
		claims["auth_time"] = now.Add(-2 * time.Hour).Unix()
	case MissingAuthTime:
		delete(claims, "auth_time")
	}

	signingInput := encodeSegment(header) + "." + encodeSegment(claims)
	var sig []byte
	switch fault {
	case AlgNone:
		sig = nil
	case HS256WithPublicKey:
		mac := hmac.New(sha256.New, p.publicKeyPEM())
		mac.Write([]byte(signingInput))
		sig = mac.Sum(nil)
	default:
		sig = signRS256(key, signingInput)
	}
	token := signingInput + "." + base64.RawURLEncoding.EncodeToString(sig)
	if fault == Truncated {
		token = token[:len(token)-16]
	}
	return token
}

// publicKeyPEM is the signing key's public part as a PEM "PUBLIC KEY" block:
// the bytes a confused verifier would use as an HMAC secret.
func (p *IdP) publicKeyPEM() []byte {
	der, err := x509.MarshalPKIXPublicKey(&p.signingKey.PublicKey)
	if err != nil {
		panic(err) // an RSA public key always marshals
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// signRS256 signs with RSASSA-PKCS1-v1_5 over SHA-256, as JWS RS256 defines.
func signRS256(key *rsa.PrivateKey, signingInput string) []byte {
	digest := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	if err != nil {
		panic(err) // only for a key too small for SHA-256, which a 2048-bit key is not
	}
	return sig
}

func encodeSegment(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // maps of strings, numbers and string slices always marshal
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
