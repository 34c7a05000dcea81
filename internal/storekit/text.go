package storekit

import (
	"encoding/json"
	"strings"

	"github.com/teamsphone/portal/internal/portal"
)

// Text is how a database keeps text: it returns s as that database can
// hold it and give back unchanged. Whatever a store writes as text, and
// whatever an audit row's hash covers, passes through its Text first, so
// that a row reads back with the bytes that were written (and hashed).
type Text func(s string) string

var (
	// UTF8 is SQLite's text: valid UTF-8, each run of invalid bytes
	// replaced by U+FFFD (JSON columns cannot carry anything else). NUL is
	// kept.
	UTF8 Text = func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
	// UTF8NoNUL is PostgreSQL's text, which holds neither invalid UTF-8
	// nor NUL: both become U+FFFD.
	UTF8NoNUL Text = func(s string) string {
		s = strings.ToValidUTF8(s, "\uFFFD")
		if strings.IndexByte(s, 0) >= 0 {
			s = strings.ReplaceAll(s, "\x00", "\uFFFD")
		}
		return s
	}
)

// Fold is how search text and the columns it is compared with are
// lower-cased: Unicode-aware and independent of the database's locale
// (SQLite's lower() folds ASCII only, PostgreSQL's depends on the
// locale), on both sides alike.
func (t Text) Fold(s string) string { return t(strings.ToLower(s)) }

// Storable reports whether s can be sent as it is. A key that cannot
// (from a URL, say) matches nothing stored.
func (t Text) Storable(s string) bool { return t(s) == s }

// Event returns ev with every text passed through t, Before and After
// copied rather than changed in place. It runs before Seal: Before and
// After are stored as JSON, and other text columns may refuse some bytes,
// so without it a row would read back with other bytes than were hashed.
func (t Text) Event(ev portal.AuditEvent) portal.AuditEvent {
	for _, s := range []*string{&ev.Actor.Name, &ev.ClientIP, &ev.Justification, &ev.ACSCode,
		&ev.RequestID, &ev.CorrelationVector, &ev.Detail} {
		*s = t(*s)
	}
	ev.Action, ev.Phase, ev.Outcome = portal.AuditAction(t(string(ev.Action))),
		portal.AuditPhase(t(string(ev.Phase))), portal.AuditOutcome(t(string(ev.Outcome)))
	ev.Before, ev.After = t.state(ev.Before), t.state(ev.After)
	return ev
}

func (t Text) state(s *portal.AuditState) *portal.AuditState {
	if s == nil {
		return nil
	}
	c := *s // every field, so none added later is dropped
	c.Kind, c.Label, c.ExpiresAt = t(s.Kind), t(s.Label), t(s.ExpiresAt)
	if s.ClientIDs != nil {
		c.ClientIDs = make([]string, len(s.ClientIDs))
		for i, id := range s.ClientIDs {
			c.ClientIDs[i] = t(id)
		}
	}
	return &c
}

// SealedEvent is an audit row ready to insert: the event as stored and
// the values of the columns that encode parts of it.
type SealedEvent struct {
	portal.AuditEvent
	Kind          string // "" for KindUnknown, as the canonical encoding has it
	Before, After []byte // JSON of portal.AuditState; nil (NULL) for none
	ActorFold     string // not hashed: the actor's name folded for the actor filter
}

// Seal makes ev storable with t and seals it after the head (headSeq,
// headHash: 0 and "" for an empty log). An event whose Kind is not a known
// kind is EINVALID.
func (t Text) Seal(ev portal.AuditEvent, headSeq int64, headHash string) (SealedEvent, error) {
	switch ev.Kind {
	case portal.KindUnknown, portal.KindUser, portal.KindResourceAccount:
	default:
		return SealedEvent{}, portal.Errorf(portal.EINVALID, "The audit event names an unknown kind of principal.")
	}
	ev = t.Event(ev)
	ev.Seal(headSeq, headHash)
	s := SealedEvent{AuditEvent: ev, Kind: KindText(ev.Kind), ActorFold: t.Fold(ev.Actor.Name)}
	var err error
	if s.Before, err = jsonOrNil(ev.Before); err == nil {
		s.After, err = jsonOrNil(ev.After)
	}
	return s, err
}

func jsonOrNil(s *portal.AuditState) ([]byte, error) {
	if s == nil {
		return nil, nil
	}
	return json.Marshal(s)
}

// KindText is how a kind is kept where it may be unknown (audit rows,
// directory names): its String form, "" for KindUnknown.
func KindText(k portal.PrincipalKind) string {
	if k == portal.KindUnknown {
		return ""
	}
	return k.String()
}

// observedJSON is how inventory.observed records what ACS held.
type observedJSON struct {
	Kind      string   `json:"kind"`
	ClientIDs []string `json:"clientIds"`
	Spelling  string   `json:"spelling,omitempty"`
	// OddClientIDs: see portal.Assignment.
	OddClientIDs []string `json:"oddClientIds,omitempty"`
}

// Observed is the JSON an inventory row keeps of what ACS held at its
// last verification; nil (NULL) for none.
func (t Text) Observed(a *portal.Assignment) []byte {
	if a == nil {
		return nil
	}
	o := observedJSON{Kind: a.Kind.String(), ClientIDs: []string{}, Spelling: t(a.Spelling)}
	for _, id := range portal.NormalizeClientIDs(a.ClientIDs) {
		o.ClientIDs = append(o.ClientIDs, id.String())
	}
	for _, odd := range a.OddClientIDs {
		o.OddClientIDs = append(o.OddClientIDs, t(odd))
	}
	b, err := json.Marshal(o)
	if err != nil {
		panic("storekit: observed JSON: " + err.Error()) // strings only: Marshal cannot fail
	}
	return b
}

// Put returns the row an InventoryPut stores for it (see portal.Store's
// Commit): a new row without a creation takes its update's time and
// actor, a row without a state is unverified, client IDs are normalised,
// and the label and names are text t can keep.
func (t Text) Put(it portal.InventoryItem) portal.InventoryItem {
	if it.CreatedAt.IsZero() {
		it.CreatedAt = it.UpdatedAt
	}
	if it.CreatedBy == (portal.Actor{}) {
		it.CreatedBy = it.UpdatedBy
	}
	it.State = StateOrUnverified(it.State)
	it.ClientIDs = portal.NormalizeClientIDs(it.ClientIDs)
	it.Label, it.CreatedBy.Name, it.UpdatedBy.Name = t(it.Label), t(it.CreatedBy.Name), t(it.UpdatedBy.Name)
	return it
}
