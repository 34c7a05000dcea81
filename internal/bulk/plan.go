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
// users only. A file error (see Read) stores nothing.
func (p *Planner) Plan(ctx context.Context, who access.Who, fileName string, r io.Reader) (portal.Plan, error) {
	return p.plan(ctx, who, fileName, r, Read, p.classify)
}

// PlanAdopt reads a file of object IDs (see ReadAdopt) into a plan that
// adopts each the inventory does not know yet; whether ACS holds it is
// found out when the plan is applied.
func (p *Planner) PlanAdopt(ctx context.Context, who access.Who, fileName string, r io.Reader) (portal.Plan, error) {
	return p.plan(ctx, who, fileName, r, ReadAdopt, func(_ access.Who, inventory map[portal.GUID]portal.InventoryItem, row Row) portal.PlanRow {
		pr := portal.PlanRow{Line: row.Line, Class: portal.PlanAdopt, ObjectID: row.ObjectID, Label: row.Label}
		if item, known := inventory[row.ObjectID]; known {
			pr.Class, pr.Kind, pr.Before = portal.PlanUnchanged, item.Kind, &item
		}
		return pr
	})
}

type reader func(io.Reader, Limits, func(Row) error, func(RowError) error) (int, error)

func (p *Planner) plan(ctx context.Context, who access.Who, fileName string, r io.Reader, read reader,
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
	if err := p.Plans.SavePlan(ctx, plan, rows); err != nil {
		return portal.Plan{}, err
	}
	return plan, nil
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
