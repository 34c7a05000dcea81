package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/teamsphone/portal/internal/storekit"
)

// Group commit.
//
// SQLite has one writer, and a write transaction costs more than its
// statements: taking the write lock, writing the log frames of every page
// it touched, committing. A bulk job writes five small transactions a row
// (the assignment's lock, the audit intent, the outcome with the
// inventory, the unlock, the row's outcome) from dozens of goroutines at
// once; at 1,000 ACS calls a second the writer was busy three quarters of
// the job, about 0.4 ms a transaction, and the job waited for it.
//
// So small writes queue, and one goroutine at a time takes all that wait
// (up to maxGroup) into one transaction, each in a savepoint of its own: a
// write that fails is undone alone, as its own transaction would have
// been, and no write is answered before the transaction holding it has
// committed — an audit intent is durable before ACS hears of the change,
// as before. Nothing waits for a group to fill: with nobody else writing,
// a group is one write, without a savepoint.
//
// A group's statements run under a context of their own: the driver
// interrupts a statement whose context ends, and SQLite may then roll back
// the whole transaction, the others' writes with it. A write whose caller
// gives up while it waits in the queue is dropped; once taken into a
// group, its caller waits for the group's answer, which is the truth.
//
// The groups are committed on one connection, which keeps the statements
// it has prepared while writes keep coming (and for linger after): parsing
// a statement costs more than running most of these, much more where
// triggers hang on the table (bulk_job_rows), and every other write waits
// meanwhile. The writes made alone (writeAlone, beginWrite) take another
// connection: the pool must allow two at least.

// maxGroup bounds the writes of one transaction, and so how long a write
// that arrives meanwhile waits for the next.
const maxGroup = 64

// linger is how long the writer keeps its connection and prepared
// statements once no write waits: a bulk job's writes come a few
// milliseconds apart.
const linger = time.Second

// maxStmts bounds the statements kept prepared; the store's writes use a
// few dozen.
const maxStmts = 256

// writeQueue is the DB's queue of small writes; its zero value is ready.
type writeQueue struct {
	mu      sync.Mutex
	waiting []*queuedWrite
	running bool          // a writer goroutine runs (runWriter)
	wake    chan struct{} // a write was queued while it runs
	// lastCheckpoint is when a writer last started a checkpoint (only
	// the writer running reads or sets it); checkpointing says it runs.
	lastCheckpoint time.Time
	checkpointing  atomic.Bool
}

// queuedWrite is one write in the queue; done is closed once it is answered.
type queuedWrite struct {
	ctx context.Context
	fn  func(q querier) error
	// err is fn's error; txErr the transaction's (not begun, not
	// committed); panicked what fn panicked with.
	err, txErr error
	panicked   any
	done       chan struct{}
}

// write runs fn in a write transaction, grouped with others (see above),
// and commits it; what names the work in the error a person sees. fn's
// statements must go through q.
func (db *DB) write(ctx context.Context, what string, fn func(q querier) error) error {
	w := &queuedWrite{ctx: ctx, fn: fn, done: make(chan struct{})}
	q := &db.writes
	q.mu.Lock()
	q.waiting = append(q.waiting, w)
	if q.wake == nil {
		q.wake = make(chan struct{}, 1)
	}
	if !q.running {
		q.running = true
		go db.runWriter()
	} else {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
	q.mu.Unlock()
	select {
	case <-w.done:
	case <-ctx.Done():
		if q.drop(w) {
			return storekit.Unavailable(ctx.Err(), what)
		}
		<-w.done
	}
	if w.panicked != nil {
		panic(w.panicked)
	}
	if w.err != nil {
		return storekit.Failed(w.err, what)
	}
	return storekit.Unavailable(w.txErr, what)
}

// drop takes w out of the queue, and reports whether it was still there.
func (q *writeQueue) drop(w *queuedWrite) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := slices.Index(q.waiting, w)
	if i < 0 {
		return false
	}
	q.waiting = slices.Delete(q.waiting, i, i+1)
	return true
}

// runWriter commits groups of the waiting writes until none has waited
// for linger.
func (db *DB) runWriter() {
	q := &db.writes
	c := &groupConn{db: db}
	for {
		q.mu.Lock()
		n := min(len(q.waiting), maxGroup)
		if n > 0 {
			group := slices.Clone(q.waiting[:n])
			q.waiting = slices.Delete(q.waiting, 0, n)
			q.mu.Unlock()
			c.commit(group)
			continue
		}
		q.mu.Unlock()
		t := time.NewTimer(linger)
		select {
		case <-q.wake:
			t.Stop()
			continue
		case <-t.C:
		}
		q.mu.Lock()
		if len(q.waiting) == 0 {
			c.release(nil)
			db.checkpoint(true) // idle: fold the log back now
			q.running = false
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
	}
}

// groupConn is the connection the writer commits groups on, and the
// statements prepared on it.
type groupConn struct {
	db    *DB
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
	// autoCheckpoint is the connection's wal_autocheckpoint, given back
	// with it.
	autoCheckpoint int
}

// checkpointEvery is how often the writer has the log folded back into
// the database while it writes.
//
// SQLite does that itself (wal_autocheckpoint), inside the commit that
// makes the log pass 1,000 pages, and a bulk job's writes pass it every
// 0.1 s: a checkpoint syncs the log and the database file to disk, and
// every write waited for it, a dozen times a 1,000-row job. So does the
// first commit after a checkpoint, which syncs the log's header as it
// starts reusing the log: 5 to 180 ms each on the development machine.
// The writer's connection does not checkpoint; another does, beside it
// (PASSIVE: it waits for no reader or writer), after a commit at most
// once every checkpointEvery, and when the writer goes idle. SQLite goes
// on doing it for the writes made outside groups.
const checkpointEvery = time.Second

// connect takes a connection from the pool for the writer.
func (c *groupConn) connect(ctx context.Context) error {
	conn, err := c.db.db.Conn(ctx)
	if err != nil {
		return err
	}
	c.conn, c.stmts = conn, map[string]*sql.Stmt{}
	if err := conn.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&c.autoCheckpoint); err != nil {
		c.release(driver.ErrBadConn)
		return err
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA wal_autocheckpoint = 0`); err != nil {
		c.release(driver.ErrBadConn)
		return err
	}
	return nil
}

// checkpoint starts a checkpoint on another connection, unless one runs
// or (unless now) one started less than checkpointEvery ago. Only the
// writer calls it.
func (db *DB) checkpoint(now bool) {
	q := &db.writes
	if !now && time.Since(q.lastCheckpoint) < checkpointEvery || !q.checkpointing.CompareAndSwap(false, true) {
		return
	}
	q.lastCheckpoint = time.Now()
	go func() {
		defer q.checkpointing.Store(false)
		db.db.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`)
	}()
}

// release closes the statements and gives the connection back to the
// pool; a non-nil err (driver.ErrBadConn) has the pool close it instead,
// when its transaction could not be ended.
func (c *groupConn) release(err error) {
	for _, s := range c.stmts {
		s.Close()
	}
	c.stmts = nil
	if c.conn != nil {
		if err == nil {
			_, err = c.conn.ExecContext(context.Background(), `PRAGMA wal_autocheckpoint = `+strconv.Itoa(c.autoCheckpoint))
		}
		if err != nil {
			c.conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		c.conn.Close()
		c.conn = nil
	}
}

// commit runs a group's writes in one transaction and answers each.
func (c *groupConn) commit(group []*queuedWrite) {
	ctx := context.Background()
	c.db.writer <- struct{}{} // beside the writes made alone (beginWrite)
	defer func() { <-c.db.writer }()
	var answered []*queuedWrite
	defer func() {
		for _, w := range answered {
			close(w.done)
		}
	}()
	fail := func(err error, ws []*queuedWrite) {
		for _, w := range ws {
			w.txErr = err
		}
		answered = append(answered, ws...)
	}
	if c.conn == nil {
		if err := c.connect(ctx); err != nil {
			fail(err, group)
			return
		}
	}
	if _, err := c.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		fail(err, group)
		c.release(driver.ErrBadConn) // a fresh one for the next group
		return
	}
	alone := len(group) == 1
	var ran []*queuedWrite
	for i, w := range group {
		if err := w.ctx.Err(); err != nil {
			fail(err, []*queuedWrite{w}) // its caller has gone: nothing of it is written
			continue
		}
		if err := c.run(w, alone); err != nil {
			// A savepoint could not be taken or undone: what the
			// transaction holds is in doubt, and none of it is kept.
			fail(err, append(ran, group[i:]...))
			c.end(`ROLLBACK`)
			return
		}
		if w.err != nil || w.panicked != nil {
			answered = append(answered, w) // undone: nothing of it is written
		} else {
			ran = append(ran, w)
		}
	}
	if len(ran) == 0 {
		c.end(`ROLLBACK`)
		return
	}
	fail(c.end(`COMMIT`), ran)
	c.db.checkpoint(false)
}

// end ends the transaction with COMMIT or ROLLBACK, and reports how
// COMMIT went. A transaction that cannot be ended takes its connection
// with it.
func (c *groupConn) end(how string) error {
	_, err := c.ExecContext(context.Background(), how)
	if err != nil {
		if _, err2 := c.ExecContext(context.Background(), `ROLLBACK`); err2 != nil {
			c.release(driver.ErrBadConn)
		}
	}
	return err
}

// run runs one write, in a savepoint unless it is alone in its group
// (then a failure rolls the transaction back). Its own failure is w's; the
// error returned is the savepoint's.
func (c *groupConn) run(w *queuedWrite, alone bool) error {
	ctx := context.Background()
	if !alone {
		if _, err := c.ExecContext(ctx, `SAVEPOINT grouped`); err != nil {
			return err
		}
	}
	func() {
		defer func() { w.panicked = recover() }()
		w.err = w.fn(c)
	}()
	if alone {
		return nil
	}
	if w.err != nil || w.panicked != nil {
		if _, err := c.ExecContext(ctx, `ROLLBACK TO grouped`); err != nil {
			return err
		}
	}
	_, err := c.ExecContext(ctx, `RELEASE grouped`)
	return err
}

// stmt returns query prepared on the connection, or nil when too many are
// kept (it then runs unprepared).
func (c *groupConn) stmt(query string) (*sql.Stmt, error) {
	if s, ok := c.stmts[query]; ok {
		return s, nil
	}
	if len(c.stmts) >= maxStmts {
		return nil, nil
	}
	s, err := c.conn.PrepareContext(context.Background(), query)
	if err != nil {
		return nil, err
	}
	c.stmts[query] = s
	return s, nil
}

// ExecContext, QueryContext and QueryRowContext make groupConn the querier
// a grouped write's statements go through: they run in the group's
// transaction, under its context whatever context they are given.
func (c *groupConn) ExecContext(_ context.Context, query string, args ...any) (sql.Result, error) {
	ctx := context.Background()
	s, err := c.stmt(query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.conn.ExecContext(ctx, query, args...)
	}
	return s.ExecContext(ctx, args...)
}

func (c *groupConn) QueryContext(_ context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx := context.Background()
	s, err := c.stmt(query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.conn.QueryContext(ctx, query, args...)
	}
	return s.QueryContext(ctx, args...)
}

func (c *groupConn) QueryRowContext(_ context.Context, query string, args ...any) *sql.Row {
	ctx := context.Background()
	s, err := c.stmt(query)
	if err != nil || s == nil {
		// An unprepared statement answers with its own error, if any.
		return c.conn.QueryRowContext(ctx, query, args...)
	}
	return s.QueryRowContext(ctx, args...)
}

// writeAlone runs fn in a write transaction of its own, for writes too big
// to hold a group up (a plan's rows, a page of names); what names the work
// in the error a person sees.
func (db *DB) writeAlone(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, done, err := db.beginWrite(ctx)
	if err != nil {
		return storekit.Unavailable(err, what)
	}
	defer done()
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return storekit.Failed(err, what)
	}
	return storekit.Unavailable(tx.Commit(), what)
}

var _ querier = (*groupConn)(nil)
