package portal

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The hash chain alone shows a row changed, removed or reordered in the
// middle of the log, but not rows removed from its end, a row appended by
// hand, nor a log re-hashed from some row on: each of those leaves a chain
// that follows from row to row. A checkpoint fixes the head: a statement
// "row Seq has hash Hash", signed with a key the database does not hold,
// so whoever can change the database cannot make a new one. Since every
// row's hash covers the row before, a checkpoint that still matches fixes
// every row up to its Seq.

// AuditHead is a row of the chain as an outside system holds it: its Seq
// and hash.
type AuditHead struct {
	Seq  int64
	Hash string
}

// String is SEQ:HASH, the form `portal audit verify -expect-head` takes.
func (h AuditHead) String() string { return strconv.FormatInt(h.Seq, 10) + ":" + h.Hash }

// ParseAuditHead reads SEQ:HASH (a row number of 1 or more and a
// SHA-256 in hex, as verify, the JSON log and the CSV show them); an
// EINVALID error says what is wrong.
func ParseAuditHead(s string) (AuditHead, error) {
	seq, hash, ok := strings.Cut(strings.TrimSpace(s), ":")
	n, err := strconv.ParseInt(seq, 10, 64)
	hash = strings.ToLower(hash)
	if _, herr := hex.DecodeString(hash); !ok || err != nil || n < 1 || len(hash) != 64 || herr != nil {
		return AuditHead{}, Invalid("", "A head is SEQ:HASH: the row number, a colon and its 64-character hash, like 4812:6e5f…")
	}
	return AuditHead{Seq: n, Hash: hash}, nil
}

// AuditCheckpoint is a signed statement of the chain's head.
type AuditCheckpoint struct {
	// Number is 1, 2, 3 … in the order checkpoints are written; set before
	// signing, so that one removed from between two others leaves a gap.
	Number int64
	Seq    int64  // the head row it anchors
	Hash   string // that row's hash
	// Time is when it was signed, UTC, to the millisecond.
	Time      time.Time
	KeyID     string // which key signed it: CheckpointKeyID of its public half
	Signature []byte // Ed25519 over SignedText
}

// Head is the row the checkpoint anchors.
func (c AuditCheckpoint) Head() AuditHead { return AuditHead{Seq: c.Seq, Hash: c.Hash} }

// SignedText is what the signature covers: every field but the signature,
// in a fixed text form. Changing it makes every stored signature bad:
// add a new version instead.
func (c AuditCheckpoint) SignedText() []byte {
	return fmt.Appendf(nil, "teams-phone-access-portal audit checkpoint v1\nnumber %d\nseq %d\nhash %s\ntime %s\nkey %s\n",
		c.Number, c.Seq, c.Hash, c.Time.UTC().Format(AuditTimeFormat), c.KeyID)
}

// AuditAnchor is the chain's head beside its newest checkpoint, read
// together.
type AuditAnchor struct {
	Head   AuditHead       // Seq 0: the log is empty
	Newest AuditCheckpoint // Number 0: none yet
	// NewestRowHash is the hash of the row Newest anchors as the log holds
	// it now ("": the log has no such row).
	NewestRowHash string
}

// Tampered says why the log no longer matches its newest checkpoint ("":
// it does). The portal then signs nothing more: a new checkpoint would
// anchor what was tampered with.
func (a AuditAnchor) Tampered() string {
	switch {
	case a.Newest.Number == 0:
		return ""
	case a.Head.Seq < a.Newest.Seq || a.NewestRowHash == "":
		return fmt.Sprintf("checkpoint %d signed head row %s; the log ends at row %s: %s missing",
			a.Newest.Number, Count(a.Newest.Seq), Count(a.Head.Seq), Rows(a.Newest.Seq-a.Head.Seq))
	case a.NewestRowHash != a.Newest.Hash:
		return fmt.Sprintf("checkpoint %d signed row %s with hash %s; the log's row %s has hash %s: the log was re-hashed",
			a.Newest.Number, Count(a.Newest.Seq), a.Newest.Hash, Count(a.Newest.Seq), a.NewestRowHash)
	}
	return ""
}

// CheckpointPolicy says when the head is due a checkpoint: once Rows rows
// were appended since the newest one, or Every has passed since it was
// signed and any row was appended; the first as soon as the log has a row.
type CheckpointPolicy struct {
	Rows  int64
	Every time.Duration
}

// Next returns the checkpoint due for a at now, unsigned, numbered after
// a's newest; false when none is due, or when the log no longer matches
// its newest checkpoint (see AuditAnchor.Tampered).
func (p CheckpointPolicy) Next(a AuditAnchor, now time.Time) (AuditCheckpoint, bool) {
	if a.Head.Seq <= a.Newest.Seq || a.Tampered() != "" {
		return AuditCheckpoint{}, false
	}
	due := a.Newest.Number == 0 || a.Head.Seq-a.Newest.Seq >= p.Rows || now.Sub(a.Newest.Time) >= p.Every
	return AuditCheckpoint{Number: a.Newest.Number + 1, Seq: a.Head.Seq, Hash: a.Head.Hash,
		Time: now.UTC().Truncate(time.Millisecond)}, due
}

// AuditCheckpoints is where checkpoints are kept: beside the log, since
// none can be forged without the key; a deleted one is found by its
// number, or, for the newest, by the head outside systems hold.
type AuditCheckpoints interface {
	// AuditAnchor reads the head and the newest checkpoint, from one
	// snapshot, without waiting for appends.
	AuditAnchor(ctx context.Context) (AuditAnchor, error)
	// CheckpointAudit reads the anchor holding the audit lock (no row is
	// appended meanwhile, and of instances doing this at once the later
	// sees the earlier's checkpoint), passes it to next, and appends the
	// checkpoint next returns with true, which must be numbered after the
	// newest and anchor the head (else EINVALID, nothing written). It
	// returns that checkpoint and whether one was appended; an error from
	// next appends nothing.
	CheckpointAudit(ctx context.Context, next func(AuditAnchor) (AuditCheckpoint, bool, error)) (AuditCheckpoint, bool, error)
	// WalkCheckpoints calls fn for every checkpoint in Number order, a
	// chunk at a time, holding nothing of the database while fn runs; an
	// error from fn stops it and is returned as is.
	WalkCheckpoints(ctx context.Context, fn func(AuditCheckpoint) error) error
}

// CheckpointSigner signs checkpoints with an Ed25519 private key.
type CheckpointSigner struct {
	key ed25519.PrivateKey
	id  string
}

// NewCheckpointKey returns a new Ed25519 private key in PEM (PKCS #8), as
// `openssl genpkey -algorithm ed25519` writes one.
func NewCheckpointKey() ([]byte, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseCheckpointSigner reads an Ed25519 private key in PEM (PKCS #8);
// an EINVALID error says what the text holds instead.
func ParseCheckpointSigner(pemText []byte) (CheckpointSigner, error) {
	for rest := pemText; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return CheckpointSigner{}, Invalid("", "It holds no Ed25519 private key in PEM (make one with: openssl genpkey -algorithm ed25519).")
		}
		if b.Type != "PRIVATE KEY" {
			continue
		}
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if key, ok := k.(ed25519.PrivateKey); err == nil && ok {
			return CheckpointSigner{key: key, id: CheckpointKeyID(key.Public().(ed25519.PublicKey))}, nil
		}
		return CheckpointSigner{}, Invalid("", "Its private key is not an Ed25519 key (make one with: openssl genpkey -algorithm ed25519).")
	}
}

// KeyID is CheckpointKeyID of the signer's public key.
func (s CheckpointSigner) KeyID() string { return s.id }

// Public returns the keys that verify what s signs.
func (s CheckpointSigner) Public() CheckpointKeys {
	return CheckpointKeys{s.id: s.key.Public().(ed25519.PublicKey)}
}

// PublicPEM is the public key in PEM, for a verifier that should hold no
// secret (`openssl pkey -pubout` prints the same).
func (s CheckpointSigner) PublicPEM() []byte {
	der, err := x509.MarshalPKIXPublicKey(s.key.Public())
	if err != nil {
		panic(fmt.Sprintf("portal: an Ed25519 public key: %v", err)) // cannot fail for Ed25519
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// Sign returns c signed: KeyID and Signature set.
func (s CheckpointSigner) Sign(c AuditCheckpoint) AuditCheckpoint {
	c.Time, c.KeyID = c.Time.UTC().Truncate(time.Millisecond), s.id
	c.Signature = ed25519.Sign(s.key, c.SignedText())
	return c
}

// CheckpointKeyID names an Ed25519 public key: the first 16 hex digits of
// its SHA-256.
func CheckpointKeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// CheckpointKeys are the public keys a verifier accepts, by key ID.
type CheckpointKeys map[string]ed25519.PublicKey

// ParseCheckpointKeys reads every Ed25519 key in PEM text: public keys
// (PKIX) or private keys (PKCS #8), whose public half is taken. Text with
// none, or with a key of another kind, is EINVALID.
func ParseCheckpointKeys(pemText []byte) (CheckpointKeys, error) {
	keys := CheckpointKeys{}
	for rest := pemText; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		var pub ed25519.PublicKey
		switch b.Type {
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(b.Bytes)
			p, ok := k.(ed25519.PublicKey)
			if err != nil || !ok {
				return nil, Invalid("", "A public key in it is not an Ed25519 key.")
			}
			pub = p
		case "PRIVATE KEY":
			s, err := ParseCheckpointSigner(pem.EncodeToMemory(b))
			if err != nil {
				return nil, err
			}
			pub = s.key.Public().(ed25519.PublicKey)
		default:
			continue
		}
		keys[CheckpointKeyID(pub)] = pub
	}
	if len(keys) == 0 {
		return nil, Invalid("", "It holds no Ed25519 key in PEM (PUBLIC KEY or PRIVATE KEY).")
	}
	return keys, nil
}

// Verify says why c's signature is not good ("": it is).
func (k CheckpointKeys) Verify(c AuditCheckpoint) string {
	pub, ok := k[c.KeyID]
	switch {
	case !ok:
		return fmt.Sprintf("was signed by key %s, which is not one of the keys given", c.KeyID)
	case !ed25519.Verify(pub, c.SignedText(), c.Signature):
		return "has a bad signature: it was forged or changed after it was signed"
	}
	return ""
}

// IDs lists the key IDs, for messages.
func (k CheckpointKeys) IDs() string {
	ids := make([]string, 0, len(k))
	for id := range k {
		ids = append(ids, id)
	}
	return strings.Join(ids, ", ")
}

// AnchorCheck checks the audit log against its checkpoints and, if given,
// a head an outside system holds. Feed it every checkpoint in Number order
// (Checkpoint), then every row in Seq order (Check), then call Finish.
type AnchorCheck struct {
	ChainCheck
	// Keys verify the checkpoints' signatures; nil: signatures are not
	// checked, and a checkpoint proves nothing (anyone can write one).
	Keys CheckpointKeys
	// Expect is a head an outside system holds (nil: none): the log must
	// have that row with that hash.
	Expect *AuditHead

	Checkpoints int64 // how many were read
	// Anchor is the newest checkpoint whose row was found with its hash,
	// the chain intact up to it (Number 0: none).
	Anchor AuditCheckpoint
	// Unanchored is how many rows follow Anchor, and UnanchoredSince when
	// the first of them was written: rows no checkpoint covers yet. Not a
	// problem: the newest rows always wait for the next checkpoint.
	Unanchored      int64
	UnanchoredSince time.Time
	// Problems says what was found besides a broken chain (ChainCheck's
	// Problem): rows missing from the end, a re-hashed log, bad or missing
	// checkpoints, a head held outside that the log lacks.
	Problems []string

	anchors    []AuditCheckpoint // the checkpoints to match rows against, by Seq
	next       int               // anchors[next] is the next to meet
	lastNumber int64
	lastSeq    int64 // the last row's Seq, whether or not the chain held
	rehashed   bool
	expectMet  bool
}

// Checkpoint takes the next checkpoint, in Number order.
func (a *AnchorCheck) Checkpoint(c AuditCheckpoint) {
	a.Checkpoints++
	if c.Number > a.lastNumber+1 {
		a.Problems = append(a.Problems, fmt.Sprintf("checkpoint %s is missing (deleted): %s",
			span(a.lastNumber+1, c.Number-1), around(a.lastNumber, c.Number)))
	}
	a.lastNumber = max(a.lastNumber, c.Number)
	if a.Keys != nil {
		if why := a.Keys.Verify(c); why != "" {
			a.Problems = append(a.Problems, fmt.Sprintf("checkpoint %d (row %s) %s", c.Number, Count(c.Seq), why))
			return
		}
	}
	if n := len(a.anchors); n > 0 && c.Seq <= a.anchors[n-1].Seq {
		a.Problems = append(a.Problems, fmt.Sprintf("checkpoint %d anchors row %s, not a row after checkpoint %d's row %s: checkpoints were changed",
			c.Number, Count(c.Seq), a.anchors[n-1].Number, Count(a.anchors[n-1].Seq)))
		return
	}
	c.Signature = nil // checked: what is kept is what rows are matched against
	a.anchors = append(a.anchors, c)
}

// Check takes the next row, in Seq order, and reports whether the chain
// is still intact.
func (a *AnchorCheck) Check(e AuditEvent) bool {
	intact := a.ChainCheck.Check(e)
	a.lastSeq = e.Seq
	if e.Seq == a.Anchor.Seq+1 {
		a.UnanchoredSince = e.Time
	}
	for a.next < len(a.anchors) && a.anchors[a.next].Seq < e.Seq {
		a.next++ // its row is missing: the chain check says where
	}
	if a.next < len(a.anchors) && a.anchors[a.next].Seq == e.Seq {
		c := a.anchors[a.next]
		a.next++
		switch {
		case a.rehashed:
		case c.Hash != e.Hash:
			a.rehashed = true
			a.Problems = append(a.Problems, fmt.Sprintf("checkpoint %d signed row %s with hash %s; the log's row %s has hash %s: the log was re-hashed after the checkpoint was signed, from row %s at the latest",
				c.Number, Count(c.Seq), c.Hash, Count(e.Seq), e.Hash, Count(c.Seq)))
		case intact:
			a.Anchor = c
		}
	}
	if a.Expect != nil && e.Seq == a.Expect.Seq {
		a.expectMet = true
		if e.Hash != a.Expect.Hash {
			a.Problems = append(a.Problems, fmt.Sprintf("the head held outside is row %s with hash %s; the log's row %s has hash %s: the log was rewritten",
				Count(a.Expect.Seq), a.Expect.Hash, Count(e.Seq), e.Hash))
		}
	}
	return intact
}

// Finish reports what only the end of the log shows: checkpoints or a
// head beyond it (rows removed from the end), and how many rows no
// checkpoint covers.
func (a *AnchorCheck) Finish() {
	if n := len(a.anchors); n > 0 && a.anchors[n-1].Seq > a.lastSeq {
		c := a.anchors[n-1]
		a.Problems = append(a.Problems, fmt.Sprintf("checkpoint %d signed head row %s hash %s; the log ends at row %s: %s missing",
			c.Number, Count(c.Seq), c.Hash, Count(a.lastSeq), Rows(c.Seq-a.lastSeq)))
	}
	if a.Expect != nil && !a.expectMet {
		a.Problems = append(a.Problems, fmt.Sprintf("the head held outside is row %s hash %s; the log ends at row %s: %s missing",
			Count(a.Expect.Seq), a.Expect.Hash, Count(a.lastSeq), Rows(a.Expect.Seq-a.lastSeq)))
	}
	a.Unanchored = max(a.lastSeq-a.Anchor.Seq, 0)
	if a.Unanchored == 0 {
		a.UnanchoredSince = time.Time{}
	}
}

// Intact reports whether the chain holds and nothing else was found.
func (a AnchorCheck) Intact() bool { return a.ChainCheck.Intact() && len(a.Problems) == 0 }

// span names checkpoints from to to: "5" or "5 to 7".
func span(from, to int64) string {
	if from >= to {
		return strconv.FormatInt(from, 10)
	}
	return fmt.Sprintf("%d to %d", from, to)
}

// around says between which checkpoints a gap is.
func around(before, after int64) string {
	if before == 0 {
		return fmt.Sprintf("the first the log holds is %d", after)
	}
	return fmt.Sprintf("the log holds %d and %d", before, after)
}

// Rows says how many rows: "1 row", "4,812 rows".
func Rows(n int64) string {
	if n == 1 {
		return "1 row"
	}
	return Count(n) + " rows"
}

// Count writes n with a comma between thousands, as people read counts:
// 4,812.
func Count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
