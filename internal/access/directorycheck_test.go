package access_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
)

// Each ID about to be granted access is found, gone (the portal knew it by
// name, the directory has it no more), never found (a typo), or unknown
// (the directory could not be asked) — never missing for want of an answer.
func TestCheckDirectoryTellsNeverFoundFromGone(t *testing.T) {
	e, dir, _ := namesEnv(t)
	ctx := context.Background()
	typo := portal.MustParseGUID("e5b7f628-ea94-4fdc-b3d9-1af1fe231112")
	// The portal has known Alice by name; then she leaves.
	if c := e.svc.CheckDirectory(ctx, admin, testToken, []portal.GUID{alice, room}); c.Why != "" ||
		c.Of(alice).Presence != portal.PresenceFound || c.Of(alice).Name.DisplayName != "Alice Smith" || c.Of(room).Presence != portal.PresenceFound {
		t.Fatalf("before she left: %+v", c)
	}
	delete(dir.users, alice)

	for round := range 2 { // the second time, from what the first left in the cache
		c := e.svc.CheckDirectory(ctx, helpdesk, testToken, []portal.GUID{alice, typo, room, typo})
		if c.Why != "" || len(c.Objects) != 3 {
			t.Fatalf("round %d: %+v", round, c)
		}
		gone, never, found := c.Of(alice), c.Of(typo), c.Of(room)
		if gone.Presence != portal.PresenceGone || gone.Name.DisplayName != "Alice Smith" || gone.Name.Found {
			t.Errorf("round %d: Alice, who left: %+v", round, gone)
		}
		if never.Presence != portal.PresenceNeverFound || found.Presence != portal.PresenceFound {
			t.Errorf("round %d: the typo %+v, the room %+v", round, never, found)
		}
		if f := gone.Flag(); !strings.Contains(f, "Alice Smith (alice@contoso.test), now gone") {
			t.Errorf("round %d: gone reads %q", round, f)
		}
		if f := never.Flag(); !strings.Contains(f, "never seen by the portal") || strings.Contains(f, "gone") {
			t.Errorf("round %d: never found reads %q", round, f)
		}
		if f := found.Flag(); f != "" {
			t.Errorf("round %d: found reads %q", round, f)
		}
		if got := c.Flagged(); len(got) != 2 || !slices.Contains(got, alice) || !slices.Contains(got, typo) {
			t.Errorf("round %d: flagged %v", round, got)
		}
	}
	// The cache marks her gone, with the name she had: pages still flag
	// her as not in the directory.
	if got, _ := e.svc.CachedNames(ctx, auditor, portal.SpaceObject, []portal.GUID{alice}); got[alice].Found || got[alice].Label() != "Alice Smith" {
		t.Errorf("the cache holds %+v", got[alice])
	}
}

// When the directory cannot be asked, every ID is unknown and the check
// says why: nobody is taken for missing, and the cache is not touched.
func TestCheckDirectoryUnknownWhenGraphCannotBeAsked(t *testing.T) {
	ctx := context.Background()
	typo := portal.MustParseGUID("e5b7f628-ea94-4fdc-b3d9-1af1fe231112")
	for name, tc := range map[string]struct {
		setup func(e *env, dir *fakeDirectory)
		who   access.Who
		token access.GraphToken
		why   string
	}{
		"Graph down": {setup: func(_ *env, dir *fakeDirectory) {
			dir.err = portal.Errorf(portal.EUNAVAILABLE, "Microsoft Graph is not answering.")
		},
			who: admin, token: testToken, why: "not answering"},
		"not consented": {setup: func(_ *env, dir *fakeDirectory) {
			dir.err = portal.Errorf(portal.EFORBIDDEN, "Microsoft Graph refused: User.Read.All is not consented.")
		}, who: admin, token: testToken, why: "not consented"},
		"throttled": {setup: func(_ *env, dir *fakeDirectory) {
			dir.err = portal.Wrap(throttled{}, portal.ETHROTTLED, "Microsoft Graph asked to slow down.")
		},
			who: admin, token: testToken, why: "slow down"},
		"no token": {who: admin, token: func(context.Context) (string, error) {
			return "", portal.Errorf(portal.EUNAUTHORIZED, "Sign in to see names.")
		}, why: "Sign in"},
		"names off": {setup: func(e *env, _ *fakeDirectory) { e.svc = access.New(access.Config{Store: e.store}) },
			who: admin, token: testToken, why: "Names are off"},
		"an auditor": {who: auditor, token: testToken, why: "Only admins and helpdesk"},
	} {
		t.Run(name, func(t *testing.T) {
			e, dir, _ := namesEnv(t)
			if tc.setup != nil {
				tc.setup(e, dir)
			}
			c := e.svc.CheckDirectory(ctx, tc.who, tc.token, []portal.GUID{alice, typo})
			if !strings.Contains(c.Why, tc.why) || c.Of(alice).Presence != portal.PresenceUnknown || c.Of(typo).Presence != portal.PresenceUnknown || len(c.Flagged()) != 0 {
				t.Errorf("%+v; want both unknown, saying %q", c, tc.why)
			}
			if f := c.Of(typo).Flag(); !strings.Contains(f, "could not be asked") {
				t.Errorf("unknown reads %q", f)
			}
			if got, _ := e.svc.CachedNames(ctx, auditor, portal.SpaceObject, []portal.GUID{alice, typo}); len(got) != 0 {
				t.Errorf("the cache learned %+v from a check that could not ask", got)
			}
		})
	}
}

// A plan whose grants name object IDs the directory did not have is not
// applied until the person says they checked them: refused with a clear
// message, nothing queued; confirmed, the job's audit row says so. The
// fresh sign-in a plan with revokes asks for still holds.
func TestApplyPlanAsksToConfirmIDsNotInTheDirectory(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC)
	e := freshEnv(t, now)
	e.grant(admin, alice, portal.KindUser, appA)
	typo := portal.MustParseGUID("e5b7f628-ea94-4fdc-b3d9-1af1fe231112")
	item, _ := e.svc.Item(ctx, admin, alice)
	plan := portal.Plan{ID: "plan-ids-1", TenantID: contoso, CreatedBy: portal.ActorOf(admin.User), CreatedAt: now, FileName: "f.csv",
		Totals: map[portal.PlanClass]int{portal.PlanCreate: 2, portal.PlanRevoke: 1},
		Checks: portal.PlanChecks{RevokedUsers: 1, Directory: portal.PlanDirectory{Asked: 2, NeverFound: 1, Gone: 1, Flagged: []portal.FlaggedRow{
			{Line: 2, ObjectID: typo, Presence: portal.PresenceNeverFound}, {Line: 3, ObjectID: room, Presence: portal.PresenceGone, Name: "Main line"}}}}}
	if err := e.db.SavePlan(ctx, plan, []portal.PlanRow{
		{Line: 2, Class: portal.PlanCreate, ObjectID: typo, Kind: portal.KindUser, ClientIDs: []portal.GUID{appA}, Directory: portal.PresenceNeverFound},
		{Line: 3, Class: portal.PlanCreate, ObjectID: room, Kind: portal.KindUser, ClientIDs: []portal.GUID{appA}, Directory: portal.PresenceGone},
		{Line: 4, Class: portal.PlanRevoke, Revoke: true, ObjectID: alice, Kind: portal.KindUser, Before: &item},
	}); err != nil {
		t.Fatal(err)
	}
	fresh, stale := admin, admin
	fresh.User.AuthTime, stale.User.AuthTime = now.Add(-time.Minute), now.Add(-time.Hour)

	before, writes := len(e.audit()), e.writes()
	for _, who := range []access.Who{fresh, stale} {
		_, err := e.svc.ApplyPlan(ctx, who, access.ApplyRequest{PlanID: plan.ID, Justification: "wave 3"})
		if !errors.Is(err, access.ErrIDsUnchecked) || portal.ErrorCode(err) != portal.EINVALID ||
			!strings.Contains(portal.ErrorMessage(err), "2 object IDs the directory does not have (1 never found, 1 gone since the portal saw them)") ||
			!strings.Contains(portal.ErrorMessage(err), "Nothing was changed") {
			t.Fatalf("unconfirmed: %v", err)
		}
	}
	if _, err := e.svc.JobForPlan(ctx, admin, plan.ID); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("a job was made: %v", err)
	}
	// Confirmed, the fresh sign-in is still asked for.
	if _, err := e.svc.ApplyPlan(ctx, stale, access.ApplyRequest{PlanID: plan.ID, IDsChecked: true}); !errors.Is(err, portal.ErrSignInNotFresh) {
		t.Fatalf("confirmed, signed in an hour ago: %v", err)
	}
	if rows := e.audit()[before:]; len(rows) != 1 || rows[0].Outcome != portal.OutcomeDenied {
		t.Errorf("audit rows %+v, want only the stale sign-in's denial", rows)
	}
	if e.writes() != writes {
		t.Errorf("%d ACS writes", e.writes()-writes)
	}
	job, err := e.svc.ApplyPlan(ctx, fresh, access.ApplyRequest{PlanID: plan.ID, Justification: "wave 3", IDsChecked: true})
	if err != nil || job.Total != 3 {
		t.Fatalf("confirmed and fresh: %+v, %v", job, err)
	}
	if last := e.audit()[len(e.audit())-1]; !strings.Contains(last.Detail, "2 object IDs not in the directory confirmed as checked") {
		t.Errorf("the job's audit row: %q", last.Detail)
	}
	// Sent again without the confirmation: the job applying it.
	if again, err := e.svc.ApplyPlan(ctx, fresh, access.ApplyRequest{PlanID: plan.ID}); portal.ErrorCode(err) != portal.ECONFLICT || again.ID != job.ID {
		t.Errorf("applied twice: %+v, %v", again, err)
	}
}
