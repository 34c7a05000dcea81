package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/postgres"
	"github.com/teamsphone/portal/internal/sqlite"
	"github.com/teamsphone/portal/internal/storetest"
)

// The inventory TestScale fills: one tenant (Contoso) of users and
// resource accounts as a large organisation would have them, written
// through the store's bulk fill, and the questions about it that have
// answers (search fragments that match, pages that exist).

var (
	_ storetest.Filler = (*sqlite.DB)(nil)
	_ storetest.Filler = (*postgres.DB)(nil)
)

// scaleApps are the calling-client apps users are granted, most people
// one of the first two, some a second app.
var scaleApps = []struct {
	id     portal.GUID
	name   string
	weight int // of 100
}{
	{appDesktop, "Contoso Agent Desktop", 60},
	{appMobile, "Contoso Agent Mobile", 25},
	{portal.MustParseGUID("5c0a7e21-8d3f-4b6a-9e12-7f40c1d2b3a4"), "Contoso Contact Center", 10},
	{portal.MustParseGUID("d7e8f9a0-1b2c-4d3e-8f4a-5b6c7d8e9f01"), "Contoso Field Phone", 5},
}

var (
	scaleFirst = strings.Fields(`Ada Aiko Amara Ana Anders Aroha Ben Bilal Carmen Chen Chloe Dana Dario Elif Emma Eva Farah Felix
		Giulia Hana Hugo Ines Ivan Jana Jonas Kofi Lars Lea Leila Liam Lina Luca Maja Malik Maria Mateo Mia Nadia Noah Nora
		Olga Omar Priya Rafael Rosa Sami Sara Sofia Tariq Tomas Yara Yusuf Zoe`)
	scaleLast = strings.Fields(`Ahmed Alvarez Andersen Berg Bianchi Costa Dubois Eriksen Fischer Garcia Hansen Haddad Ibrahim
		Jensen Kaya Khan Kim Kowalski Larsen Lopez Martin Meyer Moreau Mueller Nakamura Nguyen Nielsen Novak Okafor Olsen
		Park Patel Petrov Popescu Rossi Santos Schmidt Silva Singh Smith Suzuki Tanaka Torres Wagner Wang Weber Wilson Yilmaz`)
	scaleCities = strings.Fields(`London Paris Oslo Madrid Lisbon Berlin Vienna Warsaw Dublin Milan Prague Athens`)
	// scaleTeams are labels many rows share.
	scaleTeams = []string{"Sales floor", "Support tier 1", "Support tier 2", "Billing desk", "Reception", "Night shift",
		"Escalations", "Onboarding", "Collections", "Retention", "Dispatch", "Partner desk"}
	scaleLines = []string{"Main line", "Support queue", "Sales line", "After hours", "Billing line", "Helpdesk line"}
)

// scaleRow is one generated assignment, as far as the phases need it.
type scaleRow struct {
	object      string
	kind        portal.PrincipalKind
	state       portal.VerifyState
	label       string
	displayName string // "" when the directory has no such object
	upn         string
}

// scaleInventory is the generated inventory of one tenant.
type scaleInventory struct {
	rows []scaleRow
	// matched counts the rows each kind and state filter ("" for any)
	// matches, so that random pages of a filter exist.
	matched map[[2]string]int
	items   []portal.InventoryItem
	events  []portal.AuditEvent
	names   []portal.DirectoryName // objects and apps
}

// newScaleInventory generates n rows, the same ones for the same n.
//
//   - 8 % are resource accounts (no apps); users have one app, 30 % a
//     second, from scaleApps;
//   - labels: 35 % a team many rows share, 35 % unique ("Desk 4711,
//     Oslo"), 30 % none;
//   - states: 85 % in sync, 4 % drifted, 3 % missing, 8 % unverified;
//   - names: every row is in the names cache, fetched now, so that no
//     page asks Graph while the phases run; 3 % as no longer in the
//     directory. People have common names (many namesakes) and a unique
//     UPN, resource accounts a line name, a UPN and a number;
//   - last change spread over a year, verification over the last day.
func newScaleInventory(n int, now time.Time) *scaleInventory {
	rng := rand.New(rand.NewPCG(13, uint64(n)))
	now = now.UTC().Truncate(time.Millisecond)
	tenant := devidp.ContosoTenant
	fill := portal.Actor{TenantID: tenant, Name: "System (scale fill)"}
	people := []portal.Actor{
		{TenantID: tenant, ObjectID: portal.MustParseGUID("369f18b8-e505-4795-b1cf-e40cfc95f82e"), Name: "Adele Admin"},
		{TenantID: tenant, ObjectID: portal.MustParseGUID("dc5bfeeb-3feb-4969-9ae9-92f428410341"), Name: "Henry Helpdesk"},
		{TenantID: tenant, Name: "System (bulk job)"},
	}
	inv := &scaleInventory{matched: map[[2]string]int{}}
	// Random object IDs, generated in their order: the stores keep rows
	// (and names, and an index of the audit log) in it, so the fill
	// appends to those trees instead of writing all over them.
	objects := make([]portal.GUID, n)
	for i := range objects {
		g := &objects[i]
		for j := range g {
			g[j] = byte(rng.UintN(256))
		}
		g[6], g[8] = g[6]&0x0f|0x40, g[8]&0x3f|0x80 // version 4, RFC 4122 variant
	}
	slices.SortFunc(objects, portal.GUID.Compare)
	for i, g := range objects {
		a := portal.Assignment{TenantID: tenant, ObjectID: g, Kind: portal.KindUser}
		row := scaleRow{object: g.String(), kind: portal.KindUser}
		first, last := scaleFirst[rng.IntN(len(scaleFirst))], scaleLast[rng.IntN(len(scaleLast))]
		name := portal.DirectoryName{TenantID: tenant, Space: portal.SpaceObject, ID: g, Found: true, Kind: portal.KindUser,
			DisplayName: first + " " + last, UPN: fmt.Sprintf("%s.%s%d@contoso.test", strings.ToLower(first), strings.ToLower(last), i), FetchedAt: now}
		if rng.IntN(100) < 8 {
			a.Kind, row.kind = portal.KindResourceAccount, portal.KindResourceAccount
			line := scaleLines[rng.IntN(len(scaleLines))]
			name.Kind, name.DisplayName = portal.KindResourceAccount, fmt.Sprintf("%s %d", line, i)
			name.UPN, name.Phone = fmt.Sprintf("line%d@contoso.test", i), fmt.Sprintf("+1425%07d", i)
		} else {
			a.ClientIDs = []portal.GUID{scaleApp(rng)}
			if rng.IntN(100) < 30 {
				if second := scaleApp(rng); second != a.ClientIDs[0] {
					a.ClientIDs = append(a.ClientIDs, second)
				}
			}
		}
		switch r := rng.IntN(100); {
		case r < 35 && a.Kind == portal.KindResourceAccount:
			row.label = scaleLines[rng.IntN(len(scaleLines))]
		case r < 35:
			row.label = scaleTeams[rng.IntN(len(scaleTeams))] + ", " + scaleCities[rng.IntN(len(scaleCities))]
		case r < 70:
			row.label = fmt.Sprintf("Desk %d, %s", i, scaleCities[rng.IntN(len(scaleCities))])
		}
		switch r := rng.IntN(100); {
		case r < 85:
			row.state = portal.StateInSync
		case r < 89:
			row.state = portal.StateDrifted
		case r < 92:
			row.state = portal.StateMissing
		default:
			row.state = portal.StateUnverified
		}
		if rng.IntN(100) < 3 {
			name = portal.DirectoryName{TenantID: tenant, Space: portal.SpaceObject, ID: g, FetchedAt: now}
		} else {
			row.displayName, row.upn = name.DisplayName, name.UPN
		}
		updated := now.Add(-time.Duration(rng.Int64N(int64(365 * 24 * time.Hour)))).Truncate(time.Millisecond)
		item := portal.InventoryItem{Assignment: a, Label: row.label,
			CreatedAt: updated.Add(-time.Duration(rng.Int64N(int64(180 * 24 * time.Hour)))).Truncate(time.Millisecond),
			CreatedBy: people[rng.IntN(len(people))], UpdatedAt: updated, UpdatedBy: people[rng.IntN(len(people))], State: row.state}
		if row.state != portal.StateUnverified {
			item.VerifiedAt = now.Add(-time.Duration(rng.Int64N(int64(24 * time.Hour)))).Truncate(time.Millisecond)
		}
		inv.rows = append(inv.rows, row)
		inv.items = append(inv.items, item)
		inv.events = append(inv.events, portal.AuditEvent{Time: now, Actor: fill, TenantID: tenant, ObjectID: g, Kind: a.Kind,
			Action: portal.ActionAdopt, Phase: portal.PhaseEvent, Outcome: portal.OutcomeSuccess, After: portal.StateOf(a, row.label)})
		inv.names = append(inv.names, name)
		for _, k := range []string{"", a.Kind.String()} {
			for _, s := range []string{"", string(row.state)} {
				inv.matched[[2]string{k, s}]++
			}
		}
	}
	for _, app := range scaleApps {
		inv.names = append(inv.names, portal.DirectoryName{TenantID: tenant, Space: portal.SpaceApp, ID: app.id, Found: true, DisplayName: app.name, FetchedAt: now})
	}
	return inv
}

func scaleApp(rng *rand.Rand) portal.GUID {
	r := rng.IntN(100)
	for _, app := range scaleApps {
		if r -= app.weight; r < 0 {
			return app.id
		}
	}
	return scaleApps[0].id
}

// fillBatch is how many rows one fill transaction writes: big enough that
// a transaction's cost is spread thin, small enough not to hold the
// database's write lock for long.
const fillBatch = 5000

// fill writes the inventory through the store's bulk fill, and its names
// through PutNames, in batches. Names take PostgreSQL twice as long as
// rows, and it works on several transactions at once (SQLite takes
// turns): rows go in one stream, names in two beside it (batches of
// different IDs, which cannot deadlock). It says how long rows and names
// took.
func (inv *scaleInventory) fill(ctx context.Context, db storetest.Filler) (rows, names time.Duration, err error) {
	var wg sync.WaitGroup
	var rowsErr error
	namesErr := make([]error, 2)
	start := time.Now()
	wg.Go(func() {
		for i := 0; i < len(inv.items) && rowsErr == nil; i += fillBatch {
			j := min(i+fillBatch, len(inv.items))
			if rowsErr = db.FillInventory(ctx, inv.events[i:j], inv.items[i:j]); rowsErr != nil {
				rowsErr = fmt.Errorf("fill rows %d–%d: %w", i, j, rowsErr)
			}
		}
		rows = time.Since(start)
	})
	var namesDone sync.WaitGroup
	for w := range namesErr {
		namesDone.Go(func() {
			for i := w * fillBatch; i < len(inv.names) && namesErr[w] == nil; i += len(namesErr) * fillBatch {
				j := min(i+fillBatch, len(inv.names))
				if namesErr[w] = db.PutNames(ctx, devidp.ContosoTenant, inv.names[i:j]); namesErr[w] != nil {
					namesErr[w] = fmt.Errorf("names %d–%d: %w", i, j, namesErr[w])
				}
			}
		})
	}
	namesDone.Wait()
	names = time.Since(start)
	wg.Wait()
	return rows, names, errors.Join(append(namesErr, rowsErr)...)
}

// searchKinds are the kinds of search a different search each request
// draws from, equally often, each of a fragment that matches at least one
// row (or, for app names, an app that rows have).
var searchKinds = []string{"object ID", "name", "label", "app name", "app ID"}

// search returns a search of the given kind.
func (inv *scaleInventory) search(kind string) string {
	row := inv.rows[rand.IntN(len(inv.rows))]
	switch kind {
	case "object ID":
		return hexFragment(row.object)
	case "name":
		for row.displayName == "" {
			row = inv.rows[rand.IntN(len(inv.rows))]
		}
		switch rand.IntN(3) {
		case 0: // a first name, or a line's name
			return strings.Fields(row.displayName)[0]
		case 1: // a whole display name
			return row.displayName
		default: // part of the user name
			local, _, _ := strings.Cut(row.upn, "@")
			return local[:min(len(local), 4+rand.IntN(6))]
		}
	case "label":
		for row.label == "" {
			row = inv.rows[rand.IntN(len(inv.rows))]
		}
		if rand.IntN(2) == 0 {
			team, _, _ := strings.Cut(row.label, ",")
			return team // a team's name, or "Desk 4711"
		}
		return row.label
	case "app name":
		words := strings.Fields(scaleApps[rand.IntN(len(scaleApps))].name)
		return strings.Join(words[1:], " ") // "Agent Mobile"
	case "app ID":
		return hexFragment(scaleApps[rand.IntN(len(scaleApps))].id.String())
	}
	panic("unknown search kind " + kind)
}

// hexFragment is 4 to 8 hex digits of a GUID, from within one of its
// groups (no hyphen), as someone pastes part of an ID.
func hexFragment(guid string) string {
	groups := strings.Split(guid, "-")
	g := groups[rand.IntN(len(groups))]
	n := 4 + rand.IntN(min(len(g), 8)-3)
	at := rand.IntN(len(g) - n + 1)
	return g[at : at+n]
}

// searchURL is the list searched for q, first page.
func searchURL(q string) string { return "/assignments?q=" + url.QueryEscape(q) }

// deepPage is a page of the whole list, drawn uniformly.
func (inv *scaleInventory) deepPage() string {
	return "/assignments?page=" + strconv.Itoa(1+rand.IntN(pages(len(inv.rows))))
}

// filtered is the list filtered by a random kind and state (or none),
// sorted by a random column either way, on a random page of what the
// filter matches.
func (inv *scaleInventory) filtered() string {
	kind := []string{"", "user", "resourceAccount"}[rand.IntN(3)]
	state := []string{"", "in_sync", "drifted", "missing", "unverified"}[rand.IntN(5)]
	v := url.Values{}
	if kind != "" {
		v.Set("kind", kind)
	}
	if state != "" {
		v.Set("state", state)
	}
	v.Set("sort", string(portal.InventorySorts[rand.IntN(len(portal.InventorySorts))]))
	if rand.IntN(2) == 0 {
		v.Set("desc", "1")
	}
	v.Set("page", strconv.Itoa(1+rand.IntN(pages(inv.matched[[2]string{kind, state}]))))
	return "/assignments?" + v.Encode()
}

// pages is how many list pages of 50 n rows fill (at least one).
func pages(n int) int { return max(1, (n+49)/50) }
