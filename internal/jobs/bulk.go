package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
)

// BulkRunner applies bulk jobs: it takes queued jobs from the database, one
// at a time per instance, and applies their rows with bounded concurrency.
// The job's hold is a heartbeat in the database: a job whose instance stops
// renewing it is marked interrupted (by any instance), and resumes when a
// person asks, settling the rows that were in flight before retrying any.
type BulkRunner struct {
	Service *access.Service
	Jobs    portal.JobStore
	// Workers caps the rows applied at once (default 128). Below it the
	// runner follows the ACS client, which adapts its calls in flight to
	// what ACS allows (Changes.ACSCallsAllowed): it applies twice as many
	// rows as calls allowed, so the calls stay busy while the other rows
	// take their locks and write their audit rows, and no more, since a
	// row waiting for a call holds its assignment's lock and, on a cancel,
	// is still applied.
	Workers int
	// HeartbeatEvery is how often the hold is renewed and a cancel looked
	// for (default 2 s); StaleAfter is how old a heartbeat may be before the
	// job counts as interrupted (default portal.JobStaleAfter).
	HeartbeatEvery time.Duration
	StaleAfter     time.Duration
	// Poll is how often the queue is looked at without a Wake (default 2 s).
	Poll time.Duration
	// RetryDelay is the first wait before a row is tried again after ACS
	// was throttled or unavailable or another change held the assignment
	// (default 1 s, doubling up to 15 s); RetryFor is how long a row is
	// tried before it is given up (default 2 min: the ACS client has
	// already retried each call, and a crashed instance's locks lapse in
	// 15 s). A wait ACS asks for (Retry-After) is neither: the row waits
	// it out, the whole job with it from minJobPause on, and its RetryFor
	// starts again after it (ACS is answering, and says when).
	RetryDelay time.Duration
	RetryFor   time.Duration
	// Observer, if set, hears of every row this instance finishes.
	Observer RowObserver
	Logger   *slog.Logger
	Now      func() time.Time

	once   sync.Once
	holder string
	wake   chan struct{}
}

// RowObserver hears of every row of a bulk job finished here (metrics).
type RowObserver interface {
	ObserveBulkRow(outcome string)
}

func (b *BulkRunner) init() {
	b.once.Do(func() {
		b.holder = newHolder("bulk")
		b.wake = make(chan struct{}, 1)
		setDefault(&b.Workers, 128)
		setDefault(&b.RetryFor, 2*time.Minute)
		setDefault(&b.HeartbeatEvery, 2*time.Second)
		setDefault(&b.StaleAfter, portal.JobStaleAfter)
		setDefault(&b.Poll, 2*time.Second)
		setDefault(&b.RetryDelay, time.Second)
		if b.Logger == nil {
			b.Logger = slog.New(slog.DiscardHandler)
		}
		if b.Now == nil {
			b.Now = time.Now
		}
	})
}

func setDefault[T int | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// Wake asks the runner to look at the queue now (a job was just queued).
func (b *BulkRunner) Wake() {
	b.init()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Run takes and applies queued jobs until ctx ends. A job running when ctx
// ends finishes the rows in flight and goes back to the queue.
func (b *BulkRunner) Run(ctx context.Context) {
	b.init()
	t := time.NewTicker(b.Poll)
	defer t.Stop()
	for {
		for ctx.Err() == nil && b.RunOnce(ctx) {
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-b.wake:
		}
	}
}

// RunOnce marks jobs whose instance died as interrupted, then takes one
// queued job and applies it to the end. It reports whether it took one.
func (b *BulkRunner) RunOnce(ctx context.Context) bool {
	b.init()
	if n, err := b.Jobs.InterruptStale(ctx, b.Now().Add(-b.StaleAfter)); err != nil {
		b.Logger.WarnContext(ctx, "bulk: stale jobs not checked", "event", "job.bulk", "err", err)
	} else if n > 0 {
		b.Logger.WarnContext(ctx, "bulk: jobs interrupted (their instance stopped answering)", "event", "job.bulk", "jobs", n)
	}
	// A shutdown must not cut the claim short: committed but not read back,
	// it would leave the job running with nobody on it until it went stale
	// and a person resumed it. Once held, apply hands it back at once if
	// ctx has ended.
	claimCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	job, ok, err := b.Jobs.ClaimJob(claimCtx, b.holder, b.Now())
	cancel()
	if err != nil {
		b.Logger.WarnContext(ctx, "bulk: queue not read", "event", "job.bulk", "err", err)
		return false
	}
	if !ok {
		return false
	}
	b.apply(ctx, job)
	return true
}

// apply runs one job this instance holds.
func (b *BulkRunner) apply(ctx context.Context, job portal.Job) {
	log := b.Logger.With("event", "job.bulk", "job", job.ID, "tenant", job.TenantID.String())
	who := access.Who{User: job.Who(), ClientIP: job.ClientIP}
	// Rows already in flight finish even when ctx ends (shutdown): their
	// outcome is recorded rather than left for a resume to settle. Their
	// calls are background work: the ACS client serves a person's change
	// before them.
	work := portal.Background(context.WithoutCancel(ctx))
	// A wait ACS asks of any of the job's calls pauses the whole job; one
	// recorded before (by an instance that stopped) still holds.
	pause := newJobPause(job)
	work = portal.WhenAskedToWait(work, func(wait time.Duration) {
		if wait >= minJobPause {
			pause.hold(b.Now(), wait)
		}
	})
	verb := "started"
	if job.Done() > 0 || job.Pending < job.Total {
		verb = "resumed"
	}
	after := ""
	if job.PausedByACS(b.Now()) {
		after = ", after ACS's pause " + job.ACSPauseText()
	}
	b.Service.NoteJob(work, who, job, fmt.Sprintf("%s: %d of %d rows to apply%s", verb, job.Pending, job.Total, after))
	log.InfoContext(ctx, "bulk job "+verb, "pending", job.Pending, "total", job.Total)

	// stop ends the job's work here: on shutdown (ctx), on a cancel seen
	// in the heartbeat, or when this instance lost its hold. Rows in
	// flight finish (work); rows waiting to be tried again do not wait.
	jobCtx, stopJob := context.WithCancel(ctx)
	defer stopJob()
	context.AfterFunc(jobCtx, pause.endJob)
	var cancelled, lost atomic.Bool
	loseHold := func(err error) {
		if !lost.Swap(true) {
			log.ErrorContext(ctx, "bulk: hold on the job lost; stopping", "err", err)
		}
		stopJob()
	}
	beating := make(chan struct{})
	go func() {
		defer close(beating)
		t := time.NewTicker(b.HeartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-jobCtx.Done():
				return
			case <-pause.changed:
				b.recordPause(work, who, job, pause, log, loseHold)
			case <-t.C:
				cancel, err := b.Jobs.Heartbeat(work, job.ID, b.holder, b.Now())
				switch {
				case portal.ErrorCode(err) == portal.ECONFLICT:
					loseHold(err)
					return
				case err != nil:
					log.WarnContext(ctx, "bulk: heartbeat not recorded", "err", err)
				case cancel:
					cancelled.Store(true)
					stopJob()
					return
				}
			}
		}
	}()

	// Lines an instance left with an intent open (killed, or paused past
	// its hold) are settled before any is tried again, the hold beating:
	// a line ACS turns out to hold is done with that one outcome.
	if n, err := b.Service.SettleJob(work, job, b.holder); err != nil {
		log.WarnContext(ctx, "bulk: some lines left open were not settled; they are applied again", "found_applied", n, "err", err)
	} else if n > 0 {
		log.InfoContext(ctx, "bulk: lines left open found applied", "lines", n)
	}

	// One feeder claims rows a batch at a time (one write for many); the
	// loop below starts each row when fewer than inFlight() are running.
	// Rows claimed but not reached when the job stops go back to pending
	// with the job (ReleaseJob).
	inFlight := func() int { return max(1, min(b.Workers, 2*b.Service.ACSCallsAllowed())) }
	rows := make(chan portal.JobRow)
	go func() {
		defer close(rows)
		for jobCtx.Err() == nil {
			// No rows are taken while ACS has paused the job.
			if _, ok := b.waitOut(jobCtx, pause); !ok {
				return
			}
			batch, err := b.Jobs.ClaimRows(work, job.ID, b.holder, inFlight())
			switch {
			case portal.ErrorCode(err) == portal.ECONFLICT:
				loseHold(err)
				return
			case err != nil:
				log.WarnContext(ctx, "bulk: rows not claimed", "err", err)
				if !sleep(jobCtx, b.RetryDelay) {
					return
				}
				continue
			case len(batch) == 0:
				return
			}
			for _, row := range batch {
				rows <- row
			}
		}
	}()
	var wg sync.WaitGroup
	var running atomic.Int32
	finished := make(chan struct{}, 1)
	for row := range rows {
		// The limit moves only as calls are answered, and a row ends soon
		// after its call: looking again at each row's end is enough.
		for jobCtx.Err() == nil && int(running.Load()) >= inFlight() {
			select {
			case <-finished:
			case <-jobCtx.Done():
			}
		}
		b.waitOut(jobCtx, pause) // none starts while ACS has paused the job
		if jobCtx.Err() != nil {
			continue // drain: the feeder stops at its next batch
		}
		running.Add(1)
		wg.Go(func() {
			defer func() {
				running.Add(-1)
				select {
				case finished <- struct{}{}:
				default:
				}
			}()
			b.applyRow(jobCtx, work, who, job, row, pause, log, loseHold)
		})
	}
	wg.Wait()
	stopJob()
	<-beating

	state := portal.JobDone
	switch {
	case lost.Load():
		return // marked interrupted (and perhaps resumed elsewhere): not ours to end
	case cancelled.Load():
		state = portal.JobCancelled
	case ctx.Err() != nil:
		// This instance is stopping on purpose, with every row in flight
		// finished: hand the job back to the queue, and another instance
		// (or this one, restarted) goes on with it by itself. Only a
		// crash, which finishes nothing, needs a person to resume.
		state = portal.JobQueued
	}
	if err := b.Jobs.ReleaseJob(work, job.ID, b.holder, state, b.Now()); err != nil {
		log.ErrorContext(ctx, "bulk: job's end not recorded; it will show as interrupted", "err", err)
		return
	}
	final, err := b.Jobs.GetJob(work, job.TenantID, job.ID)
	if err != nil {
		return
	}
	// The store makes "done" interrupted when a row lacks its outcome.
	summary := string(final.State) + ": " + outcomeSummary(final)
	switch final.State {
	case portal.JobInterrupted:
		summary = "interrupted: " + outcomeSummary(final) + "; resume it to go on"
	case portal.JobQueued:
		summary = "handed back (this instance is stopping): " + outcomeSummary(final) + "; another instance goes on with it"
	}
	b.Service.NoteJob(work, who, job, summary)
	log.InfoContext(ctx, "bulk job "+string(final.State), "done", final.Done(), "total", final.Total)
}

// applyRow applies one claimed row, trying again (with backoff) while ACS is
// throttled or unavailable, and records its result. A wait ACS asks for is
// waited out, not counted against the row: from minJobPause on, it pauses
// the whole job. jobCtx ends the waits between tries; work carries the
// calls, which finish once started.
func (b *BulkRunner) applyRow(jobCtx, work context.Context, who access.Who, job portal.Job, row portal.JobRow, pause *jobPause, log *slog.Logger, loseHold func(error)) {
	who.Via = fmt.Sprintf("bulk job %s, line %d", access.ShortID(job.ID), row.Line)
	who.Step = &portal.JobStep{Job: job.ID, Holder: b.holder, Line: row.Line}
	again := row.Attempts > 1
	delay, began := b.RetryDelay, time.Now()
	var res portal.RowResult
	for try := 1; ; try++ {
		calls, ok := pause.calls(work, b.Now())
		if !ok {
			// Paused since this row last looked: no try begins (no
			// intent, no call) until the pause is over.
			paused, ok := b.waitOut(jobCtx, pause)
			if !ok {
				res.Retry = true // stopping: back to pending, as below
				break
			}
			began = began.Add(paused)
			try--
			continue
		}
		final := time.Since(began) >= b.RetryFor
		var retry bool
		tried := b.Now()
		res, retry = b.Service.ApplyRow(calls, who, job.Justification, row, again, final)
		if !retry {
			break
		}
		again = true
		asked := res.RetryAfter
		if final && asked == 0 {
			res.Detail = fmt.Sprintf("Gave up after %d tries over %v: %s", try, time.Since(began).Round(time.Second), res.Detail)
			break
		}
		wait := delay
		switch {
		case asked >= minJobPause:
			// From the try's start, not from now: ACS answered during
			// the try, and the client has told the pause already
			// (WhenAskedToWait). This goroutine may run again only
			// after the pause is over; a hold from then would pause the
			// job a second time for the same ask.
			pause.hold(tried, asked)
			wait = 0
		case asked > 0:
			wait = asked
		}
		paused, ok := time.Duration(0), sleep(jobCtx, wait)
		if ok {
			paused, ok = b.waitOut(jobCtx, pause)
		}
		if !ok {
			// Stopping: back to pending, settled and tried again on resume.
			res.Retry = true
			break
		}
		if asked > 0 {
			began = time.Now() // ACS said when: its give-up clock starts again
		} else {
			began = began.Add(paused) // nor does a pause of the job count
			delay = min(delay*2, 15*time.Second)
		}
	}
	// A failed write of the outcome is tried again: a row left without it
	// makes the job end interrupted, to be settled on resume.
	for try := 1; ; try++ {
		err := b.Jobs.FinishRow(work, job.ID, b.holder, row.Line, res)
		switch {
		case err == nil:
			if b.Observer != nil && !res.Retry {
				b.Observer.ObserveBulkRow(string(res.Outcome))
			}
			return
		case portal.ErrorCode(err) == portal.ECONFLICT:
			loseHold(err)
			return
		case try == 3:
			log.ErrorContext(work, "bulk: row outcome not recorded; it will be settled on resume", "line", row.Line, "err", err)
			return
		}
		sleep(work, b.RetryDelay)
	}
}

// outcomeSummary is "12 success, 1 conflict" in a stable order.
func outcomeSummary(j portal.Job) string {
	var parts []string
	for _, o := range portal.RowOutcomes {
		if n := j.Outcomes[o]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, o))
		}
	}
	if j.Pending > 0 {
		parts = append(parts, fmt.Sprintf("%d not applied", j.Pending))
	}
	if len(parts) == 0 {
		return "no rows"
	}
	return strings.Join(parts, ", ")
}

// sleep waits d or until ctx ends, and reports whether it waited in full.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
