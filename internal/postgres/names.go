package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

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
		display, upn := validText(n.DisplayName), validText(n.UPN)
		args := []any{uuidOf(tenant), string(n.Space), uuidOf(n.ID), ms(n.FetchedAt),
			n.Found, kindText(n.Kind), display, upn, validText(n.Phone), fold(display), fold(upn)}
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

// Names returns the cached names of ids in space, keyed by ID; an ID never
// fetched is absent, and the map is never nil.
func (db *DB) Names(ctx context.Context, tenant portal.GUID, space portal.NameSpace, ids []portal.GUID) (map[portal.GUID]portal.DirectoryName, error) {
	out := make(map[portal.GUID]portal.DirectoryName, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	err := db.eachName(ctx, func(n portal.DirectoryName) error {
		out[n.ID] = n
		return nil
	}, `SELECT `+nameColumns+` FROM directory_names WHERE tenant_id = $1 AND space = $2 AND id = ANY($3)`,
		uuidOf(tenant), string(space), uuidsOf(ids))
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AllNames calls fn for every cached name of tenant in space, in ID order,
// from one snapshot (one statement); an error from fn stops it and is
// returned as is. As with AllItems, fn should be quick.
func (db *DB) AllNames(ctx context.Context, tenant portal.GUID, space portal.NameSpace, fn func(portal.DirectoryName) error) error {
	return db.eachName(ctx, fn, `SELECT `+nameColumns+` FROM directory_names WHERE tenant_id = $1 AND space = $2 ORDER BY id`,
		uuidOf(tenant), string(space))
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
	}, `SELECT `+nameColumns+` FROM directory_names
		WHERE tenant_id = $1 AND space = $2 AND (strpos(name_fold, $3) > 0 OR strpos(upn_fold, $3) > 0)
		ORDER BY name_fold, id LIMIT $4`, uuidOf(tenant), string(space), q, sqlLimit(limit))
	if err != nil {
		return nil, err
	}
	return out, nil
}

// NamesRevision returns the tenant's names revision, 0 before any name was
// put.
func (db *DB) NamesRevision(ctx context.Context, tenant portal.GUID) (int64, error) {
	var rev int64
	err := db.pool.QueryRow(ctx, `SELECT rev FROM directory_name_revisions WHERE tenant_id = $1`, uuidOf(tenant)).Scan(&rev)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return rev, storeError(err, "read directory names")
}

// eachName runs query and calls fn for each name it reads.
func (db *DB) eachName(ctx context.Context, fn func(portal.DirectoryName) error, query string, args ...any) error {
	rows, err := db.pool.Query(ctx, query, args...)
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
func scanName(row pgx.Row) (portal.DirectoryName, error) {
	var (
		n           portal.DirectoryName
		tenant, id  pgtype.UUID
		space, kind string
		fetched     time.Time
	)
	if err := row.Scan(&tenant, &space, &id, &fetched, &n.Found, &kind, &n.DisplayName, &n.UPN, &n.Phone); err != nil {
		return n, err
	}
	var d decoder
	n.TenantID, n.Space, n.ID = d.guid(tenant), portal.NameSpace(space), d.guid(id)
	n.Kind = d.kind(kind)
	n.FetchedAt = fetched.UTC()
	if d.err != nil {
		return n, portal.Wrap(d.err, portal.EINTERNAL,
			fmt.Sprintf("The directory name for %s holds a value the portal never writes.", n.ID))
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
