package templates

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
