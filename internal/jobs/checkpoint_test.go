package jobs_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/jobs"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storetest"
	"github.com/teamsphone/portal/internal/testwait"
)

// lockedBuffer is a log destination two goroutines may write at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Two instances on one database each run the checkpoint job: checkpoints
// come every N rows and after the interval, numbered without gaps and
// each anchoring a later row (never two of one head), each is logged with
// its head, and stopping signs the rows the last one left.
func TestCheckpointer(t *testing.T) {
	for name, open := range instanceStores {
		t.Run(name, func(t *testing.T) { testCheckpointer(t, open(t)) })
	}
}

func testCheckpointer(t *testing.T, open func() (portal.Store, error)) {
	signer := storetest.NewSigner(t)
	var logs lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	var stores []portal.Store
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var running sync.WaitGroup
	for range 2 {
		db, err := open()
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, db)
		c := &jobs.Checkpointer{Service: access.New(access.Config{Store: db}), Signer: signer, Logger: logger,
			Policy: portal.CheckpointPolicy{Rows: 5, Every: 300 * time.Millisecond}, Poll: 5 * time.Millisecond}
		running.Go(func() { c.Run(ctx) })
	}
	db := stores[0]
	newest := func() portal.AuditCheckpoint {
		a, err := db.AuditAnchor(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return a.Newest
	}
	// The first row is signed at once; 5 more, once they are there.
	storetest.AppendRows(t, db, 1)
	testwait.For(t, "the first row signed", func() bool { return newest().Seq == 1 })
	storetest.AppendRows(t, db, 5)
	testwait.For(t, "a checkpoint after 5 rows", func() bool { return newest().Seq == 6 })
	// One row: signed when the interval has passed since the last.
	storetest.AppendRows(t, db, 1)
	before := newest()
	testwait.For(t, "a checkpoint after the interval", func() bool { return newest().Seq == 7 })
	if c := newest(); before.Seq == 6 && c.Time.Sub(before.Time) < 300*time.Millisecond {
		t.Errorf("checkpoint of one row signed %v after the one before, within the interval", c.Time.Sub(before.Time))
	}
	// Stopping signs what is left.
	storetest.AppendRows(t, db, 2)
	stop()
	running.Wait()
	c := storetest.Anchor(t, stores[1].(storetest.AnchoredLog), signer.Public(), nil)
	// (A busy machine may make a checkpoint fall due by time first: more
	// of them, never two of one head, never a gap: Intact.)
	if !c.Intact() || c.Anchor.Seq != 9 || c.Unanchored != 0 || c.Checkpoints < 4 || c.Checkpoints > 9 {
		t.Errorf("after the jobs stopped: %+v", c)
	}
	head := c.Anchor.Head().String()
	if out := logs.String(); !strings.Contains(out, `"event":"audit.checkpoint"`) || !strings.Contains(out, `"head":"`+head+`"`) {
		t.Errorf("no log line of checkpoint %s:\n%s", head, out)
	}
}
