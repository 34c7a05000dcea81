package templates

// Page is what the layout needs on every page.
type Page struct {
	Title     string
	User      *Viewer // nil when nobody is signed in
	DevMode   bool
	Flashes   []Flash
	RequestID string
	// Nav marks the current section for aria-current.
	Nav string
	// Navigation lists the sections the person's role may open.
	Navigation []NavItem
	// NamesNote says why names are missing from the page ("" when none are).
	NamesNote string
}

// Viewer is the signed-in person as the layout shows them.
type Viewer struct {
	Name       string
	UPN        string
	RoleLabel  string // "" when they hold no portal role
	TenantID   string
	TenantName string
}

// Flash is a one-time message.
type Flash struct {
	Kind    string // success, info, error
	Message string
}

// HomeView is the signed-in home page.
type HomeView struct {
	ObjectID string
	MayGrant bool
	MayAudit bool
}

// ErrorView is an error page: a sentence people can act on and the request
// ID support can look up, never internals.
type ErrorView struct {
	Status  int
	Heading string
	Message string
	// SignIn offers a sign-in link (after a failed or expired sign-in).
	SignIn bool
}

// NavItem is one link of the side navigation.
type NavItem struct {
	Key, Label, Href string
}

// AppRef is a calling-client app ID, named when the portal knows it.
type AppRef struct {
	ID   string
	Name string // a configured known app's name, else its service principal's; "" when unknown
	// NoServicePrincipal: Graph says the tenant has no service principal for
	// the app, so its users cannot get a token through it.
	NoServicePrincipal bool
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

// HistoryRow is an audit row on the detail page and the audit page.
type HistoryRow struct {
	Seq           int64
	Time          string
	Actor         string
	ActorID       string
	ObjectID      string
	Target        NameView // what the directory calls ObjectID
	Action        string
	Phase         string
	Outcome       string
	OutcomeBadge  string // ok, warn, error, muted
	Before        string
	After         string
	Justification string
	Detail        string
	ACSStatus     int
	RequestID     string
	CV            string
	ClientIP      string
}

// LookupView is the live lookup page.
type LookupView struct {
	ObjectID string
	Name     NameView // what the directory calls ObjectID
	Error    string
	Asked    bool
	// Result (when Asked and no Error):
	ACS      *ACSView
	Item     *AssignmentRow
	MayAdopt bool
	Adopt    AdoptForm
	Call     string // the request ID of the ACS call, for support
}

// AdoptForm adopts an assignment found in ACS.
type AdoptForm struct {
	ObjectID      string
	Label         string
	Justification string
	Required      bool
	Errors        FieldErrors
}

// AuditView is the audit log page.
type AuditView struct {
	Actor    string
	ObjectID string // the target filter as typed: an object ID or a name
	// Candidates are the named objects a target name matched, when it
	// matched more than one.
	Candidates []PersonView
	Actions    []Option
	Outcomes   []Option
	From, To   string // yyyy-mm-dd
	Rows       []HistoryRow
	Matched    int
	From1      int
	To1        int
	PrevHref   string
	NextHref   string
	Chain      ChainView
	Errors     FieldErrors
	CSVHref    string
}

// ChainView is the audit chain's state.
type ChainView struct {
	Intact    bool
	BrokenSeq int64
	Problem   string
	CheckedAt string
	Failed    bool // the check itself could not run
}

// DriftView is the drift report.
type DriftView struct {
	Drifted []DriftRow
	Missing []DriftRow
	// DriftedTotal and MissingTotal count all, when more than shown.
	DriftedTotal, MissingTotal int
	Spelling                   []DriftRow
	// LastRun summarises the newest reconcile ("" when none yet).
	LastRun     string
	LastRunTime string
	Running     bool
	MayRun      bool // admins start a reconcile
	MayBulk     bool // admins resolve picked rows as a bulk job
	Required    bool // justification required
}

// DriftRow is one assignment of the drift report.
type DriftRow struct {
	Row       AssignmentRow
	Seen      string
	ACS       *ACSView // what ACS held at the last verification (nil: none)
	MayRepair bool
}

// BulkUploadView is the bulk upload page.
type BulkUploadView struct {
	Error    string
	MaxRows  int
	MaxMB    int64
	Helpdesk bool // may only grant users
	Jobs     []JobSummary
}

// PlanView is a stored bulk plan.
type PlanView struct {
	ID        string
	FileName  string
	CreatedAt string
	CreatedBy string
	Totals    []Option // class, label, count; Selected = the filter
	Rows      []PlanRowView
	PrevHref  string
	NextHref  string
	// Applying it: how many rows would act, how many create, whether this
	// person may, whether a reason is required, and the job if applied.
	Actionable, Creates  int
	CanApply, RequireWhy bool
	JobHref              string
}

// JobView is a bulk job: its progress and a page of its rows.
type JobView struct {
	ID, PlanID, FileName string
	CreatedBy, CreatedAt string
	State                string // portal.JobState, or "stalled"
	StateLabel, Status   string // "Applying", "Done"…; one sentence on where it stands
	Running              bool   // poll for progress
	Total, Done, Percent int
	Rate, ETA            string // while running: "14 rows/s", "about 2 min left"
	Outcomes             []Option
	CanCancel, CanResume bool
	Filters              []Option // show=…, with counts
	Rows                 []JobRowView
	PrevHref, NextHref   string
}

// JobRowView is one row of a job's results.
type JobRowView struct {
	Line                int
	Change              string // create, update, revoke, adopt, … or the plan's unchanged / invalid
	ObjectID, Kind      string
	Apps                []AppRef
	Result, ResultLabel string // result: an outcome, "pending", "running", "skipped"
	Detail              string
}

// JobSummary is one line of the recent jobs list.
type JobSummary struct {
	ID, FileName, CreatedBy, CreatedAt, State string
	Done, Total                               int
}

// PlanRowView is one row of a plan.
type PlanRowView struct {
	Line      int
	Class     string
	ObjectID  string
	Kind      string
	Apps      []AppRef
	Label     string
	ExpiresAt string
	Before    string // for updates and revokes: the inventory now
	Problem   string // for invalid rows: "clientIds: …"
}
