package templates

import (
	"strconv"
	"strings"
)

// stepsSummary names the audit rows behind a history row: "Intent #41
// and outcome #42", or "Row #43" for an event.
func stepsSummary(steps []HistoryStep) string {
	var parts []string
	for i, st := range steps {
		phase := st.Phase
		if phase == "Event" {
			phase = "Row"
		} else if i > 0 {
			phase = strings.ToLower(phase)
		}
		parts = append(parts, phase+" #"+strconv.FormatInt(st.Number, 10))
	}
	return strings.Join(parts, " and ")
}

// AuditView is the audit log page.
type AuditView struct {
	Actor    string
	ObjectID string // the target filter as typed: an object ID or a name
	// Candidates are the named objects a target name matched, when it
	// matched more than one.
	Candidates []PersonView
	Actions    []Option
	Outcomes   []Option
	From, To   string // YYYY-MM-DD, as typed
	Rows       []HistoryRow
	Matched    int
	From1      int
	To1        int
	PrevHref   string
	NextHref   string
	Chain      ChainView
	Errors     FieldErrors
	// CSVHref exports the rows the filters match (both rows of each
	// change: CSVRows of them), AllCSVHref the whole log; Filtered says
	// whether the two differ. CSVHref is "" when no rows were read (the
	// filters have a problem).
	CSVHref     string
	CSVRows     int
	CSVRowsText string // "37 rows"
	AllCSVHref  string
	Filtered    bool
}

// ChainView is the audit log's state: its chain, checked against its
// signed checkpoints. Row numbers here are places in the portal's one
// chain (the CSV's seq), not a tenant's row numbers.
type ChainView struct {
	Intact    bool // the chain follows and nothing else was found
	BrokenSeq int64
	Problem   string
	// Tampered lists what the checkpoints show besides a broken chain:
	// rows removed from the end, a re-hashed log, bad or missing
	// checkpoints.
	Tampered []string
	// Anchor is the newest checkpoint that matched ("" for none): its
	// number and when it was signed; AnchorSeq the row it fixes, and
	// Unanchored how many rows follow it.
	Anchor     string
	AnchorSeq  string
	Unanchored string
	Unsigned   bool // signatures not checked: no key
	CheckedAt  string
	Failed     bool // the check itself could not run
}
