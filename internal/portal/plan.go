package portal

import (
	"context"
	"time"
)

// PlanClass is what applying one row of a bulk plan would do.
type PlanClass string

const (
	PlanCreate    PlanClass = "create"    // a new assignment
	PlanUpdate    PlanClass = "update"    // a known assignment changes (Before shows how)
	PlanUnchanged PlanClass = "unchanged" // it already is exactly so
	PlanRevoke    PlanClass = "revoke"    // a known assignment is deleted
	PlanInvalid   PlanClass = "invalid"   // the row cannot be applied (Reason says why)

	// Classes of plans made by other means than a file of changes:
	PlanAdopt   PlanClass = "adopt"   // a bulk adopt: look the object up in ACS and take what it holds into the inventory
	PlanReapply PlanClass = "reapply" // from the drift report: write the inventory's state (Before) back to ACS
	PlanAccept  PlanClass = "accept"  // from the drift report: take ACS's state into the inventory
)

// PlanClasses lists the classes in the order pages show them.
var PlanClasses = []PlanClass{PlanCreate, PlanUpdate, PlanRevoke, PlanAdopt, PlanReapply, PlanAccept, PlanUnchanged, PlanInvalid}

// PlanRow is one row of a bulk plan.
type PlanRow struct {
	Line      int // in the uploaded file; the header is line 1
	Class     PlanClass
	Column    string // for invalid rows: the column at fault, if one
	Reason    string // for invalid rows
	Revoke    bool   // the row asks for a revoke (else a grant)
	ObjectID  GUID   // zero for a row whose object ID was unreadable
	Kind      PrincipalKind
	ClientIDs []GUID
	Label     string
	ExpiresAt time.Time
	// Before is the inventory's row when the plan was made (updates and
	// revokes), so applying can refuse what moved since.
	Before *InventoryItem
}

// Plan is a stored bulk plan: what a file would do, applying nothing.
type Plan struct {
	ID        string
	TenantID  GUID
	CreatedBy Actor
	CreatedAt time.Time
	FileName  string
	Totals    map[PlanClass]int
}

// Actionable is how many rows applying the plan would act on.
func (p Plan) Actionable() int {
	n := 0
	for c, k := range p.Totals {
		if c.Actionable() {
			n += k
		}
	}
	return n
}

// PlanStore keeps bulk plans.
type PlanStore interface {
	// SavePlan stores a plan and its rows in one transaction.
	SavePlan(ctx context.Context, p Plan, rows []PlanRow) error
	// GetPlan returns a plan of tenant, or ENOTFOUND (also for another
	// tenant's plan).
	GetPlan(ctx context.Context, tenant GUID, id string) (Plan, error)
	// PlanRows returns a page of a plan's rows of one class ("" for all) in
	// line order, and how many there are. A negative limit means no limit.
	PlanRows(ctx context.Context, tenant GUID, id string, class PlanClass, offset, limit int) ([]PlanRow, int, error)
}
