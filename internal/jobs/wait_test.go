package jobs_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// patience bounds the tests' waits for something to happen: a job to be
// under way, a runner to stop. Every wait ends as soon as what it waits for
// happens, so the bound costs nothing on a quick machine; it is generous so
// that a loaded one (the whole suite beside other work, a load average of 10
// on 2 cores) makes the tests slower, not red.
const patience = 90 * time.Second

// waitFor polls cond until it holds, and fails t when it has not within
// patience, saying what it waited for.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(patience); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", patience, what)
		}
	}
}

// closed reports whether ch is closed, for waitFor.
func closed(ch <-chan struct{}) func() bool {
	return func() bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
}

// gatedFinish records the first row's outcome and says so (recorded), and
// holds every later one until open is called: a test can then act on a job
// that is under way — a row done, rows in flight, rows pending — however
// fast or slow the machine, instead of acting after a fixed sleep and
// finding the job not started yet or already done.
type gatedFinish struct {
	portal.JobStore
	first    sync.Once
	recorded chan struct{}
	gate     chan struct{}
	opened   sync.Once
}

// newGatedFinish gates store's FinishRow; the gate opens when t ends, if
// not before, so that a failed test leaves no runner waiting on it.
func newGatedFinish(t *testing.T, store portal.JobStore) *gatedFinish {
	g := &gatedFinish{JobStore: store, recorded: make(chan struct{}), gate: make(chan struct{})}
	t.Cleanup(g.open)
	return g
}

func (g *gatedFinish) FinishRow(ctx context.Context, id, holder string, line int, r portal.RowResult) error {
	select {
	case <-g.recorded: // a row is in: wait for the test
		select {
		case <-g.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	default:
	}
	err := g.JobStore.FinishRow(ctx, id, holder, line, r)
	if err == nil {
		g.first.Do(func() { close(g.recorded) })
	}
	return err
}

// open lets the held outcomes through, and every later one.
func (g *gatedFinish) open() { g.opened.Do(func() { close(g.gate) }) }
