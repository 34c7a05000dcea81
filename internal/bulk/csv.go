// Package bulk reads the CSV files of bulk changes: one assignment to grant
// or revoke per row. It streams: a 50,000-row file is never held whole, and
// every bad row comes back with its line, its column and what is wrong, so a
// plan can list them all. It decides nothing about the inventory or ACS;
// the plan (next) does.
package bulk

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/teamsphone/portal/internal/portal"
)

// The columns a file may have. objectId is required; kind is required for
// grants; the rest are optional.
const (
	ColObjectID  = "objectId"
	ColKind      = "kind"
	ColClientIDs = "clientIds"
	ColLabel     = "label"
	ColExpiresAt = "expiresAt"
	ColAction    = "action"
)

var columns = []string{ColObjectID, ColKind, ColClientIDs, ColLabel, ColExpiresAt, ColAction}

// Action is what a row asks for.
type Action int

const (
	Grant  Action = iota // create the assignment, or make it exactly this (the default)
	Revoke               // delete the assignment
	Adopt                // take what ACS holds into the inventory (a file read by ReadAdopt)
)

func (a Action) String() string {
	switch a {
	case Revoke:
		return "revoke"
	case Adopt:
		return "adopt"
	}
	return "grant"
}

// Row is one good row.
type Row struct {
	Line      int // the row's line in the file; the header is line 1
	Action    Action
	ObjectID  portal.GUID
	Kind      portal.PrincipalKind // KindUnknown only for a revoke that named none
	ClientIDs []portal.GUID        // normalised
	Label     string
	ExpiresAt time.Time // zero: none
}

// RowError is one bad row: nothing of it is used.
type RowError struct {
	Line   int
	Column string // "" when the row as a whole is wrong
	Reason string
}

func (e RowError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d, %s: %s", e.Line, e.Column, e.Reason)
}

// Limits bound a file.
type Limits struct {
	MaxBytes int64 // default 10 MiB
	MaxRows  int   // default 50,000 (the header not counted)
	// Now judges expiresAt (it must lie ahead); default time.Now.
	Now func() time.Time
}

func (l *Limits) defaults() {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 10 << 20
	}
	if l.MaxRows <= 0 {
		l.MaxRows = 50000
	}
	if l.Now == nil {
		l.Now = time.Now
	}
}

// Template is a file to start from, with one row of each kind, as of now:
// its expiry is the end of next year, so the example never lies in the
// past. Its IDs are placeholders (00000000-0000-0000-0000-00000000000N),
// never a real person's or app's: a template uploaded unchanged grants
// nobody real, and its revoke finds nothing to revoke.
func Template(now time.Time) string {
	ends := time.Date(now.UTC().Year()+1, 12, 31, 18, 0, 0, 0, time.UTC).Format("2006-01-02T15:04")
	return "objectId,kind,clientIds,label,expiresAt,action\r\n" +
		TemplateID(1) + ",user," + TemplateID(0xa1) + ";" + TemplateID(0xa2) + ",Example person (replace the IDs),,grant\r\n" +
		TemplateID(2) + ",resourceAccount,,Example resource account," + ends + ",grant\r\n" +
		TemplateID(3) + ",,,,,revoke\r\n"
}

// TemplateID is the template's placeholder ID number n: obviously not a
// real object's (00000000-0000-0000-0000-000000000001 for 1).
func TemplateID(n int) string { return fmt.Sprintf("00000000-0000-0000-0000-%012x", n) }

// Read streams the file r: good rows go to row, bad ones to bad, in file
// order; either returning an error stops it. A problem with the file as a
// whole — not UTF-8, too large, too many rows, broken CSV, a missing or
// unknown column — is an EINVALID error saying which, and stops it too
// (what came before has been delivered: a plan must then be discarded).
// It returns the number of rows read.
func Read(r io.Reader, lim Limits, row func(Row) error, bad func(RowError) error) (int, error) {
	return readFile(r, lim, columns, Grant, row, bad)
}

// adoptColumns are the columns of a file of assignments to adopt.
var adoptColumns = []string{ColObjectID, ColLabel}

// ReadAdopt is Read for a file of object IDs to adopt: columns objectId
// and, optionally, label. Every row's Action is Adopt.
func ReadAdopt(r io.Reader, lim Limits, row func(Row) error, bad func(RowError) error) (int, error) {
	return readFile(r, lim, adoptColumns, Adopt, row, bad)
}

// readFile streams a file whose columns may be cols, and whose rows without an
// action column ask for dflt.
func readFile(r io.Reader, lim Limits, cols []string, dflt Action, row func(Row) error, bad func(RowError) error) (int, error) {
	lim.defaults()
	counted := &countingReader{r: io.LimitReader(r, lim.MaxBytes+1)}
	br := bufio.NewReader(counted)
	if err := checkEncoding(br); err != nil {
		return 0, err
	}
	comma, err := sniffDelimiter(br)
	if err != nil {
		return 0, err
	}
	cr := csv.NewReader(br)
	cr.Comma = comma
	cr.FieldsPerRecord = -1 // short rows are reported per row, not as a broken file
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return 0, fileError(counted, lim, err, "The file has no header row: the first line must name the columns ("+strings.Join(cols, ", ")+").")
	}
	index, err := readHeader(header, cols)
	if err != nil {
		return 0, err
	}
	seen := map[portal.GUID]int{} // object → the line it first appeared on
	rows := 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			if counted.n > lim.MaxBytes {
				return rows, tooLarge(lim)
			}
			return rows, nil
		}
		if err != nil {
			return rows, fileError(counted, lim, err, "")
		}
		line, _ := cr.FieldPos(0)
		if blank(rec) {
			continue
		}
		rows++
		if rows > lim.MaxRows {
			return rows, portal.Errorf(portal.EINVALID, "The file has more than %d rows; split it into several files.", lim.MaxRows)
		}
		parsed, rerr := parseRow(rec, index, line, lim.Now(), dflt)
		if rerr == nil {
			if first, dup := seen[parsed.ObjectID]; dup {
				rerr = &RowError{Line: line, Column: ColObjectID, Reason: fmt.Sprintf("this object ID is on line %d already; each may appear once", first)}
			} else {
				seen[parsed.ObjectID] = line
			}
		}
		if rerr != nil {
			if err := bad(*rerr); err != nil {
				return rows, err
			}
			continue
		}
		if err := row(parsed); err != nil {
			return rows, err
		}
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func tooLarge(lim Limits) error {
	return portal.Errorf(portal.EINVALID, "The file is larger than %d MB; split it into several files.", lim.MaxBytes>>20)
}

func fileError(c *countingReader, lim Limits, err error, msg string) error {
	if c.n > lim.MaxBytes {
		return tooLarge(lim)
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return portal.Wrap(err, portal.EINVALID, fmt.Sprintf("The file is not valid CSV at line %d: %v.", pe.Line, pe.Err))
	}
	if msg == "" {
		msg = "The file could not be read."
	}
	return portal.Wrap(err, portal.EINVALID, msg)
}

// checkEncoding refuses UTF-16 (what "Unicode text" exports give) and drops
// a UTF-8 byte-order mark (what Excel's "CSV UTF-8" writes).
func checkEncoding(br *bufio.Reader) error {
	head, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		br.Discard(3)
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return portal.Errorf(portal.EINVALID, "The file is UTF-16 text; save it as \"CSV UTF-8\" and upload it again.")
	}
	return nil
}

// sniffDelimiter reads the header line's shape: Excel in many European
// locales writes ";" between columns. Client IDs inside a cell are also
// ";"-separated; such files must quote that cell.
func sniffDelimiter(br *bufio.Reader) (rune, error) {
	head, _ := br.Peek(4096)
	line, _, _ := bytes.Cut(head, []byte("\n"))
	if bytes.Count(line, []byte(";")) > 0 && bytes.Count(line, []byte(",")) == 0 {
		return ';', nil
	}
	return ',', nil
}

// readHeader maps each known column to its position. Unknown columns are
// refused, so a typo does not silently drop data, and a tenant column in
// particular: the tenant is always the signed-in person's.
func readHeader(header []string, columns []string) (map[string]int, error) {
	index := map[string]int{}
	for i, h := range header {
		name := strings.TrimSpace(h)
		if !utf8.ValidString(name) {
			return nil, portal.Errorf(portal.EINVALID, "The header row is not UTF-8 text; save the file as \"CSV UTF-8\".")
		}
		known := ""
		for _, c := range columns {
			if strings.EqualFold(name, c) {
				known = c
			}
		}
		switch {
		case strings.EqualFold(name, "tenantId") || strings.EqualFold(name, "tenant"):
			return nil, portal.Errorf(portal.EINVALID, "The file has a %q column. The tenant is always the one you signed in to; remove that column.", name)
		case known == "":
			return nil, portal.Errorf(portal.EINVALID, "Unknown column %q in the header. The columns are: %s.", truncate(name, 40), strings.Join(columns, ", "))
		}
		if _, dup := index[known]; dup {
			return nil, portal.Errorf(portal.EINVALID, "The column %q appears twice in the header.", known)
		}
		index[known] = i
	}
	if _, ok := index[ColObjectID]; !ok {
		return nil, portal.Errorf(portal.EINVALID, "The header has no objectId column.")
	}
	return index, nil
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// parseRow reads one record; the first problem found is the row's error.
func parseRow(rec []string, index map[string]int, line int, now time.Time, dflt Action) (Row, *RowError) {
	row := Row{Line: line}
	cell := func(col string) (string, *RowError) {
		i, ok := index[col]
		if !ok || i >= len(rec) {
			return "", nil
		}
		v := rec[i]
		if !utf8.ValidString(v) {
			return "", &RowError{line, col, "not UTF-8 text; save the file as \"CSV UTF-8\""}
		}
		// Checked as it would be stored: trimmed, so a leading space cannot
		// hide an "=".
		v = strings.TrimSpace(v)
		if formula(v) {
			return "", &RowError{line, col, "starts like a spreadsheet formula (" + truncate(v, 12) + "); the portal takes plain values only"}
		}
		return v, nil
	}
	var v string
	var rerr *RowError
	if v, rerr = cell(ColAction); rerr != nil {
		return row, rerr
	}
	switch strings.ToLower(v) {
	case "":
		row.Action = dflt
	case "grant":
		row.Action = Grant
	case "revoke":
		row.Action = Revoke
	default:
		return row, &RowError{line, ColAction, fmt.Sprintf("%q is not an action: use grant or revoke", truncate(v, 20))}
	}
	if v, rerr = cell(ColObjectID); rerr != nil {
		return row, rerr
	}
	id, err := portal.ParseGUID(v)
	if err != nil {
		return row, &RowError{line, ColObjectID, portal.ErrorMessage(err)}
	}
	row.ObjectID = id
	if v, rerr = cell(ColKind); rerr != nil {
		return row, rerr
	}
	if v != "" || row.Action == Grant {
		if row.Kind, err = portal.ParsePrincipalKind(v); err != nil {
			return row, &RowError{line, ColKind, "use user or resourceAccount"}
		}
	}
	if v, rerr = cell(ColClientIDs); rerr != nil {
		return row, rerr
	}
	if row.ClientIDs, err = portal.ParseClientIDs(strings.Split(v, ";")); err != nil {
		return row, &RowError{line, ColClientIDs, portal.ErrorMessage(err)}
	}
	if row.Action == Grant {
		if err := row.Kind.CheckClientIDs(row.ClientIDs); err != nil {
			return row, &RowError{line, ColClientIDs, portal.ErrorMessage(err)}
		}
	}
	if v, rerr = cell(ColLabel); rerr != nil {
		return row, rerr
	}
	if row.Label, err = portal.CleanLabel(v); err != nil {
		return row, &RowError{line, ColLabel, portal.ErrorMessage(err)}
	}
	if v, rerr = cell(ColExpiresAt); rerr != nil {
		return row, rerr
	}
	if v != "" {
		t, ok := portal.ParseExpiry(v)
		switch {
		case !ok:
			return row, &RowError{line, ColExpiresAt, "write the time like 2026-12-24T18:00 (UTC) or 2026-12-24T18:00:00Z"}
		case !t.After(now):
			return row, &RowError{line, ColExpiresAt, "the time is in the past"}
		case row.Action == Revoke:
			return row, &RowError{line, ColExpiresAt, "a revoke takes no expiry"}
		}
		row.ExpiresAt = t
	}
	return row, nil
}

// formula reports whether a cell would run as a formula in a spreadsheet,
// the way a poisoned export would make it: = and @ always; + and - only when
// a function call or a DDE link follows, so "+44 20 …" or "-" stay data.
func formula(v string) bool {
	if v == "" {
		return false
	}
	switch v[0] {
	case '=', '@', '\t', '\r':
		return true
	case '+', '-':
		return strings.ContainsAny(v, "(|!")
	}
	return false
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
