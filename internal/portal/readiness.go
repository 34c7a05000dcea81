package portal

import (
	"errors"
	"time"
)

// Access in ACS is necessary, not sufficient: a chain of consents, bindings
// and licences around each assignment must also hold for it to work. A
// Check is one link of that chain, as the portal last saw it.

// CheckState is what a check found.
type CheckState string

const (
	// CheckPass: the link holds.
	CheckPass CheckState = "pass"
	// CheckFail: the link is broken, and the portal saw it broken.
	CheckFail CheckState = "fail"
	// CheckUnknown: the portal could not look (a permission it lacks, a
	// service that did not answer). Never reported as pass or fail.
	CheckUnknown CheckState = "unknown"
)

// Label is the state as people read it.
func (s CheckState) Label() string {
	switch s {
	case CheckPass:
		return "Pass"
	case CheckFail:
		return "Fail"
	}
	return "Unknown"
}

// Check is one link of the chain and what the portal found.
type Check struct {
	Name  string // stable key, e.g. "acs-access"
	Title string // what holds when it passes, e.g. "The portal can call the ACS API"
	State CheckState
	// Reason says what was found and, when not pass, why: for unknown,
	// why the portal could not look and what would let it.
	Reason string
	// Fix is what to do when it fails, for people: a role to assign, a
	// command to run, a link to open; "" when it passes.
	Fix       string
	CheckedAt time.Time
}

// ACSRefused reports whether err says that ACS refused the portal itself
// (HTTP 401 or 403: its credential, its role on the ACS resource, or the
// subscription's gating), as opposed to failing or refusing one request,
// and what an administrator must do about it. The ACS adapter's errors
// say so by their Refused and Remedy methods.
func ACSRefused(err error) (refused bool, remedy string) {
	var r interface {
		Refused() bool
		Remedy() string
	}
	if errors.As(err, &r) && r.Refused() {
		return true, r.Remedy()
	}
	return false, ""
}
