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
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
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
	var buf [256]byte // on the stack: the string is the one allocation
	b, err := appendStringToSign(buf[:0], method, pathAndQuery, "", date, host, contentHash)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// appendStringToSign is StringToSign appending to dst, so that the policy can
// build the string in a reused buffer and hash it without a string copy. The
// path and query come apart, as a URL holds them; a non-empty query is
// joined to the path with '?'.
func appendStringToSign(dst []byte, method, path, query, date, host, contentHash string) ([]byte, error) {
	switch {
	case method == "" || !isUpperToken(method):
		return dst, fmt.Errorf("acs: method %q is not an upper-case token", method)
	case !strings.HasPrefix(path, "/") || hasControlOrSpace(path) || hasControlOrSpace(query):
		return dst, errors.New("acs: path and query must start with / and contain no spaces or control characters")
	case date == "" || hasControl(date) || strings.IndexByte(date, ';') >= 0:
		return dst, errors.New("acs: date is empty or contains ';' or a control character")
	case host == "" || hasControlOrSpace(host) || strings.IndexByte(host, ';') >= 0:
		return dst, errors.New("acs: host is empty or contains ';', a space or a control character")
	case contentHash == "" || hasControlOrSpace(contentHash) || strings.IndexByte(contentHash, ';') >= 0:
		return dst, errors.New("acs: content hash is empty or malformed")
	}
	dst = append(dst, method...)
	dst = append(dst, '\n')
	dst = append(dst, path...)
	if query != "" {
		dst = append(dst, '?')
		dst = append(dst, query...)
	}
	dst = append(dst, '\n')
	dst = append(dst, date...)
	dst = append(dst, ';')
	dst = append(dst, host...)
	dst = append(dst, ';')
	dst = append(dst, contentHash...)
	return dst, nil
}

// Sign returns base64(HMAC-SHA256(key, stringToSign)).
func Sign(key []byte, stringToSign string) string {
	m := hmac.New(sha256.New, key)
	io.WriteString(m, stringToSign)
	var sum [sha256.Size]byte
	return base64.StdEncoding.EncodeToString(m.Sum(sum[:0]))
}

// The checks below look at bytes, not runes: every byte of a multi-byte UTF-8
// sequence is 0x80 or above, so a byte test finds exactly the ASCII runes a
// rune test would, and invalid UTF-8 (which a rune test sees as U+FFFD)
// matches neither.

func isUpperToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

func hasControlOrSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

// hmacPolicy signs every attempt afresh: it sits after the retry policy, so a
// retry gets a new x-ms-date (ACS refuses stale dates) and a hash of exactly
// the bytes sent.
type hmacPolicy struct {
	// signers hold HMAC states keyed with the access key (keying one hashes
	// the key pads, which is most of the cost of signing a small request)
	// and a buffer for the string to sign.
	signers sync.Pool
	now     func() time.Time
	// date caches the last x-ms-date: it changes once a second, and
	// formatting it is a measurable part of signing.
	date atomic.Pointer[stampedDate]
}

type signer struct {
	mac hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

type stampedDate struct {
	unix int64
	text string
}

const authorizationPrefix = "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature="

func newHMACPolicy(key []byte, now func() time.Time) *hmacPolicy {
	key = bytes.Clone(key)
	p := &hmacPolicy{now: now}
	p.signers.New = func() any { return &signer{mac: hmac.New(sha256.New, key), buf: make([]byte, 0, 256)} }
	return p
}

// xMsDate returns t as an x-ms-date (RFC 1123 in GMT). The text depends on
// the Unix second alone, so the last one is reused within its second.
func (p *hmacPolicy) xMsDate(t time.Time) string {
	sec := t.Unix()
	if d := p.date.Load(); d != nil && d.unix == sec {
		return d.text
	}
	d := &stampedDate{unix: sec, text: t.UTC().Format(http.TimeFormat)}
	p.date.Store(d)
	return d.text
}

func (p *hmacPolicy) Do(req *policy.Request) (*http.Response, error) {
	raw := req.Raw()
	bodyHash := emptyContentHash
	if b := req.Body(); b != nil {
		body, err := io.ReadAll(b)
		if err != nil {
			return nil, fmt.Errorf("acs: reading request body to sign it: %w", err)
		}
		if _, err := b.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("acs: rewinding request body after signing: %w", err)
		}
		bodyHash = ContentHash(body)
	}
	host := raw.Host
	if host == "" {
		host = raw.URL.Host
	}
	date := p.xMsDate(p.now())

	s := p.signers.Get().(*signer)
	path, query := splitRequestURI(raw.URL)
	sts, err := appendStringToSign(s.buf[:0], raw.Method, path, query, date, host, bodyHash)
	if err != nil {
		p.signers.Put(s)
		return nil, err
	}
	s.buf = sts[:0]
	s.mac.Reset()
	s.mac.Write(sts)
	var auth [len(authorizationPrefix) + 44]byte // 44: base64 of 32 bytes
	a := append(auth[:0], authorizationPrefix...)
	a = base64.StdEncoding.AppendEncode(a, s.mac.Sum(s.sum[:0]))
	p.signers.Put(s)

	// Canonical keys written directly, and the three values in one
	// allocation: Header.Set would canonicalise the keys on every attempt.
	vals := []string{date, bodyHash, string(a)}
	raw.Header["X-Ms-Date"] = vals[0:1:1]
	raw.Header["X-Ms-Content-Sha256"] = vals[1:2:2]
	raw.Header["Authorization"] = vals[2:3:3]
	return req.Next()
}

// splitRequestURI returns u.RequestURI() as the path before '?' and the query
// after it, without joining them into a new string. For a URL with an opaque
// part or a forced empty query it returns RequestURI() whole.
func splitRequestURI(u *url.URL) (path, query string) {
	if u.Opaque != "" || u.ForceQuery {
		return u.RequestURI(), ""
	}
	// What RequestURI does in this case; EscapedPath returns Path itself
	// when nothing in it needs escaping.
	if path = u.EscapedPath(); path == "" {
		path = "/"
	}
	return path, u.RawQuery
}
