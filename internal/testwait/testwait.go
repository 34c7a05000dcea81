// Package testwait is for tests only: waiting for something to happen with
// one generous bound. Every wait ends as soon as what it waits for
// happens, so the bound costs nothing on a quick machine; it is generous so
// that a loaded one (the whole suite beside other work, a load average of
// 10 or more on 2 cores) makes tests slower, never red. Checks that
// something is quick keep bounds of their own. Production code must not
// import it.
package testwait

import (
	"testing"
	"time"
)

// Patience bounds a test's wait for something to happen: an answer, a job
// under way, a page, a process stopping.
const Patience = 90 * time.Second

// For polls cond until it holds, and fails t when it has not within
// Patience, saying what it waited for.
func For(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(Patience); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", Patience, what)
		}
	}
}
