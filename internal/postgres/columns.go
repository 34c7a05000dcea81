package postgres

import (
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// columns and values are how this store keeps GUIDs (uuid, NULL for the
// zero GUID), lists of them (uuid[]) and times (timestamptz to the
// millisecond, NULL for none, read back in UTC).
type columns struct{}

// GUID reads a uuid column; the nil UUID, which the portal never writes,
// is a failure.
func (columns) GUID(d *storekit.Decoder, dst *portal.GUID) any {
	return storekit.Into(d, func(u pgtype.UUID) { *dst = guidOf(d, u) })
}

// GUIDs reads a uuid[] column, in which NULL is a failure.
func (columns) GUIDs(d *storekit.Decoder, dst *[]portal.GUID) any {
	return storekit.Into(d, func(us []pgtype.UUID) {
		for _, u := range us {
			if !u.Valid {
				d.Fail(errors.New("a NULL GUID in a list"))
			}
			*dst = append(*dst, guidOf(d, u))
		}
	})
}

func guidOf(d *storekit.Decoder, u pgtype.UUID) portal.GUID {
	g := portal.GUID(u.Bytes)
	if u.Valid && g.IsZero() {
		d.Fail(errors.New("the nil UUID"))
	}
	return g
}

// Time reads a timestamptz in UTC.
func (columns) Time(d *storekit.Decoder, dst *time.Time) any {
	return storekit.Into(d, func(t pgtype.Timestamptz) {
		if t.Valid {
			*dst = t.Time.UTC()
		}
	})
}

type values struct{}

func (values) GUID(g portal.GUID) any { return uuidOf(g) }

// GUIDs is never nil: nil would be NULL, not {}.
func (values) GUIDs(ids []portal.GUID) any {
	out := make([]pgtype.UUID, 0, len(ids))
	for _, id := range ids {
		out = append(out, uuidOf(id))
	}
	return out
}

func (values) Time(t time.Time) any { return t.Truncate(time.Millisecond).UTC() }

func (values) OptTime(t time.Time) any {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: t.Truncate(time.Millisecond).UTC(), Valid: true}
}

func (values) JSON(b []byte) any { return b }

// uuidOf is how a GUID is bound as an argument.
func uuidOf(g portal.GUID) pgtype.UUID { return pgtype.UUID{Bytes: g, Valid: !g.IsZero()} }

// text is how this store keeps text: PostgreSQL's text holds neither
// invalid UTF-8 nor NUL. read and write
// are storekit's rows with this store's types.
var (
	text  = storekit.UTF8NoNUL
	read  = storekit.Reader{Columns: columns{}}
	write = storekit.Writer{Values: values{}, Text: text}
)
