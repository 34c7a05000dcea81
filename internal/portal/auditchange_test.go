package portal_test

import (
	"slices"
	"testing"

	"github.com/teamsphone/portal/internal/portal"
)

// Pages show every action and outcome in words, each its own.
func TestAuditLabelsAreWordsEachTheirOwn(t *testing.T) {
	seen := map[string]string{}
	for _, a := range portal.AuditActions {
		l := a.Label()
		if l == string(a) || l == "" {
			t.Errorf("action %q has no words", a)
		}
		if other, ok := seen[l]; ok {
			t.Errorf("actions %q and %q both read %q", a, other, l)
		}
		seen[l] = string(a)
	}
	seen = map[string]string{}
	for _, o := range append([]portal.AuditOutcome{portal.OutcomePending}, portal.AuditOutcomes...) {
		l := o.Label()
		if l == string(o) || l == "" {
			t.Errorf("outcome %q has no words", o)
		}
		if other, ok := seen[l]; ok {
			t.Errorf("outcomes %q and %q both read %q", o, other, l)
		}
		seen[l] = string(o)
	}
}

func TestCompareStates(t *testing.T) {
	d, m := desktop.String(), mobile.String()
	st := func(label, ends string, apps ...string) *portal.AuditState {
		return &portal.AuditState{Kind: "user", ClientIDs: apps, Label: label, ExpiresAt: ends}
	}
	const jan, mar = "2027-01-01T00:00:00.000Z", "2027-03-01T00:00:00.000Z"
	for _, c := range []struct {
		name                  string
		before, after         *portal.AuditState
		added, removed        []string
		label, ends           portal.FieldChange
		empty, inventoryOnly  bool
		appsChanged, kindDiff bool
	}{
		{name: "end date alone", before: st("A", jan, d), after: st("A", mar, d), ends: portal.FieldChange{From: jan, To: mar},
			label: portal.FieldChange{From: "A", To: "A"}, inventoryOnly: true},
		{name: "label alone", before: st("A", "", d), after: st("B", "", d), label: portal.FieldChange{From: "A", To: "B"}, inventoryOnly: true},
		{name: "nothing", before: st("A", jan, d, m), after: st("A", jan, m, d), label: portal.FieldChange{From: "A", To: "A"},
			ends: portal.FieldChange{From: jan, To: jan}, empty: true},
		{name: "an app swapped and the end date", before: st("", jan, d), after: st("", "", m), added: []string{m}, removed: []string{d},
			ends: portal.FieldChange{From: jan}, appsChanged: true},
		{name: "a grant", after: st("A", mar, m, d), added: []string{d, m}, label: portal.FieldChange{To: "A"},
			ends: portal.FieldChange{To: mar}, appsChanged: true},
		{name: "a revoke", before: st("A", "", d), removed: []string{d}, label: portal.FieldChange{From: "A"}, appsChanged: true},
		{name: "the kind", before: &portal.AuditState{Kind: "user"}, after: &portal.AuditState{Kind: "resourceAccount"}, appsChanged: true, kindDiff: true},
	} {
		got := portal.CompareStates(c.before, c.after)
		if !slices.Equal(got.AppsAdded, c.added) || !slices.Equal(got.AppsRemoved, c.removed) || got.Label != c.label || got.ExpiresAt != c.ends {
			t.Errorf("%s: %+v", c.name, got)
		}
		if got.Empty() != c.empty || got.InventoryOnly() != c.inventoryOnly || got.AppsChanged() != c.appsChanged || got.Kind.Changed() != c.kindDiff {
			t.Errorf("%s: empty %v, inventory only %v, apps changed %v, kind changed %v", c.name, got.Empty(), got.InventoryOnly(), got.AppsChanged(), got.Kind.Changed())
		}
	}
}
