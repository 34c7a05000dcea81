package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/teamsphone/portal/internal/testwait"
)

// grouping holds the writer back with one write in hand (alone: its group
// was taken before the others came), so that the writes started next all
// queue and then go as one group when release is called.
func grouping(t *testing.T) (db *DB, queued func(n int), release func()) {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.writer <- struct{}{} // as a write made alone would hold it
	first := make(chan error, 1)
	go func() { first <- db.write(context.Background(), "first", insertLock("first")) }()
	queued = func(n int) {
		testwait.For(t, fmt.Sprintf("%d writes to queue behind the first", n), func() bool {
			db.writes.mu.Lock()
			defer db.writes.mu.Unlock()
			return db.writes.running && len(db.writes.waiting) == n
		})
	}
	queued(0) // the first is in the writer's hands
	var once sync.Once
	release = func() {
		once.Do(func() {
			<-db.writer
			if err := <-first; err != nil {
				t.Errorf("the first write: %v", err)
			}
		})
	}
	t.Cleanup(release)
	return db, queued, release
}

func insertLock(name string) func(q querier) error {
	return func(q querier) error {
		_, err := q.ExecContext(context.Background(), `INSERT INTO locks (name, holder, expires_at) VALUES (?, 'test', 0)`, name)
		return err
	}
}

func locked(t *testing.T, db *DB, name string) bool {
	t.Helper()
	var n int
	if err := db.db.QueryRow(`SELECT count(*) FROM locks WHERE name = ?`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// In a group, a write that fails after writing is undone alone: the
// others in its transaction are committed, and each caller hears of its
// own write only.
func TestGroupedWriteFailsAlone(t *testing.T) {
	db, queued, release := grouping(t)
	boom := errors.New("boom")
	errs := make([]error, 5)
	var wg sync.WaitGroup
	for i := range errs {
		name := fmt.Sprint("w", i)
		wg.Go(func() {
			errs[i] = db.write(context.Background(), "test", func(q querier) error {
				if err := insertLock(name)(q); err != nil || i != 2 {
					return err
				}
				return boom
			})
		})
		queued(i + 1)
	}
	release()
	wg.Wait()
	for i, err := range errs {
		name := fmt.Sprint("w", i)
		if i == 2 {
			if !errors.Is(err, boom) || locked(t, db, name) {
				t.Errorf("the failing write: %v, its row kept: %v; want boom, and nothing kept", err, locked(t, db, name))
			}
			continue
		}
		if err != nil || !locked(t, db, name) {
			t.Errorf("write %d beside it: %v, committed: %v", i, err, locked(t, db, name))
		}
	}
}

// A write whose caller gives up while it waits is dropped: it never runs.
// Once taken into a group, a caller's context does not stop its
// statements (the driver would interrupt them, and SQLite could roll the
// whole group back): it is committed with the others.
func TestGroupedWriteContexts(t *testing.T) {
	db, queued, release := grouping(t)
	gone, giveUp := context.WithCancel(context.Background())
	ran := false
	dropped := make(chan error)
	go func() {
		dropped <- db.write(gone, "test", func(q querier) error {
			ran = true
			return insertLock("gone")(q)
		})
	}()
	queued(1)
	giveUp()
	if err := <-dropped; !errors.Is(err, context.Canceled) {
		t.Fatalf("a write given up while queued: %v, want canceled", err)
	}
	queued(0)

	mid, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 2)
	go func() {
		done <- db.write(mid, "test", func(q querier) error {
			stop() // the caller gives up while its write runs
			return insertLock("mid")(q)
		})
	}()
	queued(1)
	go func() { done <- db.write(context.Background(), "test", insertLock("beside")) }()
	queued(2)
	release()
	for range 2 {
		if err := <-done; err != nil {
			t.Errorf("write: %v", err)
		}
	}
	if ran || locked(t, db, "gone") || !locked(t, db, "mid") || !locked(t, db, "beside") {
		t.Errorf("dropped write ran %v, kept %v; write given up while running kept %v; its neighbour %v",
			ran, locked(t, db, "gone"), locked(t, db, "mid"), locked(t, db, "beside"))
	}
}

// A write that panics panics in its caller, undone; its neighbours commit.
func TestGroupedWritePanics(t *testing.T) {
	db, queued, release := grouping(t)
	recovered := make(chan any)
	go func() {
		defer func() { recovered <- recover() }()
		db.write(context.Background(), "test", func(q querier) error {
			insertLock("panicked")(q)
			panic("oops")
		})
	}()
	queued(1)
	beside := make(chan error)
	go func() { beside <- db.write(context.Background(), "test", insertLock("beside")) }()
	queued(2)
	release()
	if p := <-recovered; p != "oops" {
		t.Errorf("the caller recovered %v, want oops", p)
	}
	if err := <-beside; err != nil || locked(t, db, "panicked") || !locked(t, db, "beside") {
		t.Errorf("neighbour: %v; panicked write kept %v, neighbour %v", err, locked(t, db, "panicked"), locked(t, db, "beside"))
	}
}
