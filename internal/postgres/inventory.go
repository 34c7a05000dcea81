package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

var (
	_ portal.Store        = (*DB)(nil)
	_ portal.SessionStore = (*DB)(nil)
)

// itemColumns is the column list every inventory read selects; scanItem
// reads them in this order.
const itemColumns = `tenant_id, object_id, client_ids, label, kind, state,
	created_at, created_by_tid, created_by_oid, created_by_name,
	updated_at, updated_by_tid, updated_by_oid, updated_by_name,
	verified_at, observed, version, expires_at`

// GetItem returns the row for (tenant, object), or an ENOTFOUND error. A row
// of another tenant is not found, exactly like a missing one.
func (db *DB) GetItem(ctx context.Context, tenant, object portal.GUID) (portal.InventoryItem, error) {
	it, err := scanItem(db.pool.QueryRow(ctx, `SELECT `+itemColumns+` FROM inventory WHERE tenant_id = $1 AND object_id = $2`,
		uuidOf(tenant), uuidOf(object)))
	if errors.Is(err, pgx.ErrNoRows) {
		return it, portal.Errorf(portal.ENOTFOUND, "The portal has no record of that assignment.")
	}
	if err != nil {
		return it, dbError(err, "read the inventory")
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
	err = db.inTx(ctx, "read the inventory", snapshot, func(tx pgx.Tx) error {
		cells, err := inventoryCounts(ctx, tx, f.TenantID)
		if err != nil {
			return err
		}
		page.Counts = cells.Totals()
		if q.search == "" {
			page.Matched = cells.Matching(f.Kind, f.State)
		} else if err := tx.QueryRow(ctx, `SELECT count(*) FROM inventory WHERE `+q.where, q.args...).Scan(&page.Matched); err != nil {
			return storeError(err, "search the inventory")
		}
		if q.offset >= page.Matched {
			return nil
		}
		args := append(params(nil), q.args...)
		rows, err := tx.Query(ctx, `SELECT `+itemColumns+` FROM inventory WHERE `+q.where+` ORDER BY `+q.orderBy+
			` LIMIT `+args.add(q.limit)+` OFFSET `+args.add(q.offset), args...)
		if err != nil {
			return storeError(err, "search the inventory")
		}
		page.Items, err = collectItems(rows, q.limit)
		return err
	})
	return page, err
}

func collectItems(rows pgx.Rows, size int) ([]portal.InventoryItem, error) {
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
// in (tenant, object) order, reading them one at a time from one snapshot
// (one statement). An error from fn stops it and is returned as is. The
// statement holds a pooled connection until AllItems returns: fn should be
// quick, and a caller with slow work per row (a call to ACS) should collect
// the rows first.
func (db *DB) AllItems(ctx context.Context, tenant portal.GUID, fn func(portal.InventoryItem) error) error {
	query, args := `SELECT `+itemColumns+` FROM inventory ORDER BY tenant_id, object_id`, []any(nil)
	if !tenant.IsZero() {
		query, args = `SELECT `+itemColumns+` FROM inventory WHERE tenant_id = $1 ORDER BY object_id`, []any{uuidOf(tenant)}
	}
	rows, err := db.pool.Query(ctx, query, args...)
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

// itemQuery is an InventoryFilter turned into SQL.
type itemQuery struct {
	where   string // without the keyword
	args    params
	orderBy string
	// search is the folded Query ("" for none).
	search        string
	offset, limit int
}

// sortTerm is one ORDER BY term in a sort's natural direction. nullable
// terms keep NULL first in that direction (SQLite's order; PostgreSQL's
// default is the opposite) and last when reversed.
type sortTerm struct {
	expr           string
	desc, nullable bool
}

// stateRank orders states as portal.VerifyStates lists them. It is spelled
// exactly as in the inventory_by_state index, so that the index serves it.
const stateRank = `(CASE state WHEN 'in_sync' THEN 0 WHEN 'drifted' THEN 1 WHEN 'missing' THEN 2 ELSE 3 END)`

// inventorySorts are the sorts' natural orders (see 0002_inventory.sql for
// the index that serves each).
var inventorySorts = map[portal.InventorySort][]sortTerm{
	portal.SortUpdated:  {{expr: "updated_at", desc: true}, {expr: "object_id"}},
	portal.SortObjectID: {{expr: "object_id"}},
	portal.SortLabel:    {{expr: "(label_fold = '')"}, {expr: "label_fold"}, {expr: "object_id"}}, // unlabelled (true) last
	portal.SortKind:     {{expr: "kind", desc: true}, {expr: "object_id"}},                        // 'user' > 'resourceAccount'
	portal.SortState:    {{expr: stateRank}, {expr: "object_id"}},
	portal.SortVerified: {{expr: "verified_at", nullable: true}, {expr: "object_id"}}, // never verified first
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
	terms, ok := inventorySorts[sort]
	if !ok {
		return q, portal.Errorf(portal.EINVALID, "Unknown sort order %q.", truncate(string(f.Sort), 40))
	}
	var order []string
	for _, t := range terms {
		desc := t.desc != f.Desc
		switch {
		case desc && t.nullable:
			order = append(order, t.expr+" DESC NULLS LAST")
		case desc:
			order = append(order, t.expr+" DESC")
		case t.nullable:
			order = append(order, t.expr+" NULLS FIRST")
		default:
			order = append(order, t.expr)
		}
	}
	q.orderBy = strings.Join(order, ", ")

	where := []string{"tenant_id = " + q.args.add(uuidOf(f.TenantID))}
	switch f.Kind {
	case portal.KindUnknown:
	case portal.KindUser, portal.KindResourceAccount:
		where = append(where, "kind = "+q.args.add(f.Kind.String()))
	default:
		return q, portal.Errorf(portal.EINVALID, "Unknown kind of principal.")
	}
	if f.State != "" {
		if _, err := portal.ParseVerifyState(string(f.State)); err != nil {
			return q, err
		}
		where = append(where, "state = "+q.args.add(string(f.State)))
	}
	if q.search = fold(strings.TrimSpace(f.Query)); q.search != "" {
		// strpos is a literal substring test: the person's % and _ are
		// just characters. Both sides are folded (label_fold; uuid text is
		// lower case). An ID fragment has no comma, so it cannot span two
		// client IDs.
		cond := "strpos(label_fold, " + q.args.add(q.search) + ") > 0"
		if id := storekit.IDFragment(q.search); id != "" {
			p := q.args.add(id)
			cond = "(" + cond + " OR strpos(object_id::text, " + p + ") > 0 OR strpos(array_to_string(client_ids, ','), " + p + ") > 0)"
		}
		where = append(where, cond)
	}
	q.where = strings.Join(where, " AND ")
	return q, nil
}

// inventoryCounts counts the tenant's rows by kind and state, from the
// inventory_totals index alone.
func inventoryCounts(ctx context.Context, q querier, tenant portal.GUID) (storekit.CountCells, error) {
	rows, err := q.Query(ctx, `SELECT kind, state, count(*) FROM inventory WHERE tenant_id = $1 GROUP BY kind, state`, uuidOf(tenant))
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

// encodeObserved returns the JSON of a, or nil (NULL) for none.
func encodeObserved(a *portal.Assignment) ([]byte, error) {
	if a == nil {
		return nil, nil
	}
	o := observedJSON{Kind: a.Kind.String(), ClientIDs: []string{}, Spelling: validText(a.Spelling)}
	for _, id := range portal.NormalizeClientIDs(a.ClientIDs) {
		o.ClientIDs = append(o.ClientIDs, id.String())
	}
	return json.Marshal(o)
}

// scanItem reads one row of itemColumns. A value the portal never writes
// is an EINTERNAL error.
func scanItem(row pgx.Row) (portal.InventoryItem, error) {
	var (
		it                                     portal.InventoryItem
		tenant, object, cTid, cOid, uTid, uOid pgtype.UUID
		clientIDs                              []pgtype.UUID
		kind, state                            string
		created, updated                       time.Time
		verified, expires                      pgtype.Timestamptz
		observed                               []byte
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
	it.ClientIDs = d.guids(clientIDs)
	it.CreatedAt, it.UpdatedAt = created.UTC(), updated.UTC()
	it.CreatedBy.TenantID, it.CreatedBy.ObjectID = d.guid(cTid), d.guid(cOid)
	it.UpdatedBy.TenantID, it.UpdatedBy.ObjectID = d.guid(uTid), d.guid(uOid)
	it.State = d.state(state)
	it.VerifiedAt, it.ExpiresAt = fromOpt(verified), fromOpt(expires)
	if observed != nil {
		var o observedJSON
		if err := json.Unmarshal(observed, &o); err != nil {
			d.fail(err)
		}
		a := portal.Assignment{TenantID: it.TenantID, ObjectID: it.ObjectID, Spelling: o.Spelling}
		if o.Kind != portal.KindUnknown.String() {
			a.Kind = d.kind(o.Kind)
		}
		for _, s := range o.ClientIDs {
			g, err := portal.ParseGUID(s)
			if err != nil {
				d.fail(err)
			}
			a.ClientIDs = append(a.ClientIDs, g)
		}
		it.Observed = &a
	}
	if d.err != nil {
		return it, portal.Wrap(d.err, portal.EINTERNAL,
			fmt.Sprintf("The inventory row for %s holds a value the portal never writes.", it.ObjectID))
	}
	return it, nil
}
