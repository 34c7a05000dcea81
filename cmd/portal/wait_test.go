package main

import (
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/browsertest"
)

// patience bounds the tests' waits for something to happen: a portal to
// print its banner or to stop, a page to change, a job to move. Every wait
// ends as soon as what it waits for happens, so the bound costs nothing on a
// quick machine; it is generous so that a loaded one (the whole suite beside
// other work, a load average of 10 on 2 cores) makes the tests slower, not
// red. It is the browser helpers' own bound.
const patience = browsertest.DefaultTimeout

// waitFor polls cond until it holds, and fails t when it has not within
// patience, saying what it waited for and, if last is not nil, what it saw
// last.
func waitFor(t *testing.T, what string, cond func() bool, last func() string) {
	t.Helper()
	for deadline := time.Now().Add(patience); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			msg := "waited " + patience.String() + " for " + what
			if last != nil {
				msg += "; last seen:\n" + last()
			}
			t.Fatal(msg)
		}
	}
}
