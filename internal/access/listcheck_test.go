package access

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/testwait"
)

// heldStore answers InventoryChanges with its head at the moment of the
// read, counting reads; while hold is set, a read waits on it after
// reading, as a read in flight on a slow database would.
type heldStore struct {
	listStore // only InventoryChanges is called
	head      atomic.Int64
	reads     atomic.Int32
	entered   chan struct{}
	mu        sync.Mutex
	hold      chan struct{}
}

func (s *heldStore) InventoryChanges(ctx context.Context, tenant portal.GUID, after int64) ([]portal.GUID, bool, int64, error) {
	s.reads.Add(1)
	head := s.head.Load()
	s.mu.Lock()
	hold := s.hold
	s.mu.Unlock()
	if hold != nil {
		s.entered <- struct{}{}
		<-hold
	}
	return nil, false, head, nil
}

// Calls that arrive while a read of changed rows is under way share the
// next read, which starts after they arrived: each sees every change
// committed before it began (not the read in flight's older answer), and
// twenty calls cost two reads, not twenty-one.
func TestChangeChecksShared(t *testing.T) {
	ctx := context.Background()
	st := &heldStore{entered: make(chan struct{}, 1), hold: make(chan struct{})}
	st.head.Store(5)
	tc := &tenantCache{}
	tenant := portal.MustParseGUID("11111111-2222-4333-8444-555555555555")

	first := make(chan int64)
	go func() {
		_, _, head, _ := tc.changesSince(ctx, st, tenant, 3)
		first <- head
	}()
	<-st.entered     // the first read has read head 5, and is held
	st.head.Store(6) // a change commits while it is in flight
	const n = 20
	heads := make(chan int64, n)
	for range n {
		go func() {
			_, _, head, err := tc.changesSince(ctx, st, tenant, 3)
			if err != nil {
				t.Error(err)
			}
			heads <- head
		}()
	}
	// One of them queues the next read; the others join it.
	testwait.For(t, "the calls to queue behind the read in flight", func() bool { return tc.joined.Load() == n-1 })
	if got := st.reads.Load(); got != 1 {
		t.Fatalf("%d reads while the first was held, want 1", got)
	}
	st.mu.Lock()
	close(st.hold)
	st.hold = nil
	st.mu.Unlock()
	if got := <-first; got != 5 {
		t.Errorf("the first call saw head %d, want 5", got)
	}
	for range n {
		if got := <-heads; got != 6 {
			t.Fatalf("a call that began after the change saw head %d, want 6", got)
		}
	}
	if got := st.reads.Load(); got != 2 {
		t.Errorf("%d reads for %d calls, want 2", got, n+1)
	}
}

// panicOnce panics on its first read of changed rows, as a bug in a store
// would; the request's recoverer catches it.
type panicOnce struct {
	listStore
	reads atomic.Int32
}

func (s *panicOnce) InventoryChanges(ctx context.Context, tenant portal.GUID, after int64) ([]portal.GUID, bool, int64, error) {
	if s.reads.Add(1) == 1 {
		panic("a bug in the store")
	}
	return nil, false, 9, nil
}

// A read that panicked holds up no later list of the tenant.
func TestChangeCheckThatPanickedHoldsNothingUp(t *testing.T) {
	st := &panicOnce{}
	tc := &tenantCache{}
	tenant := portal.MustParseGUID("11111111-2222-4333-8444-555555555555")
	func() {
		defer func() { recover() }()
		tc.changesSince(context.Background(), st, tenant, 1)
	}()
	done := make(chan int64, 1)
	go func() {
		_, _, head, _ := tc.changesSince(context.Background(), st, tenant, 1)
		done <- head
	}()
	var head int64
	testwait.For(t, "the next read to answer", func() bool {
		select {
		case head = <-done:
			return true
		default:
			return false
		}
	})
	if head != 9 {
		t.Errorf("head %d, want 9", head)
	}
}
