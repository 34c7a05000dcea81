package templates

// ExpiriesView lists the tenant's time-boxed access, the soonest first.
type ExpiriesView struct {
	Rows  []AssignmentRow
	Grace string // "" when none
	// Soon counts the first rows, which end within SoonWindow (or have
	// ended): the home page's "ending within" count.
	Soon       int
	SoonWindow string
}
