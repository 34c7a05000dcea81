package templates

// ExpiriesView lists the tenant's time-boxed access, the soonest first.
type ExpiriesView struct {
	Rows  []AssignmentRow
	Grace string // "" when none
}
