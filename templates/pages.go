package templates

// HomeView is the signed-in home page.
type HomeView struct {
	ObjectID string
	MayGrant bool
	MayAudit bool
	// UsersOnly: the person may change user assignments only (helpdesk).
	UsersOnly bool
	// Glance counts what needs a look, each linked to where to see it.
	Glance []GlanceCount
	// Failing are the readiness checks that do not pass, for admins and
	// auditors: what stops access from working, and the fix.
	Failing []CheckView
	// Readiness is the tenant's checks as last run, for admins and
	// auditors: the titles of those that do not pass, and when.
	MayReadiness       bool
	ReadinessFailing   []string
	ReadinessCheckedAt string // "" when they never ran on this instance
	ReadinessChecking  bool   // a run is under way
}

// GlanceCount is one count on the home page: "3 drifted", linked to the
// page that lists them (Href "" when the person may not open one).
type GlanceCount struct {
	Key   string // drifted, expiring, jobs, not-ready
	Count int
	Label string
	Href  string
}

// CheckView is one readiness check as shown.
type CheckView struct {
	Name, Title, State, StateLabel, Reason, Fix, Link, CheckedAt string
	Items                                                        []CheckItemView
	// RevokeAll, when above one, offers a plan revoking the items.
	RevokeAll int
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
