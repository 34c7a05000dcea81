package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/teamsphone/portal/internal/portal"
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
// the normalised (sorted, no duplicates) canonical GUIDs.
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
