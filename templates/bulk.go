package templates

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
	// Justification is what the person typed (kept across a fresh
	// sign-in), Problem why applying was refused.
	Justification, Problem string
	// Fresh, when set, asks for a fresh sign-in before applying: the
	// form goes to /auth/fresh instead.
	Fresh *FreshSignInView
	// Destructive plans revoke: LoseAccess says who loses access now
	// ("Alice Smith and Bruno Costa lose access now."), LoseHow what that
	// does, Revokes how many rows revoke.
	Destructive bool
	LoseAccess  string
	LoseHow     []string
	Revokes     int
	Directory   PlanDirectoryView
	IDsChecked  bool        // the confirmation is ticked (kept across a fresh sign-in, or a refusal)
	Errors      FieldErrors // beside the apply form's fields
}

// PlanDirectoryView is what the directory said of the object IDs a plan
// grants access to.
type PlanDirectoryView struct {
	Flagged  int           // grant rows never found or gone: applying asks to confirm them
	Shown    []FlaggedView // the first of them
	More     int           // flagged rows not listed
	Unknown  string        // why some IDs were not checked, and how many ("" when all were)
	Heading  string        // "2 object IDs are not in the directory"
	Checkbox string        // the confirmation's words
}

// FlaggedView is one grant row whose object ID the directory does not have.
type FlaggedView struct {
	Line     int
	ObjectID string
	Label    string
	Presence string // never_found, gone
	Flag     string // what it means, in words
}

// PlanRowView is one row of a plan.
type PlanRowView struct {
	Line      int
	Class     string
	Change    string // the class in words: "Grant", "Revoke", …
	ObjectID  string
	Name      NameView
	Link      bool // the inventory holds it: link to its page
	Kind      string
	Apps      []AppRef
	Label     string
	ExpiresAt string
	Before    string // for updates and revokes: the inventory now
	Problem   string // for invalid rows: "clientIds: …"
	// Directory is what the directory said of a grant row's object
	// (never_found, gone; "" otherwise) and Flag that in words.
	Directory, Flag string
}

// JobView is a bulk job: its progress and a page of its rows.
type JobView struct {
	ID, PlanID, FileName string
	// Title says where the job stands, in a few words: "Applying
	// agents.csv: 5 of 16 done", "Done: 14 granted, 2 failed".
	Title                string
	CreatedBy, CreatedAt string
	State                string // portal.JobState, or "stalled", or "paused" (by ACS)
	StateLabel, Status   string // "Applying", "Done"…; one sentence on where it stands
	Running              bool   // poll for progress
	Total, Done, Percent int
	Rate, ETA            string // while running: "14 rows/s", "about 2 min left"
	Outcomes             []Option
	CanCancel, CanResume bool
	Filters              []Option // show=…, with counts
	Rows                 []JobRowView
	PrevHref, NextHref   string
	// PageHref is this page of rows (a refresh without JavaScript);
	// PollHref asks for what changed in it (htmx, every second while the
	// job runs): the same rows, by their lines.
	PageHref, PollHref string
}

// JobRowView is one row of a job's results.
type JobRowView struct {
	Line                int
	Change              string // the plan's class in words: "Grant", "Revoke", "No change", …
	ObjectID, Kind      string
	Name                NameView
	Link                bool // the inventory holds it: link to its page
	Apps                []AppRef
	Result, ResultLabel string // result: an outcome, "pending", "running", "skipped"; in words
	Detail              string
}

// JobSummary is one line of the recent jobs list.
type JobSummary struct {
	ID, FileName, CreatedBy, CreatedAt, State string
	StateLabel                                string // "Applying", "Done", …
	Summary                                   string // the job's title: "Done: 14 granted, 2 failed"
	Paused                                    string // "Paused by ACS until …" while ACS's pause of it lasts
	Done, Total                               int
}

// documentTitle is a page's <title> for a heading, as the layout writes it
// (Layout): for fragments that update the title of the page they are in.
func documentTitle(title string) string { return title + " · Teams Phone Access Portal" }
