package templates

// DriftView is the drift report.
type DriftView struct {
	Drifted []DriftRow
	Missing []DriftRow
	// DriftedTotal and MissingTotal count all, when more than shown.
	DriftedTotal, MissingTotal int
	Spelling                   []DriftRow
	// LastRun summarises the newest reconcile ("" when none yet).
	LastRun     string
	LastRunTime string
	Running     bool
	// Waiting: a run was asked for (or runs here) and has not ended; the
	// report asks PollURL every PollEvery (htmx) or reloads itself, and
	// is replaced when it has. Finished: the run waited for has ended.
	Waiting, Finished  bool
	PollURL, PollEvery string
	MayRun             bool // admins start a reconcile
	MayBulk            bool // admins resolve picked rows as a bulk job
	Required           bool // justification required
}

// DriftRow is one assignment of the drift report.
type DriftRow struct {
	Row       AssignmentRow
	Seen      string
	ACS       *ACSView // what ACS held at the last verification (nil: none)
	MayRepair bool
}
