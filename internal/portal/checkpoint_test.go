package portal_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storetest"
)

var hashA = strings.Repeat("ab", 32)

func TestParseAuditHead(t *testing.T) {
	if h, err := portal.ParseAuditHead(" 4812:" + strings.ToUpper(hashA) + " "); err != nil || h.Seq != 4812 || h.Hash != hashA || h.String() != "4812:"+hashA {
		t.Errorf("good head: %+v, %v", h, err)
	}
	for _, bad := range []string{"", "4812", "4812:", ":" + hashA, "0:" + hashA, "-1:" + hashA, "x:" + hashA, "4812:" + hashA[:63], "4812:" + hashA + "00", "4812:" + strings.Repeat("zz", 32), "4,812:" + hashA} {
		if _, err := portal.ParseAuditHead(bad); portal.ErrorCode(err) != portal.EINVALID {
			t.Errorf("%q: %v, want EINVALID", bad, err)
		}
	}
}

// A checkpoint verifies with the signer's public key, given as the public
// PEM or the private key file; any field changed, or another key, does not.
func TestCheckpointSignatures(t *testing.T) {
	s, private := storetest.NewKey(t)
	c := s.Sign(portal.AuditCheckpoint{Number: 12, Seq: 4812, Hash: hashA, Time: time.Date(2026, 12, 7, 14, 0, 0, 123456789, time.UTC)})
	if c.KeyID != s.KeyID() || len(c.KeyID) != 16 || !c.Time.Equal(time.Date(2026, 12, 7, 14, 0, 0, 123e6, time.UTC)) {
		t.Errorf("signed: %+v", c)
	}
	for name, text := range map[string][]byte{"public": s.PublicPEM(), "private": private} {
		keys, err := portal.ParseCheckpointKeys(text)
		if err != nil || keys.Verify(c) != "" {
			t.Errorf("%s key: %v, %q", name, err, keys.Verify(c))
		}
	}
	keys := s.Public()
	for name, change := range map[string]func(*portal.AuditCheckpoint){
		"number":    func(c *portal.AuditCheckpoint) { c.Number++ },
		"seq":       func(c *portal.AuditCheckpoint) { c.Seq-- },
		"hash":      func(c *portal.AuditCheckpoint) { c.Hash = strings.Repeat("0", 64) },
		"time":      func(c *portal.AuditCheckpoint) { c.Time = c.Time.Add(time.Millisecond) },
		"signature": func(c *portal.AuditCheckpoint) { c.Signature = append([]byte{}, c.Signature...); c.Signature[0] ^= 1 },
	} {
		bad := c
		change(&bad)
		if why := keys.Verify(bad); !strings.Contains(why, "bad signature") {
			t.Errorf("%s changed: %q", name, why)
		}
	}
	other := storetest.NewSigner(t)
	if why := other.Public().Verify(c); !strings.Contains(why, "signed by key "+c.KeyID) {
		t.Errorf("another key: %q", why)
	}
	// Two keys in one file (a key rotated): both verify.
	both, err := portal.ParseCheckpointKeys(append(other.PublicPEM(), s.PublicPEM()...))
	if err != nil || len(both) != 2 || both.Verify(c) != "" || both.Verify(other.Sign(c)) != "" {
		t.Errorf("two keys: %v %d", err, len(both))
	}
}

func TestCheckpointKeysRefused(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	for name, text := range map[string][]byte{"empty": nil, "garbage": []byte("not a key"), "rsa": rsaPEM,
		"truncated": []byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----\n")} {
		if _, err := portal.ParseCheckpointSigner(text); portal.ErrorCode(err) != portal.EINVALID {
			t.Errorf("signer from %s: %v", name, err)
		}
		if _, err := portal.ParseCheckpointKeys(text); portal.ErrorCode(err) != portal.EINVALID {
			t.Errorf("keys from %s: %v", name, err)
		}
	}
}

// A checkpoint is due for the first row at once, then every Rows rows or
// after Every; never for a head already anchored, nor for a log that no
// longer matches its newest checkpoint.
func TestCheckpointPolicy(t *testing.T) {
	p := portal.CheckpointPolicy{Rows: 1000, Every: 5 * time.Minute}
	t0 := time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC)
	newest := portal.AuditCheckpoint{Number: 3, Seq: 2000, Hash: hashA, Time: t0}
	at := func(seq int64) portal.AuditAnchor {
		return portal.AuditAnchor{Head: portal.AuditHead{Seq: seq, Hash: "h"}, Newest: newest, NewestRowHash: hashA}
	}
	for _, tc := range []struct {
		name string
		a    portal.AuditAnchor
		now  time.Time
		due  bool
	}{
		{"empty log", portal.AuditAnchor{}, t0, false},
		{"first row", portal.AuditAnchor{Head: portal.AuditHead{Seq: 1, Hash: "h"}}, t0, true},
		{"nothing new", at(2000), t0.Add(time.Hour), false},
		{"999 rows", at(2999), t0.Add(time.Minute), false},
		{"1,000 rows", at(3000), t0.Add(time.Minute), true},
		{"one row, interval not over", at(2001), t0.Add(5*time.Minute - time.Millisecond), false},
		{"one row, interval over", at(2001), t0.Add(5 * time.Minute), true},
		{"rows removed below it", portal.AuditAnchor{Head: portal.AuditHead{Seq: 1990}, Newest: newest}, t0.Add(time.Hour), false},
		{"re-hashed and grown", portal.AuditAnchor{Head: portal.AuditHead{Seq: 3000}, Newest: newest, NewestRowHash: "other"}, t0.Add(time.Hour), false},
	} {
		c, due := p.Next(tc.a, tc.now)
		if due != tc.due || due && (c.Number != tc.a.Newest.Number+1 || c.Head() != tc.a.Head || !c.Time.Equal(tc.now)) {
			t.Errorf("%s: %+v %v, want due %v", tc.name, c, due, tc.due)
		}
	}
	if why := (portal.AuditAnchor{Head: portal.AuditHead{Seq: 1990}, Newest: newest}).Tampered(); why != "checkpoint 3 signed head row 2,000; the log ends at row 1,990: 10 rows missing" {
		t.Errorf("truncated: %q", why)
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 4812: "4,812", 1234567: "1,234,567", -4812: "-4,812"} {
		if got := portal.Count(n); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}
