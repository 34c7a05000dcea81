package listindex

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// A realistic tenant of n rows: names for each, labels partly repeated,
// one or two of six apps. Object IDs are random.
func bigChanges(n int) (Changes, []portal.GUID) {
	rnd := rand.New(rand.NewPCG(1, uint64(n)))
	first := []string{"Alice", "Bob", "Chen", "Dana", "Émile", "Fatima", "Grace", "Hiro", "Ines", "Jamal", "Kofi", "Lena"}
	last := []string{"Smith", "Wei", "Okafor", "Novak", "García", "Müller", "Tanaka", "Silva", "Kowalski", "Haddad"}
	repeated := []string{"Contact centre London", "Night shift", "Sales desk", "Support tier 2", "Pilot"}
	var appIDs []portal.GUID
	for i := range 6 {
		appIDs = append(appIDs, portal.MustParseGUID(fmt.Sprintf("%08x-1111-4111-8111-%012x", rnd.Uint32(), i)))
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var c Changes
	var objects []portal.GUID
	actor := portal.Actor{TenantID: tenant, Name: "Alex Admin"}
	for i := range n {
		var g portal.GUID
		for j := range g {
			g[j] = byte(rnd.Uint32())
		}
		objects = append(objects, g)
		it := portal.InventoryItem{Assignment: portal.Assignment{TenantID: tenant, ObjectID: g, Kind: portal.KindUser, ClientIDs: []portal.GUID{appIDs[rnd.IntN(6)]}},
			CreatedBy: actor, UpdatedBy: actor, State: portal.VerifyStates[rnd.IntN(4)], Version: 1}
		if rnd.IntN(10) == 0 {
			it.Kind, it.ClientIDs = portal.KindResourceAccount, nil
		} else if rnd.IntN(3) == 0 {
			it.ClientIDs = append(it.ClientIDs, appIDs[(rnd.IntN(5)+1+int(it.ClientIDs[0][15]))%6])
			portal.NormalizeClientIDs(it.ClientIDs)
		}
		switch r := rnd.IntN(10); {
		case r < 3:
		case r < 7:
			it.Label = repeated[rnd.IntN(len(repeated))]
		default:
			it.Label = fmt.Sprintf("Agent %d desk", i)
		}
		it.CreatedAt = at.Add(time.Duration(i) * time.Second)
		it.UpdatedAt = it.CreatedAt.Add(time.Duration(rnd.IntN(1000)) * time.Hour)
		if rnd.IntN(2) == 0 {
			it.VerifiedAt = it.UpdatedAt.Add(time.Hour)
		}
		c.Put = append(c.Put, it)
		f, l := first[rnd.IntN(len(first))], last[rnd.IntN(len(last))]
		c.Names = append(c.Names, portal.DirectoryName{TenantID: tenant, Space: portal.SpaceObject, ID: g, Found: true, Kind: it.Kind,
			DisplayName: f + " " + l, UPN: strings.ToLower(f+"."+l) + fmt.Sprint(i) + "@contoso.com", FetchedAt: at})
	}
	for i, app := range appIDs {
		c.Names = append(c.Names, portal.DirectoryName{TenantID: tenant, Space: portal.SpaceApp, ID: app, Found: true, DisplayName: fmt.Sprintf("Dialer %d", i), FetchedAt: at})
	}
	return c, objects
}

// benchKnownApps names the apps of bigChanges as a configuration would,
// otherwise than Graph does.
func benchKnownApps(c Changes) []portal.KnownApp {
	var out []portal.KnownApp
	for _, n := range c.Names {
		if n.Space == portal.SpaceApp {
			out = append(out, portal.KnownApp{ID: n.ID, Name: "Contoso Softphone " + strings.TrimPrefix(n.DisplayName, "Dialer ")})
		}
	}
	return out
}

var benchSizes = []int{10_000, 200_000}

// BenchmarkPage measures the list's questions at 10,000 and 200,000 rows:
//
//	go test -run '^$' -bench BenchmarkPage -benchmem ./internal/listindex
func BenchmarkPage(b *testing.B) {
	for _, n := range benchSizes {
		c, objects := bigChanges(n)
		x := Build(tenant, c)
		x.SetKnownApps(benchKnownApps(c))
		rnd := rand.New(rand.NewPCG(3, 4))
		pages := (n + 49) / 50
		cases := []struct {
			name string
			f    func() portal.InventoryFilter
		}{
			{"first page", func() portal.InventoryFilter { return portal.InventoryFilter{} }},
			{"random deep page", func() portal.InventoryFilter { return portal.InventoryFilter{Offset: rnd.IntN(pages) * 50} }},
			{"filter+sort deep page", func() portal.InventoryFilter {
				return portal.InventoryFilter{Kind: portal.KindUser, State: portal.VerifyStates[rnd.IntN(4)], Sort: portal.InventorySorts[rnd.IntN(6)],
					Desc: rnd.IntN(2) == 0, Offset: rnd.IntN(pages/8) * 50}
			}},
			{"object id fragment", func() portal.InventoryFilter {
				s := objects[rnd.IntN(n)].String()
				i := rnd.IntN(28)
				return portal.InventoryFilter{Query: s[i : i+4+rnd.IntN(5)]}
			}},
			{"agent label", func() portal.InventoryFilter {
				return portal.InventoryFilter{Query: fmt.Sprintf("agent %d", rnd.IntN(n))}
			}},
			{"upn", func() portal.InventoryFilter {
				return portal.InventoryFilter{Query: fmt.Sprintf("%d@contoso", rnd.IntN(n))}
			}},
			{"whole name", func() portal.InventoryFilter {
				return portal.InventoryFilter{Query: []string{"alice", "chen", "émile", "kofi"}[rnd.IntN(4)] + " " + []string{"smith", "wei", "garcía", "novak"}[rnd.IntN(4)]}
			}},
			{"surname", func() portal.InventoryFilter {
				return portal.InventoryFilter{Query: []string{"smith", "wei", "okafor", "novak"}[rnd.IntN(4)], Offset: rnd.IntN(20) * 50}
			}},
			{"app name", func() portal.InventoryFilter {
				return portal.InventoryFilter{Query: fmt.Sprintf("softphone %d", rnd.IntN(6)), Offset: rnd.IntN(20) * 50}
			}},
			{"two characters", func() portal.InventoryFilter {
				return portal.InventoryFilter{Query: string([]byte{"0123456789abcdef"[rnd.IntN(16)], "0123456789abcdef"[rnd.IntN(16)]})}
			}},
		}
		for _, tc := range cases {
			b.Run(fmt.Sprintf("%d/%s", n, tc.name), func(b *testing.B) {
				for b.Loop() {
					if _, err := x.Page(tc.f()); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkApply measures one change (one row put) against a big index.
func BenchmarkApply(b *testing.B) {
	for _, n := range benchSizes {
		c, objects := bigChanges(n)
		x := Build(tenant, c)
		rnd := rand.New(rand.NewPCG(5, 6))
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				it := c.Put[rnd.IntN(n)]
				it.UpdatedAt = it.UpdatedAt.Add(time.Hour)
				it.Label = "changed"
				x.Apply(Changes{Put: []portal.InventoryItem{it}})
			}
			_ = objects
		})
	}
}

// TestIndexSize reports what the index holds per row at 200,000 rows
// (PORTAL_LOAD=1 to run: it takes a few seconds).
func TestIndexSize(t *testing.T) {
	if testing.Short() || !loadOn() {
		t.Skip("set PORTAL_LOAD=1 to measure the index's size")
	}
	for _, n := range []int{10_000, 50_000, 200_000} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		c, _ := bigChanges(n)
		start := time.Now()
		x := Build(tenant, c)
		took := time.Since(start)
		c = Changes{}
		runtime.GC()
		runtime.ReadMemStats(&after)
		s := x.Stats()
		t.Logf("%d rows: built in %v; heap %d B/row (estimate %d B/row); postings %d B/row, text %d B/row, %d trigrams",
			n, took.Round(time.Millisecond), int(after.HeapAlloc-before.HeapAlloc)/n, s.Bytes/n, s.PostingBytes/n, s.TextBytes/n, s.Trigrams)
		runtime.KeepAlive(x)
	}
}

func loadOn() bool { return os.Getenv("PORTAL_LOAD") != "" }
