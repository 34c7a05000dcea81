package templates

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
