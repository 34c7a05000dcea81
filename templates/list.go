package templates

// ListView is the assignments list page (and its results fragment).
type ListView struct {
	Query  string
	Kinds  []Option
	States []Option
	// Readiness is the "not ready" filter, when the readiness checks have
	// run (admins and auditors).
	Readiness []Option
	Sort      string
	Desc      bool
	Sorts     []SortLink
	Rows      []AssignmentRow
	Matched   int // rows matching the filters
	Total     int // the tenant's rows
	From, To  int // 1-based positions shown
	PrevHref  string
	NextHref  string
	Page      int
	Pages     int
	Filtered  bool // a query or filter is active
	MayGrant  bool
	MayExport bool
	// ExportURL exports the rows the query matches (MatchedText: "37
	// rows"), ExportAllURL every row (TotalText).
	ExportURL    string
	ExportAllURL string
	MatchedText  string
	TotalText    string
	// MayRefreshNames offers "Refresh names" (Graph is set up).
	MayRefreshNames bool
}

// SortLink is a sortable column header.
type SortLink struct {
	Label  string
	Href   string
	Active bool
	Desc   bool
}
