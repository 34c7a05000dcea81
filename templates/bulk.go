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

// JobView is a bulk job: its progress and a page of its rows.
type JobView struct {
	ID, PlanID, FileName string
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
	Paused                                    string // "Paused by ACS until …" while ACS's pause of it lasts
	Done, Total                               int
}
