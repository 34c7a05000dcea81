package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

func testLocks(t *testing.T, f *fixture) {
	const name = "assignment/1c361ff7-fb44-4685-bb78-1bad6ce5bef3/x"
	try := func(holder string, until time.Time) bool {
		t.Helper()
		ok, err := f.TryLock(f.ctx, name, holder, until)
		if err != nil {
			t.Fatalf("TryLock(%s): %v", holder, err)
		}
		return ok
	}
	unlock := func(name, holder string) {
		t.Helper()
		if err := f.Unlock(f.ctx, name, holder); err != nil {
			t.Fatalf("Unlock(%s, %s): %v", name, holder, err)
		}
	}

	if !try("one", t0.Add(30*time.Second)) {
		t.Fatal("a free lock was refused")
	}
	if try("two", t0.Add(30*time.Second)) {
		t.Fatal("a held lock was given to another holder")
	}
	if !try("one", t0.Add(60*time.Second)) {
		t.Fatal("the holder was refused its own lock")
	}
	f.clock.Set(t0.Add(45 * time.Second)) // past the first lease, within the extension
	if try("two", t0.Add(90*time.Second)) {
		t.Fatal("an extended lease lapsed at its first expiry")
	}
	f.clock.Set(t0.Add(60*time.Second - time.Millisecond))
	if try("two", t0.Add(90*time.Second)) {
		t.Fatal("a lease lapsed before its expiry")
	}
	f.clock.Set(t0.Add(60 * time.Second)) // a lease is over at its expiry
	if !try("two", t0.Add(90*time.Second)) {
		t.Fatal("a lapsed lease was not taken over")
	}
	if try("one", t0.Add(120*time.Second)) {
		t.Fatal("the former holder took back a lease another holds")
	}
	unlock(name, "one") // not the holder: nothing happens
	if try("three", t0.Add(120*time.Second)) {
		t.Fatal("Unlock by a former holder released another's lock")
	}
	unlock(name, "two")
	if !try("one", t0.Add(120*time.Second)) {
		t.Fatal("a released lock was refused")
	}
	// Locks are independent of each other.
	if ok, err := f.TryLock(f.ctx, name+"/other", "two", t0.Add(120*time.Second)); err != nil || !ok {
		t.Fatalf("another lock: %v, %v", ok, err)
	}
	unlock("never taken", "one")
	for _, bad := range [][2]string{{"", "one"}, {name, ""}} {
		if _, err := f.TryLock(f.ctx, bad[0], bad[1], t0.Add(time.Hour)); portal.ErrorCode(err) != portal.EINVALID {
			t.Errorf("TryLock(%q, %q): %v, want EINVALID", bad[0], bad[1], err)
		}
	}

	// Many instances racing for one free lock: exactly one gets it.
	var won atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			ok, err := f.TryLock(f.ctx, "race", fmt.Sprint("instance ", i), t0.Add(time.Hour))
			if err != nil {
				t.Error(err)
			}
			if ok {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	if n := won.Load(); n != 1 {
		t.Errorf("%d instances got the same lock", n)
	}
}
