package listindex

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

var (
	tenant = portal.MustParseGUID("11111111-1111-4111-8111-111111111111")
	other  = portal.MustParseGUID("22222222-2222-4222-8222-222222222222")
	apps   = []portal.GUID{
		portal.MustParseGUID("aaaaaaaa-0000-4000-8000-00000000000a"),
		portal.MustParseGUID("bbbbbbbb-0000-4000-8000-00000000000b"),
		portal.MustParseGUID("cccccccc-0000-4000-8000-00000000000c"),
	}
	labels = []string{"", "Alice", "alice smith", "Bob", "Émile", "Zoë", "ß straße", "100%_done", "London desk",
		"O'Brien", `back\slash`, "<script>", "ÆRØ Øresund", "Café ☕ 🎉", "bad \xff label", "agent 12", "Agent 123"}
	people = []string{"", "Chen Wei", "Dana Scully", "Fox Mulder", "Zoë Ørsted", "ABE DEA", "Ana\tTab"}
	actors = []portal.Actor{{TenantID: tenant, Name: "System (test)"}, {TenantID: tenant, ObjectID: apps[0], Name: "Alex Admin"}}
)

// model is the list as its contract defines it, computed the plainest way.
type model struct {
	items map[portal.GUID]portal.InventoryItem
	names map[portal.GUID]portal.DirectoryName
	apps  map[portal.GUID]portal.DirectoryName
	known map[portal.GUID]string // configured app names
}

func (m *model) holds(it portal.InventoryItem, q string) bool {
	fields := []string{it.ObjectID.String(), strings.ToLower(it.Label)}
	if n, ok := m.names[it.ObjectID]; ok {
		fields = append(fields, fold(n.DisplayName), fold(n.UPN), fold(n.Phone))
	}
	for _, id := range it.ClientIDs {
		fields = append(fields, id.String(), fold(m.apps[id].DisplayName), fold(m.known[id]))
	}
	return slices.ContainsFunc(fields, func(f string) bool { return f != "" && strings.Contains(f, q) })
}

func (m *model) page(f portal.InventoryFilter) portal.InventoryPage {
	page := portal.InventoryPage{Counts: portal.InventoryCounts{ByState: map[portal.VerifyState]int{}}, Items: []portal.InventoryItem{}}
	q := strings.ToLower(strings.TrimSpace(f.Query))
	if g, err := portal.ParseGUID(q); err == nil {
		q = g.String()
	}
	var matched []portal.InventoryItem
	for _, it := range m.items {
		st := cmp.Or(it.State, portal.StateUnverified)
		page.Counts.All++
		page.Counts.ByState[st]++
		switch it.Kind {
		case portal.KindUser:
			page.Counts.Users++
		case portal.KindResourceAccount:
			page.Counts.ResourceAccounts++
		}
		if (f.Kind == portal.KindUnknown || it.Kind == f.Kind) && (f.State == "" || st == f.State) && (q == "" || m.holds(it, q)) &&
			(f.Objects == nil || slices.Contains(f.Objects, it.ObjectID)) {
			matched = append(matched, it)
		}
	}
	slices.SortFunc(matched, natural(cmp.Or(f.Sort, portal.SortUpdated)))
	if f.Desc {
		slices.Reverse(matched)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	offset := min(max(f.Offset, 0), len(matched))
	page.Matched = len(matched)
	page.Items = append(page.Items, matched[offset:min(offset+min(limit, 200), len(matched))]...)
	return page
}

func natural(s portal.InventorySort) func(a, b portal.InventoryItem) int {
	var key func(a, b portal.InventoryItem) int
	switch s {
	case portal.SortUpdated:
		key = func(a, b portal.InventoryItem) int { return b.UpdatedAt.Compare(a.UpdatedAt) }
	case portal.SortObjectID:
		key = func(a, b portal.InventoryItem) int { return 0 }
	case portal.SortLabel:
		key = func(a, b portal.InventoryItem) int {
			return cmp.Or(cmp.Compare(boolRank(a.Label == ""), boolRank(b.Label == "")), strings.Compare(strings.ToLower(a.Label), strings.ToLower(b.Label)))
		}
	case portal.SortKind:
		key = func(a, b portal.InventoryItem) int {
			return cmp.Compare(boolRank(a.Kind != portal.KindUser), boolRank(b.Kind != portal.KindUser))
		}
	case portal.SortState:
		key = func(a, b portal.InventoryItem) int {
			return cmp.Compare(slices.Index(portal.VerifyStates, cmp.Or(a.State, portal.StateUnverified)), slices.Index(portal.VerifyStates, cmp.Or(b.State, portal.StateUnverified)))
		}
	case portal.SortVerified:
		key = func(a, b portal.InventoryItem) int {
			return cmp.Or(cmp.Compare(boolRank(!a.VerifiedAt.IsZero()), boolRank(!b.VerifiedAt.IsZero())), a.VerifiedAt.Compare(b.VerifiedAt))
		}
	}
	return func(a, b portal.InventoryItem) int {
		return cmp.Or(key(a, b), strings.Compare(a.ObjectID.String(), b.ObjectID.String()))
	}
}

type gen struct {
	rnd *rand.Rand
	now time.Time
}

func (g *gen) object() portal.GUID {
	return portal.MustParseGUID(fmt.Sprintf("%08x-%04x-4000-8000-%012x", g.rnd.IntN(400), g.rnd.IntN(3), g.rnd.IntN(50)))
}

func (g *gen) item(obj portal.GUID) portal.InventoryItem {
	it := portal.InventoryItem{Assignment: portal.Assignment{TenantID: tenant, ObjectID: obj, Kind: portal.KindUser, ClientIDs: []portal.GUID{apps[g.rnd.IntN(3)]}}}
	switch g.rnd.IntN(5) {
	case 0:
		it.Kind, it.ClientIDs = portal.KindResourceAccount, nil
	case 1:
		it.ClientIDs = []portal.GUID{apps[0], apps[2]}
	}
	at := g.now.Add(time.Duration(g.rnd.IntN(500)) * time.Minute)
	if g.rnd.IntN(10) == 0 {
		at = at.Add(time.Duration(g.rnd.IntN(1000)) * time.Microsecond) // finer than a millisecond
	}
	it.Label = labels[g.rnd.IntN(len(labels))]
	it.CreatedAt, it.UpdatedAt = at.Add(-time.Hour), at
	it.CreatedBy, it.UpdatedBy = actors[g.rnd.IntN(2)], actors[g.rnd.IntN(2)]
	it.State = []portal.VerifyState{portal.StateInSync, portal.StateDrifted, portal.StateMissing, portal.StateUnverified, ""}[g.rnd.IntN(5)]
	if g.rnd.IntN(3) > 0 {
		it.VerifiedAt = at.Add(time.Duration(g.rnd.IntN(100)) * time.Minute)
	}
	if g.rnd.IntN(4) == 0 {
		it.ExpiresAt = at.Add(48 * time.Hour)
	}
	if it.State == portal.StateDrifted {
		it.Observed = &portal.Assignment{TenantID: tenant, ObjectID: obj, Kind: it.Kind, ClientIDs: []portal.GUID{apps[1]}}
	}
	it.Version = int64(g.rnd.IntN(9) + 1)
	return it
}

func (g *gen) name(obj portal.GUID) portal.DirectoryName {
	p := people[g.rnd.IntN(len(people))]
	n := portal.DirectoryName{TenantID: tenant, Space: portal.SpaceObject, ID: obj, Found: p != "", Kind: portal.KindUser,
		DisplayName: p, FetchedAt: g.now.Add(time.Duration(g.rnd.IntN(100)) * time.Second)}
	if p != "" {
		n.UPN = strings.ReplaceAll(strings.ToLower(p), " ", ".") + fmt.Sprint(g.rnd.IntN(30)) + "@Contoso.test"
	}
	if g.rnd.IntN(4) == 0 {
		n.Phone = fmt.Sprintf("+1 555 01%02d", g.rnd.IntN(100))
	}
	return n
}

// TestIndexMatchesModel applies random batches of changes and compares
// every kind of question with the model, after each batch and after
// compaction.
func TestIndexMatchesModel(t *testing.T) {
	for _, small := range []bool{false, true} {
		t.Run(fmt.Sprintf("small blocks and sets %v", small), func(t *testing.T) {
			if small {
				defer func(b, s int) { blockShift, sortedBelow = b, s }(blockShift, sortedBelow)
				blockShift, sortedBelow = 2, 20
			}
			testIndexMatchesModel(t)
		})
	}
}

func testIndexMatchesModel(t *testing.T) {
	g := &gen{rnd: rand.New(rand.NewPCG(7, 13)), now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	m := &model{items: map[portal.GUID]portal.InventoryItem{}, names: map[portal.GUID]portal.DirectoryName{}, apps: map[portal.GUID]portal.DirectoryName{}}
	var first Changes
	for range 300 {
		it := g.item(g.object())
		first.Put = append(first.Put, it)
		m.items[it.ObjectID] = it
	}
	first.Put = append(first.Put, portal.InventoryItem{Assignment: portal.Assignment{TenantID: other, ObjectID: g.object()}}) // ignored
	x := Build(tenant, first)
	// Configured names, as pages show them: "mobile" finds the rows with
	// the app whatever Graph calls it.
	known := []portal.KnownApp{{ID: apps[1], Name: "Contoso Agent MOBILE"}, {ID: portal.MustParseGUID("dddddddd-0000-4000-8000-00000000000d"), Name: "Unused Pager"}}
	x.SetKnownApps(known)
	m.known = map[portal.GUID]string{apps[1]: known[0].Name, known[1].ID: known[1].Name}
	queries := []string{"mobile", "agent mob", "Contoso Agent Mobile", "pager", "", "a", "A", "e", "1", "-", "ab", "12", "0-", "agent 12", "AGENT 123", "alice", "  alice ", "smith", "zoë", "ZOË",
		"ærø", "café", "🎉", "\xff", "\ufffd", "%", "_", "'", "<", "chen", "wei", "scully", "contoso", "@contoso.test", "555", "+1 555 0142",
		"aaaa", "aaaaaaaa-0000", "{" + apps[1].String() + "}", strings.ToUpper(apps[2].String()), "teams", "calling", "nothing", "a\tb", "000-4000",
		"00000001-0001", "ana tab", "abe", "dea"}
	check := func(round string) {
		t.Helper()
		for range 120 {
			f := portal.InventoryFilter{TenantID: tenant, Query: queries[g.rnd.IntN(len(queries))],
				Sort: portal.InventorySorts[g.rnd.IntN(len(portal.InventorySorts))], Desc: g.rnd.IntN(2) == 0,
				Limit: []int{0, 7, 50, 200, 500, -1}[g.rnd.IntN(6)], Offset: []int{0, 0, 3, 50, 120, 299, 1000, -4}[g.rnd.IntN(8)]}
			switch g.rnd.IntN(4) {
			case 0:
				f.Kind = []portal.PrincipalKind{portal.KindUser, portal.KindResourceAccount}[g.rnd.IntN(2)]
			case 1:
				f.State = portal.VerifyStates[g.rnd.IntN(4)]
			case 2:
				f.Kind, f.State = portal.KindUser, portal.VerifyStates[g.rnd.IntN(4)]
			}
			if g.rnd.IntN(3) == 0 { // the readiness filter: some objects (a third, or one or two), one unknown
				f.Objects = []portal.GUID{{0xfe}}
				share := []int{3, 300}[g.rnd.IntN(2)]
				for obj := range m.items {
					if g.rnd.IntN(share) == 0 {
						f.Objects = append(f.Objects, obj)
					}
				}
				f.Objects = append(f.Objects, f.Objects[len(f.Objects)-1]) // named twice, counted once
				if g.rnd.IntN(2) == 0 {
					f.Query = ""
				}
			}
			if g.rnd.IntN(8) == 0 {
				checkWalk(t, round, x, m, f, []int{1, 7, 1000}[g.rnd.IntN(3)])
			}
			want := m.page(f)
			got, err := x.Page(f)
			if err != nil {
				t.Fatal(err)
			}
			if got.Matched != want.Matched || !reflect.DeepEqual(got.Counts, want.Counts) || !reflect.DeepEqual(got.Items, want.Items) {
				t.Fatalf("%s: %+v\n got %d %v %v\nwant %d %v %v", round, f, got.Matched, got.Counts, short(got.Items), want.Matched, want.Counts, short(want.Items))
			}
			if n, err := x.Count(f); err != nil || n != want.Matched {
				t.Fatalf("%s: %+v: Count %d, %v; want %d", round, f, n, err, want.Matched)
			}
			for _, it := range got.Items {
				if n, ok := m.names[it.ObjectID]; ok != (got.Names[it.ObjectID] != portal.DirectoryName{}) || got.Names[it.ObjectID] != n {
					t.Fatalf("%s: name of %s: got %+v, want %+v", round, it.ObjectID, got.Names[it.ObjectID], n)
				}
				for _, app := range it.ClientIDs {
					if got.Apps[app] != m.apps[app] {
						t.Fatalf("%s: app %s: got %+v, want %+v", round, app, got.Apps[app], m.apps[app])
					}
				}
			}
		}
	}
	check("built")
	for round := range 25 {
		var c Changes
		for range g.rnd.IntN(40) + 1 {
			obj := g.object()
			switch g.rnd.IntN(10) {
			case 0, 1:
				c.Removed = append(c.Removed, obj)
				delete(m.items, obj)
			case 2, 3, 4:
				n := g.name(obj)
				c.Names = append(c.Names, n)
				m.names[obj] = n
			case 5:
				app := apps[g.rnd.IntN(3)]
				n := portal.DirectoryName{TenantID: tenant, Space: portal.SpaceApp, ID: app, Found: true,
					DisplayName: []string{"Teams Calling", "Contoso Dialer", "Agent Desk"}[g.rnd.IntN(3)], FetchedAt: g.now}
				c.Names = append(c.Names, n)
				m.apps[app] = n
			default:
				it := g.item(obj)
				c.Put = append(c.Put, it)
				m.items[obj] = it
			}
		}
		// Removals first, then puts: a put after a removal of the same
		// object stands, as in Apply.
		for _, it := range c.Put {
			m.items[it.ObjectID] = it
		}
		for _, id := range c.Removed {
			if !slices.ContainsFunc(c.Put, func(it portal.InventoryItem) bool { return it.ObjectID == id }) {
				delete(m.items, id)
			}
		}
		c.Head = int64(round + 1)
		if round%5 == 4 {
			// As after a reconcile: names, then the whole inventory.
			x.Apply(Changes{Names: c.Names})
			sync := x.StartSync()
			for _, it := range m.items {
				sync.Item(it)
			}
			sync.Done(c.Head)
		} else {
			x.Apply(c)
		}
		if h, _ := x.Stamp(); h != c.Head {
			t.Fatalf("head %d, want %d", h, c.Head)
		}
		check(fmt.Sprintf("round %d", round))
		if round%8 == 7 {
			x = x.Compact()
			check(fmt.Sprintf("round %d, compacted", round))
		}
	}
	if s := x.Stats(); s.Rows != len(m.items) || s.Bytes <= 0 {
		t.Fatalf("stats %+v with %d rows", s, len(m.items))
	}
	var each int
	x.Each(func(it portal.InventoryItem) {
		if !reflect.DeepEqual(it, m.items[it.ObjectID]) {
			t.Fatalf("each: %+v, want %+v", it, m.items[it.ObjectID])
		}
		each++
	})
	if each != len(m.items) {
		t.Fatalf("each saw %d rows, want %d", each, len(m.items))
	}
}

// checkWalk compares Walk with the model: every row f matches, in its
// order, in batches of batch, each with the names of its rows.
func checkWalk(t *testing.T, round string, x *Index, m *model, f portal.InventoryFilter, batch int) {
	t.Helper()
	var want []portal.InventoryItem
	for offset := 0; ; offset += 200 {
		f := f
		f.Offset, f.Limit = offset, 200
		p := m.page(f)
		want = append(want, p.Items...)
		if len(p.Items) < 200 {
			break
		}
	}
	var got []portal.InventoryItem
	err := x.Walk(f, batch, func(p portal.InventoryPage) error {
		if len(p.Items) == 0 || len(p.Items) > batch || p.Matched != len(want) {
			t.Fatalf("%s: walk of %+v gave a batch of %d rows (of %d), matched %d; want batches of up to %d of %d", round, f, len(p.Items), batch, p.Matched, batch, len(want))
		}
		for _, it := range p.Items {
			if n, ok := m.names[it.ObjectID]; ok && p.Names[it.ObjectID] != n {
				t.Fatalf("%s: walk: name of %s: got %+v, want %+v", round, it.ObjectID, p.Names[it.ObjectID], n)
			}
		}
		got = append(got, p.Items...)
		return nil
	})
	if err != nil || !reflect.DeepEqual(got, want) && len(got)+len(want) > 0 {
		t.Fatalf("%s: walk of %+v: %v\n got %v\nwant %v", round, f, err, short(got), short(want))
	}
}

func short(items []portal.InventoryItem) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.ObjectID.String()[:13]+"/"+it.Label)
	}
	return out
}

func TestUnknownSort(t *testing.T) {
	_, err := New(tenant).Page(portal.InventoryFilter{Sort: "shoe size"})
	if portal.ErrorCode(err) != portal.EINVALID {
		t.Fatalf("got %v", err)
	}
}

// CountExpiring counts live rows ending by a time, as the rows say.
func TestCountExpiring(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	item := func(i int, ends time.Time) portal.InventoryItem {
		return portal.InventoryItem{Assignment: portal.Assignment{TenantID: tenant, ObjectID: portal.MustParseGUID(fmt.Sprintf("%08x-0000-4000-8000-000000000000", i)), Kind: portal.KindUser},
			ExpiresAt: ends, Version: 1}
	}
	x := Build(tenant, Changes{Put: []portal.InventoryItem{item(1, at.Add(-time.Hour)), item(2, at), item(3, at.Add(time.Hour)), item(4, time.Time{})}})
	if n := x.CountExpiring(at); n != 2 {
		t.Errorf("ending by %v: %d, want 2 (one ended, one ending then)", at, n)
	}
	x.Apply(Changes{Removed: []portal.GUID{item(1, at).ObjectID}, Put: []portal.InventoryItem{item(3, at.Add(-time.Minute))}})
	if n := x.CountExpiring(at); n != 2 {
		t.Errorf("after a removal and a change: %d, want 2", n)
	}
}

// TestPageOutlivesChanges: a page's strings and client IDs share buffers
// of the page's own (pageText), yet each is its own value: changes to the
// index after the page was read, and appending to one row's client IDs,
// leave the page as it was read.
func TestPageOutlivesChanges(t *testing.T) {
	g := &gen{rnd: rand.New(rand.NewPCG(3, 5)), now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	var c Changes
	for range 60 {
		obj := g.object()
		it := g.item(obj)
		it.Kind, it.ClientIDs, it.Label = portal.KindUser, []portal.GUID{apps[0], apps[2]}, fmt.Sprintf("label %d", len(c.Put))
		c.Put = append(c.Put, it)
		c.Names = append(c.Names, portal.DirectoryName{TenantID: tenant, Space: portal.SpaceObject, ID: obj, Found: true,
			Kind: portal.KindUser, DisplayName: fmt.Sprintf("Person %d", len(c.Put)), UPN: fmt.Sprintf("p%d@contoso.test", len(c.Put)), FetchedAt: g.now})
	}
	c.Names = append(c.Names, portal.DirectoryName{TenantID: tenant, Space: portal.SpaceApp, ID: apps[0], Found: true, DisplayName: "Desk", FetchedAt: g.now})
	x := Build(tenant, c)
	page, err := x.Page(portal.InventoryFilter{TenantID: tenant, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) < 2 || len(page.Names) != len(page.Items) || page.Apps[apps[0]].DisplayName != "Desk" {
		t.Fatalf("page of %d items, %d names, apps %v", len(page.Items), len(page.Names), page.Apps)
	}
	want := deepCopy(t, page)
	page.Items[0].ClientIDs = append(page.Items[0].ClientIDs, apps[1])
	if !slices.Equal(page.Items[1].ClientIDs, want.Items[1].ClientIDs) {
		t.Fatalf("appending to row 0's client IDs changed row 1's: %v", page.Items[1].ClientIDs)
	}
	page.Items[0].ClientIDs = want.Items[0].ClientIDs
	// Every row relabelled and renamed, and the index compacted.
	var later Changes
	for _, it := range page.Items {
		it.Label = strings.Repeat("x", 40)
		later.Put = append(later.Put, it)
		later.Names = append(later.Names, portal.DirectoryName{TenantID: tenant, Space: portal.SpaceObject, ID: it.ObjectID, Found: true, DisplayName: strings.Repeat("y", 40), FetchedAt: g.now})
	}
	x.Apply(later)
	x.Compact()
	if !reflect.DeepEqual(page, want) {
		t.Fatal("the page changed after the index did")
	}
}

// deepCopy is p with nothing shared with it: its strings and slices copied.
func deepCopy(t *testing.T, p portal.InventoryPage) portal.InventoryPage {
	t.Helper()
	c := p
	c.Items = nil
	for _, it := range p.Items {
		it.Label = strings.Clone(it.Label)
		it.ClientIDs = slices.Clone(it.ClientIDs)
		c.Items = append(c.Items, it)
	}
	c.Names, c.Apps = map[portal.GUID]portal.DirectoryName{}, map[portal.GUID]portal.DirectoryName{}
	for _, m := range []struct {
		from, to map[portal.GUID]portal.DirectoryName
	}{{p.Names, c.Names}, {p.Apps, c.Apps}} {
		for id, n := range m.from {
			n.DisplayName, n.UPN, n.Phone = strings.Clone(n.DisplayName), strings.Clone(n.UPN), strings.Clone(n.Phone)
			m.to[id] = n
		}
	}
	return c
}
