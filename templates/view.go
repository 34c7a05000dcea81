package templates

// AppRef is a calling-client app ID, named when the portal knows it.
type AppRef struct {
	ID   string
	Name string // a configured known app's name, else its service principal's; "" when unknown
	// NoServicePrincipal: Graph says the tenant has no service principal for
	// the app, so its users cannot get a token through it.
	NoServicePrincipal bool
	// NotAnAppID: ACS holds this client ID, and it is not a GUID (ID is
	// then as ACS sent it): no app can use it.
	NotAnAppID bool
}

// NameView is what the directory said about an object ("" when unknown).
type NameView struct {
	Name  string // display name, else UPN
	UPN   string
	Phone string // a resource account's number
	// Deleted: Graph no longer has the object (deleted from the directory).
	Deleted bool
}

// AssignmentRow is an inventory row as lists and the detail page show it.
type AssignmentRow struct {
	ObjectID   string
	Name       NameView
	Label      string
	Kind       string // "user" | "resourceAccount"
	KindLabel  string
	Apps       []AppRef
	State      string // in_sync, drifted, missing, unverified
	StateLabel string
	UpdatedAt  string // "2026-11-27 18:49 UTC"
	UpdatedBy  string
	CreatedAt  string
	CreatedBy  string
	VerifiedAt string // "" when never verified
	// ExpiresAt and ExpiresIn show time-boxed access ("" when none):
	// "2026-12-24 18:00 UTC" and "in 3 days" (or "ended 2 hours ago").
	ExpiresAt string
	ExpiresIn string
	Version   int64
}

// Option is a <select> option or a radio/checkbox choice.
type Option struct {
	Value, Label string
	Selected     bool
	Count        int // shown beside filters; -1 hides it
}

// FieldErrors maps a form field's name to its message.
type FieldErrors map[string]string

// PersonView is one person found; Href opens the grant form filled in.
type PersonView struct {
	ObjectID, Name, UPN, Href string
}

// ACSView is what ACS holds for an object.
type ACSView struct {
	KindLabel string
	Spelling  string
	Apps      []AppRef
}

// HistoryRow is one change or event on the detail page and the audit
// page: a change's intent and outcome rows are one HistoryRow, its
// outcome's, with both rows in Steps.
type HistoryRow struct {
	// Number is the row's number among its tenant's rows (1, 2, 3 …
	// without gaps), not its place in the portal's one chain, which
	// skips every other tenant's rows; a change's is its outcome's.
	Number   int64
	Time     string
	Actor    string
	ActorID  string
	ObjectID string
	Target   NameView // what the directory calls ObjectID
	// Action and Outcome are the codes (exports and tests read them:
	// data-action, data-outcome; "intent" for a change with no outcome
	// yet); ActionLabel and OutcomeLabel the words people read.
	Action       string
	ActionLabel  string
	Outcome      string
	OutcomeLabel string
	OutcomeBadge string // ok, warn, error, muted
	// Change is what the change did, before → after (nil: nothing to show).
	Change        *ChangeView
	Justification string
	Detail        string
	// Steps are the audit rows behind this one, oldest first: a change's
	// intent and outcome, or an event's one row.
	Steps    []HistoryStep
	ClientIP string
}

// HistoryStep is one audit row behind a HistoryRow.
type HistoryStep struct {
	Number    int64
	Phase     string // "Intent", "Outcome", "Event"
	Time      string // to the millisecond
	Note      string // what the row is for ("written before ACS was called")
	ACSStatus int
	RequestID string
	CV        string
}

// ChangeView is what a change did to an assignment: apps added and
// removed, named where known, and the portal's own fields before → after.
type ChangeView struct {
	// Lead says what the diff compares when it is not a change the
	// portal made ("ACS holds, unlike the inventory:"); "" for a change.
	Lead string
	// New is a change from nothing (a grant, an adoption): its apps and
	// fields are shown as they are, not as a diff.
	New         bool
	AppsAdded   []AppRef
	AppsRemoved []AppRef
	Fields      []FieldChangeView
}

// FieldChangeView is one field before → after ("" for none).
type FieldChangeView struct {
	Name, From, To string
}
