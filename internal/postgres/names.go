package postgres

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// nameColumns is the column list every directory name read selects, in
// the order storekit.Reader.Name scans them.
const nameColumns = `tenant_id, space, id, fetched_at, found, kind, display_name, upn, phone`

// PutNames: see portal.NameStore. One transaction raises the revision once
// if any name's content changed.
func (db *DB) PutNames(ctx context.Context, tenant portal.GUID, names []portal.DirectoryName) error {
	if err := storekit.CheckNames(tenant, names); err != nil || len(names) == 0 {
		return err
	}
	return db.inTx(ctx, "keep directory names", pgx.TxOptions{}, func(tx pgx.Tx) error {
		changed, err := putNames(ctx, tx, tenant, names)
		if err != nil || !changed {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO directory_name_revisions (tenant_id, rev) VALUES ($1, 1)
			ON CONFLICT (tenant_id) DO UPDATE SET rev = directory_name_revisions.rev + 1`, uuidOf(tenant))
		return err
	})
}

// putNames writes names in one round trip and reports whether any content
// changed. A name whose content is as stored is not rewritten; only its
// fetched_at moves. ON CONFLICT compares with the row as last committed
// (waiting for a writer of it), not as this transaction's snapshot saw it,
// so a change is never missed by two instances putting the same name; and
// they lock names in one order, so they cannot deadlock.
func putNames(ctx context.Context, tx pgx.Tx, tenant portal.GUID, names []portal.DirectoryName) (changed bool, err error) {
	names = slices.Clone(names)
	slices.SortStableFunc(names, func(a, b portal.DirectoryName) int {
		return cmp.Or(cmp.Compare(a.Space, b.Space), a.ID.Compare(b.ID))
	})
	var b pgx.Batch
	for _, n := range names {
		args := write.Name(tenant, n)
		b.Queue(`INSERT INTO directory_names AS d (`+nameColumns+`, name_fold, upn_fold)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			ON CONFLICT (tenant_id, space, id) DO UPDATE SET found = excluded.found, kind = excluded.kind,
				display_name = excluded.display_name, upn = excluded.upn, phone = excluded.phone,
				fetched_at = excluded.fetched_at, name_fold = excluded.name_fold, upn_fold = excluded.upn_fold
			WHERE (d.found, d.kind, d.display_name, d.upn, d.phone)
				IS DISTINCT FROM (excluded.found, excluded.kind, excluded.display_name, excluded.upn, excluded.phone)`, args...,
		).Exec(func(tag pgconn.CommandTag) error {
			changed = changed || tag.RowsAffected() > 0
			return nil
		})
		b.Queue(`UPDATE directory_names SET fetched_at = $4
			WHERE tenant_id = $1 AND space = $2 AND id = $3 AND fetched_at <> $4`, args[:4]...)
	}
	err = tx.SendBatch(ctx, &b).Close()
	return changed, err
}

// Names: see portal.NameStore.
func (db *DB) Names(ctx context.Context, tenant portal.GUID, space portal.NameSpace, ids []portal.GUID) (map[portal.GUID]portal.DirectoryName, error) {
	out := make(map[portal.GUID]portal.DirectoryName, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT `+nameColumns+` FROM directory_names WHERE tenant_id = $1 AND space = $2 AND id = ANY($3)`,
		uuidOf(tenant), string(space), values{}.GUIDs(ids))
	err = storekit.Each(rows, err, "read directory names", read.Name, func(n portal.DirectoryName) error {
		out[n.ID] = n
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AllNames: see portal.NameStore. As AllItems, one statement's snapshot.
func (db *DB) AllNames(ctx context.Context, tenant portal.GUID, space portal.NameSpace, fn func(portal.DirectoryName) error) error {
	rows, err := db.pool.Query(ctx, `SELECT `+nameColumns+` FROM directory_names WHERE tenant_id = $1 AND space = $2 ORDER BY id`,
		uuidOf(tenant), string(space))
	return storekit.Each(rows, err, "read directory names", read.Name, fn)
}

// SearchNames: see portal.NameStore. A negative limit means no limit.
func (db *DB) SearchNames(ctx context.Context, tenant portal.GUID, space portal.NameSpace, q string, limit int) ([]portal.DirectoryName, error) {
	q = text.Fold(q)
	rows, err := db.pool.Query(ctx, `SELECT `+nameColumns+` FROM directory_names
		WHERE tenant_id = $1 AND space = $2 AND (strpos(name_fold, $3) > 0 OR strpos(upn_fold, $3) > 0)
		ORDER BY name_fold, id LIMIT $4`, uuidOf(tenant), string(space), q, sqlLimit(limit))
	out, err := storekit.Collect(rows, err, "read directory names", read.Name)
	if out == nil && err == nil {
		out = []portal.DirectoryName{}
	}
	return out, err
}

// NamesRevision: see portal.NameStore.
func (db *DB) NamesRevision(ctx context.Context, tenant portal.GUID) (int64, error) {
	var rev int64
	err := db.pool.QueryRow(ctx, `SELECT rev FROM directory_name_revisions WHERE tenant_id = $1`, uuidOf(tenant)).Scan(&rev)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return rev, storekit.Unavailable(err, "read directory names")
}
