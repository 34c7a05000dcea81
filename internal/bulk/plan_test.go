package bulk_test

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/bulk"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/sqlite"
)

var (
	contoso  = portal.MustParseGUID("1c361ff7-fb44-4685-bb78-1bad6ce5bef3")
	fabrikam = portal.MustParseGUID("97cd3c2e-7c4c-44e0-8c3e-22865289e758")
	alice    = portal.MustParseGUID("e5b7f628-ea94-4fdc-b3d9-1af1fe231111")
	room     = portal.MustParseGUID("2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c03")
	appA     = portal.MustParseGUID("83ecbc78-e1ba-4e8f-a454-5483ef618061")
)

func who(tenant portal.GUID, role portal.Role) access.Who {
	return access.Who{User: portal.User{TenantID: tenant, ObjectID: portal.MustParseGUID("369f18b8-e505-4795-b1cf-e40cfc95f82e"), Name: "Someone", Roles: []portal.Role{role}}}
}

func TestPlanClassifiesWithoutApplying(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	db := seededDB(t, now)
	svc := access.New(access.Config{Store: db, Now: func() time.Time { return now }})
	p := &bulk.Planner{Access: svc, Plans: db, Limits: bulk.Limits{Now: func() time.Time { return now }}}
	file := "objectId,kind,clientIds,label,action\n" +
		alice.String() + ",user," + appA.String() + ",,\n" + // unchanged (empty label keeps "seeded")
		"4b7f3b1e-2f0c-4e6a-9d0c-5a1b2c3d4e01,user," + appA.String() + ",Bob,\n" + // create
		room.String() + ",,,,revoke\n" + // revoke
		"7c1d9e2f-3a4b-4c5d-8e6f-7a8b9c0d1e02,,,,revoke\n" + // invalid: nothing to revoke
		"9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c05,robot,,,\n" // invalid kind
	headBefore := auditHead(t, db)
	plan, err := p.Plan(ctx, who(contoso, portal.RoleAdmin), nil, "changes.csv", strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	want := map[portal.PlanClass]int{portal.PlanUnchanged: 1, portal.PlanCreate: 1, portal.PlanRevoke: 1, portal.PlanInvalid: 2}
	for c, n := range want {
		if plan.Totals[c] != n {
			t.Errorf("%s: %d, want %d (%v)", c, plan.Totals[c], n, plan.Totals)
		}
	}
	if auditHead(t, db) != headBefore {
		t.Error("planning wrote to the audit log")
	}
	if inv := items(t, db); len(inv) != 2 {
		t.Errorf("planning changed the inventory: %d rows", len(inv))
	}
	rows, n, err := db.PlanRows(ctx, contoso, plan.ID, portal.PlanInvalid, 0, 10)
	if err != nil || n != 2 || rows[0].Line != 5 || rows[1].Column != bulk.ColKind {
		t.Fatalf("invalid rows: %+v, %d, %v", rows, n, err)
	}
	all, n, _ := db.PlanRows(ctx, contoso, plan.ID, "", 0, 10)
	if n != 5 || all[2].Class != portal.PlanRevoke || all[2].Before == nil || all[2].Before.Kind != portal.KindResourceAccount {
		t.Errorf("all rows: %+v", all)
	}
	// Another tenant cannot see it.
	if _, err := db.GetPlan(ctx, fabrikam, plan.ID); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("Fabrikam reads Contoso's plan: %v", err)
	}
	// Helpdesk: revokes and resource accounts are invalid rows, users fine.
	plan, err = p.Plan(ctx, who(contoso, portal.RoleHelpdesk), nil, "h.csv", strings.NewReader(
		"objectId,kind,clientIds,action\n"+room.String()+",,,revoke\n8f7e6d5c-4b3a-4291-8f0e-d9c8b7a6f506,resourceAccount,,\n4b7f3b1e-2f0c-4e6a-9d0c-5a1b2c3d4e01,user,"+appA.String()+",\n"))
	if err != nil || plan.Totals[portal.PlanInvalid] != 2 || plan.Totals[portal.PlanCreate] != 1 {
		t.Errorf("helpdesk plan: %v, %v", plan.Totals, err)
	}
	// A grant that would change a known assignment's kind is refused: ACS
	// would take it, but it is a revoke and a new grant, not an update.
	plan, err = p.Plan(ctx, who(contoso, portal.RoleAdmin), nil, "k.csv", strings.NewReader("objectId,kind,clientIds\n"+room.String()+",user,"+appA.String()+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if rows, _, _ := db.PlanRows(ctx, contoso, plan.ID, "", 0, 10); len(rows) != 1 || rows[0].Class != portal.PlanInvalid || rows[0].Column != bulk.ColKind ||
		!strings.Contains(rows[0].Reason, "revoke it first") {
		t.Errorf("kind change: %+v", rows)
	}
	if _, err := p.Plan(ctx, who(contoso, portal.RoleAuditor), nil, "a.csv", strings.NewReader(file)); portal.ErrorCode(err) != portal.EFORBIDDEN {
		t.Errorf("auditor plans: %v", err)
	}
}

// seededDB is a database whose inventory holds Alice (a user) and the
// room (a resource account), labelled "seeded", as of now.
func seededDB(t *testing.T, now time.Time) *sqlite.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	actor := portal.Actor{TenantID: contoso, Name: "seed"}
	for _, a := range []portal.Assignment{
		{TenantID: contoso, ObjectID: alice, Kind: portal.KindUser, ClientIDs: []portal.GUID{appA}},
		{TenantID: contoso, ObjectID: room, Kind: portal.KindResourceAccount},
	} {
		ev := portal.AuditEvent{Time: now, Actor: actor, TenantID: contoso, ObjectID: a.ObjectID, Kind: a.Kind, Action: portal.ActionAdopt, Phase: portal.PhaseEvent}
		if _, _, err := db.Commit(ctx, ev, portal.InventoryChange{Op: portal.InventoryPut, Item: portal.InventoryItem{Assignment: a, Label: "seeded", UpdatedAt: now, UpdatedBy: actor}}); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func auditHead(t *testing.T, db *sqlite.DB) int64 {
	var head int64
	db.WalkAudit(context.Background(), portal.GUID{}, func(e portal.AuditEvent) error { head = e.Seq; return nil })
	return head
}

func items(t *testing.T, db *sqlite.DB) []portal.InventoryItem {
	var out []portal.InventoryItem
	db.AllItems(context.Background(), portal.GUID{}, func(it portal.InventoryItem) error { out = append(out, it); return nil })
	return out
}

// directory is Graph as the planner's use cases ask it: it has the people
// in has, and fails with err.
type directory struct {
	has map[portal.GUID]string
	err error
}

func (d *directory) SearchUsers(context.Context, string, string, int) ([]portal.DirectoryEntry, error) {
	return nil, nil
}

func (d *directory) Resolve(_ context.Context, _ string, ids []portal.GUID) (map[portal.GUID]portal.DirectoryEntry, error) {
	out := map[portal.GUID]portal.DirectoryEntry{}
	for _, id := range ids {
		if name, ok := d.has[id]; ok {
			out[id] = portal.DirectoryEntry{ObjectID: id, Kind: portal.KindUser, DisplayName: name}
		}
	}
	return out, d.err
}

func (d *directory) ResourceAccounts(context.Context, string, string) ([]portal.DirectoryEntry, error) {
	return nil, d.err
}

func (d *directory) AppName(context.Context, string, portal.GUID) (string, bool, error) {
	return "", false, d.err
}

// The plan keeps what the directory said of each grant's object ID, and
// counts whom its revokes take access from.
func TestPlanChecksTheDirectory(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	db := seededDB(t, now)
	bob := portal.MustParseGUID("4b7f3b1e-2f0c-4e6a-9d0c-5a1b2c3d4e01")
	typo := portal.MustParseGUID("4b7f3b1e-2f0c-4e6a-9d0c-5a1b2c3d4e02")
	chen := portal.MustParseGUID("6c7d8e9f-0a1b-4c2d-9e3f-4a5b6c7d8e04")
	// The portal knew Chen Wei by name; he has left since.
	if err := db.PutNames(ctx, contoso, []portal.DirectoryName{{TenantID: contoso, Space: portal.SpaceObject, ID: chen, Found: true, Kind: portal.KindUser,
		DisplayName: "Chen Wei", UPN: "chen@contoso.test", FetchedAt: now.Add(-time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	dir := &directory{has: map[portal.GUID]string{bob: "Bob", alice: "Alice"}}
	svc := access.New(access.Config{Store: db, Directory: dir, Now: func() time.Time { return now }})
	p := &bulk.Planner{Access: svc, Plans: db, Limits: bulk.Limits{Now: func() time.Time { return now }}}
	token := func(context.Context) (string, error) { return "token", nil }
	file := "objectId,kind,clientIds,label,action\n" +
		bob.String() + ",user," + appA.String() + ",Bob,\n" + // create, found
		typo.String() + ",user," + appA.String() + ",Bob (typo),\n" + // create, never found
		chen.String() + ",user," + appA.String() + ",,\n" + // create, gone
		alice.String() + ",,,,revoke\n" + // revoke a user
		room.String() + ",,,,revoke\n" // revoke a resource account
	plan, err := p.Plan(ctx, who(contoso, portal.RoleAdmin), token, "changes.csv", strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	stored, err := db.GetPlan(ctx, contoso, plan.ID)
	if err != nil {
		t.Fatal(err)
	}
	c := stored.Checks
	if c.RevokedUsers != 1 || c.RevokedResourceAccounts != 1 {
		t.Errorf("revokes: %d users, %d resource accounts; want 1 and 1", c.RevokedUsers, c.RevokedResourceAccounts)
	}
	d := c.Directory
	if d.Asked != 3 || d.NeverFound != 1 || d.Gone != 1 || d.Unknown != 0 || d.Why != "" || stored.FlaggedGrants() != 2 {
		t.Errorf("directory: %+v", d)
	}
	want := []portal.FlaggedRow{
		{Line: 3, ObjectID: typo, Presence: portal.PresenceNeverFound, Label: "Bob (typo)"},
		{Line: 4, ObjectID: chen, Presence: portal.PresenceGone, Name: "Chen Wei", UPN: "chen@contoso.test"},
	}
	if !reflect.DeepEqual(d.Flagged, want) {
		t.Errorf("flagged: %+v, want %+v", d.Flagged, want)
	}
	rows, _, _ := db.PlanRows(ctx, contoso, plan.ID, "", 0, 10)
	var got []portal.Presence
	for _, r := range rows {
		got = append(got, r.Directory)
	}
	if !reflect.DeepEqual(got, []portal.Presence{portal.PresenceFound, portal.PresenceNeverFound, portal.PresenceGone, "", ""}) {
		t.Errorf("rows' presence: %q", got)
	}

	// Graph down: unknown, not missing; nothing flagged, and the plan says why.
	dir.err = portal.Errorf(portal.EUNAVAILABLE, "Microsoft Graph is not answering.")
	plan, err = p.Plan(ctx, who(contoso, portal.RoleAdmin), token, "changes.csv", strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	stored, _ = db.GetPlan(ctx, contoso, plan.ID)
	if d := stored.Checks.Directory; d.Unknown != 3 || stored.FlaggedGrants() != 0 || !strings.Contains(d.Why, "not answering") {
		t.Errorf("Graph down: %+v", d)
	}
}
