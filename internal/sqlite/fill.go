package sqlite

import (
	"context"
	"database/sql"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// FillInventory: see storetest.Filler, the contract both stores meet. One
// write transaction, each statement prepared once.
func (db *DB) FillInventory(ctx context.Context, evs []portal.AuditEvent, items []portal.InventoryItem) error {
	if err := storekit.CheckFill(evs, items); err != nil {
		return err
	}
	return db.writeAlone(ctx, "fill the inventory", func(tx *sql.Tx) error {
		q := &preparedTx{tx: tx, stmts: map[string]*sql.Stmt{}}
		defer q.close()
		for i, it := range items {
			if err := putItem(ctx, q, it); err != nil {
				return err
			}
			if _, err := appendAudit(ctx, q, evs[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// preparedTx runs statements in tx, preparing each text once: a fill runs
// the same few statements for every row, and parsing them costs SQLite
// more than running them.
type preparedTx struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

func (p *preparedTx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := p.stmts[query]; ok {
		return s, nil
	}
	s, err := p.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	p.stmts[query] = s
	return s, nil
}

func (p *preparedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

func (p *preparedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

func (p *preparedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	s, err := p.stmt(ctx, query)
	if err != nil {
		return p.tx.QueryRowContext(ctx, query, args...) // fails again, and the row says why
	}
	return s.QueryRowContext(ctx, args...)
}

func (p *preparedTx) close() {
	for _, s := range p.stmts {
		s.Close()
	}
}
