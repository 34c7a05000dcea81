package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

var _ portal.Store = (*DB)(nil)

// itemColumns is the column list every inventory read selects; scanItem
// reads them in this order.
const itemColumns = `tenant_id, object_id, client_ids, label, kind, state,
	created_at, created_by_tid, created_by_oid, created_by_name,
	updated_at, updated_by_tid, updated_by_oid, updated_by_name,
	verified_at, observed, version, expires_at`

// GetItem returns the row for (tenant, object), or an ENOTFOUND error. A row
// of another tenant is not found, exactly like a missing one.
func (db *DB) GetItem(ctx context.Context, tenant, object portal.GUID) (portal.InventoryItem, error) {
	it, err := getItem(ctx, db.db, tenant, object)
	if err != nil {
		return portal.InventoryItem{}, dbError(err, "read the inventory")
	}
	return it, nil
}

// ListItems returns a page of one tenant's rows matching f; an empty result
// is not an error. f.TenantID is required (EINVALID without it), as are a
// known Kind, State and Sort when set.
//
// Query, with surrounding space ignored, matches case-insensitively part of
// the object ID, part of the label or part of any one client ID; it is
// matched literally (no wildcards), and a whole GUID in braces or any case
// matches its canonical form. Desc reverses the sort's whole order, object
// ID tiebreak included, so pages of either direction never repeat or skip a
// row. Limit 0 means 50; Limit is capped at 200; a negative Offset is 0.
// Matched, Counts and Items are read from one snapshot.
func (db *DB) ListItems(ctx context.Context, f portal.InventoryFilter) (portal.InventoryPage, error) {
	var page portal.InventoryPage
	q, err := inventoryQuery(f)
	if err != nil {
		return page, err
	}
	tx, err := db.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return page, storeError(err, "read the inventory")
	}
	defer tx.Rollback()

	cells, err := inventoryCounts(ctx, tx, f.TenantID)
	if err != nil {
		return page, storeError(err, "read the inventory")
	}
	page.Counts = cells.Totals()
	if q.search == "" {
		page.Matched = cells.Matching(f.Kind, f.State)
		if q.offset < page.Matched {
			page.Items, err = listPage(ctx, tx, q, q.sortIndex)
		}
	} else {
		page.Matched, page.Items, err = searchPage(ctx, tx, q, cells.Matching(f.Kind, f.State))
	}
	if err != nil {
		return page, dbError(err, "search the inventory")
	}
	return page, storeError(tx.Commit(), "read the inventory")
}

// fewMatches is how many matches a search fetches by key: up to it, a
// search reads the search index once and looks up what it found. (A
// variable only so that tests reach the other ways with fewer rows.)
var fewMatches = 500

// searchPage finds the rows matching a Query. Nothing can narrow down the
// rows a substring matches, so every row of the tenant (of the filter's
// kind and state: inFilter rows) is tested once, in the narrow search
// index, which stops early if more than fewMatches match. If fewer, they are
// looked up and sorted. If more, a second pass counts them, and the page is
// found by walking the sort's index, testing each row until the page is
// full, which, as matches are many, takes a few rows per match; or, when
// the walk would be long (a deep page, or matches not so many), by sorting
// the matches' keys in the search index.
func searchPage(ctx context.Context, tx *sql.Tx, q itemQuery, inFilter int) (int, []portal.InventoryItem, error) {
	clientIDs := false
	if q.idSearch != "" {
		err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM inventory_client_ids WHERE tenant_id = ? AND instr(client_id, ?) > 0)`,
			q.args[0], q.idSearch).Scan(&clientIDs)
		if err != nil {
			return 0, nil, err
		}
	}
	q = q.matching(clientIDs)
	keys, err := searchKeys(ctx, tx, q, fewMatches+1)
	if err != nil {
		return 0, nil, err
	}
	if len(keys) <= fewMatches {
		if q.offset >= len(keys) {
			return len(keys), nil, nil
		}
		list, err := json.Marshal(keys)
		if err != nil {
			return 0, nil, err
		}
		items, err := queryItems(ctx, tx, `SELECT `+itemColumns+`
			FROM (SELECT value AS k FROM json_each(?)) AS page
			CROSS JOIN inventory ON tenant_id = ? AND object_id = page.k
			ORDER BY `+q.orderBy+` LIMIT ? OFFSET ?`, []any{string(list), q.args[0], q.limit, q.offset}, q.limit)
		return len(keys), items, err
	}
	var matched int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM inventory INDEXED BY inventory_by_label WHERE `+q.where, q.args...).Scan(&matched); err != nil {
		return 0, nil, err
	}
	if q.offset >= matched {
		return matched, nil, nil
	}
	if walk := (q.offset + q.limit) * inFilter / matched; walk <= 4*fewMatches {
		items, err := queryItems(ctx, tx, `SELECT `+itemColumns+` FROM inventory `+q.sortIndex+` WHERE `+q.where+`
			ORDER BY `+q.orderBy+` LIMIT ? OFFSET ?`, q.withArgs(q.limit, q.offset), q.limit)
		return matched, items, err
	}
	items, err := listPage(ctx, tx, q, "INDEXED BY inventory_by_label")
	return matched, items, err
}

// searchKeys returns the object IDs of up to limit rows matching q, in no
// particular order.
func searchKeys(ctx context.Context, tx *sql.Tx, q itemQuery, limit int) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT object_id FROM inventory INDEXED BY inventory_by_label WHERE `+q.where+` LIMIT ?`,
		q.withArgs(limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// listPage returns the page of rows q selects. The page's keys are found
// in a covering index (the sort's own, or the one hint names), which skips
// rows without reading them; then only the page's rows are read. CROSS JOIN
// makes SQLite read the keys first and look each row up, rather than walk a
// sort index over the whole tenant checking each row against the page.
func listPage(ctx context.Context, tx *sql.Tx, q itemQuery, hint string) ([]portal.InventoryItem, error) {
	return queryItems(ctx, tx, `SELECT `+itemColumns+`
		FROM (SELECT object_id AS k FROM inventory `+hint+` WHERE `+q.where+` ORDER BY `+q.orderBy+` LIMIT ? OFFSET ?) AS page
		CROSS JOIN inventory ON tenant_id = ? AND object_id = page.k
		ORDER BY `+q.orderBy, q.withArgs(q.limit, q.offset, q.args[0]), q.limit)
}

func queryItems(ctx context.Context, tx *sql.Tx, query string, args []any, size int) ([]portal.InventoryItem, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	items := make([]portal.InventoryItem, 0, size)
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, rows.Err()
}

// AllItems calls fn for every row of tenant (the zero GUID: of every tenant)
// in (tenant, object) order, reading them one at a time from one snapshot.
// An error from fn stops it and is returned as is. The snapshot is held
// until AllItems returns, and SQLite cannot fold the write-ahead log back
// into the database past it meanwhile: fn should be quick, and a caller with
// slow work per row (a call to ACS) should collect the rows first.
func (db *DB) AllItems(ctx context.Context, tenant portal.GUID, fn func(portal.InventoryItem) error) error {
	query, args := `SELECT `+itemColumns+` FROM inventory ORDER BY tenant_id, object_id`, []any(nil)
	if !tenant.IsZero() {
		query, args = `SELECT `+itemColumns+` FROM inventory WHERE tenant_id = ? ORDER BY object_id`, []any{tenant.String()}
	}
	rows, err := db.db.QueryContext(ctx, query, args...)
	if err != nil {
		return storeError(err, "read the inventory")
	}
	defer rows.Close()
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return dbError(err, "read the inventory")
		}
		if err := fn(it); err != nil {
			return err
		}
	}
	return storeError(rows.Err(), "read the inventory")
}

func getItem(ctx context.Context, q querier, tenant, object portal.GUID) (portal.InventoryItem, error) {
	row := q.QueryRowContext(ctx, `SELECT `+itemColumns+` FROM inventory WHERE tenant_id = ? AND object_id = ?`,
		tenant.String(), object.String())
	it, err := scanItem(row)
	if errors.Is(err, sql.ErrNoRows) {
		return it, portal.Errorf(portal.ENOTFOUND, "The portal has no record of that assignment.")
	}
	return it, err
}

// itemQuery is an InventoryFilter turned into SQL.
type itemQuery struct {
	where   string // without the keyword; without the search (see matching)
	args    []any
	orderBy string
	// search is the folded Query ("" for none) and idSearch the GUID
	// fragment it could be ("" if it cannot be part of a GUID).
	search, idSearch string
	sortIndex        string // INDEXED BY the sort's index, or ""
	offset, limit    int
}

// matching returns q with the search added to its WHERE clause. instr is a
// literal substring test: the person's % and _ are just characters. Both
// sides are folded (label_fold; GUIDs are stored in lower case). An ID
// fragment has no space or quote, so it cannot span two client IDs.
// clientIDs says whether the search can match a client ID at all; if not,
// the client_ids column, twice the object ID's width, is not read.
func (q itemQuery) matching(clientIDs bool) itemQuery {
	cond := "instr(label_fold, ?) > 0"
	args := append(slices.Clip(q.args), q.search)
	if q.idSearch != "" {
		cond += " OR instr(object_id, ?) > 0"
		args = append(args, q.idSearch)
		if clientIDs {
			cond += " OR instr(client_ids, ?) > 0"
			args = append(args, q.idSearch)
		}
		cond = "(" + cond + ")"
	}
	q.where, q.args = q.where+" AND "+cond, args
	return q
}

// withArgs returns q's arguments followed by more, in a new slice.
func (q itemQuery) withArgs(more ...any) []any { return append(slices.Clip(q.args), more...) }

// sortTerm is one ORDER BY term in a sort's natural direction.
type sortTerm struct {
	expr string
	desc bool
}

// stateRank orders states as portal.VerifyStates lists them. It is spelled
// exactly as in the inventory_by_state index, so that the index serves it.
const stateRank = `CASE state WHEN 'in_sync' THEN 0 WHEN 'drifted' THEN 1 WHEN 'missing' THEN 2 ELSE 3 END`

// inventorySort is a sort's natural order and the index that holds the
// tenant's rows in that order (see 0002_inventory_audit.sql).
type inventorySort struct {
	terms []sortTerm
	index string // "" for the primary key
}

var inventorySorts = map[portal.InventorySort]inventorySort{
	portal.SortUpdated:  {[]sortTerm{{"updated_at", true}, {"object_id", false}}, "inventory_by_updated"},
	portal.SortObjectID: {[]sortTerm{{"object_id", false}}, ""},
	portal.SortLabel: {[]sortTerm{{"label_fold = ''", false}, {"label_fold", false}, {"object_id", false}}, // unlabelled last
		"inventory_by_label"},
	portal.SortKind:     {[]sortTerm{{"kind", true}, {"object_id", false}}, "inventory_by_kind"}, // 'user' > 'resourceAccount'
	portal.SortState:    {[]sortTerm{{stateRank, false}, {"object_id", false}}, "inventory_by_state"},
	portal.SortVerified: {[]sortTerm{{"verified_at", false}, {"object_id", false}}, "inventory_by_verified"}, // NULL (never) first
}

func inventoryQuery(f portal.InventoryFilter) (itemQuery, error) {
	q := itemQuery{offset: max(f.Offset, 0), limit: storekit.PageSize(f.Limit)}
	if f.TenantID.IsZero() {
		return q, portal.Errorf(portal.EINVALID, "The inventory is listed one tenant at a time.")
	}
	sort := f.Sort
	if sort == "" {
		sort = portal.SortUpdated
	}
	so, ok := inventorySorts[sort]
	if !ok {
		return q, portal.Errorf(portal.EINVALID, "Unknown sort order %q.", truncate(string(f.Sort), 40))
	}
	if so.index != "" {
		q.sortIndex = "INDEXED BY " + so.index
	}
	var order []string
	for _, t := range so.terms {
		if t.desc != f.Desc {
			order = append(order, t.expr+" DESC")
		} else {
			order = append(order, t.expr)
		}
	}
	q.orderBy = strings.Join(order, ", ")

	where := []string{"tenant_id = ?"}
	q.args = []any{f.TenantID.String()}
	switch f.Kind {
	case portal.KindUnknown:
	case portal.KindUser, portal.KindResourceAccount:
		where, q.args = append(where, "kind = ?"), append(q.args, f.Kind.String())
	default:
		return q, portal.Errorf(portal.EINVALID, "Unknown kind of principal.")
	}
	if f.State != "" {
		if _, err := portal.ParseVerifyState(string(f.State)); err != nil {
			return q, err
		}
		where, q.args = append(where, "state = ?"), append(q.args, string(f.State))
	}
	if q.search = fold(strings.TrimSpace(f.Query)); q.search != "" {
		q.idSearch = storekit.IDFragment(q.search)
	}
	q.where = strings.Join(where, " AND ")
	return q, nil
}

func inventoryCounts(ctx context.Context, tx *sql.Tx, tenant portal.GUID) (storekit.CountCells, error) {
	rows, err := tx.QueryContext(ctx, `SELECT kind, state, n FROM inventory_totals WHERE tenant_id = ?`, tenant.String())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cells := storekit.CountCells{}
	for rows.Next() {
		var kind, state string
		var n int
		if err := rows.Scan(&kind, &state, &n); err != nil {
			return nil, err
		}
		cells[[2]string{kind, state}] = n
	}
	return cells, rows.Err()
}

// observedJSON is how inventory.observed records what ACS held.
type observedJSON struct {
	Kind      string   `json:"kind"`
	ClientIDs []string `json:"clientIds"`
	Spelling  string   `json:"spelling,omitempty"`
}

func encodeObserved(a *portal.Assignment) (sql.NullString, error) {
	if a == nil {
		return sql.NullString{}, nil
	}
	o := observedJSON{Kind: a.Kind.String(), ClientIDs: []string{}, Spelling: validText(a.Spelling)}
	for _, id := range portal.NormalizeClientIDs(a.ClientIDs) {
		o.ClientIDs = append(o.ClientIDs, id.String())
	}
	b, err := json.Marshal(o)
	return sql.NullString{String: string(b), Valid: true}, err
}

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// scanItem reads one row of itemColumns. A value the portal never writes
// is an EINTERNAL error.
func scanItem(row rowScanner) (portal.InventoryItem, error) {
	var (
		it                              portal.InventoryItem
		tenant, object, clientIDs, kind string
		state, cTid, cOid, uTid, uOid   string
		created, updated                int64
		verified, expires               sql.NullInt64
		observed                        sql.NullString
	)
	if err := row.Scan(&tenant, &object, &clientIDs, &it.Label, &kind, &state,
		&created, &cTid, &cOid, &it.CreatedBy.Name,
		&updated, &uTid, &uOid, &it.UpdatedBy.Name,
		&verified, &observed, &it.Version, &expires); err != nil {
		return it, err
	}
	var d decoder
	it.TenantID, it.ObjectID = d.guid(tenant), d.guid(object)
	it.Kind = d.kind(kind)
	var ids []string
	if err := json.Unmarshal([]byte(clientIDs), &ids); err != nil {
		d.fail(err)
	}
	it.ClientIDs = d.guids(ids)
	it.CreatedAt, it.UpdatedAt = fromMillis(created), fromMillis(updated)
	it.CreatedBy.TenantID, it.CreatedBy.ObjectID = d.guid(cTid), d.guid(cOid)
	it.UpdatedBy.TenantID, it.UpdatedBy.ObjectID = d.guid(uTid), d.guid(uOid)
	it.State = d.state(state)
	if verified.Valid {
		it.VerifiedAt = fromMillis(verified.Int64)
	}
	if expires.Valid {
		it.ExpiresAt = fromMillis(expires.Int64)
	}
	if observed.Valid {
		var o observedJSON
		if err := json.Unmarshal([]byte(observed.String), &o); err != nil {
			d.fail(err)
		}
		a := portal.Assignment{TenantID: it.TenantID, ObjectID: it.ObjectID, Spelling: o.Spelling}
		if o.Kind != portal.KindUnknown.String() {
			a.Kind = d.kind(o.Kind)
		}
		a.ClientIDs = d.guids(o.ClientIDs)
		it.Observed = &a
	}
	if d.err != nil {
		return it, portal.Wrap(d.err, portal.EINTERNAL,
			fmt.Sprintf("The inventory row for %.40q holds a value the portal never writes.", object))
	}
	return it, nil
}

// decoder turns stored text back into domain values, keeping the first
// failure, so a row is decoded in straight-line code and checked once.
type decoder struct{ err error }

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// guid reads a canonical GUID; "" is the zero GUID.
func (d *decoder) guid(s string) portal.GUID {
	if s == "" {
		return portal.GUID{}
	}
	g, err := portal.ParseGUID(s)
	if err != nil {
		d.fail(err)
	}
	return g
}

// guids reads canonical GUIDs; none is nil.
func (d *decoder) guids(ss []string) []portal.GUID {
	var out []portal.GUID
	for _, s := range ss {
		if s == "" {
			d.fail(errors.New("empty GUID"))
		}
		out = append(out, d.guid(s))
	}
	return out
}

// kind reads a kind's String form; "" is KindUnknown.
func (d *decoder) kind(s string) portal.PrincipalKind {
	if s == "" {
		return portal.KindUnknown
	}
	k, err := portal.ParsePrincipalKind(s)
	if err != nil {
		d.fail(err)
	}
	return k
}

func (d *decoder) state(s string) portal.VerifyState {
	v, err := portal.ParseVerifyState(s)
	if err != nil {
		d.fail(err)
	}
	return v
}

// guidText is how GUID columns hold a GUID: canonical, ” for the zero GUID.
func guidText(g portal.GUID) string {
	if g.IsZero() {
		return ""
	}
	return g.String()
}

// clientIDsText is how inventory.client_ids holds a list: a JSON array of
// the normalised (sorted, no duplicates) canonical GUIDs, which triggers can
// read with json_each to keep inventory_client_ids, and in which a search for
// part of a GUID cannot match across two (quote, comma, quote between them).
func clientIDsText(ids []portal.GUID) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, id := range portal.NormalizeClientIDs(ids) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + id.String() + `"`)
	}
	b.WriteByte(']')
	return b.String()
}

// fold is how search text and the columns it is compared with are
// lower-cased: Unicode-aware, unlike SQLite's lower() and LIKE, which fold
// ASCII only. Invalid UTF-8 becomes U+FFFD on both sides alike.
func fold(s string) string { return strings.ToLower(s) }

// validText is how the store keeps text: valid UTF-8, each run of invalid
// bytes replaced by U+FFFD. JSON columns cannot carry anything else, nor can
// other databases' text types, so every store of the portal keeps the same.
func validText(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
