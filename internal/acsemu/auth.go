package acsemu

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"
)

// Messages of ACS's 401 Denied answers.
const (
	msgDenied       = "Denied by the resource provider."
	msgHashMismatch = "Request 'x-ms-content-sha256' differs from generated content hash."
)

// hmacSignedHeaders are the SignedHeaders lists the emulator accepts, each
// with the header that carries its date: the one every Azure SDK sends for
// ACS, and the one Microsoft's own sample for this API sends (a plain Date
// header). Accepting others could hide a client bug that Azure would refuse.
var hmacSignedHeaders = map[string]string{
	"x-ms-date;host;x-ms-content-sha256": "x-ms-date",
	"date;host;x-ms-content-sha256":      "Date",
}

// maxDateSkew is how far x-ms-date may be from the emulator's clock, so that a
// captured request cannot be replayed later.
const maxDateSkew = 15 * time.Minute

// authVerdict is the outcome of authentication.
type authVerdict struct {
	// kind is what the request log records: "hmac" or "bearer" when
	// authenticated, "none" when there was no Authorization header, "bad"
	// when there was one and it failed.
	kind string
	// deny is the message of the 401, or "" when authenticated.
	deny string
}

// authenticate checks the Authorization header against the access key
// (HMAC-SHA256) or the bearer verifier. bodyHash is base64(sha256(body)) of
// the body actually received. It is this package's own implementation of
// the scheme, written from the spec, deliberately not shared with the client.
// x-ms-date is checked for HMAC only: azcore's bearer policy sends none, and
// a bearer token carries its own expiry.
func (e *Emulator) authenticate(r *http.Request, bodyHash string) authVerdict {
	header := r.Header.Get("Authorization")
	if header == "" {
		return authVerdict{kind: "none", deny: msgDenied}
	}
	scheme, rest, _ := strings.Cut(header, " ")
	var deny string
	var kind string
	switch {
	case strings.EqualFold(scheme, "HMAC-SHA256"):
		kind, deny = "hmac", e.verifyHMAC(r, rest, bodyHash)
	case strings.EqualFold(scheme, "Bearer"):
		kind, deny = "bearer", e.verifyBearerToken(r.Context(), strings.TrimSpace(rest))
	default:
		deny = msgDenied
	}
	if deny != "" {
		return authVerdict{kind: "bad", deny: deny}
	}
	return authVerdict{kind: kind}
}

// verifyHMAC checks an "HMAC-SHA256 SignedHeaders=…&Signature=…" credential
// and returns "" or the 401 message. The body hash is compared before the
// signature, so a body changed in transit gets ACS's specific message even
// when the signature over the claimed hash is right. The x-ms-date check
// (or Date) check bounds replay. The signature is accepted for the Host as sent or without
// its port, because the Java SDK signs the latter.
func (e *Emulator) verifyHMAC(r *http.Request, credential, bodyHash string) string {
	if e.accessKey == nil {
		return msgDenied
	}
	signedHeaders, signature, ok := parseHMACCredential(credential)
	dateHeader, known := hmacSignedHeaders[strings.ToLower(signedHeaders)]
	if !ok || !known {
		return msgDenied
	}
	date := r.Header.Get(dateHeader)
	t, err := time.Parse(http.TimeFormat, date)
	if err != nil {
		return msgDenied
	}
	if skew := e.now().Sub(t); skew > maxDateSkew || skew < -maxDateSkew {
		return msgDenied
	}
	claimedHash := r.Header.Get("x-ms-content-sha256")
	if claimedHash == "" {
		return msgDenied
	}
	if claimedHash != bodyHash {
		return msgHashMismatch
	}
	got, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return msgDenied
	}
	pathAndQuery := r.RequestURI
	if pathAndQuery == "" {
		pathAndQuery = r.URL.RequestURI()
	}
	hosts := []string{r.Host}
	if bare := hostWithoutPort(r.Host); bare != r.Host {
		hosts = append(hosts, bare)
	}
	for _, host := range hosts {
		want := hmacSignature(e.accessKey, stringToSign(r.Method, pathAndQuery, date, host, claimedHash))
		if hmac.Equal(got, want) {
			return ""
		}
	}
	return msgDenied
}

// parseHMACCredential splits "SignedHeaders=<list>&Signature=<base64>".
// Parameter names are case-insensitive; each must appear exactly once.
func parseHMACCredential(credential string) (signedHeaders, signature string, ok bool) {
	var haveHeaders, haveSignature bool
	for param := range strings.SplitSeq(strings.TrimSpace(credential), "&") {
		name, value, found := strings.Cut(param, "=")
		if !found {
			return "", "", false
		}
		switch {
		case strings.EqualFold(name, "SignedHeaders") && !haveHeaders:
			signedHeaders, haveHeaders = value, true
		case strings.EqualFold(name, "Signature") && !haveSignature:
			signature, haveSignature = value, true
		default:
			return "", "", false
		}
	}
	return signedHeaders, signature, haveHeaders && haveSignature && signature != ""
}

// stringToSign is ACS's: METHOD \n pathAndQuery \n date;host;contentHash.
func stringToSign(method, pathAndQuery, date, host, contentHash string) string {
	return method + "\n" + pathAndQuery + "\n" + date + ";" + host + ";" + contentHash
}

// hmacSignature is the raw HMAC-SHA256 of stringToSign under key.
func hmacSignature(key []byte, stringToSign string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(stringToSign))
	return mac.Sum(nil)
}

// hostWithoutPort drops a trailing ":port" (keeping an IPv6 literal's
// brackets), preserving case: the form the Java SDK signs.
func hostWithoutPort(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && i > strings.LastIndexByte(host, ']') {
		return host[:i]
	}
	return host
}

// verifyBearerToken returns "" if Config.VerifyBearer accepts the token.
func (e *Emulator) verifyBearerToken(ctx context.Context, token string) string {
	if e.verifyBearer == nil || token == "" {
		return msgDenied
	}
	if err := e.verifyBearer(ctx, token); err != nil {
		return msgDenied
	}
	return ""
}

// StaticTokens returns a Config.VerifyBearer that accepts exactly the given
// tokens (empty strings are ignored) and refuses every other, comparing in
// constant time. It is for dev mode and tests, where no real Entra token can
// be checked.
func StaticTokens(tokens ...string) func(ctx context.Context, token string) error {
	known := make([][]byte, 0, len(tokens))
	for _, t := range tokens {
		if t != "" {
			known = append(known, []byte(t))
		}
	}
	return func(_ context.Context, token string) error {
		match := 0
		for _, k := range known {
			match |= subtle.ConstantTimeCompare(k, []byte(token))
		}
		if match == 1 {
			return nil
		}
		return errors.New("acsemu: unknown bearer token")
	}
}
