package listindex

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// A walk gives the rows its filter matched when it began, as they stood
// then, whatever changes meanwhile; an error from fn stops it.
func TestWalkUnderChanges(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var c Changes
	for i := range 20 {
		c.Put = append(c.Put, portal.InventoryItem{Assignment: portal.Assignment{TenantID: tenant, ObjectID: portal.MustParseGUID(fmt.Sprintf("00000000-0000-4000-8000-%012d", i)),
			Kind: portal.KindUser}, Label: fmt.Sprintf("agent %02d", i), UpdatedAt: now.Add(time.Duration(i) * time.Minute), Version: 1})
	}
	x := Build(tenant, c)
	f := portal.InventoryFilter{Query: "agent", Sort: portal.SortObjectID}
	var got []string
	err := x.Walk(f, 6, func(p portal.InventoryPage) error {
		for _, it := range p.Items {
			got = append(got, it.Label)
		}
		if len(got) == 6 {
			// Behind the walk: a row not given yet is removed, another
			// relabelled, one added.
			relabelled := c.Put[10]
			relabelled.Label, relabelled.Version = "renamed", 2
			added := c.Put[0]
			added.ObjectID, added.Label = portal.MustParseGUID("00000000-0000-4000-8000-999999999999"), "agent new"
			x.Apply(Changes{Removed: []portal.GUID{c.Put[8].ObjectID}, Put: []portal.InventoryItem{relabelled, added}, Head: 2})
		}
		return nil
	})
	if err != nil || len(got) != 20 || got[8] != "agent 08" || got[10] != "agent 10" {
		t.Fatalf("walk under changes: %v, %q", err, got)
	}
	stop := errors.New("client gone")
	batches := 0
	if err := x.Walk(f, 6, func(portal.InventoryPage) error { batches++; return stop }); !errors.Is(err, stop) || batches != 1 {
		t.Errorf("walk with a failing fn: %v after %d batches", err, batches)
	}
	if err := x.Walk(portal.InventoryFilter{Sort: "nonsense"}, 6, func(portal.InventoryPage) error { return nil }); portal.ErrorCode(err) != portal.EINVALID {
		t.Errorf("walk with an unknown sort: %v", err)
	}
}
