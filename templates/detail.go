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
	Edit         *EditForm
	Verified     string // a message after "Verify now"
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
