package jobs

import (
	"context"
	"encoding/base64"
	"log/slog"
	"sync"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
)

// Checkpointer signs the audit chain's head (see portal.AuditCheckpoint)
// every Policy.Rows rows and every Policy.Every, on every instance: the
// store lets one of several signing at once write, so no lease is needed.
// Each checkpoint also goes to the JSON log, so that a system outside the
// database (a log workspace) holds the head too.
type Checkpointer struct {
	Service *access.Service
	Signer  portal.CheckpointSigner
	// Policy says when a checkpoint is due (default every 1,000 rows and
	// every 5 minutes with rows appended).
	Policy portal.CheckpointPolicy
	// Poll is how often it looks at the head (default 5 s): a checkpoint
	// is at most that late for its rows.
	Poll   time.Duration
	Logger *slog.Logger

	once     sync.Once
	lastErr  string
	lastSaid time.Time
}

// Default checkpoint policy: every 1,000 rows, and every 5 minutes with
// any row appended.
const (
	DefaultCheckpointRows  = 1000
	DefaultCheckpointEvery = 5 * time.Minute
)

func (c *Checkpointer) init() {
	c.once.Do(func() {
		setDefault(&c.Poll, 5*time.Second)
		setDefault(&c.Policy.Every, DefaultCheckpointEvery)
		if c.Policy.Rows <= 0 {
			c.Policy.Rows = DefaultCheckpointRows
		}
		if c.Logger == nil {
			c.Logger = slog.New(slog.DiscardHandler)
		}
	})
}

// Run signs checkpoints as they fall due until ctx ends, then signs the
// head one last time if any row followed the newest checkpoint, so that a
// portal stopped in good order leaves no row unanchored.
func (c *Checkpointer) Run(ctx context.Context) {
	c.init()
	t := time.NewTicker(c.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			c.RunOnce(last, portal.CheckpointPolicy{Rows: 1, Every: c.Policy.Every})
			return
		case <-t.C:
			c.RunOnce(ctx, c.Policy)
		}
	}
}

// RunOnce signs the head if policy says it is due, logs the checkpoint
// written, and returns it.
func (c *Checkpointer) RunOnce(ctx context.Context, policy portal.CheckpointPolicy) (portal.AuditCheckpoint, bool) {
	c.init()
	cp, ok, err := c.Service.SignCheckpoint(ctx, c.Signer, policy)
	if err != nil {
		// Said once, then again every 5 minutes while it lasts: the log
		// is where an operator learns that signing stopped, and why.
		if msg := err.Error(); msg != c.lastErr || time.Since(c.lastSaid) >= DefaultCheckpointEvery {
			c.lastErr, c.lastSaid = msg, time.Now()
			c.Logger.ErrorContext(ctx, "audit checkpoint not signed", "event", "audit.checkpoint", "err", err)
		}
		return cp, false
	}
	c.lastErr = ""
	if ok {
		c.Logger.InfoContext(ctx, "audit checkpoint signed", "event", "audit.checkpoint", "number", cp.Number, "seq", cp.Seq,
			"hash", cp.Hash, "head", cp.Head().String(), "signed_at", cp.Time.Format(portal.AuditTimeFormat), "key_id", cp.KeyID,
			"signature", base64.StdEncoding.EncodeToString(cp.Signature))
	}
	return cp, ok
}
