package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// nameColumns is the column list every directory name read selects, in
// the order storekit.Reader.Name scans them.
const nameColumns = `tenant_id, space, id, fetched_at, found, kind, display_name, upn, phone`

// PutNames: see portal.NameStore. One write transaction raises the
// revision once if any name changed, and stamps the names it changed.
func (db *DB) PutNames(ctx context.Context, tenant portal.GUID, names []portal.DirectoryName) error {
	if err := storekit.CheckNames(tenant, names); err != nil || len(names) == 0 {
		return err
	}
	return db.write(ctx, "keep directory names", func(tx *sql.Tx) error { return putNames(ctx, tx, tenant, names) })
}

// putNames writes the names that differ from what is stored (content or
// fetched_at) with the tenant's next revision, and raises the revision to
// it if any did. The transaction holds SQLite's write lock from its start
// (BEGIN IMMEDIATE), so no other put can take the same next revision, and
// a reader sees the names and the revision they carry commit together.
func putNames(ctx context.Context, tx *sql.Tx, tenant portal.GUID, names []portal.DirectoryName) error {
	var rev int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(rev), 0) + 1 FROM directory_name_revisions WHERE tenant_id = ?`,
		tenant.String()).Scan(&rev); err != nil {
		return err
	}
	upsert, err := tx.PrepareContext(ctx, `INSERT INTO directory_names (`+nameColumns+`, name_fold, upn_fold, rev)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
		ON CONFLICT (tenant_id, space, id) DO UPDATE SET found = excluded.found, kind = excluded.kind,
			display_name = excluded.display_name, upn = excluded.upn, phone = excluded.phone,
			fetched_at = excluded.fetched_at, name_fold = excluded.name_fold, upn_fold = excluded.upn_fold, rev = excluded.rev
		WHERE (found, kind, display_name, upn, phone, fetched_at)
			!= (excluded.found, excluded.kind, excluded.display_name, excluded.upn, excluded.phone, excluded.fetched_at)`)
	if err != nil {
		return err
	}
	defer upsert.Close()
	changed := false
	for _, n := range names {
		k, err := affected(upsert.ExecContext(ctx, append(write.Name(tenant, n), rev)...))
		if err != nil {
			return err
		}
		changed = changed || k > 0
	}
	if changed {
		_, err = tx.ExecContext(ctx, `INSERT INTO directory_name_revisions (tenant_id, rev) VALUES (?1, ?2)
			ON CONFLICT (tenant_id) DO UPDATE SET rev = ?2`, tenant.String(), rev)
	}
	return err
}

// Names: see portal.NameStore.
func (db *DB) Names(ctx context.Context, tenant portal.GUID, space portal.NameSpace, ids []portal.GUID) (map[portal.GUID]portal.DirectoryName, error) {
	out := make(map[portal.GUID]portal.DirectoryName, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := db.db.QueryContext(ctx, `SELECT `+nameColumns+` FROM directory_names
		WHERE tenant_id = ? AND space = ? AND id IN (SELECT value FROM json_each(?))`, tenant.String(), string(space), values{}.GUIDs(ids))
	err = storekit.Each(rows, err, "read directory names", read.Name, func(n portal.DirectoryName) error {
		out[n.ID] = n
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AllNames: see portal.NameStore. It holds its snapshot until it returns.
func (db *DB) AllNames(ctx context.Context, tenant portal.GUID, space portal.NameSpace, fn func(portal.DirectoryName) error) error {
	rows, err := db.db.QueryContext(ctx, `SELECT `+nameColumns+` FROM directory_names WHERE tenant_id = ? AND space = ? ORDER BY id`,
		tenant.String(), string(space))
	return storekit.Each(rows, err, "read directory names", read.Name, fn)
}

// SearchNames: see portal.NameStore. A negative limit means no limit.
func (db *DB) SearchNames(ctx context.Context, tenant portal.GUID, space portal.NameSpace, q string, limit int) ([]portal.DirectoryName, error) {
	q = text.Fold(q)
	rows, err := db.db.QueryContext(ctx, `SELECT `+nameColumns+` FROM directory_names INDEXED BY directory_names_by_name
		WHERE tenant_id = ? AND space = ? AND (instr(name_fold, ?) > 0 OR instr(upn_fold, ?) > 0)
		ORDER BY name_fold, id LIMIT ?`, tenant.String(), string(space), q, q, limit)
	out, err := storekit.Collect(rows, err, "read directory names", read.Name)
	if out == nil && err == nil {
		out = []portal.DirectoryName{}
	}
	return out, err
}

// NamesRevision: see portal.NameStore.
func (db *DB) NamesRevision(ctx context.Context, tenant portal.GUID) (int64, error) {
	var rev int64
	err := db.namesRevision.QueryRowContext(ctx, tenant.String()).Scan(&rev)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return rev, storekit.Unavailable(err, "read directory names")
}

// NamesSince: see portal.NameStore. The revision and the names are read
// in one read transaction, from one snapshot of the write-ahead log, held
// until it returns. No name can be past the revision, so when that has
// not moved past after this is one probe; otherwise directory_names_by_rev
// finds the names.
func (db *DB) NamesSince(ctx context.Context, tenant portal.GUID, after int64, fn func(portal.DirectoryName) error) (int64, error) {
	const what = "read directory names"
	tx, err := db.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}) // BEGIN DEFERRED: takes no write lock
	if err != nil {
		return 0, storekit.Unavailable(err, what)
	}
	defer tx.Rollback()
	var rev int64
	err = tx.QueryRowContext(ctx, `SELECT rev FROM directory_name_revisions WHERE tenant_id = ?`, tenant.String()).Scan(&rev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, storekit.Unavailable(err, what)
	}
	if rev > after {
		rows, err := tx.QueryContext(ctx, `SELECT `+nameColumns+` FROM directory_names WHERE tenant_id = ? AND rev > ?`, tenant.String(), after)
		if err := storekit.Each(rows, err, what, read.Name, fn); err != nil {
			return 0, err
		}
	}
	return rev, storekit.Unavailable(tx.Commit(), what)
}
