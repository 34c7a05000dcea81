package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

var _ portal.NameStore = (*DB)(nil)

// nameColumns is the column list every directory name read selects;
// scanName reads them in this order.
const nameColumns = `tenant_id, space, id, fetched_at, found, kind, display_name, upn, phone`

// PutNames records names in one transaction, raising the tenant's names
// revision once if any name's content changed (a new name is a change). It
// refuses (EINVALID, writing nothing) a name of another tenant or without a
// known space, ID or kind.
func (db *DB) PutNames(ctx context.Context, tenant portal.GUID, names []portal.DirectoryName) error {
	if err := storekit.CheckNames(tenant, names); err != nil || len(names) == 0 {
		return err
	}
	tx, done, err := db.beginWrite(ctx)
	if err != nil {
		return storeError(err, "keep directory names")
	}
	defer done()
	defer tx.Rollback()
	changed, err := putNames(ctx, tx, tenant, names)
	if err != nil {
		return storeError(err, "keep directory names")
	}
	if changed {
		if _, err := tx.ExecContext(ctx, `INSERT INTO directory_name_revisions (tenant_id, rev) VALUES (?, 1)
			ON CONFLICT (tenant_id) DO UPDATE SET rev = rev + 1`, tenant.String()); err != nil {
			return storeError(err, "keep directory names")
		}
	}
	return storeError(tx.Commit(), "keep directory names")
}

// putNames writes names and reports whether any content changed. A name
// whose content is as stored is not rewritten; only its fetched_at moves.
func putNames(ctx context.Context, tx *sql.Tx, tenant portal.GUID, names []portal.DirectoryName) (changed bool, err error) {
	upsert, err := tx.PrepareContext(ctx, `INSERT INTO directory_names (`+nameColumns+`, name_fold, upn_fold)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
		ON CONFLICT (tenant_id, space, id) DO UPDATE SET found = excluded.found, kind = excluded.kind,
			display_name = excluded.display_name, upn = excluded.upn, phone = excluded.phone,
			fetched_at = excluded.fetched_at, name_fold = excluded.name_fold, upn_fold = excluded.upn_fold
		WHERE (found, kind, display_name, upn, phone) != (excluded.found, excluded.kind, excluded.display_name, excluded.upn, excluded.phone)`)
	if err != nil {
		return false, err
	}
	defer upsert.Close()
	fetched, err := tx.PrepareContext(ctx, `UPDATE directory_names SET fetched_at = ?4
		WHERE tenant_id = ?1 AND space = ?2 AND id = ?3 AND fetched_at != ?4`)
	if err != nil {
		return false, err
	}
	defer fetched.Close()
	for _, n := range names {
		display, upn := validText(n.DisplayName), validText(n.UPN)
		args := []any{tenant.String(), string(n.Space), n.ID.String(), millis(n.FetchedAt),
			n.Found, kindText(n.Kind), display, upn, validText(n.Phone), fold(display), fold(upn)}
		res, err := upsert.ExecContext(ctx, args...)
		if err != nil {
			return false, err
		}
		k, err := res.RowsAffected()
		if err != nil {
			return false, err
		}
		if k > 0 {
			changed = true
		} else if _, err := fetched.ExecContext(ctx, args[:4]...); err != nil {
			return false, err
		}
	}
	return changed, nil
}

// Names returns the cached names of ids in space, keyed by ID; an ID never
// fetched is absent, and the map is never nil.
func (db *DB) Names(ctx context.Context, tenant portal.GUID, space portal.NameSpace, ids []portal.GUID) (map[portal.GUID]portal.DirectoryName, error) {
	out := make(map[portal.GUID]portal.DirectoryName, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = id.String()
	}
	list, err := json.Marshal(keys)
	if err != nil {
		return nil, err
	}
	err = db.eachName(ctx, func(n portal.DirectoryName) error {
		out[n.ID] = n
		return nil
	}, `SELECT `+nameColumns+` FROM directory_names
		WHERE tenant_id = ? AND space = ? AND id IN (SELECT value FROM json_each(?))`, tenant.String(), string(space), string(list))
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AllNames calls fn for every cached name of tenant in space, in ID order,
// from one snapshot; an error from fn stops it and is returned as is. As
// with AllItems, fn should be quick.
func (db *DB) AllNames(ctx context.Context, tenant portal.GUID, space portal.NameSpace, fn func(portal.DirectoryName) error) error {
	return db.eachName(ctx, fn, `SELECT `+nameColumns+` FROM directory_names WHERE tenant_id = ? AND space = ? ORDER BY id`,
		tenant.String(), string(space))
}

// SearchNames returns up to limit names of tenant in space whose display
// name or UPN contains q, compared case-insensitively (Unicode-aware) and
// literally (no wildcards), ordered by the case-folded display name, then
// ID. A negative limit means no limit.
func (db *DB) SearchNames(ctx context.Context, tenant portal.GUID, space portal.NameSpace, q string, limit int) ([]portal.DirectoryName, error) {
	q = fold(q)
	out := []portal.DirectoryName{}
	err := db.eachName(ctx, func(n portal.DirectoryName) error {
		out = append(out, n)
		return nil
	}, `SELECT `+nameColumns+` FROM directory_names INDEXED BY directory_names_by_name
		WHERE tenant_id = ? AND space = ? AND (instr(name_fold, ?) > 0 OR instr(upn_fold, ?) > 0)
		ORDER BY name_fold, id LIMIT ?`, tenant.String(), string(space), q, q, limit)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// NamesRevision returns the tenant's names revision, 0 before any name was
// put.
func (db *DB) NamesRevision(ctx context.Context, tenant portal.GUID) (int64, error) {
	var rev int64
	err := db.namesRevision.QueryRowContext(ctx, tenant.String()).Scan(&rev)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return rev, storeError(err, "read directory names")
}

// eachName runs query and calls fn for each name it reads.
func (db *DB) eachName(ctx context.Context, fn func(portal.DirectoryName) error, query string, args ...any) error {
	rows, err := db.db.QueryContext(ctx, query, args...)
	if err != nil {
		return storeError(err, "read directory names")
	}
	defer rows.Close()
	for rows.Next() {
		n, err := scanName(rows)
		if err != nil {
			return dbError(err, "read directory names")
		}
		if err := fn(n); err != nil {
			return err
		}
	}
	return storeError(rows.Err(), "read directory names")
}

// scanName reads one row of nameColumns. A value the portal never writes
// is an EINTERNAL error.
func scanName(row rowScanner) (portal.DirectoryName, error) {
	var (
		n                       portal.DirectoryName
		tenant, space, id, kind string
		fetched                 int64
	)
	if err := row.Scan(&tenant, &space, &id, &fetched, &n.Found, &kind, &n.DisplayName, &n.UPN, &n.Phone); err != nil {
		return n, err
	}
	var d decoder
	n.TenantID, n.Space, n.ID = d.guid(tenant), portal.NameSpace(space), d.guid(id)
	n.Kind = d.kind(kind)
	n.FetchedAt = fromMillis(fetched)
	if d.err != nil {
		return n, portal.Wrap(d.err, portal.EINTERNAL,
			fmt.Sprintf("The directory name for %.40q holds a value the portal never writes.", id))
	}
	return n, nil
}

// kindText is how a name's kind is kept: its String form, "" for
// KindUnknown, as the audit log keeps it.
func kindText(k portal.PrincipalKind) string {
	if k == portal.KindUnknown {
		return ""
	}
	return k.String()
}
