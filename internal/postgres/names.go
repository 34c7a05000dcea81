package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// nameColumns is the column list every directory name read selects, in
// the order storekit.Reader.Name scans them.
const nameColumns = `tenant_id, space, id, fetched_at, found, kind, display_name, upn, phone`

// PutNames: see portal.NameStore. One transaction raises the revision once
// if any name changed, and stamps the names it changed.
func (db *DB) PutNames(ctx context.Context, tenant portal.GUID, names []portal.DirectoryName) error {
	const what = "keep directory names"
	if err := storekit.CheckNames(tenant, names); err != nil || len(names) == 0 {
		return err
	}
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return storekit.Unavailable(err, what)
	}
	defer tx.Rollback(ctx)
	changed, err := putNames(ctx, tx, tenant, names)
	if err != nil || !changed {
		// Nothing changed: the rollback takes the revision back down.
		return storekit.Failed(err, what)
	}
	return storekit.Unavailable(tx.Commit(ctx), what)
}

// putNames raises the tenant's revision, then writes the names that
// differ from what is stored (content or fetched_at) with it, in one round
// trip, and reports whether any did; the caller commits only then.
//
// Why a reader never misses a name: the revision comes first, and raising
// it locks the tenant's revision row (ON CONFLICT DO UPDATE locks the row
// it updates and adds one to its latest committed version, waiting for a
// put that holds it; two first puts of a tenant queue on the key's
// unique index the same way). So the puts of one tenant run one after
// another, each from the revision its predecessor committed: no two
// stamp the same revision, and each stamps every name it changes with its
// own, committed in the same transaction as the revision. A reader
// (NamesSince) reads the revision and the names from one snapshot: if it
// sees revision N, it sees the put that wrote N, and every earlier put,
// which committed before that one could take the lock; a put it does not
// see has not committed, so it takes a revision above N. Serialised puts
// cannot deadlock on the names either: every put locks the revision row
// before any name.
func putNames(ctx context.Context, tx pgx.Tx, tenant portal.GUID, names []portal.DirectoryName) (changed bool, err error) {
	var b pgx.Batch
	b.Queue(`INSERT INTO directory_name_revisions (tenant_id, rev) VALUES ($1, 1)
		ON CONFLICT (tenant_id) DO UPDATE SET rev = directory_name_revisions.rev + 1`, uuidOf(tenant))
	for _, n := range names {
		// Each name reads back the revision just raised (its statement
		// sees this transaction's writes): the batch goes in one round
		// trip, before the raise's answer comes back.
		b.Queue(`INSERT INTO directory_names AS d (`+nameColumns+`, name_fold, upn_fold, rev)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, (SELECT rev FROM directory_name_revisions WHERE tenant_id = $1))
			ON CONFLICT (tenant_id, space, id) DO UPDATE SET found = excluded.found, kind = excluded.kind,
				display_name = excluded.display_name, upn = excluded.upn, phone = excluded.phone,
				fetched_at = excluded.fetched_at, name_fold = excluded.name_fold, upn_fold = excluded.upn_fold, rev = excluded.rev
			WHERE (d.found, d.kind, d.display_name, d.upn, d.phone, d.fetched_at)
				IS DISTINCT FROM (excluded.found, excluded.kind, excluded.display_name, excluded.upn, excluded.phone, excluded.fetched_at)`,
			write.Name(tenant, n)...,
		).Exec(func(tag pgconn.CommandTag) error {
			changed = changed || tag.RowsAffected() > 0
			return nil
		})
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

// AllNames: see portal.NameStore. One statement's snapshot.
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

// NamesSince: see portal.NameStore. The revision and the names are read
// in one read-only REPEATABLE READ transaction, so from one snapshot (at
// READ COMMITTED each statement would take its own, and a put committed
// between the two would be seen in the names but not in the revision).
// No name can be past the revision, so when that has not moved past
// after this is one probe; otherwise directory_names_by_rev finds them.
func (db *DB) NamesSince(ctx context.Context, tenant portal.GUID, after int64, fn func(portal.DirectoryName) error) (int64, error) {
	const what = "read directory names"
	tx, err := db.pool.BeginTx(ctx, snapshot)
	if err != nil {
		return 0, storekit.Unavailable(err, what)
	}
	defer tx.Rollback(ctx)
	var rev int64
	err = tx.QueryRow(ctx, `SELECT rev FROM directory_name_revisions WHERE tenant_id = $1`, uuidOf(tenant)).Scan(&rev)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, storekit.Unavailable(err, what)
	}
	if rev > after {
		rows, err := tx.Query(ctx, `SELECT `+nameColumns+` FROM directory_names WHERE tenant_id = $1 AND rev > $2`, uuidOf(tenant), after)
		if err := storekit.Each(rows, err, what, read.Name, fn); err != nil {
			return 0, err
		}
	}
	return rev, storekit.Unavailable(tx.Commit(ctx), what)
}
