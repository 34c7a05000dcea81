package access_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/portal"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestTimeBoxedAccessEnds(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	clk := &clock{t: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	client, _ := acs.New(acs.Options{Endpoint: "http://" + e.hostPort(t), AccessKey: key})
	svc := access.New(access.Config{ACS: client, Store: e.db, Now: clk.Now})

	if _, err := svc.Grant(ctx, admin, access.GrantRequest{ObjectID: alice, Kind: portal.KindUser, ClientIDs: []portal.GUID{appA}, ExpiresAt: clk.Now().Add(-time.Minute)}); portal.ErrorCode(err) != portal.EINVALID {
		t.Fatalf("an expiry in the past: %v", err)
	}
	if _, err := svc.Grant(ctx, admin, access.GrantRequest{ObjectID: alice, Kind: portal.KindUser, ClientIDs: []portal.GUID{appA}, ExpiresAt: clk.Now().AddDate(6, 0, 0)}); portal.ErrorCode(err) != portal.EINVALID {
		t.Fatalf("an expiry six years ahead: %v", err)
	}
	res, err := svc.Grant(ctx, admin, access.GrantRequest{ObjectID: alice, Kind: portal.KindUser, ClientIDs: []portal.GUID{appA},
		Justification: "INC-42 cover for the holidays", ExpiresAt: clk.Now().Add(time.Hour)})
	if err != nil || !res.Item.ExpiresAt.Equal(clk.Now().Add(time.Hour)) {
		t.Fatalf("grant: %+v, %v", res.Item, err)
	}
	if _, err := svc.Grant(ctx, admin, access.GrantRequest{ObjectID: room, Kind: portal.KindResourceAccount}); err != nil {
		t.Fatal(err)
	}
	up, err := svc.Upcoming(ctx, auditor)
	if err != nil || len(up) != 1 || up[0].ObjectID != alice {
		t.Fatalf("upcoming: %+v, %v", up, err)
	}
	system := access.Who{User: portal.User{Roles: []portal.Role{portal.RoleAdmin}}, System: "expiry"}
	if rep, err := svc.Expire(ctx, system, 0); err != nil || rep.Revoked != 0 {
		t.Fatalf("before the end: %+v, %v", rep, err)
	}
	clk.Add(90 * time.Minute)
	if rep, err := svc.Expire(ctx, system, time.Hour); err != nil || rep.Revoked != 0 {
		t.Fatalf("within the grace: %+v, %v", rep, err)
	}
	rep, err := svc.Expire(ctx, system, 0)
	if err != nil || rep.Revoked != 1 {
		t.Fatalf("after the end: %+v, %v", rep, err)
	}
	if _, ok := e.acsHolds(alice); ok {
		t.Error("ACS still holds the expired assignment")
	}
	if _, ok := e.acsHolds(room); !ok {
		t.Error("the assignment without an expiry was revoked")
	}
	evs := e.audit()
	last := evs[len(evs)-1]
	if last.Action != portal.ActionRevoke || last.Outcome != portal.OutcomeSuccess || last.Actor.Name != "System (expiry)" ||
		!last.Actor.IsSystem() || last.Justification != "INC-42 cover for the holidays" || last.Before == nil || last.Before.ExpiresAt == "" {
		t.Errorf("the expiry's audit row: %+v", last)
	}
	// Changing only the expiry: no ACS call, a new version, audited as
	// the portal's own change.
	res, err = svc.Grant(ctx, admin, access.GrantRequest{ObjectID: alice, Kind: portal.KindUser, ClientIDs: []portal.GUID{appA}, ExpiresAt: clk.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	writes := e.writes()
	ed, err := svc.Edit(ctx, admin, access.EditRequest{ObjectID: alice, ClientIDs: []portal.GUID{appA}, Version: res.Item.Version, ExpiresAt: clk.Now().Add(48 * time.Hour)})
	if err != nil || ed.Outcome != portal.OutcomeSuccess || ed.Action != portal.ActionEditInventory || ed.Item.Version != 2 || !ed.Item.ExpiresAt.Equal(clk.Now().Add(48*time.Hour)) {
		t.Fatalf("extending: %+v, %v", ed, err)
	}
	if e.writes() != writes {
		t.Error("extending wrote to ACS")
	}
}
