package bulk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"slices"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
)

// Planner turns an uploaded file into a stored plan, applying nothing.
type Planner struct {
	Access *access.Service
	Plans  portal.PlanStore
	Limits Limits
}

// Plan reads the file and classifies every row against the inventory of
// who's tenant: create, update (with the row as it is now), unchanged,
// revoke, or invalid with the reason. In a grant row, an empty label or
// expiresAt keeps what the inventory has. Helpdesk may plan grants of
// users only. The object IDs of the grant rows are looked up in the
// directory on token (the person's Graph token; nil: not looked up), and
// the plan keeps what it said (portal.PlanChecks). A file error (see Read)
// stores nothing.
func (p *Planner) Plan(ctx context.Context, who access.Who, token access.GraphToken, fileName string, r io.Reader) (portal.Plan, error) {
	return p.plan(ctx, who, token, fileName, r, Read, p.classify)
}

// PlanAdopt reads a file of object IDs (see ReadAdopt) into a plan that
// adopts each the inventory does not know yet; whether ACS holds it is
// found out when the plan is applied. Adopting grants nothing, so the
// directory is not asked (token is for Plan's sake).
func (p *Planner) PlanAdopt(ctx context.Context, who access.Who, token access.GraphToken, fileName string, r io.Reader) (portal.Plan, error) {
	return p.plan(ctx, who, nil, fileName, r, ReadAdopt, func(_ access.Who, inventory map[portal.GUID]portal.InventoryItem, row Row) portal.PlanRow {
		pr := portal.PlanRow{Line: row.Line, Class: portal.PlanAdopt, ObjectID: row.ObjectID, Label: row.Label}
		if item, known := inventory[row.ObjectID]; known {
			pr.Class, pr.Kind, pr.Before = portal.PlanUnchanged, item.Kind, &item
		}
		return pr
	})
}

type reader func(io.Reader, Limits, func(Row) error, func(RowError) error) (int, error)

func (p *Planner) plan(ctx context.Context, who access.Who, token access.GraphToken, fileName string, r io.Reader, read reader,
	classify func(access.Who, map[portal.GUID]portal.InventoryItem, Row) portal.PlanRow) (portal.Plan, error) {
	if !who.User.HasAny(portal.RoleAdmin, portal.RoleHelpdesk) {
		return portal.Plan{}, access.MayChange(who.User, portal.KindUser)
	}
	lim := p.Limits
	lim.defaults()
	plan := portal.Plan{ID: newPlanID(), TenantID: who.User.TenantID, CreatedBy: portal.ActorOf(who.User), CreatedAt: lim.Now(),
		FileName: truncate(fileName, 200), Totals: map[portal.PlanClass]int{}}
	inventory, err := p.Access.Items(ctx, who)
	if err != nil {
		return portal.Plan{}, err
	}
	var rows []portal.PlanRow
	add := func(r portal.PlanRow) {
		plan.Totals[r.Class]++
		rows = append(rows, r)
	}
	_, err = read(r, lim, func(row Row) error {
		add(classify(who, inventory, row))
		return nil
	}, func(e RowError) error {
		add(portal.PlanRow{Line: e.Line, Class: portal.PlanInvalid, Column: e.Column, Reason: e.Reason})
		return nil
	})
	if err != nil {
		return portal.Plan{}, err
	}
	slices.SortFunc(rows, func(a, b portal.PlanRow) int { return a.Line - b.Line })
	plan.Checks = p.check(ctx, who, token, rows)
	if err := p.Plans.SavePlan(ctx, plan, rows); err != nil {
		return portal.Plan{}, err
	}
	return plan, nil
}

// check works out what the plan's page says beyond its totals: who its
// revokes take access from, and (on token, when given) what the directory
// says of the object IDs its grant rows name, each grant row marked with
// its presence.
func (p *Planner) check(ctx context.Context, who access.Who, token access.GraphToken, rows []portal.PlanRow) portal.PlanChecks {
	var c portal.PlanChecks
	var ids []portal.GUID
	for _, r := range rows {
		switch {
		case r.Class == portal.PlanRevoke && r.Kind == portal.KindResourceAccount:
			c.RevokedResourceAccounts++
		case r.Class == portal.PlanRevoke:
			c.RevokedUsers++
		case grants(r):
			ids = append(ids, r.ObjectID)
		}
	}
	if token == nil || len(ids) == 0 || !p.Access.NamesOn() {
		return c // without names, nothing to say: not "unknown" on every plan
	}
	found := p.Access.CheckDirectory(ctx, who, token, ids)
	d := &c.Directory
	d.Asked, d.Why = len(found.Objects), found.Why
	for i := range rows {
		r := &rows[i]
		if !grants(*r) {
			continue
		}
		o := found.Of(r.ObjectID)
		r.Directory = o.Presence
		switch o.Presence {
		case portal.PresenceNeverFound:
			d.NeverFound++
		case portal.PresenceGone:
			d.Gone++
		case portal.PresenceUnknown:
			d.Unknown++
		}
		if o.Presence.Flagged() && len(d.Flagged) < portal.MaxFlaggedShown {
			f := portal.FlaggedRow{Line: r.Line, ObjectID: r.ObjectID, Presence: o.Presence, Label: r.Label}
			if o.Presence == portal.PresenceGone {
				f.Name, f.UPN = o.Name.Label(), o.Name.UPN
			}
			d.Flagged = append(d.Flagged, f)
		}
	}
	return c
}

// grants reports whether applying r gives access to its object: a create,
// or an update.
func grants(r portal.PlanRow) bool {
	return r.Class == portal.PlanCreate || r.Class == portal.PlanUpdate
}

// classify decides what applying one good row would do.
func (p *Planner) classify(who access.Who, inventory map[portal.GUID]portal.InventoryItem, row Row) portal.PlanRow {
	pr := portal.PlanRow{Line: row.Line, Revoke: row.Action == Revoke, ObjectID: row.ObjectID, Kind: row.Kind,
		ClientIDs: row.ClientIDs, Label: row.Label, ExpiresAt: row.ExpiresAt}
	invalid := func(column, reason string) portal.PlanRow {
		pr.Class, pr.Column, pr.Reason = portal.PlanInvalid, column, reason
		return pr
	}
	item, known := inventory[row.ObjectID]
	if known {
		pr.Before = &item
	}
	if row.Action == Revoke {
		switch {
		case !who.User.Has(portal.RoleAdmin):
			return invalid(ColAction, "your role may not revoke in bulk; revoke one at a time")
		case !known:
			return invalid(ColObjectID, "the inventory has no assignment for this object: nothing to revoke")
		case row.Kind != portal.KindUnknown && row.Kind != item.Kind:
			return invalid(ColKind, "the inventory holds a "+item.Kind.String()+" for this object, not a "+row.Kind.String())
		}
		pr.Class, pr.Kind = portal.PlanRevoke, item.Kind
		return pr
	}
	if err := access.MayChange(who.User, row.Kind); err != nil {
		return invalid(ColKind, "your role may not grant a "+row.Kind.String())
	}
	if !known {
		pr.Class = portal.PlanCreate
		return pr
	}
	if err := access.MayChange(who.User, item.Kind); err != nil {
		return invalid(ColKind, "the inventory holds a "+item.Kind.String()+" for this object, which your role may not change")
	}
	if row.Kind != item.Kind {
		return invalid(ColKind, "the inventory holds a "+item.Kind.String()+" for this object, not a "+row.Kind.String()+": revoke it first, then grant it anew")
	}
	if pr.Label == "" {
		pr.Label = item.Label
	}
	if pr.ExpiresAt.IsZero() {
		pr.ExpiresAt = item.ExpiresAt
	}
	want := portal.Assignment{TenantID: item.TenantID, ObjectID: item.ObjectID, Kind: row.Kind, ClientIDs: row.ClientIDs}
	if want.Equal(item.Assignment) && pr.Label == item.Label && pr.ExpiresAt.Equal(item.ExpiresAt) {
		pr.Class = portal.PlanUnchanged
	} else {
		pr.Class = portal.PlanUpdate
	}
	return pr
}

func newPlanID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
