package access_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
)

// TestFreshSignInForTheMostDestructiveActs: revoking a resource account and
// applying a plan that revokes ask for a sign-in within the window
// (SECURITY.md, "Fresh sign-in"). Without one — too old, or unknown because
// the token had no auth_time — the act is refused as EFORBIDDEN wrapping
// portal.ErrSignInNotFresh, recorded as a denial, and changes nothing; with
// one, its audit rows say when that sign-in was. Revoking a user asks
// nothing.
func TestFreshSignInForTheMostDestructiveActs(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC)
	e := freshEnv(t, now)
	signedIn := func(ago time.Duration) access.Who {
		w := admin
		if ago >= 0 {
			w.User.AuthTime = now.Add(-ago)
		}
		return w
	}
	e.grant(admin, room, portal.KindResourceAccount)
	e.grant(admin, alice, portal.KindUser, appA)

	for name, who := range map[string]access.Who{
		"eleven minutes ago": signedIn(11 * time.Minute),
		"no auth_time":       signedIn(-1),
		"far in the future":  signedIn(-time.Hour),
	} {
		t.Run(name, func(t *testing.T) {
			before, writes := len(e.audit()), e.writes()
			item, _ := e.svc.Item(ctx, admin, room)
			if err := e.svc.RevokeNeedsFreshSignIn(who, item); !errors.Is(err, portal.ErrSignInNotFresh) {
				t.Errorf("the page's question: %v", err)
			}
			_, err := e.svc.Revoke(ctx, who, access.RevokeRequest{ObjectID: room, Version: item.Version, Justification: "ticket 9"})
			if portal.ErrorCode(err) != portal.EFORBIDDEN || !errors.Is(err, portal.ErrSignInNotFresh) || !strings.Contains(portal.ErrorMessage(err), "sign in again") {
				t.Fatalf("revoke: %v", err)
			}
			if _, held := e.acsHolds(room); !held || e.writes() != writes {
				t.Errorf("ACS changed: held %v, writes %d → %d", held, writes, e.writes())
			}
			if _, err := e.svc.Item(ctx, admin, room); err != nil {
				t.Errorf("inventory row gone: %v", err)
			}
			rows := e.audit()[before:]
			if len(rows) != 1 || rows[0].Action != portal.ActionDenied || rows[0].Outcome != portal.OutcomeDenied || rows[0].ObjectID != room {
				t.Errorf("audit rows %+v, want one denial", rows)
			}
		})
	}

	t.Run("a plan that revokes", func(t *testing.T) {
		plan := portal.Plan{ID: "plan-fresh-1", TenantID: contoso, CreatedBy: portal.ActorOf(admin.User), CreatedAt: now, FileName: "f.csv",
			Totals: map[portal.PlanClass]int{portal.PlanRevoke: 1}}
		item, _ := e.svc.Item(ctx, admin, alice)
		if err := e.db.SavePlan(ctx, plan, []portal.PlanRow{{Line: 2, Class: portal.PlanRevoke, Revoke: true, ObjectID: alice, Kind: portal.KindUser, Before: &item}}); err != nil {
			t.Fatal(err)
		}
		before := len(e.audit())
		if _, err := e.svc.StartJob(ctx, signedIn(11*time.Minute), plan.ID, "ticket 9"); !errors.Is(err, portal.ErrSignInNotFresh) || portal.ErrorCode(err) != portal.EFORBIDDEN {
			t.Fatalf("stale: %v", err)
		}
		if _, err := e.svc.JobForPlan(ctx, admin, plan.ID); portal.ErrorCode(err) != portal.ENOTFOUND {
			t.Errorf("a job was made: %v", err)
		}
		if rows := e.audit()[before:]; len(rows) != 1 || rows[0].Outcome != portal.OutcomeDenied {
			t.Errorf("audit rows %+v, want one denial", rows)
		}
		fresh := signedIn(time.Minute)
		if _, err := e.svc.StartJob(ctx, fresh, plan.ID, "ticket 9"); err != nil {
			t.Fatalf("fresh: %v", err)
		}
		last := e.audit()[len(e.audit())-1]
		if !strings.Contains(last.Detail, "signed in afresh at "+fresh.User.AuthTime.Format(portal.AuditTimeFormat)) {
			t.Errorf("the job's audit row: %q", last.Detail)
		}
		// A plan without revokes asks nothing.
		other := plan
		other.ID, other.Totals = "plan-fresh-2", map[portal.PlanClass]int{portal.PlanUpdate: 1}
		if err := e.svc.ApplyNeedsFreshSignIn(signedIn(-1), other); err != nil {
			t.Errorf("a plan without revokes: %v", err)
		}
	})

	t.Run("a user asks nothing", func(t *testing.T) {
		item, _ := e.svc.Item(ctx, admin, alice)
		if _, err := e.svc.Revoke(ctx, signedIn(-1), access.RevokeRequest{ObjectID: alice, Version: item.Version}); err != nil {
			t.Fatalf("revoke a user: %v", err)
		}
	})

	t.Run("fresh", func(t *testing.T) {
		before := len(e.audit())
		who := signedIn(9 * time.Minute)
		item, _ := e.svc.Item(ctx, admin, room)
		if _, err := e.svc.Revoke(ctx, who, access.RevokeRequest{ObjectID: room, Version: item.Version, Justification: "ticket 9"}); err != nil {
			t.Fatalf("revoke: %v", err)
		}
		if _, held := e.acsHolds(room); held {
			t.Error("ACS still holds the resource account")
		}
		rows := e.audit()[before:]
		want := "signed in afresh at " + who.User.AuthTime.Format(portal.AuditTimeFormat)
		if len(rows) != 2 || !strings.Contains(rows[0].Detail, want) || !strings.Contains(rows[1].Detail, want) || rows[1].Outcome != portal.OutcomeSuccess {
			t.Errorf("audit rows %+v, want intent and outcome noting %q", rows, want)
		}
	})
}

// freshEnv is an env whose clock stands at now, and whose most destructive
// acts ask for a sign-in within the last 10 minutes.
func freshEnv(t *testing.T, now time.Time) *env {
	e := newEnv(t)
	e.cfg.Now = func() time.Time { return now }
	e.cfg.FreshSignIn = 10 * time.Minute
	e.svc = access.New(e.cfg)
	return e
}
