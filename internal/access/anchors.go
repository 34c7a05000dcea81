package access

import (
	"context"
	"sync"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// ChainStatus is the audit log's state as pages and `portal audit verify`
// show it: the chain, its checkpoints, and the head held outside if one
// was given.
type ChainStatus struct {
	portal.AnchorCheck
	CheckedAt time.Time
	Err       error // the check itself failed (database)
}

// chainCache avoids re-hashing the whole chain on every audit page view.
type chainCache struct {
	keys   portal.CheckpointKeys
	mu     sync.Mutex
	status ChainStatus
}

const chainCacheFor = 5 * time.Second

// Chain verifies the whole audit log (every tenant's rows: they are one
// chain) against its checkpoints, at most every 5 seconds (the audit page
// is not hot, and a broken chain must show soon); fresh forces a new
// check.
func (s *Reads) Chain(ctx context.Context, fresh bool) ChainStatus {
	c := s.chain
	c.mu.Lock()
	defer c.mu.Unlock()
	now := s.now()
	if !fresh && !c.status.CheckedAt.IsZero() && now.Sub(c.status.CheckedAt) < chainCacheFor {
		return c.status
	}
	c.status = VerifyChain(ctx, s.store, c.keys, nil)
	c.status.CheckedAt = now
	return c.status
}

// AuditReader is what verifying the log reads.
type AuditReader interface {
	portal.AuditLog
	portal.AuditCheckpoints
}

// VerifyChain reads every checkpoint, checking each signature with keys
// (nil: not checked), then walks every row in order, checking the chain,
// each checkpoint against its row and, if expect is set, the head an
// outside system holds.
func VerifyChain(ctx context.Context, log AuditReader, keys portal.CheckpointKeys, expect *portal.AuditHead) ChainStatus {
	st := ChainStatus{AnchorCheck: portal.AnchorCheck{Keys: keys, Expect: expect}}
	st.Err = log.WalkCheckpoints(ctx, func(c portal.AuditCheckpoint) error {
		st.Checkpoint(c)
		return nil
	})
	if st.Err != nil {
		return st
	}
	st.Err = log.WalkAudit(ctx, portal.GUID{}, func(e portal.AuditEvent) error {
		st.Check(e)
		return nil
	})
	st.Finish()
	return st
}

// SignCheckpoint signs the chain's head with signer when policy says one
// is due, and returns the checkpoint appended, if any. Instances doing it
// at once write one checkpoint (see portal.AuditCheckpoints). If the log
// no longer matches its newest checkpoint (rows removed from its end, or
// re-hashed), it signs nothing and says so as an EINTERNAL error: a new
// checkpoint would anchor what was tampered with.
func (s *Reads) SignCheckpoint(ctx context.Context, signer portal.CheckpointSigner, policy portal.CheckpointPolicy) (portal.AuditCheckpoint, bool, error) {
	a, err := s.store.AuditAnchor(ctx)
	if err != nil {
		return portal.AuditCheckpoint{}, false, err
	}
	if why := a.Tampered(); why != "" {
		return portal.AuditCheckpoint{}, false, portal.Errorf(portal.EINTERNAL,
			"The audit log no longer matches its newest checkpoint (%s); no checkpoint is signed until an operator has looked: run portal audit verify.", why)
	}
	if _, due := policy.Next(a, s.now()); !due {
		return portal.AuditCheckpoint{}, false, nil
	}
	return s.store.CheckpointAudit(ctx, func(a portal.AuditAnchor) (portal.AuditCheckpoint, bool, error) {
		c, due := policy.Next(a, s.now())
		if !due {
			return c, false, nil
		}
		return signer.Sign(c), true, nil
	})
}
