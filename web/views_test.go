package web

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/templates"
)

// TestDisplayTime holds the hand-written display of times to the layout
// it writes out, over any instant in years 0–9999 and in any zone (shown
// in UTC), and beyond them.
func TestDisplayTime(t *testing.T) {
	if got := displayTime(time.Time{}); got != "" {
		t.Fatalf("zero time: %q", got)
	}
	r := rand.New(rand.NewPCG(7, 8))
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	times := []time.Time{
		time.Date(2026, 12, 7, 19, 37, 59, 999, time.UTC),
		time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 0, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 3, 0, 0, 0, zone), // the day before, in UTC
	}
	for range 10000 {
		times = append(times, time.Unix(r.Int64N(253402300799), 0).In(zone))
	}
	for _, tm := range times {
		if got, want := displayTime(tm), tm.UTC().Format("2006-01-02 15:04 UTC"); got != want {
			t.Fatalf("%v: %q, want %q", tm, got, want)
		}
	}
}

// TestRowsShareOnePageBuffer: rows made for a list page, their strings in
// one buffer (viewText), are the rows made one by one; and appending to
// one row's apps leaves the next row's alone.
func TestRowsShareOnePageBuffer(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	known := portal.MustParseGUID("aaaaaaaa-0000-4000-8000-00000000000a")
	s := &Server{deps: Deps{Now: func() time.Time { return now }, KnownApps: []portal.KnownApp{{ID: known, Name: "Desk"}}}}
	nb := &nameBook{access.PageNames{Objects: map[portal.GUID]portal.DirectoryName{}, Apps: map[portal.GUID]portal.DirectoryName{}}}
	guid := func() portal.GUID {
		var g portal.GUID
		for i := range g {
			g[i] = byte(r.IntN(256))
		}
		return g
	}
	at := func() time.Time {
		if r.IntN(3) == 0 {
			return time.Time{}
		}
		return now.Add(time.Duration(r.Int64N(1e6)-5e5) * time.Second)
	}
	var items []portal.InventoryItem
	for i := range 200 { // more rows and apps than newViewText makes room for
		it := portal.InventoryItem{Assignment: portal.Assignment{ObjectID: guid(), Kind: portal.KindUser}, Label: "row " + strconv.Itoa(i),
			UpdatedAt: at(), CreatedAt: at(), VerifiedAt: at(), ExpiresAt: at(), State: portal.StateInSync}
		for range r.IntN(5) {
			it.ClientIDs = append(it.ClientIDs, []portal.GUID{known, guid()}[r.IntN(2)])
		}
		if r.IntN(2) == 0 {
			nb.Objects[it.ObjectID] = portal.DirectoryName{ID: it.ObjectID, Found: true, DisplayName: "Person " + strconv.Itoa(i), FetchedAt: now}
		}
		items = append(items, it)
	}
	text := newViewText(items[:10]) // less room than the 200 rows need
	var rows []templates.AssignmentRow
	for _, it := range items {
		rows = append(rows, s.rowViewIn(nb, it, text))
	}
	for i, it := range items {
		if want := s.rowView(nb, it); !reflect.DeepEqual(rows[i], want) {
			t.Fatalf("row %d:\n got %+v\nwant %+v", i, rows[i], want)
		}
	}
	for i := range rows[:len(rows)-1] {
		next := slices.Clone(rows[i+1].Apps)
		_ = append(rows[i].Apps, templates.AppRef{ID: "appended"})
		if !slices.Equal(rows[i+1].Apps, next) {
			t.Fatalf("appending to row %d's apps changed row %d's", i, i+1)
		}
	}
}
