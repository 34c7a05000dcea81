package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/teamsphone/portal/internal/portal"
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
