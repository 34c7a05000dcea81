// Package listindex answers one tenant's inventory list from memory: search,
// filters, sorting and paging from an index, so that a request's cost does
// not grow with the inventory, and a change updates the index for its rows
// only.
//
// Why in memory and not in the databases' own text indexes: the list must
// answer "a different search each request" and "a random deep page" at
// 200,000 rows in well under a millisecond of CPU, on SQLite and on
// PostgreSQL alike. A database answers a deep page with OFFSET, which walks
// every row before it, and a count of matches by visiting every match; each
// of its answers also costs a round trip and the decoding of rows. Here a
// deep page is an index into a sorted array, a count is a sum of counters,
// and a search reads one or two short posting lists. One engine serves both
// stores, so they cannot disagree. See the README's "Measured" section for
// the figures of the candidates.
//
// What is held per assignment (see Index.Stats): a fixed-size row with no
// pointers (the garbage collector never scans it), its strings once in an
// arena (labels interned; client-ID sets and actors shared), one entry in
// the object map, six sort orders of four bytes, one byte of cell, and the
// row's trigrams as delta-encoded posting lists (about a byte each).
//
// Rows are never changed in place: a changed row gets a new row number and
// the old one is marked dead. Row numbers only grow, so every posting list
// stays sorted by appending, and a live row's postings are exactly its
// text's trigrams. Dead rows and their postings are garbage until Compact
// builds the index afresh (the caller decides when: Garbage says how much).
package listindex

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// Index is one tenant's inventory and the names of its objects and apps.
// It is safe for concurrent use: reads share a lock, Apply takes it alone.
type Index struct {
	mu sync.RWMutex

	tenant   portal.GUID
	head     int64 // audit head the rows are current at
	namesRev int64 // names revision the names are current at

	rows     []row
	cells    []uint8 // by row: its cell (kind × state), or dead
	byObject map[portal.GUID]uint32
	live     int
	counts   [numCells]int

	text     arena
	labels   map[string]labelRef // interned: the same label once
	actors   []portal.Actor
	actorIdx map[portal.Actor]uint32
	sets     [][]portal.GUID // client-ID sets, shared by the rows that have them
	setIdx   map[string]uint32
	observed map[uint32]*portal.Assignment // drifted rows: what ACS held

	// names are the people and resource accounts named: each one's slot
	// in nameRecs, which a row holds too, so that a page's fifty rows find
	// their names without fifty lookups in a map of 200,000.
	names    map[portal.GUID]uint32
	nameRecs []nameRec
	apps     map[portal.GUID]nameRec // calling-client apps
	// known are the folded names the portal's configuration gives
	// calling-client apps (KnownApps): pages show those names, so
	// searches match them, whatever Graph calls the app (or if it has
	// no service principal to name it).
	known map[portal.GUID]sref

	grams      postings               // trigram of row text → rows
	appRows    map[portal.GUID]*plist // client ID → rows that have it
	orders     [numSorts]order        // each sort's natural order of live rows
	rememberMu sync.Mutex             // readers share the index, not remembered
	remembered map[string]hits        // recent costly searches
	// appSets are the live rows of each app with many, as sets: every
	// search matching the app's name or ID unions them (see addAppRows).
	appSets map[portal.GUID]bitset
}

// row is one assignment, without pointers. Times are Unix nanoseconds, 0
// for the zero time.
type row struct {
	object portal.GUID
	label  labelRef
	// names are the folded display name, UPN and phone number of the
	// object's name when the row was indexed (a new name re-indexes it).
	names                               [3]sref
	name                                uint32 // the object's slot in nameRecs + 1; 0: no name
	created, updated, verified, expires int64
	version                             int64
	createdBy, updatedBy                uint32
	set                                 uint32
	kind                                uint8
	state                               uint8 // stateCode
}

type labelRef struct{ text, fold sref }

// nameRec is a cached directory name, without pointers.
type nameRec struct {
	display, upn, phone sref
	// displayFold is an app's folded name, which searches match.
	displayFold sref
	fetched     int64
	found       bool
	kind        uint8
}

// Cells partition the rows by kind and verification state, so that any
// filter of kind and state is a set of cells.
const (
	numStates = 4 // portal.VerifyStates, in order
	numCells  = 3 * numStates
	deadCell  = 0xff
)

// stateCode is a row's state: its index in portal.VerifyStates, or
// stateEmpty for "" (shown and sorted as unverified, returned as stored).
const stateEmpty = numStates

func stateCodeOf(s portal.VerifyState) uint8 {
	if i := slices.Index(portal.VerifyStates, s); i >= 0 {
		return uint8(i)
	}
	return stateEmpty
}

// effectiveState is the state a row is filtered and sorted by.
func (r *row) effectiveState() uint8 {
	if r.state == stateEmpty {
		return uint8(slices.Index(portal.VerifyStates, portal.StateUnverified))
	}
	return r.state
}

func (r *row) cell() uint8 {
	return kindIndex(portal.PrincipalKind(r.kind))*numStates + r.effectiveState()
}

func kindIndex(k portal.PrincipalKind) uint8 {
	switch k {
	case portal.KindUser:
		return 1
	case portal.KindResourceAccount:
		return 2
	}
	return 0
}

// New returns an empty index of tenant's rows.
func New(tenant portal.GUID) *Index {
	return &Index{
		tenant:   tenant,
		byObject: map[portal.GUID]uint32{},
		labels:   map[string]labelRef{},
		actorIdx: map[portal.Actor]uint32{},
		sets:     [][]portal.GUID{nil}, // set 0: no client IDs
		setIdx:   map[string]uint32{"": 0},
		observed: map[uint32]*portal.Assignment{},
		names:    map[portal.GUID]uint32{},
		apps:     map[portal.GUID]nameRec{},
		grams:    postings{lists: map[uint32]*plist{}},
		appRows:  map[portal.GUID]*plist{},
	}
}

// SetKnownApps gives the index the names the configuration gives
// calling-client apps, for searches to match. Searching for them stays an
// index question: a search checks each distinct app in use (a handful),
// then reads the rows of those that match from their posting lists.
func (x *Index) SetKnownApps(apps []portal.KnownApp) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.known = make(map[portal.GUID]sref, len(apps))
	for _, a := range apps {
		if a.Name != "" {
			x.known[a.ID] = x.text.add(fold(a.Name))
		}
	}
	x.forget()
}

// Stamp is the audit head and names revision the index is current at.
func (x *Index) Stamp() (head, namesRev int64) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.head, x.namesRev
}

// Changes are what Apply takes: rows put (new or changed), objects removed,
// names learned, and the stamp they bring the index to.
type Changes struct {
	Put      []portal.InventoryItem
	Removed  []portal.GUID
	Names    []portal.DirectoryName
	Head     int64
	NamesRev int64
}

// Apply takes up changes: only the rows they touch are re-indexed, and the
// sort orders are merged, not sorted again.
func (x *Index) Apply(c Changes) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.apply(c)
}

func (x *Index) apply(c Changes) {
	x.head, x.namesRev = max(x.head, c.Head), max(x.namesRev, c.NamesRev)
	var added, killed []uint32
	kill := func(object portal.GUID) {
		if id, ok := x.kill(object); ok {
			killed = append(killed, id)
		}
	}
	renamed := map[portal.GUID]bool{}
	for _, n := range c.Names {
		if x.putName(n) {
			renamed[n.ID] = true
		}
	}
	for _, id := range c.Removed {
		kill(id)
		delete(renamed, id)
	}
	for _, it := range c.Put {
		if it.TenantID != x.tenant {
			continue
		}
		kill(it.ObjectID)
		added = append(added, x.add(it))
		delete(renamed, it.ObjectID)
	}
	// A row whose name's searchable text changed is indexed again.
	for id := range renamed {
		if old, ok := x.byObject[id]; ok {
			it := x.item(old, nil)
			kill(id)
			added = append(added, x.add(it))
		}
	}
	if len(added) > 0 || len(killed) > 0 {
		for s := range x.orders {
			x.orders[s].update(x, sortKind(s), killed, added)
		}
	}
	if len(added) > 0 || len(c.Removed) > 0 || len(c.Names) > 0 {
		x.forget() // app names match too
	}
}

// forget drops what searches remembered: the rows have changed.
func (x *Index) forget() {
	x.rememberMu.Lock()
	clear(x.remembered)
	clear(x.appSets)
	x.rememberMu.Unlock()
}

// kill marks object's row dead, if it has one, and returns it.
func (x *Index) kill(object portal.GUID) (uint32, bool) {
	id, ok := x.byObject[object]
	if !ok {
		return 0, false
	}
	delete(x.byObject, object)
	delete(x.observed, id)
	x.counts[x.cells[id]]--
	x.cells[id] = deadCell
	x.live--
	return id, true
}

// add appends it as a new live row and indexes its text.
func (x *Index) add(it portal.InventoryItem) uint32 {
	id := uint32(len(x.rows))
	r := row{
		object:    it.ObjectID,
		label:     x.label(it.Label),
		created:   unixNano(it.CreatedAt),
		updated:   unixNano(it.UpdatedAt),
		verified:  unixNano(it.VerifiedAt),
		expires:   unixNano(it.ExpiresAt),
		version:   it.Version,
		createdBy: x.actor(it.CreatedBy),
		updatedBy: x.actor(it.UpdatedBy),
		set:       x.set(it.ClientIDs),
		kind:      uint8(it.Kind),
		state:     stateCodeOf(it.State),
	}
	if slot, ok := x.names[it.ObjectID]; ok {
		r.name = slot + 1
		n := &x.nameRecs[slot]
		for i, v := range [3]sref{n.display, n.upn, n.phone} {
			r.names[i] = x.text.addFold(v, fold(x.text.str(v)))
		}
	}
	x.rows = append(x.rows, r)
	x.cells = append(x.cells, r.cell())
	x.byObject[it.ObjectID] = id
	x.counts[r.cell()]++
	x.live++
	if it.Observed != nil {
		o := cloneAssignment(*it.Observed)
		x.observed[id] = &o
	}
	var buf [36]byte
	x.grams.addText(id, guidText(&buf, it.ObjectID))
	x.grams.addText(id, x.text.bytes(r.label.fold))
	for _, f := range r.names {
		x.grams.addText(id, x.text.bytes(f))
	}
	for _, app := range it.ClientIDs {
		p := x.appRows[app]
		if p == nil {
			p = &plist{}
			x.appRows[app] = p
		}
		p.add(id)
	}
	return id
}

// putName records n and reports whether an object's searchable text
// (display name, UPN, phone) changed.
func (x *Index) putName(n portal.DirectoryName) bool {
	rec := nameRec{fetched: unixNano(n.FetchedAt), found: n.Found, kind: uint8(n.Kind)}
	switch n.Space {
	case portal.SpaceApp:
		rec.display = x.text.add(n.DisplayName)
		rec.displayFold = x.text.addFold(rec.display, fold(n.DisplayName))
		x.apps[n.ID] = rec
		return false
	case portal.SpaceObject:
		slot, had := x.names[n.ID]
		if !had {
			slot = uint32(len(x.nameRecs))
			x.nameRecs = append(x.nameRecs, nameRec{})
			x.names[n.ID] = slot
		}
		old := &x.nameRecs[slot]
		if had && x.text.equal(old.display, n.DisplayName) && x.text.equal(old.upn, n.UPN) && x.text.equal(old.phone, n.Phone) {
			old.fetched, old.found, old.kind = rec.fetched, rec.found, rec.kind
			return false
		}
		// A new text: the caller indexes the object's row again, which
		// reads it from the same slot.
		rec.display, rec.upn, rec.phone = x.text.add(n.DisplayName), x.text.add(n.UPN), x.text.add(n.Phone)
		*old = rec
		return true
	}
	return false
}

func (x *Index) label(s string) labelRef {
	if l, ok := x.labels[s]; ok {
		return l
	}
	text := x.text.add(s)
	l := labelRef{text: text, fold: x.text.addFold(text, strings.ToLower(s))}
	x.labels[strings.Clone(s)] = l
	return l
}

func (x *Index) actor(a portal.Actor) uint32 {
	if i, ok := x.actorIdx[a]; ok {
		return i
	}
	i := uint32(len(x.actors))
	a.Name = strings.Clone(a.Name)
	x.actors = append(x.actors, a)
	x.actorIdx[a] = i
	return i
}

func (x *Index) set(ids []portal.GUID) uint32 {
	key := make([]byte, 0, 16*len(ids))
	for _, id := range ids {
		key = append(key, id[:]...)
	}
	if i, ok := x.setIdx[string(key)]; ok {
		return i
	}
	i := uint32(len(x.sets))
	x.sets = append(x.sets, slices.Clone(ids))
	x.setIdx[string(key)] = i
	return i
}

// fold is how searchable text is compared: lower case, and no control
// characters (names come from Graph, not from a form that refuses them).
func fold(s string) string { return strings.Map(noControl, strings.ToLower(s)) }

func noControl(r rune) rune {
	if r < 0x20 || r == 0x7f {
		return ' '
	}
	return r
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func timeOf(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func cloneAssignment(a portal.Assignment) portal.Assignment {
	a.ClientIDs = slices.Clone(a.ClientIDs)
	return a
}

// item is row id as the stores return it, its strings and client IDs
// copied into t (nil: each on its own).
func (x *Index) item(id uint32, t *pageText) portal.InventoryItem {
	r := &x.rows[id]
	it := portal.InventoryItem{
		Assignment: portal.Assignment{TenantID: x.tenant, ObjectID: r.object, Kind: portal.PrincipalKind(r.kind), ClientIDs: t.set(x.sets[r.set])},
		Label:      t.str(&x.text, r.label.text),
		CreatedAt:  timeOf(r.created),
		CreatedBy:  x.actors[r.createdBy],
		UpdatedAt:  timeOf(r.updated),
		UpdatedBy:  x.actors[r.updatedBy],
		VerifiedAt: timeOf(r.verified),
		ExpiresAt:  timeOf(r.expires),
		Version:    r.version,
	}
	if r.state != stateEmpty {
		it.State = portal.VerifyStates[r.state]
	}
	if o := x.observed[id]; o != nil {
		c := cloneAssignment(*o)
		it.Observed = &c
	}
	return it
}

// name is a name as the stores return it, its strings copied into t (nil:
// each on its own).
func (x *Index) name(space portal.NameSpace, id portal.GUID, rec nameRec, t *pageText) portal.DirectoryName {
	return portal.DirectoryName{TenantID: x.tenant, Space: space, ID: id, Found: rec.found, Kind: portal.PrincipalKind(rec.kind),
		DisplayName: t.str(&x.text, rec.display), UPN: t.str(&x.text, rec.upn), Phone: t.str(&x.text, rec.phone), FetchedAt: timeOf(rec.fetched)}
}

// Each calls fn for every live row, in no particular order, under the read
// lock: fn must be quick and must not call back into the index.
func (x *Index) Each(fn func(portal.InventoryItem)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for id, c := range x.cells {
		if c != deadCell {
			fn(x.item(uint32(id), nil))
		}
	}
}

// CountExpiring counts the live rows whose access ends at or before t
// (time-boxed access ending soon, or ended and not yet revoked): a pass
// over the rows' end times, without making an item of any.
func (x *Index) CountExpiring(t time.Time) int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	limit, n := t.UnixNano(), 0
	for id, c := range x.cells {
		if c != deadCell && x.rows[id].expires != 0 && x.rows[id].expires <= limit {
			n++
		}
	}
	return n
}

// Garbage is how much of the index is dead weight: the share of its rows
// that are dead (each with its postings and strings). Compact when it
// grows large.
func (x *Index) Garbage() float64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if len(x.rows) == 0 {
		return 0
	}
	return float64(len(x.rows)-x.live) / float64(len(x.rows))
}

// Compact returns a new index holding the same rows and names, built
// afresh: dead rows, superseded strings and their postings are gone. x
// stays usable (readers holding it carry on) and unchanged.
func (x *Index) Compact() *Index {
	x.mu.RLock()
	defer x.mu.RUnlock()
	b := NewBuilder(x.tenant)
	if x.known != nil {
		b.x.known = make(map[portal.GUID]sref, len(x.known))
		for id, name := range x.known {
			b.x.known[id] = b.x.text.add(x.text.str(name))
		}
	}
	for id, slot := range x.names {
		b.Name(x.name(portal.SpaceObject, id, x.nameRecs[slot], nil))
	}
	for id, rec := range x.apps {
		b.Name(x.name(portal.SpaceApp, id, rec, nil))
	}
	for id, cell := range x.cells {
		if cell != deadCell {
			b.Item(x.item(uint32(id), nil))
		}
	}
	return b.Index(x.head, x.namesRev)
}

// Build returns an index of c's rows and names, sorting each order once.
func Build(tenant portal.GUID, c Changes) *Index {
	b := NewBuilder(tenant)
	b.x.rows, b.x.cells = make([]row, 0, len(c.Put)), make([]uint8, 0, len(c.Put))
	for _, n := range c.Names {
		b.Name(n)
	}
	for _, it := range c.Put {
		b.Item(it)
	}
	return b.Index(c.Head, c.NamesRev)
}

// Builder builds an index a row at a time, names first, so that a load
// never holds the tenant's rows twice (read, and indexed).
type Builder struct{ x *Index }

// NewBuilder starts an index of tenant's rows.
func NewBuilder(tenant portal.GUID) *Builder { return &Builder{x: New(tenant)} }

// Name adds a cached name; every name must come before the first Item.
func (b *Builder) Name(n portal.DirectoryName) {
	if n.TenantID == b.x.tenant || n.TenantID.IsZero() {
		b.x.putName(n)
	}
}

// Item adds a row (another of the same object replaces it).
func (b *Builder) Item(it portal.InventoryItem) {
	if it.TenantID == b.x.tenant {
		b.x.kill(it.ObjectID)
		b.x.add(it)
	}
}

// Index sorts the orders and returns the index, current at head and
// namesRev. The Builder is spent.
func (b *Builder) Index(head, namesRev int64) *Index {
	x := b.x
	b.x = nil
	x.head, x.namesRev = head, namesRev
	// The sorts only read the rows: they run side by side.
	var wg sync.WaitGroup
	for s := range x.orders {
		wg.Go(func() { x.orders[s].build(x, sortKind(s)) })
	}
	wg.Wait()
	return x
}

// Stats describe the index's size, for the README's figures and metrics.
type Stats struct {
	Rows, DeadRows, Names, Apps int
	Trigrams, PostingBytes      int
	TextBytes                   int
	// Bytes is an estimate of the memory the index holds.
	Bytes int
}

// Stats measures the index.
func (x *Index) Stats() Stats {
	x.mu.RLock()
	defer x.mu.RUnlock()
	s := Stats{Rows: x.live, DeadRows: len(x.rows) - x.live, Names: len(x.names), Apps: len(x.apps),
		Trigrams: len(x.grams.lists), PostingBytes: x.grams.bytes, TextBytes: cap(x.text.b)}
	const mapEntry = 16 // per-entry overhead of Go maps, roughly
	s.Bytes = cap(x.rows)*rowSize + cap(x.cells) + len(x.byObject)*(16+4+mapEntry) +
		len(x.names)*(4+16+mapEntry) + cap(x.nameRecs)*nameSize + len(x.apps)*(nameSize+16+mapEntry) +
		s.TextBytes + s.PostingBytes + len(x.grams.lists)*(4+8+plistSize+mapEntry) + len(x.labels)*(16+16+mapEntry)
	for i := range x.orders {
		o := &x.orders[i]
		o.blocksMu.Lock()
		s.Bytes += cap(o.ids)*4 + len(o.blocks)*numCells*2
		o.blocksMu.Unlock()
	}
	for _, p := range x.appRows {
		s.Bytes += p.size() + plistSize
	}
	return s
}

// Syncer makes the index hold exactly the tenant's whole inventory as read
// now, fed a row at a time (as the store reads them, so that the rows are
// never all held at once): rows that differ are put, rows not fed removed.
// It costs a comparison per row and the index's work only for the rows
// that moved, where building afresh would re-index them all.
type Syncer struct {
	x    *Index
	seen bitset
	c    Changes
}

// StartSync starts a Syncer. The caller must not Apply or sync
// concurrently (the list cache's refresh lock sees to it).
func (x *Index) StartSync() *Syncer {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return &Syncer{x: x, seen: newBitset(len(x.rows))}
}

// Item is one row of the tenant's inventory as it is now.
func (s *Syncer) Item(it portal.InventoryItem) {
	x := s.x
	if it.TenantID != x.tenant {
		return
	}
	x.mu.RLock()
	id, ok := x.byObject[it.ObjectID]
	same := ok && x.holds(id, &it)
	x.mu.RUnlock()
	if ok {
		s.seen.set(id)
	}
	if !same {
		s.c.Put = append(s.c.Put, it)
	}
}

// Done removes the rows no Item named and takes up the changes, current
// at head.
func (s *Syncer) Done(head int64) {
	x := s.x
	x.mu.RLock()
	for object, id := range x.byObject {
		if !s.seen.has(id) {
			s.c.Removed = append(s.c.Removed, object)
		}
	}
	x.mu.RUnlock()
	s.c.Head = head
	x.Apply(s.c)
}

// holds reports whether row id is it.
func (x *Index) holds(id uint32, it *portal.InventoryItem) bool {
	r := &x.rows[id]
	o := x.observed[id]
	return r.object == it.ObjectID && r.kind == uint8(it.Kind) && r.state == stateCodeOf(it.State) && r.version == it.Version &&
		r.created == unixNano(it.CreatedAt) && r.updated == unixNano(it.UpdatedAt) &&
		r.verified == unixNano(it.VerifiedAt) && r.expires == unixNano(it.ExpiresAt) &&
		x.text.equal(r.label.text, it.Label) && x.actors[r.createdBy] == it.CreatedBy && x.actors[r.updatedBy] == it.UpdatedBy &&
		slices.Equal(x.sets[r.set], it.ClientIDs) && it.Spelling == "" &&
		(o == nil) == (it.Observed == nil) && (o == nil || sameAssignment(*o, *it.Observed))
}

func sameAssignment(a, b portal.Assignment) bool {
	return a.TenantID == b.TenantID && a.ObjectID == b.ObjectID && a.Kind == b.Kind && a.Spelling == b.Spelling &&
		slices.Equal(a.ClientIDs, b.ClientIDs) && slices.Equal(a.OddClientIDs, b.OddClientIDs)
}
