package jobs

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
)

// minJobPause is the shortest wait ACS asks for that pauses a whole job,
// and shows on its page and in its audit. A shorter one is the ACS
// client's business: it waits it out inside the call and holds back every
// background call meanwhile (see the acs limiter), and a rate-limited
// resource asks for one several times a second: a job paused and noted
// for each would be noise. A row whose own call ends on a shorter one
// waits it out by itself.
const minJobPause = 10 * time.Second

// maxJobPause bounds one pause. A longer Retry-After is honoured up to it;
// then one call asks ACS again, and a job still throttled pauses again.
// An answer of days is likelier a fault than a plan; meanwhile the job's
// page says until when, and a person may cancel it.
const maxJobPause = 24 * time.Hour

// jobPause is ACS's pause of the job this instance runs, shared by its
// rows. Rows and the ACS client's calls extend it (hold); the heartbeat
// goroutine records it in the job store (record), off the rows' path.
type jobPause struct {
	mu        sync.Mutex
	at, until time.Time // the last ask that extended it, and its end
	recorded  time.Time // the end the job store holds
	changed   chan struct{}
	// stop closes when the job pauses or ends: the calls of its rows
	// still waiting in the ACS client's queue then give up unsent
	// (portal.BackgroundUntil), rather than go once the client's own,
	// shorter pause is over. Tries after it take a new one.
	stop    chan struct{}
	stopped bool // the job ended: stop stays closed
}

func newJobPause(job portal.Job) *jobPause {
	return &jobPause{at: job.PausedAt, until: job.PausedUntil, recorded: job.PausedUntil, changed: make(chan struct{}, 1),
		stop: make(chan struct{})}
}

// calls returns work for the calls of one try of a row: given up unsent if
// the job pauses or ends before their turn. It is false, and no try may
// begin, when the job is paused at now: the check and the stop taken are
// one step under the lock, so a pause that comes after a row last waited
// it out (the runner starts rows a few at a time, and their first calls
// wait behind an intent's commit) cannot slip in between and leave the
// try with a stop that no pause will close — a call the client would send
// as soon as its own, shorter pause is over.
func (p *jobPause) calls(work context.Context, now time.Time) (context.Context, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.until.After(now) {
		return nil, false
	}
	return portal.BackgroundUntil(work, p.stop), true
}

// endJob stops the calls of every row waiting for their turn, for good.
func (p *jobPause) endJob() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stopped {
		p.stopped = true
		close(p.stop)
	}
}

// hold pauses the job for wait from at (at most maxJobPause), unless it is
// paused about as long already. It never blocks: the ACS client calls it
// on a call's path.
func (p *jobPause) hold(at time.Time, wait time.Duration) {
	until := at.Add(min(wait, maxJobPause))
	p.mu.Lock()
	defer p.mu.Unlock()
	// The calls in flight are answered alike within milliseconds: a second
	// more is not worth a write.
	if until.Sub(p.until) < time.Second {
		return
	}
	p.at, p.until = at, until
	if !p.stopped {
		close(p.stop)
		p.stop = make(chan struct{})
	}
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

func (p *jobPause) end() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.until
}

// toRecord returns the pause to record and whether it is a new one (the
// pause recorded before had ended when it was asked), and counts it as
// recorded.
func (p *jobPause) toRecord() (at, until time.Time, fresh bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fresh = !p.recorded.After(p.at)
	p.recorded = p.until
	return p.at, p.until, fresh
}

// waitOut waits until ACS's pause of the job ends (it may be extended
// meanwhile), looking at the clock at least every heartbeat, and returns
// how long it waited; false if jobCtx ended first.
func (b *BulkRunner) waitOut(jobCtx context.Context, p *jobPause) (time.Duration, bool) {
	start := time.Now()
	for {
		left := p.end().Sub(b.Now())
		if left <= 0 {
			return time.Since(start), true
		}
		if !sleep(jobCtx, min(left, b.HeartbeatEvery)) {
			return time.Since(start), false
		}
	}
}

// recordPause writes ACS's pause of the job to the job store, so that its
// page shows it and whichever instance runs the job next waits for it, and
// notes a new pause in the audit log: once, however many calls ACS
// throttled.
func (b *BulkRunner) recordPause(work context.Context, who access.Who, job portal.Job, p *jobPause, log *slog.Logger, loseHold func(error)) {
	at, until, fresh := p.toRecord()
	switch err := b.Jobs.PauseJob(work, job.ID, b.holder, at, until); {
	case portal.ErrorCode(err) == portal.ECONFLICT:
		loseHold(err)
		return
	case err != nil:
		// The pause holds here all the same; only its showing is lost.
		log.WarnContext(work, "bulk: ACS's pause not recorded", "until", until, "err", err)
	}
	paused := job
	paused.PausedAt, paused.PausedUntil = at, until
	if fresh {
		b.Service.NoteJob(work, who, job, "paused by ACS "+paused.ACSPauseText()+"; no row fails for it, and the job goes on by itself then")
	}
	log.WarnContext(work, "bulk: paused by ACS", "until", until, "wait", until.Sub(at))
}
