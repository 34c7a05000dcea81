package sqlite

import (
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// columns and values are how SQLite keeps what it has no type for: a GUID
// as its canonical text (” for the zero GUID), a list of GUIDs as a JSON
// array of them, a time as unix milliseconds (NULL, or 0 in a job's
// columns, for none).
type columns struct{}

func (columns) GUID(d *storekit.Decoder, dst *portal.GUID) any {
	return storekit.Into(d, func(s string) { *dst = d.GUID(s) })
}

func (columns) GUIDs(d *storekit.Decoder, dst *[]portal.GUID) any {
	return storekit.Into(d, func(list []byte) {
		var ids []string
		d.JSON(list, &ids)
		*dst = d.GUIDs(ids)
	})
}

func (columns) Time(d *storekit.Decoder, dst *time.Time) any {
	return storekit.Into(d, func(ms sql.NullInt64) {
		if ms.Valid && ms.Int64 != 0 {
			*dst = time.UnixMilli(ms.Int64).UTC()
		}
	})
}

type values struct{}

func (values) GUID(g portal.GUID) any {
	if g.IsZero() {
		return ""
	}
	return g.String()
}

// GUIDs writes a JSON array of the canonical GUIDs.
func (values) GUIDs(ids []portal.GUID) any {
	var b strings.Builder
	b.Grow(2 + len(ids)*39) // ["…",…]: 36 characters and 3 more each
	b.WriteByte('[')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(id.String())
		b.WriteByte('"')
	}
	b.WriteByte(']')
	return b.String()
}

func (values) Time(t time.Time) any { return t.UnixMilli() }

func (values) OptTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// jsonInts is ns as a list bound as one argument, read with json_each.
func jsonInts(ns []int64) string {
	b, _ := json.Marshal(ns) // numbers only: it cannot fail
	return string(b)
}

// jsonText is a list bound as one argument, read with json_each.
func jsonText[T string | int](v []T) string {
	b, _ := json.Marshal(v) // strings or numbers only: it cannot fail
	return string(b)
}

func (values) JSON(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// text is how this store keeps text: valid UTF-8; SQLite keeps NUL. read and write
// are storekit's rows with this store's types.
var (
	text  = storekit.UTF8
	read  = storekit.Reader{Columns: columns{}}
	write = storekit.Writer{Values: values{}, Text: text}
)
