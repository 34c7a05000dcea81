package acs

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// ACS's HMAC-SHA256 request signing, as the Azure SDKs for JavaScript, .NET,
// Python and Java implement it (see testdata/acs-hmac-vectors.json):
//
//	contentHash  = base64(sha256(body))
//	stringToSign = METHOD "\n" pathAndQuery "\n" x-ms-date ";" host ";" contentHash
//	signature    = base64(HMAC-SHA256(accessKey, stringToSign))
//
// The emulator verifies with its own code on purpose: if both sides shared one
// function, a wrong string-to-sign would pass every test here and fail only
// against Azure.

// emptyContentHash is ContentHash of an empty body (every GET and DELETE).
const emptyContentHash = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

// ContentHash returns base64(SHA-256(body)), the x-ms-content-sha256 header.
func ContentHash(body []byte) string {
	if len(body) == 0 {
		return emptyContentHash
	}
	sum := sha256.Sum256(body)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// StringToSign builds the string that the signature covers. It refuses any
// component that could make the string ambiguous — a method that is not an
// upper-case token, a path that is not an absolute request URI, a line break
// or ';' where the format uses them as separators — so that two different
// requests can never share one signature.
func StringToSign(method, pathAndQuery, date, host, contentHash string) (string, error) {
	switch {
	case method == "" || strings.IndexFunc(method, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0:
		return "", fmt.Errorf("acs: method %q is not an upper-case token", method)
	case !strings.HasPrefix(pathAndQuery, "/") || hasControlOrSpace(pathAndQuery):
		return "", errors.New("acs: path and query must start with / and contain no spaces or control characters")
	case date == "" || hasControl(date) || strings.Contains(date, ";"):
		return "", errors.New("acs: date is empty or contains ';' or a control character")
	case host == "" || hasControlOrSpace(host) || strings.Contains(host, ";"):
		return "", errors.New("acs: host is empty or contains ';', a space or a control character")
	case contentHash == "" || hasControlOrSpace(contentHash) || strings.Contains(contentHash, ";"):
		return "", errors.New("acs: content hash is empty or malformed")
	}
	return method + "\n" + pathAndQuery + "\n" + date + ";" + host + ";" + contentHash, nil
}

// Sign returns base64(HMAC-SHA256(key, stringToSign)).
func Sign(key []byte, stringToSign string) string {
	return sign(hmac.New(sha256.New, key), stringToSign)
}

func sign(m hash.Hash, stringToSign string) string {
	m.Reset()
	io.WriteString(m, stringToSign)
	var sum [sha256.Size]byte
	return base64.StdEncoding.EncodeToString(m.Sum(sum[:0]))
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0
}

func hasControlOrSpace(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r <= 0x20 || r == 0x7f }) >= 0
}

// hmacPolicy signs every attempt afresh: it sits after the retry policy, so a
// retry gets a new x-ms-date (ACS refuses stale dates) and a hash of exactly
// the bytes sent.
type hmacPolicy struct {
	// macs holds HMAC states keyed with the access key: keying one hashes
	// the key pads, which is most of the cost of signing a small request.
	macs sync.Pool
	now  func() time.Time
}

func newHMACPolicy(key []byte, now func() time.Time) *hmacPolicy {
	key = bytes.Clone(key)
	p := &hmacPolicy{now: now}
	p.macs.New = func() any { return hmac.New(sha256.New, key) }
	return p
}

func (p *hmacPolicy) Do(req *policy.Request) (*http.Response, error) {
	raw := req.Raw()
	var body []byte
	if b := req.Body(); b != nil {
		var err error
		if body, err = io.ReadAll(b); err != nil {
			return nil, fmt.Errorf("acs: reading request body to sign it: %w", err)
		}
		if _, err := b.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("acs: rewinding request body after signing: %w", err)
		}
	}
	host := raw.Host
	if host == "" {
		host = raw.URL.Host
	}
	bodyHash := ContentHash(body)
	date := p.now().UTC().Format(http.TimeFormat)
	sts, err := StringToSign(raw.Method, raw.URL.RequestURI(), date, host, bodyHash)
	if err != nil {
		return nil, err
	}
	// Canonical keys written directly: Header.Set would canonicalise them on
	// every attempt, a measurable part of signing.
	raw.Header["X-Ms-Date"] = []string{date}
	raw.Header["X-Ms-Content-Sha256"] = []string{bodyHash}
	m := p.macs.Get().(hash.Hash)
	sig := sign(m, sts)
	p.macs.Put(m)
	raw.Header["Authorization"] = []string{"HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=" + sig}
	return req.Next()
}
