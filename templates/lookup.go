package templates

// LookupView is the live lookup page.
type LookupView struct {
	// ObjectID is what was asked: an object ID, or, when names are on
	// (ByName), a name or user name to find it by.
	ObjectID string
	ByName   bool
	Name     NameView // what the directory calls ObjectID
	Error    string
	Asked    bool
	// People are the people whose name matched what was asked (several:
	// pick one); Found says whose object ID was looked up when one did.
	People []PersonView
	Found  string
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
