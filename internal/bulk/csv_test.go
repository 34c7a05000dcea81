package bulk

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func read(t *testing.T, file string, lim Limits) ([]Row, []RowError, error) {
	t.Helper()
	if lim.Now == nil {
		lim.Now = func() time.Time { return now }
	}
	var rows []Row
	var bad []RowError
	_, err := Read(strings.NewReader(file), lim, func(r Row) error { rows = append(rows, r); return nil }, func(e RowError) error { bad = append(bad, e); return nil })
	return rows, bad, err
}

const (
	alice = "e5b7f628-ea94-4fdc-b3d9-1af1fe231111"
	bob   = "4b7f3b1e-2f0c-4e6a-9d0c-5a1b2c3d4e01"
	room  = "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c03"
	appA  = "83ecbc78-e1ba-4e8f-a454-5483ef618061"
	appB  = "9215f754-3568-4bed-baa4-455c404e6140"
)

func TestTemplateReads(t *testing.T) {
	// Read on New Year's Eve, the example's expiry is still ahead.
	now := time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC)
	template := Template(now)
	rows, bad, err := read(t, template, Limits{Now: func() time.Time { return now }})
	if err != nil || len(bad) != 0 || len(rows) != 3 {
		t.Fatalf("rows %+v bad %+v err %v", rows, bad, err)
	}
	if rows[0].Kind != portal.KindUser || len(rows[0].ClientIDs) != 2 || rows[0].Label != "Example person (replace the IDs)" || rows[0].Line != 2 {
		t.Errorf("row 1: %+v", rows[0])
	}
	if rows[1].Kind != portal.KindResourceAccount || !rows[1].ExpiresAt.Equal(time.Date(2027, 12, 31, 18, 0, 0, 0, time.UTC)) {
		t.Errorf("row 2: %+v", rows[1])
	}
	// Every ID is an obvious placeholder, never a real person's or app's.
	ids := regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`).FindAllString(template, -1)
	if len(ids) != 5 {
		t.Errorf("the template holds %d IDs, want 5: %q", len(ids), ids)
	}
	for _, id := range ids {
		if !strings.HasPrefix(id, "00000000-0000-0000-0000-0000000000") {
			t.Errorf("the template holds %s, not a placeholder", id)
		}
	}
	if rows[2].Action != Revoke || rows[2].Kind != portal.KindUnknown {
		t.Errorf("row 3: %+v", rows[2])
	}
}

// Every kind of bad row: reported with its line and column, nothing of it
// used, the good rows around it kept.
func TestBadRows(t *testing.T) {
	cases := []struct {
		row, column, reason string
	}{
		{"not-a-guid,user," + appA, ColObjectID, "not a GUID"},
		{"00000000-0000-0000-0000-000000000000,user," + appA, ColObjectID, "nil GUID"},
		{"{" + alice + "}x,user," + appA, ColObjectID, ""},
		{bob + ",admin," + appA, ColKind, "user or resourceAccount"},
		{bob + ",," + appA, ColKind, ""},
		{bob + ",user,", ColClientIDs, "at least one"},
		{bob + ",user," + appA + ";nope", ColClientIDs, "nope"},
		{room + ",resourceAccount," + appA, ColClientIDs, "takes no"},
		{bob + ",user,\"=HYPERLINK(\"\"x\"\")\"", ColClientIDs, "formula"},
		{bob + ",user," + appA + ",=cmd|' /C calc'!A0", ColLabel, "formula"},
		{bob + ",user," + appA + ",@SUM(1)", ColLabel, "formula"},
		{bob + ",user," + appA + ",-2+3(x)", ColLabel, "formula"},
		{bob + ",user," + appA + ", =1+1", ColLabel, "formula"}, // a leading space is trimmed before storing
		{bob + ",user," + appA + ",\" \t@SUM(1)\"", ColLabel, "formula"},
		{bob + ",user," + appA + ",Alice \u202eecilA", ColLabel, "direction"},
		{bob + ",user," + appA + ",a\x01b", ColLabel, "control"},
		{bob + ",user," + appA + "," + strings.Repeat("x", 201), ColLabel, "at most"},
		{bob + ",user," + appA + ",,2020-01-01T00:00", ColExpiresAt, "past"},
		{bob + ",user," + appA + ",,soon", ColExpiresAt, "2026-12-24T18:00"},
		{bob + ",user," + appA + ",,,delete", ColAction, "grant or revoke"},
		{bob + ",,,,2027-01-01,revoke", ColExpiresAt, "no expiry"},
		{bob + ",user," + appA + ",\xff\xfe", ColLabel, "UTF-8"},
	}
	for _, tc := range cases {
		file := "objectId,kind,clientIds,label,expiresAt,action\n" + alice + ",user," + appA + "\n" + tc.row + "\n" + room + ",resourceAccount\n"
		rows, bad, err := read(t, file, Limits{})
		if err != nil {
			t.Errorf("%q: file error %v", tc.row, err)
			continue
		}
		if len(rows) != 2 || len(bad) != 1 {
			t.Errorf("%q: %d good, %d bad (%+v)", tc.row, len(rows), len(bad), bad)
			continue
		}
		if b := bad[0]; b.Line != 3 || b.Column != tc.column || !strings.Contains(b.Reason, tc.reason) {
			t.Errorf("%q: got line %d column %q reason %q; want line 3 column %q containing %q", tc.row, b.Line, b.Column, b.Reason, tc.column, tc.reason)
		}
	}
}

func TestDuplicatesAndLabels(t *testing.T) {
	file := "objectId,kind,clientIds,label\n" + alice + ",user," + appA + ",+44 20 7946 0000\n" + strings.ToUpper(alice) + ",user," + appB + "\n" + "{" + alice + "},user," + appB + "\n"
	rows, bad, err := read(t, file, Limits{})
	if err != nil || len(rows) != 1 || len(bad) != 2 {
		t.Fatalf("rows %+v bad %+v err %v", rows, bad, err)
	}
	if rows[0].Label != "+44 20 7946 0000" {
		t.Errorf("a phone-number label was taken for a formula: %q", rows[0].Label)
	}
	if !strings.Contains(bad[0].Reason, "line 2") || bad[1].Line != 4 {
		t.Errorf("duplicates: %+v", bad)
	}
}

func TestFileErrors(t *testing.T) {
	many := func(n int) string {
		var b strings.Builder
		b.WriteString("objectId,kind,clientIds\n")
		for i := range n {
			fmt.Fprintf(&b, "00000000-0000-4000-8000-%012d,user,%s\n", i+1, appA)
		}
		return b.String()
	}
	cases := map[string]struct {
		file string
		lim  Limits
		want string
	}{
		"empty":             {"", Limits{}, "no header"},
		"unknown column":    {"objectId,kind,colour\n", Limits{}, "Unknown column"},
		"tenant column":     {"tenantId,objectId,kind\n", Limits{}, "tenant is always"},
		"no objectId":       {"kind,clientIds\n", Limits{}, "no objectId"},
		"column twice":      {"objectId,kind,Kind\n", Limits{}, "twice"},
		"UTF-16":            {"\xff\xfeo\x00b\x00", Limits{}, "UTF-16"},
		"broken quotes":     {"objectId,kind\n\"" + alice + ",user\n", Limits{}, "not valid CSV"},
		"50,001 rows":       {many(50001), Limits{}, "more than 50000 rows"},
		"too large":         {many(100), Limits{MaxBytes: 1000}, "larger than"},
		"rows over a limit": {many(11), Limits{MaxRows: 10}, "more than 10 rows"},
	}
	for name, tc := range cases {
		_, _, err := read(t, tc.file, tc.lim)
		if portal.ErrorCode(err) != portal.EINVALID || !strings.Contains(portal.ErrorMessage(err), tc.want) {
			t.Errorf("%s: %v, want a message with %q", name, err, tc.want)
		}
	}
	// Exactly at the limit is fine.
	if rows, _, err := read(t, many(50000), Limits{}); err != nil || len(rows) != 50000 {
		t.Errorf("50,000 rows: %d, %v", len(rows), err)
	}
}

func TestSemicolonsAndBOM(t *testing.T) {
	file := "\xef\xbb\xbfobjectId;kind;clientIds;label\r\n" + alice + ";user;\"" + appA + ";" + appB + "\";Ålesund\r\n\r\n" + bob + ";User;" + appB + ";\r\n"
	rows, bad, err := read(t, file, Limits{})
	if err != nil || len(bad) != 0 || len(rows) != 2 || len(rows[0].ClientIDs) != 2 || rows[0].Label != "Ålesund" || rows[1].Line != 4 {
		t.Fatalf("rows %+v bad %+v err %v", rows, bad, err)
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(Template(time.Now())))
	f.Add([]byte("objectId;kind\n" + alice + ";user\n"))
	f.Add([]byte("objectId,kind,clientIds\n\"" + alice + "\",user,\"" + appA + ";;\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxRows: 100, MaxBytes: 1 << 16, Now: func() time.Time { return now }}
		n := 0
		_, err := Read(bytes.NewReader(data), lim, func(r Row) error {
			n++
			if r.ObjectID.IsZero() || r.Line < 2 {
				t.Fatalf("a good row without an object or line: %+v", r)
			}
			return nil
		}, func(e RowError) error {
			if e.Reason == "" {
				t.Fatal("a bad row without a reason")
			}
			return nil
		})
		if n > 100 {
			t.Fatalf("%d rows past the limit", n)
		}
		if err != nil && portal.ErrorCode(err) != portal.EINVALID {
			t.Fatalf("a file error that is not EINVALID: %v", err)
		}
	})
}
