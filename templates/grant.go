package templates

// GrantForm is the grant form with what the person typed.
type GrantForm struct {
	ObjectID      string
	ExpiresAt     string // the end date as typed: 2026-12-24
	ExpiresTime   string // and its time (UTC): 18:00, or "" for the end of the day
	Kind          string
	Kinds         []Option // the kinds this person may grant
	Apps          []Option // known calling-client apps; Selected = ticked
	OtherApps     string   // typed app IDs, one per line
	Label         string
	Justification string
	Required      bool // justification required
	Errors        FieldErrors
	Problem       string // a form-level message (upstream failure, conflict)
	ProblemHref   string // a link that helps (look it up, open it)
	ProblemLink   string
	People        PeopleView
	Accounts      AccountsView
	// Absent, when set, says the directory does not have ObjectID: the
	// form asks for "Grant anyway" before it grants.
	Absent *AbsentWarning
}

// AbsentWarning says an object ID about to be granted is not in the
// directory, and how: never found (a typo?) or gone (it was there).
type AbsentWarning struct {
	ObjectID string // canonical: what the confirmation is for
	Gone     bool
	// Flag says it as bulk plans do (access.ObjectPresence.Flag): a gone
	// object's former name, or that the portal never saw it.
	Flag string
}

// AccountsView is the grant form's resource-account picker (admins).
type AccountsView struct {
	Enabled  bool // Graph is set up and the viewer is an admin
	Listed   bool // the list was asked for
	Bound    bool // only accounts bound to this ACS resource are listed
	Accounts []AccountView
	Message  string // why the list is not available
}

// AccountView is one resource account; Href opens the grant form filled in.
type AccountView struct {
	ObjectID, Name, UPN, Phone, Href string
}

// PeopleView is the grant form's people finder: what was searched, who
// was found, or why names are not available.
type PeopleView struct {
	Enabled  bool // Graph is set up
	Query    string
	Searched bool
	People   []PersonView
	Message  string
}
