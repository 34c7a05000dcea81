package portal

import (
	"context"
	"time"
)

// JobState is where a bulk job stands.
type JobState string

const (
	// JobQueued waits for an instance to take it (new, or resumed).
	JobQueued JobState = "queued"
	// JobRunning is held by one instance, which applies its rows and
	// renews its heartbeat.
	JobRunning JobState = "running"
	// JobInterrupted lost its instance (stopped, crashed, or stopped
	// answering) while it ran. Rows it had started are settled with ACS
	// when it is resumed, before anything is retried.
	JobInterrupted JobState = "interrupted"
	// JobCancelled was stopped on request: rows it had not reached were
	// not applied. It cannot be resumed; plan the file again instead.
	JobCancelled JobState = "cancelled"
	// JobDone has an outcome for every row.
	JobDone JobState = "done"
)

// JobStaleAfter is how long a running job's instance may go without a
// heartbeat (it beats every few seconds) before the job counts as
// interrupted and may be resumed elsewhere.
const JobStaleAfter = 15 * time.Second

// Finished reports whether the job will apply nothing more on its own.
func (s JobState) Finished() bool { return s == JobCancelled || s == JobDone }

// Actionable reports whether applying a plan row of class c calls ACS (or
// changes the inventory): those rows become a job's rows.
func (c PlanClass) Actionable() bool {
	return c == PlanCreate || c == PlanUpdate || c == PlanRevoke || c == PlanAdopt || c == PlanReapply || c == PlanAccept
}

// Job applies a stored plan in the background, row by row, on whichever
// instance takes it. Progress lives in the database, so every instance
// shows it and a restart loses nothing.
type Job struct {
	ID        string
	PlanID    string
	TenantID  GUID
	CreatedBy Actor
	// Roles are the roles CreatedBy held when applying: rows are applied
	// with them, as if that person applied each.
	Roles []Role
	// ClientIP and Justification are the applying request's; every row's
	// audit records carry them.
	ClientIP      string
	Justification string
	CreatedAt     time.Time
	StartedAt     time.Time // when an instance first took it (zero: not yet)
	FinishedAt    time.Time // zero until done or cancelled
	State         JobState
	// CancelRequested stops a running job after the rows in flight.
	CancelRequested bool
	// Holder is the instance running it and Heartbeat when that instance
	// last said so; a running job whose heartbeat is older than the lease
	// is interrupted.
	Holder    string
	Heartbeat time.Time
	// PausedAt and PausedUntil are the last pause ACS asked of the job's
	// calls (a Retry-After): asked at PausedAt, for the job as a whole, to
	// PausedUntil (zero: never). No row is tried before PausedUntil, by
	// whichever instance runs the job, and no row fails for the wait.
	PausedAt, PausedUntil time.Time

	// Counts, read with the job: its rows by outcome (rows not finished
	// are counted as Pending or InFlight).
	Total    int
	Pending  int
	InFlight int
	Outcomes map[AuditOutcome]int
	// Recent is how many rows finished in the last JobRateWindow of
	// finishing, in whole seconds: from the second JobRateWindow before
	// the newest finish's second, to the newest finish. RecentSpan is the
	// time from the first of them to the last. Recent over RecentSpan is
	// the rate a running job goes at now, whatever pauses it had before.
	Recent     int
	RecentSpan time.Duration
}

// PausedByACS reports whether ACS's pause of the job lasts at now, for a
// job that would otherwise go on (queued, running or interrupted).
func (j Job) PausedByACS(now time.Time) bool {
	return !j.State.Finished() && now.Before(j.PausedUntil)
}

// ACSPauseText says until when ACS paused the job and what it asked for:
// "until 07:15:20 UTC (ACS asked to wait 10 min)".
func (j Job) ACSPauseText() string {
	wait := j.PausedUntil.Sub(j.PausedAt)
	return "until " + UntilText(j.PausedUntil, wait) + " (ACS asked to wait " + WaitText(wait) + ")"
}

// JobRateWindow is how far back a job's current rate looks.
const JobRateWindow = 30 * time.Second

// Who is the person the job acts as.
func (j Job) Who() User {
	return User{TenantID: j.TenantID, ObjectID: j.CreatedBy.ObjectID, Name: j.CreatedBy.Name, Roles: j.Roles}
}

// CountRows adds n of the job's rows, of status and (when done) outcome,
// to its counts.
func (j *Job) CountRows(status JobRowStatus, outcome AuditOutcome, n int) {
	if j.Outcomes == nil {
		j.Outcomes = map[AuditOutcome]int{}
	}
	j.Total += n
	switch status {
	case RowPending:
		j.Pending += n
	case RowRunning:
		j.InFlight += n
	default:
		j.Outcomes[outcome] += n
	}
}

// Done is how many rows have an outcome.
func (j Job) Done() int { return j.Total - j.Pending - j.InFlight }

// JobRowStatus is where one row of a job stands.
type JobRowStatus string

const (
	RowPending JobRowStatus = "pending" // not started, or to be tried again
	RowRunning JobRowStatus = "running" // an instance is applying it
	RowDone    JobRowStatus = "done"    // it has its outcome
)

// JobRow is one row of a job: the plan's row and what applying it did.
type JobRow struct {
	PlanRow
	// Status is "" for a plan row that is not part of the job (unchanged,
	// invalid), shown beside the job's rows in its results.
	Status JobRowStatus
	// Attempts counts how often an instance took the row. A row taken
	// before (a retry, or one left running by an interrupted run) is
	// settled with ACS before it is applied again.
	Attempts   int
	Outcome    AuditOutcome
	Detail     string
	RequestID  string // the last ACS call's client request ID
	FinishedAt time.Time
}

// RowOutcomes lists the outcomes a job's row can end with, in the order
// pages show them.
var RowOutcomes = []AuditOutcome{OutcomeSuccess, OutcomeNoChange, OutcomeConflict, OutcomeDenied, OutcomeFailed, OutcomeUnknown}

// RowResult is what applying a row did. Retry puts the row back as
// pending (ACS was throttled or unavailable); otherwise it is done.
type RowResult struct {
	Outcome   AuditOutcome
	Detail    string
	RequestID string
	Retry     bool
	At        time.Time
	// RetryAfter, with Retry, is how long ACS asked to be left alone (0:
	// it did not say). The runner waits for it, and does not count the
	// wait against the row: ACS is answering, and queues the row.
	RetryAfter time.Duration
}

// JobRowFilter picks rows of a job's results: "" for all; a JobRowStatus
// for rows pending or running; an AuditOutcome for finished rows; or
// "skipped" for the plan's rows that are not part of the job.
type JobRowFilter string

// Keeps says which of a job's results f keeps: the plan's rows that are
// not part of the job (skipped), or the job's rows of a status ("": any)
// and, for finished rows, an outcome ("": any).
func (f JobRowFilter) Keeps() (skipped bool, status JobRowStatus, outcome AuditOutcome) {
	switch f {
	case "":
		return false, "", ""
	case "skipped":
		return true, "", ""
	case JobRowFilter(RowPending), JobRowFilter(RowRunning):
		return false, JobRowStatus(f), ""
	}
	return false, RowDone, AuditOutcome(f)
}

// JobStore keeps bulk jobs and their rows. Reads take the tenant and answer
// ENOTFOUND for another tenant's job; the runner's writes take the holder,
// so an instance that lost its hold changes nothing.
type JobStore interface {
	// CreateJob stores job (queued) with one pending row per actionable
	// row of its plan. A plan has at most one job: a second CreateJob for
	// it is ECONFLICT and returns the existing job, also when two are
	// created at once.
	CreateJob(ctx context.Context, job Job) (Job, error)
	// GetJob returns a job of tenant with its counts.
	GetJob(ctx context.Context, tenant GUID, id string) (Job, error)
	// JobForPlan returns the job applying a plan of tenant, or ENOTFOUND.
	JobForPlan(ctx context.Context, tenant GUID, planID string) (Job, error)
	// ListJobs returns tenant's most recent jobs, newest first, with their
	// counts; a negative limit means all.
	ListJobs(ctx context.Context, tenant GUID, limit int) ([]Job, error)
	// ClaimJob gives holder the oldest queued job of any tenant, now
	// running; false when none waits.
	ClaimJob(ctx context.Context, holder string, now time.Time) (Job, bool, error)
	// Heartbeat renews holder's hold on a running job and reports whether
	// a cancel was asked for. It is ECONFLICT when holder holds it no more.
	Heartbeat(ctx context.Context, id, holder string, now time.Time) (cancel bool, err error)
	// PauseJob records that ACS asked holder's running job to wait, from
	// at until until (see Job.PausedUntil); it is ECONFLICT when holder
	// does not run the job.
	PauseJob(ctx context.Context, id, holder string, at, until time.Time) error
	// InterruptStale marks running jobs whose heartbeat is before stale as
	// interrupted, and reports how many.
	InterruptStale(ctx context.Context, stale time.Time) (int, error)
	// ReleaseJob ends holder's hold, leaving the job in state (done,
	// cancelled, interrupted, or queued: handed back for another instance);
	// done with a row lacking its outcome is interrupted instead. Rows still running become pending, to be
	// settled when it resumes.
	ReleaseJob(ctx context.Context, id, holder string, state JobState, now time.Time) error
	// CancelJob asks a queued or running job to stop; a queued or
	// interrupted job is cancelled at once. Cancelling a finished job is
	// EINVALID.
	CancelJob(ctx context.Context, tenant GUID, id string, now time.Time) (Job, error)
	// ResumeJob queues an interrupted job again, dropping a cancel asked
	// of the instance that was lost; any other state is EINVALID.
	ResumeJob(ctx context.Context, tenant GUID, id string) (Job, error)
	// ClaimRows takes up to n pending rows of a job holder runs, in line
	// order, marking them running and counting an attempt; none when all
	// are taken. ECONFLICT when holder does not run the job.
	ClaimRows(ctx context.Context, id, holder string, n int) ([]JobRow, error)
	// FinishRow records a row's result if holder still runs the job and
	// holds the row; ECONFLICT when it does not run the job. A row the
	// commit of its outcome finished already (Store.Commit with a JobStep)
	// keeps its outcome and request ID; only its detail is replaced.
	FinishRow(ctx context.Context, id, holder string, line int, r RowResult) error
	// JobRows returns a page of a job's results in line order — its plan's
	// rows with what applying each did — and how many match. A negative
	// limit means no limit.
	JobRows(ctx context.Context, tenant GUID, id string, f JobRowFilter, offset, limit int) ([]JobRow, int, error)
	// JobRowsAt returns a job's results at the given lines of its plan, in
	// line order (a line the plan lacks is left out), reading those rows
	// alone: what the job's page, polling while it runs, shows of the rows
	// it holds costs the same however many rows the job has. Another
	// tenant's job, or none, has no rows.
	JobRowsAt(ctx context.Context, tenant GUID, id string, lines []int) ([]JobRow, error)
}
