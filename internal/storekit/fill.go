package storekit

import "github.com/teamsphone/portal/internal/portal"

// CheckFill refuses a fill (a store's FillInventory: many InventoryPut
// changes with their audit rows in one transaction) before anything is
// written: slices of different lengths, or any pair CheckChange refuses.
func CheckFill(evs []portal.AuditEvent, items []portal.InventoryItem) error {
	if len(evs) != len(items) {
		return portal.Errorf(portal.EINVALID, "A fill needs one audit row for each inventory row.")
	}
	for i, it := range items {
		if err := CheckChange(evs[i], portal.InventoryChange{Op: portal.InventoryPut, Item: it}); err != nil {
			return err
		}
	}
	return nil
}
