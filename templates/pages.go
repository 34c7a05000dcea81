package templates

// HomeView is the signed-in home page.
type HomeView struct {
	ObjectID string
	MayGrant bool
	MayAudit bool
	// Failing are the readiness checks that do not pass, for admins and
	// auditors: what stops access from working, and the fix.
	Failing []CheckView
}

// CheckView is one readiness check as shown.
type CheckView struct {
	Title, State, StateLabel, Reason, Fix, CheckedAt string
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
