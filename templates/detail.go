package templates

// DetailView is one assignment's page.
type DetailView struct {
	Row      AssignmentRow
	Observed *ACSView // what ACS held at the last verification, when it differed
	History  []HistoryRow
	// HistoryTotal counts all the object's audit rows; AuditHref links to
	// them all in the audit log ("" when the viewer may not open it).
	HistoryTotal int
	AuditHref    string
	MayChange    bool // edit (users), verify, revoke
	// ReadOnly says why the viewer may not change it ("" when they may).
	ReadOnly string
	Edit     *EditForm
	Verified string // a message after "Verify now"
	// Repair offers both ways back from drift (nil: in sync, or the
	// viewer may not change it).
	Repair *RepairView
}

// RepairView is the assignment page's Re-apply and Accept, after a
// verification found ACS different (drifted) or empty (missing). Each
// posts the version and fingerprint the page showed, so a change made
// meanwhile is refused, as from the drift report.
type RepairView struct {
	Version  int64
	Seen     string
	Required bool // justification required
	Missing  bool // ACS holds nothing (else: something different)
	User     bool // a user's apps (else: a resource account)
}

// EditForm is the edit form of a user assignment.
type EditForm struct {
	ObjectID      string
	Version       int64
	Seen          string // the row's fingerprint when the page was made
	ExpiresAt     string // the end date, 2026-12-24, or ""
	ExpiresTime   string // and its time (UTC), 18:00, or "" for the end of the day
	Apps          []Option
	OtherApps     string
	Label         string
	Justification string
	Required      bool
	Errors        FieldErrors
	Problem       string
	// Conflict shows what changed meanwhile (nil: none).
	Conflict *ConflictView
}

// ConflictView shows both states of a refused change.
type ConflictView struct {
	Reason    string
	Inventory *AssignmentRow // nil: no row any more
	ACS       *ACSView       // nil: ACS not asked or holds none
	ACSAsked  bool
	Proposed  []AppRef
}

// FormerView is the page of an object the inventory no longer holds but
// the audit log knows: since when it has no access, why, and its history.
type FormerView struct {
	ObjectID string
	Name     NameView
	// Since and By say when and by whom access ended, and Ended how
	// ("revoked", "removed from the inventory": ACS held none); Since is
	// "" when no audit row shows it ended (a grant that never succeeded).
	Since, By, Ended string
	// GrantAgainHref opens the grant form filled in as it last was (""
	// when the viewer may not grant it).
	GrantAgainHref string
	History        []HistoryRow
	HistoryTotal   int
	AuditHref      string
}
