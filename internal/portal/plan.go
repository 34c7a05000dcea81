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
	// Directory is what the directory said of ObjectID when the plan was
	// made, for a row that grants (create, update); "" when it was not
	// asked (other rows, names off, or a plan made before it was).
	Directory Presence `json:",omitempty"`
}

// Plan is a stored bulk plan: what a file would do, applying nothing.
type Plan struct {
	ID        string
	TenantID  GUID
	CreatedBy Actor
	CreatedAt time.Time
	FileName  string
	Totals    map[PlanClass]int
	// Checks is what planning found out besides each row's class; zero
	// for plans made before it was kept, and for repair plans.
	Checks PlanChecks
}

// PlanChecks is what a plan's page says, and applying it asks, beyond its
// totals: who its revokes take access from, and which object IDs its
// grants name that the directory does not have.
type PlanChecks struct {
	// RevokedUsers and RevokedResourceAccounts count the revoke rows by
	// kind: the people who lose their tokens, the resource accounts that
	// lose server consent.
	RevokedUsers, RevokedResourceAccounts int
	Directory                             PlanDirectory
}

// PlanDirectory is what the directory said, when the plan was made, of the
// object IDs its grant rows (create, update) name.
type PlanDirectory struct {
	// Asked is how many distinct object IDs were looked up; 0 when none
	// was (no grant rows, names off, or a plan made before the check).
	Asked int
	// Why says why the directory could not be asked, or could not tell of
	// some IDs (the rows counted as Unknown); "" when it answered for all.
	Why string
	// NeverFound, Gone and Unknown count the grant rows by presence.
	NeverFound, Gone, Unknown int
	// Flagged are the first MaxFlaggedShown grant rows never found or
	// gone, in line order, for the plan's page to list.
	Flagged []FlaggedRow
}

// MaxFlaggedShown bounds the flagged rows a plan keeps to list: the rest
// are counted, and marked in its rows.
const MaxFlaggedShown = 50

// FlaggedRow is a grant row whose object ID the directory does not have.
type FlaggedRow struct {
	Line     int
	ObjectID GUID
	Presence Presence
	// Name and UPN are what the portal last knew it as (gone only).
	Name, UPN string
	Label     string // the row's label, as the file gave it
}

// FlaggedGrants is how many grant rows name an object ID the directory did
// not have (never found, or gone): applying the plan asks the person to
// confirm they checked them.
func (p Plan) FlaggedGrants() int { return p.Checks.Directory.NeverFound + p.Checks.Directory.Gone }

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
