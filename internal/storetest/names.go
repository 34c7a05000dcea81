package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// dirName is a found user of tenant in SpaceObject, fetched at t0.
func dirName(tenant portal.GUID, tag, display, upn string) portal.DirectoryName {
	return portal.DirectoryName{TenantID: tenant, Space: portal.SpaceObject, ID: id(tag), Found: true,
		Kind: portal.KindUser, DisplayName: display, UPN: upn, FetchedAt: t0}
}

func (f *fixture) putNames(t *testing.T, tenant portal.GUID, names ...portal.DirectoryName) {
	t.Helper()
	if err := f.PutNames(f.ctx, tenant, names); err != nil {
		t.Fatalf("PutNames: %v", err)
	}
}

func (f *fixture) names(t *testing.T, tenant portal.GUID, space portal.NameSpace, ids ...portal.GUID) map[portal.GUID]portal.DirectoryName {
	t.Helper()
	got, err := f.Names(f.ctx, tenant, space, ids)
	if err != nil {
		t.Fatalf("Names: %v", err)
	}
	return got
}

func (f *fixture) allNames(t *testing.T, tenant portal.GUID, space portal.NameSpace) []portal.DirectoryName {
	t.Helper()
	var out []portal.DirectoryName
	if err := f.AllNames(f.ctx, tenant, space, func(n portal.DirectoryName) error {
		out = append(out, n)
		return nil
	}); err != nil {
		t.Fatalf("AllNames: %v", err)
	}
	return out
}

func (f *fixture) search(t *testing.T, tenant portal.GUID, space portal.NameSpace, q string, limit int) []string {
	t.Helper()
	got, err := f.SearchNames(f.ctx, tenant, space, q, limit)
	if err != nil {
		t.Fatalf("SearchNames(%q): %v", q, err)
	}
	out := []string{}
	for _, n := range got {
		out = append(out, n.DisplayName)
	}
	return out
}

func (f *fixture) revision(t *testing.T, tenant portal.GUID) int64 {
	t.Helper()
	rev, err := f.NamesRevision(f.ctx, tenant)
	if err != nil {
		t.Fatalf("NamesRevision: %v", err)
	}
	return rev
}

func sameName(t *testing.T, what string, got, want portal.DirectoryName) {
	t.Helper()
	got.FetchedAt = got.FetchedAt.UTC()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func testNamesPutGet(t *testing.T, f *fixture) {
	plus2 := time.FixedZone("UTC+2", 2*60*60)
	ana := dirName(tenantA, "ana", "Ana Lima", "ana@contoso.com")
	ana.FetchedAt = t0.In(plus2).Add(1234567 * time.Nanosecond) // kept to the millisecond
	desk := dirName(tenantA, "desk", "London Desk", "desk@contoso.com")
	desk.Kind, desk.Phone = portal.KindResourceAccount, "+14255550100"
	gone := portal.DirectoryName{TenantID: tenantA, Space: portal.SpaceObject, ID: id("gone"), FetchedAt: t0.Add(time.Hour)}
	bad := dirName(tenantA, "bad", "Bad \xffbyte", "bad@contoso.com")
	app := portal.DirectoryName{TenantID: tenantA, Space: portal.SpaceApp, ID: id("app"), Found: true, DisplayName: "Contoso Softphone", FetchedAt: t0}
	f.putNames(t, tenantA, ana, desk, gone, bad, app)

	got := f.names(t, tenantA, portal.SpaceObject, ana.ID, desk.ID, gone.ID, bad.ID, id("never fetched"))
	if len(got) != 4 {
		t.Errorf("Names: %d names, want 4 (one ID never fetched): %v", len(got), got)
	}
	if _, ok := got[id("never fetched")]; ok {
		t.Error("Names returned an ID never fetched")
	}
	wantAna := ana
	wantAna.FetchedAt = t0.Add(time.Millisecond)
	sameName(t, "found user", got[ana.ID], wantAna)
	sameName(t, "resource account with a phone", got[desk.ID], desk)
	sameName(t, "not found", got[gone.ID], gone)
	wantBad := bad
	wantBad.DisplayName = "Bad \uFFFDbyte" // invalid UTF-8 kept as U+FFFD, as everywhere
	sameName(t, "invalid UTF-8", got[bad.ID], wantBad)
	if l := got[ana.ID].FetchedAt.Location(); l != time.UTC {
		t.Errorf("FetchedAt in %v, want UTC", l)
	}
	sameName(t, "app", f.names(t, tenantA, portal.SpaceApp, app.ID)[app.ID], app)
	if got := f.names(t, tenantA, portal.SpaceObject); len(got) != 0 {
		t.Errorf("Names of no IDs: %v", got)
	}
}

func testNamesTenantIsolation(t *testing.T, f *fixture) {
	ana := dirName(tenantA, "ana", "Ana Lima", "ana@contoso.com")
	app := portal.DirectoryName{TenantID: tenantA, Space: portal.SpaceApp, ID: id("app"), Found: true, DisplayName: "Ana's App", FetchedAt: t0}
	f.putNames(t, tenantA, ana, app)
	revA := f.revision(t, tenantA)
	if revA <= 0 || f.revision(t, tenantB) != 0 {
		t.Fatalf("revisions after a put for A: A %d, B %d; want A > 0, B 0", revA, f.revision(t, tenantB))
	}
	for _, space := range []portal.NameSpace{portal.SpaceObject, portal.SpaceApp} {
		if got := f.names(t, tenantB, space, ana.ID, app.ID); len(got) != 0 {
			t.Errorf("Names for B (%s): %v", space, got)
		}
		if got := f.allNames(t, tenantB, space); len(got) != 0 {
			t.Errorf("AllNames for B (%s): %v", space, got)
		}
		if got := f.search(t, tenantB, space, "ana", 10); len(got) != 0 {
			t.Errorf("SearchNames for B (%s): %v", space, got)
		}
	}

	// The same ID in another tenant is another row, with its own revision.
	other := dirName(tenantB, "ana", "Ana Other-Tenant", "ana@fabrikam.com")
	f.putNames(t, tenantB, other)
	if got := f.names(t, tenantA, portal.SpaceObject, ana.ID)[ana.ID]; got.DisplayName != "Ana Lima" {
		t.Errorf("A's name after B put the same ID: %+v", got)
	}
	if got := f.names(t, tenantB, portal.SpaceObject, ana.ID)[ana.ID]; got.DisplayName != "Ana Other-Tenant" || got.TenantID != tenantB {
		t.Errorf("B's name: %+v", got)
	}
	if got := f.search(t, tenantA, portal.SpaceObject, "other", 10); len(got) != 0 {
		t.Errorf("A's search found B's name: %v", got)
	}
	if f.revision(t, tenantA) != revA || f.revision(t, tenantB) <= 0 {
		t.Errorf("revisions after a put for B: A %d (was %d), B %d", f.revision(t, tenantA), revA, f.revision(t, tenantB))
	}
}

func testNameSpaces(t *testing.T, f *fixture) {
	person := dirName(tenantA, "shared", "Pat Person", "pat@contoso.com")
	app := portal.DirectoryName{TenantID: tenantA, Space: portal.SpaceApp, ID: person.ID, Found: false, FetchedAt: t0}
	f.putNames(t, tenantA, person, app)
	sameName(t, "object", f.names(t, tenantA, portal.SpaceObject, person.ID)[person.ID], person)
	sameName(t, "app", f.names(t, tenantA, portal.SpaceApp, person.ID)[person.ID], app)

	app.Found, app.DisplayName = true, "Pat's App"
	f.putNames(t, tenantA, app)
	sameName(t, "object after its app twin changed", f.names(t, tenantA, portal.SpaceObject, person.ID)[person.ID], person)
	if got := f.search(t, tenantA, portal.SpaceObject, "pat", 10); !slices.Equal(got, []string{"Pat Person"}) {
		t.Errorf("object search: %q", got)
	}
	if got := f.search(t, tenantA, portal.SpaceApp, "pat", 10); !slices.Equal(got, []string{"Pat's App"}) {
		t.Errorf("app search: %q", got)
	}
	if n, m := len(f.allNames(t, tenantA, portal.SpaceObject)), len(f.allNames(t, tenantA, portal.SpaceApp)); n != 1 || m != 1 {
		t.Errorf("AllNames: %d object, %d app; want 1 each", n, m)
	}
}

func testNamesRevision(t *testing.T, f *fixture) {
	if rev := f.revision(t, tenantA); rev != 0 {
		t.Fatalf("revision before any put: %d", rev)
	}
	if err := f.PutNames(f.ctx, tenantA, nil); err != nil || f.revision(t, tenantA) != 0 {
		t.Fatalf("PutNames(none): %v, revision %d", err, f.revision(t, tenantA))
	}
	ana := dirName(tenantA, "ana", "Ana Lima", "ana@contoso.com")
	f.putNames(t, tenantA, ana)
	rev := f.revision(t, tenantA)
	if rev <= 0 {
		t.Fatalf("revision after a new name: %d", rev)
	}

	// The same found again, later: only FetchedAt moves, and that is a
	// change too (a copy of the names decides by it when to renew one).
	ana.FetchedAt = t0.Add(time.Hour)
	f.putNames(t, tenantA, ana)
	if got := f.revision(t, tenantA); got <= rev {
		t.Errorf("revision after the same content fetched later: %d, want more than %d", got, rev)
	}
	rev = f.revision(t, tenantA)
	sameName(t, "refetched", f.names(t, tenantA, portal.SpaceObject, ana.ID)[ana.ID], ana)

	// The same fetched at the same time (as stored: to the millisecond)
	// changes nothing.
	same := ana
	same.FetchedAt = same.FetchedAt.Add(999 * time.Microsecond)
	f.putNames(t, tenantA, ana)
	f.putNames(t, tenantA, same)
	if got := f.revision(t, tenantA); got != rev {
		t.Errorf("revision after putting the same again: %d, want %d", got, rev)
	}

	for _, tc := range []struct {
		what   string
		change func(*portal.DirectoryName)
	}{
		{"display name", func(n *portal.DirectoryName) { n.DisplayName = "Ana Lima-Souza" }},
		{"UPN", func(n *portal.DirectoryName) { n.UPN = "ana.lima@contoso.com" }},
		{"phone", func(n *portal.DirectoryName) { n.Phone = "+14255550101" }},
		{"kind", func(n *portal.DirectoryName) { n.Kind = portal.KindResourceAccount }},
		{"found", func(n *portal.DirectoryName) { n.Found = false }},
		{"found again", func(n *portal.DirectoryName) { n.Found = true }},
	} {
		tc.change(&ana)
		ana.FetchedAt = ana.FetchedAt.Add(time.Minute)
		f.putNames(t, tenantA, ana)
		got := f.revision(t, tenantA)
		if got <= rev {
			t.Errorf("revision after the %s changed: %d, want more than %d", tc.what, got, rev)
		}
		rev = got
		sameName(t, "after the "+tc.what+" changed", f.names(t, tenantA, portal.SpaceObject, ana.ID)[ana.ID], ana)
	}

	// One changed name among unchanged ones is a change; a new one too.
	f.putNames(t, tenantA, ana, dirName(tenantA, "ben", "Ben Ode", "ben@contoso.com"))
	if got := f.revision(t, tenantA); got <= rev {
		t.Errorf("revision after a new name beside an unchanged one: %d, want more than %d", got, rev)
	}
}

func testSearchNames(t *testing.T, f *fixture) {
	const hostile = `<script>alert("x")</script> O'Brien & "Q"`
	f.putNames(t, tenantA,
		dirName(tenantA, "zoe", "Zoe Park", "hana@contoso.com"), // matches "an" by UPN only
		dirName(tenantA, "bob", "Bob Ana", "bob@contoso.com"),
		dirName(tenantA, "anders", "anders Berg", "anders@contoso.com"),
		dirName(tenantA, "ana", "Ana Lima", "ana@contoso.com"),
		dirName(tenantA, "elodie", "Élodie Dubois", "elodie@contoso.com"),
		dirName(tenantA, "sam1", "Sam Lee", "sam.lee@contoso.com"),
		dirName(tenantA, "sam2", "Sam Lee", "slee@contoso.com"),
		dirName(tenantA, "html", hostile, "obrien@contoso.com"),
		portal.DirectoryName{TenantID: tenantA, Space: portal.SpaceApp, ID: id("app"), Found: true, DisplayName: "Anaconda App", FetchedAt: t0},
	)
	f.putNames(t, tenantB, dirName(tenantB, "ana", "Ana Other-Tenant", "ana@fabrikam.com"))

	for _, tc := range []struct {
		q     string
		limit int
		want  []string
	}{
		// Case-insensitive, on the display name or the UPN, ordered by the
		// display name as folded (so "anders" before "Bob").
		{"AN", 10, []string{"Ana Lima", "anders Berg", "Bob Ana", "Zoe Park"}},
		{"AN", 2, []string{"Ana Lima", "anders Berg"}},
		{"hana@", 10, []string{"Zoe Park"}},
		{"ÉLO", 10, []string{"Élodie Dubois"}},
		{"élodie d", 10, []string{"Élodie Dubois"}},
		{"%", 10, []string{}}, // literal: no wildcards
		{"nobody", 10, []string{}},
		{"<script>", 10, []string{hostile}},
		{`o'brien & "q"`, 10, []string{hostile}},
	} {
		if got := f.search(t, tenantA, portal.SpaceObject, tc.q, tc.limit); !slices.Equal(got, tc.want) {
			t.Errorf("SearchNames(%q, %d) = %q, want %q", tc.q, tc.limit, got, tc.want)
		}
	}

	// Equal display names in ID order.
	got, err := f.SearchNames(f.ctx, tenantA, portal.SpaceObject, "sam lee", 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []portal.GUID{id("sam1"), id("sam2")}
	slices.SortFunc(want, portal.GUID.Compare)
	if len(got) != 2 || got[0].ID != want[0] || got[1].ID != want[1] {
		t.Errorf("equal display names: %+v, want IDs %v", got, want)
	}

	// Hostile text comes back as it was put, to be escaped by the page.
	html := f.names(t, tenantA, portal.SpaceObject, id("html"))[id("html")]
	if html.DisplayName != hostile {
		t.Errorf("Names: %q, want %q", html.DisplayName, hostile)
	}
}

func testPutNamesRefuses(t *testing.T, f *fixture) {
	good := dirName(tenantA, "ana", "Ana Lima", "ana@contoso.com")
	foreign := dirName(tenantB, "eve", "Eve Fabrikam", "eve@fabrikam.com")
	noSpace, badSpace, noID := good, good, good
	noSpace.Space, badSpace.Space, noID.ID = "", "group", portal.GUID{}
	for what, names := range map[string][]portal.DirectoryName{
		"another tenant's name":    {good, foreign},
		"a name without space":     {good, noSpace},
		"a name of no known space": {good, badSpace},
		"a name without ID":        {good, noID},
	} {
		if err := f.PutNames(f.ctx, tenantA, names); portal.ErrorCode(err) != portal.EINVALID {
			t.Errorf("PutNames with %s: %v, want EINVALID", what, err)
		}
	}
	if err := f.PutNames(f.ctx, portal.GUID{}, []portal.DirectoryName{{Space: portal.SpaceObject, ID: id("x"), FetchedAt: t0}}); portal.ErrorCode(err) != portal.EINVALID {
		t.Errorf("PutNames for no tenant: %v, want EINVALID", err)
	}
	for _, tenant := range []portal.GUID{tenantA, tenantB} {
		if got := f.names(t, tenant, portal.SpaceObject, good.ID, foreign.ID); len(got) != 0 {
			t.Errorf("refused puts wrote names of %v: %v", tenant, got)
		}
		if rev := f.revision(t, tenant); rev != 0 {
			t.Errorf("refused puts moved the revision of %v to %d", tenant, rev)
		}
	}
}

func testAllNames(t *testing.T, f *fixture) {
	tags := []string{"n1", "n2", "n3", "n4", "n5"}
	var names []portal.DirectoryName
	for _, tag := range tags {
		names = append(names, dirName(tenantA, tag, "Person "+tag, tag+"@contoso.com"))
	}
	f.putNames(t, tenantA, names...)
	f.putNames(t, tenantA, portal.DirectoryName{TenantID: tenantA, Space: portal.SpaceApp, ID: id("app"), Found: true, DisplayName: "App", FetchedAt: t0})
	f.putNames(t, tenantB, dirName(tenantB, "b1", "Other Tenant", "b1@fabrikam.com"))

	var got []portal.GUID
	for _, n := range f.allNames(t, tenantA, portal.SpaceObject) {
		got = append(got, n.ID)
	}
	want := ids(tags...)
	slices.SortFunc(want, portal.GUID.Compare)
	if !slices.Equal(got, want) {
		t.Errorf("AllNames = %v, want %v (in ID order)", got, want)
	}

	stop := errors.New("stop")
	calls := 0
	err := f.AllNames(f.ctx, tenantA, portal.SpaceObject, func(portal.DirectoryName) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 2 {
		t.Errorf("AllNames with fn failing at the second name: %v after %d calls, want stop after 2", err, calls)
	}
}

// namesSince returns what NamesSince(after) passed to fn, by space and ID,
// failing the test if it passed a name twice.
func (f *fixture) namesSince(t *testing.T, tenant portal.GUID, after int64) (map[portal.NameSpace]map[portal.GUID]portal.DirectoryName, int64) {
	t.Helper()
	got := map[portal.NameSpace]map[portal.GUID]portal.DirectoryName{}
	rev, err := f.NamesSince(f.ctx, tenant, after, func(n portal.DirectoryName) error {
		if got[n.Space] == nil {
			got[n.Space] = map[portal.GUID]portal.DirectoryName{}
		}
		if _, twice := got[n.Space][n.ID]; twice {
			t.Errorf("NamesSince(%d) passed %s %s twice", after, n.Space, n.ID)
		}
		got[n.Space][n.ID] = n
		return nil
	})
	if err != nil {
		t.Fatalf("NamesSince(%d): %v", after, err)
	}
	return got, rev
}

// sameNames fails the test unless got holds exactly want, as put.
func sameNames(t *testing.T, what string, got map[portal.NameSpace]map[portal.GUID]portal.DirectoryName, want ...portal.DirectoryName) {
	t.Helper()
	n := 0
	for _, m := range got {
		n += len(m)
	}
	if n != len(want) {
		t.Errorf("%s: %d names, want %d: %v", what, n, len(want), got)
	}
	for _, w := range want {
		if g, ok := got[w.Space][w.ID]; !ok {
			t.Errorf("%s: no %s name %q", what, w.Space, w.DisplayName)
		} else {
			sameName(t, what, g, w)
		}
	}
}

func testNamesSince(t *testing.T, f *fixture) {
	got, rev := f.namesSince(t, tenantA, 0)
	sameNames(t, "NamesSince(0) before any put", got)
	if rev != 0 {
		t.Errorf("NamesSince(0) before any put: revision %d, want 0", rev)
	}

	ana := dirName(tenantA, "ana", "Ana Lima", "ana@contoso.com")
	ben := dirName(tenantA, "ben", "Ben Ode", "ben@contoso.com")
	app := portal.DirectoryName{TenantID: tenantA, Space: portal.SpaceApp, ID: id("app"), Found: true, DisplayName: "Contoso Softphone", FetchedAt: t0}
	twin := portal.DirectoryName{TenantID: tenantA, Space: portal.SpaceApp, ID: ana.ID, FetchedAt: t0} // ana's ID, as an app
	other := dirName(tenantB, "ana", "Ana Other-Tenant", "ana@fabrikam.com")
	f.putNames(t, tenantA, ana, ben)
	f.putNames(t, tenantB, other)
	f.putNames(t, tenantA, app, twin)

	// Everything, from both spaces, at the revision NamesRevision says.
	got, rev = f.namesSince(t, tenantA, 0)
	sameNames(t, "NamesSince(0)", got, ana, ben, app, twin)
	if want := f.revision(t, tenantA); rev != want {
		t.Errorf("NamesSince(0): revision %d, want NamesRevision's %d", rev, want)
	}
	all, allRev := f.namesSince(t, tenantA, -1)
	sameNames(t, "NamesSince(-1)", all, ana, ben, app, twin)
	if allRev != rev {
		t.Errorf("NamesSince(-1): revision %d, want %d", allRev, rev)
	}
	if got, again := f.namesSince(t, tenantA, rev); len(got) != 0 || again != rev {
		t.Errorf("NamesSince(%d) with nothing put since: %v at revision %d", rev, got, again)
	}

	// A content change, then a change of FetchedAt alone: each appears
	// once, as it is now, and only what changed.
	start := rev
	ana.DisplayName, ana.FetchedAt = "Ana Lima-Souza", t0.Add(time.Minute)
	f.putNames(t, tenantA, ana, ben) // ben as it was: unchanged
	got, rev1 := f.namesSince(t, tenantA, rev)
	sameNames(t, "after a name changed", got, ana)
	if rev1 <= rev {
		t.Errorf("after a name changed: revision %d, want more than %d", rev1, rev)
	}
	app.FetchedAt = t0.Add(time.Hour)
	f.putNames(t, tenantA, app)
	got, rev2 := f.namesSince(t, tenantA, rev1)
	sameNames(t, "after an app was fetched again", got, app)
	if rev2 <= rev1 {
		t.Errorf("after an app was fetched again: revision %d, want more than %d", rev2, rev1)
	}
	f.putNames(t, tenantA, ana, ben, app) // all as they are
	if got, again := f.namesSince(t, tenantA, rev2); len(got) != 0 || again != rev2 {
		t.Errorf("NamesSince(%d) after putting the same again: %v at revision %d", rev2, got, again)
	}
	got, _ = f.namesSince(t, tenantA, start)
	sameNames(t, "NamesSince(before both changes)", got, ana, app)

	// Another tenant's names never; and its own revision.
	got, revB := f.namesSince(t, tenantB, -1)
	sameNames(t, "NamesSince for B", got, other)
	if want := f.revision(t, tenantB); revB != want {
		t.Errorf("NamesSince for B: revision %d, want %d", revB, want)
	}

	// An error from fn stops it and comes back as is.
	stop := errors.New("stop")
	calls := 0
	_, err := f.NamesSince(f.ctx, tenantA, -1, func(portal.DirectoryName) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("NamesSince with fn failing: %v after %d calls, want stop after 1", err, calls)
	}
}

// PutNamesFromInstances puts names at once through 8 writers spread over
// the instances (stores on one database, each its own pool), 10 puts each
// of 40 people and 10 apps that every writer names in its own words, half
// of them in reverse order. After each put its writer catches a copy of
// the names up with NamesSince, from the revision the copy is at, through
// its instance: however the puts and reads interleave, the copy must end
// equal to what AllNames reads, and every put, each of which changes
// names, must have raised the revision once.
func PutNamesFromInstances(t *testing.T, instances ...portal.NameStore) {
	ctx := context.Background()
	type key struct {
		space portal.NameSpace
		id    portal.GUID
	}
	var (
		mu     sync.Mutex // the copy: one catch-up at a time
		mirror = map[key]portal.DirectoryName{}
		rev    int64
	)
	catchUp := func(db portal.NameStore) error {
		mu.Lock()
		defer mu.Unlock()
		next, err := db.NamesSince(ctx, Tenant, rev, func(n portal.DirectoryName) error {
			mirror[key{n.Space, n.ID}] = n
			return nil
		})
		if err == nil && next < rev {
			err = fmt.Errorf("NamesSince(%d) went back to revision %d", rev, next)
		}
		rev = max(rev, next)
		return err
	}
	const writers, puts = 8, 10
	var wg sync.WaitGroup
	for w := range writers {
		db := instances[w%len(instances)]
		wg.Go(func() {
			for i := range puts {
				var names []portal.DirectoryName
				for n := range 50 {
					name := portal.DirectoryName{TenantID: Tenant, Space: portal.SpaceObject, ID: GUID("person", n), Found: true,
						Kind: portal.KindUser, DisplayName: fmt.Sprintf("Person %d, writer %d", n, w), FetchedAt: t0.Add(time.Duration(i) * time.Second)}
					if n >= 40 {
						name.Space, name.Kind, name.DisplayName = portal.SpaceApp, portal.KindUnknown, fmt.Sprintf("App %d, writer %d", n, w)
					}
					names = append(names, name)
				}
				if w%2 == 1 {
					slices.Reverse(names)
				}
				if err := db.PutNames(ctx, Tenant, names); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				if err := catchUp(db); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := catchUp(instances[0]); err != nil {
		t.Fatal(err)
	}
	if got, err := instances[0].NamesRevision(ctx, Tenant); err != nil || got != writers*puts || rev != got {
		t.Errorf("NamesRevision = %d, %v; copy at %d; want %d (one per put)", got, err, rev, writers*puts)
	}
	want := 0
	for _, space := range []portal.NameSpace{portal.SpaceObject, portal.SpaceApp} {
		if err := instances[0].AllNames(ctx, Tenant, space, func(n portal.DirectoryName) error {
			want++
			if c, ok := mirror[key{n.Space, n.ID}]; !ok || c.DisplayName != n.DisplayName || !c.FetchedAt.Equal(n.FetchedAt) {
				t.Errorf("copy holds %+v (%v), store %+v", c, ok, n)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(mirror) != want || want != 50 {
		t.Errorf("copy holds %d names, store %d, want 50", len(mirror), want)
	}
}
