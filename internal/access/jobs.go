package access

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/teamsphone/portal/internal/portal"
)

// Jobs are the use cases of bulk work: stored plans, and the jobs that
// apply them (the rows themselves are applied by Changes.ApplyRow).
type Jobs struct {
	core
	store jobStore
}

// mayBulk reports whether who may start or steer a bulk job: admins and
// helpdesk, like bulk plans.
func mayBulk(u portal.User) error {
	if u.HasAny(portal.RoleAdmin, portal.RoleHelpdesk) {
		return nil
	}
	return portal.Errorf(portal.EFORBIDDEN, "Your role does not allow bulk changes.")
}

// mayManageJob reports whether who may apply, cancel or resume what author
// made: the author, or an admin.
func mayManageJob(u portal.User, author portal.Actor) error {
	if err := mayBulk(u); err != nil {
		return err
	}
	if u.Has(portal.RoleAdmin) || author.ObjectID == u.ObjectID {
		return nil
	}
	return portal.Errorf(portal.EFORBIDDEN, "Only its author or an admin may do this.")
}

// MayManageJob is mayManageJob for pages deciding which buttons to show.
func MayManageJob(u portal.User, author portal.Actor) bool { return mayManageJob(u, author) == nil }

// ApplyRequest asks for a stored plan to be applied.
type ApplyRequest struct {
	PlanID        string
	Justification string
	// IDsChecked is the person's word that they checked the object IDs of
	// the plan's grants that the directory did not have (never found, or
	// gone: Plan.FlaggedGrants); a plan with such rows is not applied
	// without it.
	IDsChecked bool
}

// ErrIDsUnchecked is why a plan granting access to object IDs the
// directory did not have was not applied: the person did not confirm they
// checked them (ApplyRequest.IDsChecked). Wrapped in EINVALID.
var ErrIDsUnchecked = errors.New("object IDs not in the directory are unconfirmed")

// StartJob is ApplyPlan for a plan that needs no confirmation of its
// object IDs (a repair plan of the drift report; any other is refused if
// its grants name IDs the directory did not have).
func (s *Jobs) StartJob(ctx context.Context, who Who, planID, why string) (portal.Job, error) {
	return s.ApplyPlan(ctx, who, ApplyRequest{PlanID: planID, Justification: why})
}

// ApplyPlan queues the application of a stored plan, as who, with the
// justification in every row's audit record. A plan is applied once: a
// second start is ECONFLICT and returns the job already applying it. A
// plan whose grants name object IDs the directory did not have is EINVALID
// wrapping ErrIDsUnchecked unless req.IDsChecked: nothing is queued. A
// plan with revoke rows asks for a fresh sign-in (see fresh.go): without
// one, EFORBIDDEN wrapping portal.ErrSignInNotFresh, recorded as a denial,
// no job made; with one, the job's "queued" audit row says when it was.
func (s *Jobs) ApplyPlan(ctx context.Context, who Who, req ApplyRequest) (portal.Job, error) {
	why, err := s.CleanJustification(req.Justification)
	if err != nil {
		return portal.Job{}, err
	}
	plan, err := s.store.GetPlan(ctx, who.User.TenantID, req.PlanID)
	if err != nil {
		return portal.Job{}, err
	}
	if err := mayManageJob(who.User, plan.CreatedBy); err != nil {
		s.denied(ctx, who, portal.ActionBulk, portal.GUID{}, portal.KindUnknown, err)
		return portal.Job{}, err
	}
	n := plan.Actionable()
	if n == 0 {
		return portal.Job{}, portal.Errorf(portal.EINVALID, "This plan has nothing to apply: every row is unchanged or invalid.")
	}
	checked := ""
	if n := plan.FlaggedGrants(); n > 0 {
		if !req.IDsChecked {
			// Applied already (a form sent twice): that job, as CreateJob
			// would answer, rather than a confirmation no longer needed.
			if job, err := s.store.JobForPlan(ctx, who.User.TenantID, plan.ID); err == nil {
				return job, portal.Errorf(portal.ECONFLICT, "This plan has already been applied.")
			}
			return portal.Job{}, portal.Wrap(ErrIDsUnchecked, portal.EINVALID, fmt.Sprintf(
				"This plan grants access to %s the directory does not have (%s). Check them, then confirm you did to apply the plan. Nothing was changed.",
				plural(n, "object ID"), flaggedText(plan.Checks.Directory)))
		}
		checked = fmt.Sprintf("; %s not in the directory confirmed as checked", plural(n, "object ID"))
	}
	fresh := ""
	if s.freshWindow > 0 && plan.Totals[portal.PlanRevoke] > 0 {
		if err := s.ApplyNeedsFreshSignIn(who, plan); err != nil {
			s.denied(ctx, who, portal.ActionBulk, portal.GUID{}, portal.KindUnknown, err)
			return portal.Job{}, err
		}
		fresh = "; " + freshNote(who)
	}
	job, err := s.store.CreateJob(ctx, portal.Job{ID: newHolder(), PlanID: plan.ID, TenantID: who.User.TenantID, CreatedBy: who.actor(),
		Roles: who.User.Roles, ClientIP: who.ClientIP, Justification: why, CreatedAt: s.now()})
	if err != nil {
		return job, err
	}
	s.NoteJob(ctx, who, job, fmt.Sprintf("queued: %d rows of %s (plan %s)%s%s", n, plan.FileName, ShortID(plan.ID), checked, fresh))
	return job, nil
}

// flaggedText says how many of a plan's flagged IDs were never found and
// how many are gone: "1 never found, 1 gone".
func flaggedText(d portal.PlanDirectory) string {
	var parts []string
	if d.NeverFound > 0 {
		parts = append(parts, fmt.Sprintf("%d never found", d.NeverFound))
	}
	if d.Gone > 0 {
		parts = append(parts, fmt.Sprintf("%d gone since the portal saw them", d.Gone))
	}
	return strings.Join(parts, ", ")
}

// Job returns a job of who's tenant, with its counts.
func (s *Jobs) Job(ctx context.Context, who Who, id string) (portal.Job, error) {
	if err := mayRead(who.User); err != nil {
		return portal.Job{}, err
	}
	return s.store.GetJob(ctx, who.User.TenantID, id)
}

// JobForPlan returns the job applying a plan, or ENOTFOUND.
func (s *Jobs) JobForPlan(ctx context.Context, who Who, planID string) (portal.Job, error) {
	if err := mayRead(who.User); err != nil {
		return portal.Job{}, err
	}
	return s.store.JobForPlan(ctx, who.User.TenantID, planID)
}

// RecentJobs returns who's tenant's most recent jobs, newest first.
func (s *Jobs) RecentJobs(ctx context.Context, who Who, limit int) ([]portal.Job, error) {
	if err := mayRead(who.User); err != nil {
		return nil, err
	}
	return s.store.ListJobs(ctx, who.User.TenantID, limit)
}

// JobRows returns a page of a job's results.
func (s *Jobs) JobRows(ctx context.Context, who Who, id string, f portal.JobRowFilter, offset, limit int) ([]portal.JobRow, int, error) {
	if err := mayRead(who.User); err != nil {
		return nil, 0, err
	}
	return s.store.JobRows(ctx, who.User.TenantID, id, f, offset, limit)
}

// JobRowsAt returns a job's results at the given lines (those its page
// shows), reading no others: a job's page polls it every second.
func (s *Jobs) JobRowsAt(ctx context.Context, who Who, id string, lines []int) ([]portal.JobRow, error) {
	if err := mayRead(who.User); err != nil {
		return nil, err
	}
	return s.store.JobRowsAt(ctx, who.User.TenantID, id, lines)
}

// Plan returns a stored plan of who's tenant.
func (s *Jobs) Plan(ctx context.Context, who Who, id string) (portal.Plan, error) {
	if err := mayRead(who.User); err != nil {
		return portal.Plan{}, err
	}
	return s.store.GetPlan(ctx, who.User.TenantID, id)
}

// PlanRows returns a page of a stored plan's rows of one class ("" for
// all) in line order, and how many there are.
func (s *Jobs) PlanRows(ctx context.Context, who Who, id string, class portal.PlanClass, offset, limit int) ([]portal.PlanRow, int, error) {
	if err := mayRead(who.User); err != nil {
		return nil, 0, err
	}
	return s.store.PlanRows(ctx, who.User.TenantID, id, class, offset, limit)
}

// CancelJob stops a job after the rows in flight; rows not reached are not
// applied.
func (s *Jobs) CancelJob(ctx context.Context, who Who, id string) (portal.Job, error) {
	job, err := s.jobToManage(ctx, who, id)
	if err != nil {
		return job, err
	}
	// A job whose instance stopped answering is cancelled at once, not
	// left to a heartbeat that will never come.
	if _, err := s.store.InterruptStale(ctx, s.now().Add(-portal.JobStaleAfter)); err != nil {
		return job, err
	}
	if job, err = s.store.CancelJob(ctx, who.User.TenantID, id, s.now()); err != nil {
		return job, err
	}
	s.NoteJob(ctx, who, job, "cancel requested")
	return job, nil
}

// ResumeJob queues an interrupted job again; a running job whose instance
// has stopped answering (no heartbeat for JobStaleAfter) counts as
// interrupted. Rows the lost instance had started are settled first.
func (s *Jobs) ResumeJob(ctx context.Context, who Who, id string) (portal.Job, error) {
	job, err := s.jobToManage(ctx, who, id)
	if err != nil {
		return job, err
	}
	// The job goes on with the roles it was applied with: whoever resumes
	// it must hold them now (an author since demoted must ask an admin).
	for _, r := range job.Roles {
		if !who.User.Has(r) {
			err := portal.Errorf(portal.EFORBIDDEN, "This job was applied with the role %s, which you do not hold now; ask someone who does to resume it.", r)
			s.denied(ctx, who, portal.ActionBulk, portal.GUID{}, portal.KindUnknown, err)
			return job, err
		}
	}
	if _, err := s.store.InterruptStale(ctx, s.now().Add(-portal.JobStaleAfter)); err != nil {
		return job, err
	}
	if job, err = s.store.ResumeJob(ctx, who.User.TenantID, id); err != nil {
		return job, err
	}
	s.NoteJob(ctx, who, job, "resume requested")
	return job, nil
}

func (s *Jobs) jobToManage(ctx context.Context, who Who, id string) (portal.Job, error) {
	job, err := s.store.GetJob(ctx, who.User.TenantID, id)
	if err != nil {
		return job, err
	}
	if err := mayManageJob(who.User, job.CreatedBy); err != nil {
		s.denied(ctx, who, portal.ActionBulk, portal.GUID{}, portal.KindUnknown, err)
		return job, err
	}
	return job, nil
}

// NoteJob records a job-level event ("started: …") in the audit log; a
// failure to record it is logged, the job goes on.
func (s *Jobs) NoteJob(ctx context.Context, who Who, job portal.Job, what string) {
	if err := s.note(ctx, who, portal.ActionBulk, portal.OutcomeSuccess, "bulk job "+ShortID(job.ID)+" "+what); err != nil {
		s.log.ErrorContext(ctx, "audit write failed", "event", "bulk.job", "job", job.ID, "err", err)
	}
}

// ShortID is how audit rows and pages name a job or plan: its first eight
// characters, enough to tell a tenant's jobs apart.
func ShortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// RepairPick is one row of the drift report chosen for a bulk repair, with
// the fingerprint (Seen) of the row as the report showed it.
type RepairPick struct {
	ObjectID portal.GUID
	Seen     string
}

// PlanRepairs stores a plan that re-applies (class PlanReapply) or accepts
// (PlanAccept) the picked rows of the drift report, for StartJob. A row
// that changed since the report, or is in sync now, becomes an invalid row
// saying so: it will not be touched. Admins only, as for bulk revokes.
func (s *Jobs) PlanRepairs(ctx context.Context, who Who, class portal.PlanClass, picks []RepairPick) (portal.Plan, error) {
	action := map[portal.PlanClass]portal.AuditAction{portal.PlanReapply: portal.ActionReapply, portal.PlanAccept: portal.ActionAccept}[class]
	if action == "" {
		return portal.Plan{}, portal.Errorf(portal.EINVALID, "Choose re-apply or accept.")
	}
	if !who.User.Has(portal.RoleAdmin) {
		err := portal.Errorf(portal.EFORBIDDEN, "Only admins resolve drift in bulk; resolve rows one at a time.")
		s.denied(ctx, who, action, portal.GUID{}, portal.KindUnknown, err)
		return portal.Plan{}, err
	}
	if len(picks) == 0 {
		return portal.Plan{}, portal.Errorf(portal.EINVALID, "Select at least one row of the report.")
	}
	verb := map[portal.PlanClass]string{portal.PlanReapply: "re-apply", portal.PlanAccept: "accept ACS for"}[class]
	plan := portal.Plan{ID: newHolder(), TenantID: who.User.TenantID, CreatedBy: who.actor(), CreatedAt: s.now(),
		FileName: fmt.Sprintf("Drift report: %s %d row(s)", verb, len(picks)), Totals: map[portal.PlanClass]int{}}
	var rows []portal.PlanRow
	seen := map[portal.GUID]bool{}
	for i, p := range picks {
		row := portal.PlanRow{Line: i + 1, Class: class, ObjectID: p.ObjectID}
		item, err := s.store.GetItem(ctx, who.User.TenantID, p.ObjectID)
		switch {
		case seen[p.ObjectID]:
			row.Class, row.Reason = portal.PlanInvalid, "picked twice"
		case portal.ErrorCode(err) == portal.ENOTFOUND:
			row.Class, row.Reason = portal.PlanInvalid, "no longer in the inventory"
		case err != nil:
			return portal.Plan{}, err
		case Seen(item) != p.Seen:
			row.Class, row.Reason, row.Before = portal.PlanInvalid, "changed since the report was shown; look at it again", &item
		case item.State != portal.StateDrifted && item.State != portal.StateMissing:
			row.Class, row.Reason, row.Before = portal.PlanInvalid, "in sync with ACS now: nothing to resolve", &item
		default:
			row.Kind, row.ClientIDs, row.Label, row.ExpiresAt, row.Before = item.Kind, item.ClientIDs, item.Label, item.ExpiresAt, &item
		}
		seen[p.ObjectID] = true
		plan.Totals[row.Class]++
		rows = append(rows, row)
	}
	if err := s.store.SavePlan(ctx, plan, rows); err != nil {
		return portal.Plan{}, err
	}
	return plan, nil
}
