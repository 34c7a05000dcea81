package storekit

import (
	"errors"

	"github.com/teamsphone/portal/internal/portal"
)

// Unavailable maps a database failure to what people see: EUNAVAILABLE
// with a sentence naming the work (never SQL, a path or a host); nil stays
// nil.
func Unavailable(err error, what string) error {
	if err == nil {
		return nil
	}
	return portal.Wrap(err, portal.EUNAVAILABLE, "The portal's database could not "+what+".")
}

// Failed passes a *portal.Error (not found, invalid, a corrupt row)
// through and maps any other failure with Unavailable.
func Failed(err error, what string) error {
	var e *portal.Error
	if errors.As(err, &e) {
		return err
	}
	return Unavailable(err, what)
}

// Read returns v, or T's zero value and err mapped with Failed: a
// single-row read's answer.
func Read[T any](v T, err error, what string) (T, error) {
	if err != nil {
		var zero T
		return zero, Failed(err, what)
	}
	return v, nil
}

// Scanner is one row: what database/sql's and pgx's rows both offer.
type Scanner interface {
	Scan(dest ...any) error
}

// Rows is a query's result as database/sql (*sql.Rows) and pgx (pgx.Rows)
// both offer it.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// Each calls fn for every row of a query's result, read by scan: rows and
// err are what the query returned. A failure of the query or of reading a
// row is mapped with Failed (what names the work); an error from fn stops
// it and is returned as is. The rows are closed when it returns.
func Each[T any](rows Rows, err error, what string, scan func(Scanner) (T, error), fn func(T) error) error {
	if err != nil {
		return Unavailable(err, what)
	}
	defer closeRows(rows)
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return Failed(err, what)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return Unavailable(rows.Err(), what)
}

// Collect returns every row of a query's result, read by scan (see Each).
// No rows is nil.
func Collect[T any](rows Rows, err error, what string, scan func(Scanner) (T, error)) ([]T, error) {
	return CollectN(0, rows, err, what, scan)
}

// CollectN is Collect into room made for n rows, for a query with a
// LIMIT of n (a chunk of a walk): the slice is not grown row by row.
func CollectN[T any](n int, rows Rows, err error, what string, scan func(Scanner) (T, error)) ([]T, error) {
	var out []T
	if n > 0 && err == nil {
		out = make([]T, 0, n)
	}
	err = Each(rows, err, what, scan, func(v T) error {
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Page returns a page of rows, read by scan from what query returns, and
// how many match in all (count: one row of that number), or the first
// failure (what names the work).
func Page[T any](count Scanner, query func() (Rows, error), what string, scan func(Scanner) (T, error)) ([]T, int, error) {
	var n int
	if err := count.Scan(&n); err != nil {
		return nil, 0, Unavailable(err, what)
	}
	rows, err := query()
	out, err := Collect(rows, err, what, scan)
	if err != nil {
		return nil, 0, err
	}
	return out, n, nil
}

// closeRows closes database/sql's rows (Close() error) or pgx's (Close()).
func closeRows(rows Rows) {
	switch r := rows.(type) {
	case interface{ Close() error }:
		r.Close()
	case interface{ Close() }:
		r.Close()
	}
}
