package jobs_test

import (
	"context"
	"sync"
	"testing"

	"github.com/teamsphone/portal/internal/portal"
)

// closed reports whether ch is closed, for testwait.For.
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
