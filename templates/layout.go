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

// NavItem is one link of the side navigation.
type NavItem struct {
	Key, Label, Href string
}
