package templates

// AuditView is the audit log page.
type AuditView struct {
	Actor    string
	ObjectID string // the target filter as typed: an object ID or a name
	// Candidates are the named objects a target name matched, when it
	// matched more than one.
	Candidates []PersonView
	Actions    []Option
	Outcomes   []Option
	From, To   string // yyyy-mm-dd
	Rows       []HistoryRow
	Matched    int
	From1      int
	To1        int
	PrevHref   string
	NextHref   string
	Chain      ChainView
	Errors     FieldErrors
	CSVHref    string
}

// ChainView is the audit chain's state.
type ChainView struct {
	Intact    bool
	BrokenSeq int64
	Problem   string
	CheckedAt string
	Failed    bool // the check itself could not run
}
