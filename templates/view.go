// Package templates holds the portal's templ components and the typed view
// models they take. Components only escape through templ; nothing here uses
// templ.Raw or marks user data safe.
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
	Roles    []string
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
