package portal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// AuditAction is what an audit row is about.
type AuditAction string

const (
	ActionGrant         AuditAction = "grant"           // a new assignment written to ACS
	ActionEdit          AuditAction = "edit"            // an assignment's client IDs replaced
	ActionEditInventory AuditAction = "edit_inventory"  // only an assignment's end date or label changed: the portal's own fields, ACS not called
	ActionRevoke        AuditAction = "revoke"          // an assignment deleted from ACS
	ActionAdopt         AuditAction = "adopt"           // an assignment found in ACS taken into the inventory
	ActionVerify        AuditAction = "verify"          // an assignment compared with ACS
	ActionSignIn        AuditAction = "sign_in"         // a person signed in
	ActionSignInFailure AuditAction = "sign_in_failure" // a sign-in was refused
	ActionSignOut       AuditAction = "sign_out"        // a person signed out
	ActionDenied        AuditAction = "access_denied"   // a request the person's role does not allow
	ActionReconcile     AuditAction = "reconcile"       // every assignment of a tenant compared with ACS
	ActionReapply       AuditAction = "reapply"         // the inventory's state written back to ACS over drift
	ActionAccept        AuditAction = "accept"          // ACS's state taken into the inventory over drift
	ActionBulk          AuditAction = "bulk_apply"      // a bulk job started, resumed, cancelled or finished (each row has its own rows)
)

// AuditActions lists the actions in the order filters offer them.
var AuditActions = []AuditAction{ActionGrant, ActionEdit, ActionEditInventory, ActionRevoke, ActionAdopt, ActionVerify,
	ActionReconcile, ActionReapply, ActionAccept, ActionBulk, ActionSignIn, ActionSignInFailure, ActionSignOut, ActionDenied}

// Changes reports whether the action can change access in ACS.
func (a AuditAction) Changes() bool {
	return a == ActionGrant || a == ActionEdit || a == ActionRevoke || a == ActionReapply
}

// InventoryActions are the actions whose audit rows may change inventory
// rows (see Inventory.InventoryChanges): every change of a row is
// committed with one of these, and a reconcile's summary stands for the
// verification times it moved.
var InventoryActions = []AuditAction{ActionGrant, ActionEdit, ActionEditInventory, ActionRevoke, ActionAdopt, ActionVerify,
	ActionReapply, ActionAccept, ActionReconcile}

// AuditPhase places a row in the flow of one change.
type AuditPhase string

const (
	// PhaseIntent is written before ACS is called; if it cannot be written,
	// ACS is not called.
	PhaseIntent AuditPhase = "intent"
	// PhaseOutcome is written after, citing its intent's Seq.
	PhaseOutcome AuditPhase = "outcome"
	// PhaseEvent is a single-row record (sign-in, denial, adoption, verification).
	PhaseEvent AuditPhase = "event"
)

// AuditOutcome is how a change (or event) ended.
type AuditOutcome string

const (
	OutcomePending  AuditOutcome = ""          // an intent: not known yet
	OutcomeSuccess  AuditOutcome = "success"   // done
	OutcomeNoChange AuditOutcome = "no_change" // nothing to do: ACS already held exactly that
	OutcomeConflict AuditOutcome = "conflict"  // refused: ACS or the inventory changed meanwhile
	OutcomeFailed   AuditOutcome = "failed"    // ACS (or the portal) refused or failed; nothing changed
	OutcomeUnknown  AuditOutcome = "unknown"   // ACS may or may not have applied it; reconcile settles it
	OutcomeDenied   AuditOutcome = "denied"    // the person was not allowed
)

// AuditOutcomes lists the outcomes filters offer.
var AuditOutcomes = []AuditOutcome{OutcomeSuccess, OutcomeNoChange, OutcomeConflict, OutcomeFailed, OutcomeUnknown, OutcomeDenied}

// AuditState is an assignment as an audit row records it (before or after).
type AuditState struct {
	Kind      string   `json:"kind"`
	ClientIDs []string `json:"clientIds"`
	Label     string   `json:"label,omitempty"`
	// ExpiresAt is when time-boxed access ends (AuditTimeFormat), if set.
	ExpiresAt string `json:"expiresAt,omitempty"`
}

// StateOf records a in an audit row.
func StateOf(a Assignment, label string) *AuditState {
	s := &AuditState{Kind: a.Kind.String(), ClientIDs: []string{}, Label: label}
	for _, id := range NormalizeClientIDs(a.ClientIDs) {
		s.ClientIDs = append(s.ClientIDs, id.String())
	}
	return s
}

// StateOfItem records an inventory row in an audit row, its expiry included.
func StateOfItem(it InventoryItem) *AuditState {
	s := StateOf(it.Assignment, it.Label)
	if !it.ExpiresAt.IsZero() {
		s.ExpiresAt = it.ExpiresAt.UTC().Format(AuditTimeFormat)
	}
	return s
}

// AuditEvent is one row of the audit log. Rows are append-only and
// hash-chained: Hash = SHA-256(canonical encoding ‖ PrevHash), so changing,
// removing or reordering any row breaks the chain from there on.
type AuditEvent struct {
	Seq int64 // 1, 2, 3 … in append order across every tenant (one chain); set by the store
	// TenantSeq is the row's number among its tenant's rows (those of no
	// tenant are numbered among themselves): 1, 2, 3 … without gaps, set by
	// the store under the same lock as Seq. It is what a tenant is shown,
	// since Seq skips other tenants' rows. Not hashed: it follows from the
	// rows before it, and ChainCheck checks that it does.
	TenantSeq int64
	Time      time.Time
	Actor     Actor
	ClientIP  string
	TenantID  GUID // the tenant acted in (zero: none, e.g. a sign-in from an unknown tenant)
	ObjectID  GUID // the assignment's object (zero: none)
	Kind      PrincipalKind
	Action    AuditAction
	Phase     AuditPhase
	IntentSeq int64 // an outcome's intent row
	Before    *AuditState
	After     *AuditState
	// Justification is the reason the person typed.
	Justification string
	Outcome       AuditOutcome
	// The ACS call that decided the outcome, if any.
	ACSStatus         int
	ACSCode           string
	RequestID         string
	CorrelationVector string
	// Detail is a short sentence for people ("ACS already had none").
	Detail   string
	PrevHash string // hex; "" for the first row
	Hash     string // hex
}

// canonicalEvent fixes the field order and formats of the hashed encoding.
// Changing it breaks every existing chain: add a version field first.
type canonicalEvent struct {
	V                 int         `json:"v"`
	Seq               int64       `json:"seq"`
	Time              string      `json:"time"`
	ActorTenant       string      `json:"actorTenant"`
	ActorObject       string      `json:"actorObject"`
	ActorName         string      `json:"actorName"`
	ClientIP          string      `json:"clientIp"`
	Tenant            string      `json:"tenant"`
	Object            string      `json:"object"`
	Kind              string      `json:"kind"`
	Action            string      `json:"action"`
	Phase             string      `json:"phase"`
	IntentSeq         int64       `json:"intentSeq"`
	Before            *AuditState `json:"before"`
	After             *AuditState `json:"after"`
	Justification     string      `json:"justification"`
	Outcome           string      `json:"outcome"`
	ACSStatus         int         `json:"acsStatus"`
	ACSCode           string      `json:"acsCode"`
	RequestID         string      `json:"requestId"`
	CorrelationVector string      `json:"cv"`
	Detail            string      `json:"detail"`
}

// AuditTimeFormat is how audit times are hashed and stored: UTC, milliseconds.
const AuditTimeFormat = "2006-01-02T15:04:05.000Z"

func guidText(g GUID) string {
	if g.IsZero() {
		return ""
	}
	return g.String()
}

// Canonical is the byte encoding the hash covers: every field but the
// hashes, in a fixed order, times in UTC to the millisecond.
func (e AuditEvent) Canonical() []byte {
	kind := ""
	if e.Kind != KindUnknown {
		kind = e.Kind.String()
	}
	b, err := json.Marshal(canonicalEvent{
		V: 1, Seq: e.Seq, Time: e.Time.UTC().Format(AuditTimeFormat),
		ActorTenant: guidText(e.Actor.TenantID), ActorObject: guidText(e.Actor.ObjectID), ActorName: e.Actor.Name,
		ClientIP: e.ClientIP, Tenant: guidText(e.TenantID), Object: guidText(e.ObjectID), Kind: kind,
		Action: string(e.Action), Phase: string(e.Phase), IntentSeq: e.IntentSeq,
		Before: e.Before, After: e.After, Justification: e.Justification, Outcome: string(e.Outcome),
		ACSStatus: e.ACSStatus, ACSCode: e.ACSCode, RequestID: e.RequestID, CorrelationVector: e.CorrelationVector,
		Detail: e.Detail,
	})
	if err != nil {
		// Only strings, numbers and slices of strings: Marshal cannot fail.
		panic(fmt.Sprintf("portal: canonical audit event: %v", err))
	}
	return b
}

// ComputeHash returns the hex SHA-256 of the canonical encoding followed by
// the previous row's hash.
func (e AuditEvent) ComputeHash(prevHash string) string {
	h := sha256.New()
	h.Write(e.Canonical())
	h.Write([]byte(prevHash))
	return hex.EncodeToString(h.Sum(nil))
}

// Seal sets Seq, PrevHash and Hash for appending e after a row with prevSeq
// and prevHash (0 and "" for the first row). Time is truncated to the
// millisecond so that what is stored hashes the same when read back.
//
// Text that is not valid UTF-8 is repaired first (each bad byte becomes
// U+FFFD): JSON would otherwise encode it one way when hashing and read it
// back another, and the row would look tampered with.
func (e *AuditEvent) Seal(prevSeq int64, prevHash string) {
	for _, s := range []*string{&e.Actor.Name, &e.ClientIP, &e.Justification, &e.ACSCode, &e.RequestID, &e.CorrelationVector, &e.Detail} {
		*s = strings.ToValidUTF8(*s, "\uFFFD")
	}
	for _, st := range []*AuditState{e.Before, e.After} {
		if st != nil {
			st.Label = strings.ToValidUTF8(st.Label, "\uFFFD")
		}
	}
	e.Seq = prevSeq + 1
	e.Time = e.Time.UTC().Truncate(time.Millisecond)
	e.PrevHash = prevHash
	e.Hash = e.ComputeHash(prevHash)
}

// ChainCheck verifies an audit chain row by row, in Seq order. Feed every
// row to Check; the first problem is kept.
type ChainCheck struct {
	Rows     int64
	HeadSeq  int64
	HeadHash string
	// BrokenSeq is the Seq of the first row that does not follow from the one
	// before (0: none), and Problem says why.
	BrokenSeq int64
	Problem   string
	// tenantSeqs are the last TenantSeq checked per tenant.
	tenantSeqs map[GUID]int64
	// open are the intent rows no outcome has cited yet, by Seq. A change
	// in flight has one for a moment; one left open for good is a change
	// whose end was never recorded (an instance killed mid-change).
	open map[int64]struct{}
}

// OpenIntents returns the Seqs of the intent rows checked that no outcome
// row has cited (up to limit of them, ascending) and how many there are.
func (c ChainCheck) OpenIntents(limit int) (seqs []int64, n int) {
	for seq := range c.open {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	return seqs[:min(limit, len(seqs))], len(seqs)
}

// Check takes the next row and reports whether the chain is still intact.
func (c *ChainCheck) Check(e AuditEvent) bool {
	if c.BrokenSeq != 0 {
		return false
	}
	c.Rows++
	switch {
	case e.Seq != c.HeadSeq+1:
		c.BrokenSeq, c.Problem = e.Seq, fmt.Sprintf("row %d follows row %d: rows are missing or reordered", e.Seq, c.HeadSeq)
	case e.PrevHash != c.HeadHash:
		c.BrokenSeq, c.Problem = e.Seq, fmt.Sprintf("row %d does not cite the hash of row %d", e.Seq, c.HeadSeq)
	case e.ComputeHash(e.PrevHash) != e.Hash:
		c.BrokenSeq, c.Problem = e.Seq, fmt.Sprintf("row %d was changed after it was written: its hash does not match its contents", e.Seq)
	case e.TenantSeq != c.tenantSeqs[e.TenantID]+1:
		c.BrokenSeq, c.Problem = e.Seq, fmt.Sprintf("row %d is numbered %d among its tenant's rows, not %d: the number was changed outside the portal",
			e.Seq, e.TenantSeq, c.tenantSeqs[e.TenantID]+1)
	}
	if c.BrokenSeq != 0 {
		return false
	}
	c.HeadSeq, c.HeadHash = e.Seq, e.Hash
	if c.tenantSeqs == nil {
		c.tenantSeqs = map[GUID]int64{}
	}
	c.tenantSeqs[e.TenantID] = e.TenantSeq
	switch e.Phase {
	case PhaseIntent:
		if c.open == nil {
			c.open = map[int64]struct{}{}
		}
		c.open[e.Seq] = struct{}{}
	case PhaseOutcome:
		delete(c.open, e.IntentSeq)
	}
	return true
}

// Intact reports whether every row checked so far follows from the one before.
func (c ChainCheck) Intact() bool { return c.BrokenSeq == 0 }

// AuditFilter selects a page of the audit log.
type AuditFilter struct {
	// TenantID scopes the rows to one tenant; every page sets it. The zero
	// GUID (only `portal audit verify` and exports for operators) means all.
	TenantID GUID
	Actor    string // part of the actor's name or object ID
	ObjectID GUID   // the target; zero: any
	Action   AuditAction
	Outcome  AuditOutcome
	From, To time.Time // To is exclusive; zero: open
	// Offset and Limit page the result, newest first; Limit 0: 50.
	Offset, Limit int
	// OnePerChange leaves out the intent rows an outcome cites: a change
	// is then one row, its outcome (which carries the intent's before,
	// after and justification, and cites it by IntentSeq), and an intent
	// no outcome cites yet (in flight, or never finished) stays. Display
	// only: the log, its chain and its exports keep every row.
	OnePerChange bool
}

// AuditPage is one page of audit rows, newest first.
type AuditPage struct {
	Events []AuditEvent
	// Matched counts the rows the filter matches, which the page is a
	// window of.
	Matched int
	// Rows counts the rows the filter matches with OnePerChange ignored:
	// what an export of the filter (WalkAuditMatching) holds. It equals
	// Matched when OnePerChange is off.
	Rows int
	// Intents are the intent rows that Events' outcomes cite, by Seq, when
	// OnePerChange is on (nil otherwise).
	Intents map[int64]AuditEvent
}

// AuditLog is the append-only, hash-chained audit log.
type AuditLog interface {
	// AppendAudit seals ev after the current head and appends it; concurrent
	// appends (from any instance) are serialised, so the chain stays linear.
	// It returns ev as stored: Seq, TenantSeq, PrevHash and Hash set, Time in UTC
	// truncated to the millisecond, and text the database cannot hold
	// replaced by U+FFFD before hashing (invalid UTF-8 in every store, NUL
	// too in PostgreSQL), so that the row verifies as read back. An event
	// whose Kind is not a known kind is EINVALID. A failure means nothing
	// was appended.
	AppendAudit(ctx context.Context, ev AuditEvent) (AuditEvent, error)
	// ListAudit returns a page of rows matching f, newest (highest Seq)
	// first, and how many match in all, both read from one snapshot; an
	// empty result is not an error. The zero TenantID means every tenant,
	// including rows of no tenant. Actor, with surrounding space ignored,
	// is a whole GUID (any case, braces allowed), which matches the actor's
	// object ID exactly, or text, which matches case-insensitively and
	// literally part of the actor's name or object ID. From is inclusive,
	// To exclusive. Limit 0 means 50; Limit is capped at 200; a negative
	// Offset is 0. With OnePerChange, the intents the page's outcomes cite
	// are read from the same snapshot.
	ListAudit(ctx context.Context, f AuditFilter) (AuditPage, error)
	// WalkAudit calls fn for every row of tenant (zero: all tenants) in Seq
	// order, a chunk at a time, holding nothing of the database while fn
	// runs (as AllItems); an error from fn stops it and is returned as is.
	// Seq order is commit order and rows are never changed, so the rows it
	// gives are the log as it stood at some moment: rows appended during
	// the walk come at its end, or not at all. A row holding a value the
	// portal never writes (changed behind its back) stops it with an
	// EINTERNAL error naming that row.
	WalkAudit(ctx context.Context, tenant GUID, fn func(AuditEvent) error) error
	// WalkAuditMatching is WalkAudit for the rows f matches, as ListAudit
	// matches them, every one of them (Offset, Limit and OnePerChange are
	// ignored): an export of what a page shows.
	WalkAuditMatching(ctx context.Context, f AuditFilter, fn func(AuditEvent) error) error
}
