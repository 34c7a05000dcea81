package templates

import (
	"bytes"
	"context"
	"testing"

	"github.com/a-h/templ"
)

// FuzzCellsMatchTempl holds the hand-written cells (cells.go) to what the
// templ components they replaced rendered (cells_oracle_test.go, generated
// by templ from them and kept as the reference): the same bytes for any
// strings, hostile ones included, in every branch.
//
//	go test -run '^$' -fuzz FuzzCellsMatchTempl ./templates
func FuzzCellsMatchTempl(f *testing.F) {
	f.Add("in_sync", "In sync", "0c7e6a3b-1111-4b6f-9c2d-5e8f7a6b5c4d", "Alice Smith", "alice@contoso.test", "", "London desk", "Contoso Agent Desktop", uint8(0))
	f.Add("drifted", "Drifted", "x", "Bob", "Bob", "+44 20 7946 0000", "", "", uint8(0xff))
	f.Add("missing", `<script>alert("x")</script>`, `"><img src=x onerror=alert(1)>`, `O'Brien & <Sons>`, `a"b@c`, `'`, `&amp;`, `</span>`, uint8(0x5a))
	f.Add("", "", "javascript:alert(1)", "", "", "", "", "", uint8(3))
	f.Add("unverified", "x", "a:b/c", "\xff\xfe", "é", "\x00", "\u2028", "—", uint8(0xa5))
	f.Fuzz(func(t *testing.T, state, label, id, name, upn, phone, rowLabel, appName string, bits uint8) {
		flag := func(i uint) bool { return bits&(1<<i) != 0 }
		n := NameView{Name: name, UPN: upn, Phone: phone, Deleted: flag(0)}
		apps := []AppRef{
			{ID: id, Name: appName, NoServicePrincipal: flag(1), NotAnAppID: flag(2)},
			{ID: rowLabel, NoServicePrincipal: flag(3)},
		}
		if flag(4) {
			apps = nil
		}
		row := AssignmentRow{ObjectID: id, Name: n, Label: rowLabel, KindLabel: label, Apps: apps, State: state, StateLabel: label,
			UpdatedAt: upn, UpdatedBy: name, VerifiedAt: phone, ExpiresAt: appName, ExpiresIn: rowLabel}
		if flag(5) {
			row.VerifiedAt = ""
		}
		for _, c := range []struct {
			what       string
			got, templ templ.Component
		}{
			{"StateBadge", StateBadge(state, label), oracleStateBadge(state, label)},
			{"AppList", AppList(apps), oracleAppList(apps)},
			{"AppCell", AppCell(apps), oracleAppCell(apps)},
			{"ObjectCell", ObjectCell(id, n, rowLabel), oracleObjectCell(id, n, rowLabel)},
			{"ObjectID", ObjectID(id, ""), oracleObjectID(id, "")},
			{"ObjectID with a link", ObjectID(id, upn), oracleObjectID(id, upn)},
			{"Principal", Principal(id, n, flag(6)), oraclePrincipal(id, n, flag(6))},
			{"rows", assignmentRows([]AssignmentRow{row, row}), oracleRows([]AssignmentRow{row, row})},
		} {
			got, want := renderString(t, c.got), renderString(t, c.templ)
			if got != want {
				t.Fatalf("%s:\n got %q\nwant %q", c.what, got, want)
			}
		}
	})
}

func renderString(t *testing.T, c templ.Component) string {
	t.Helper()
	var b bytes.Buffer
	if err := c.Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// BenchmarkAssignmentRows is a list page's fifty rows, hand-written
// against templ's rendering of the same:
//
//	go test -run '^$' -bench AssignmentRows -benchmem ./templates
func BenchmarkAssignmentRows(b *testing.B) {
	rows := make([]AssignmentRow, 50)
	for i := range rows {
		rows[i] = AssignmentRow{ObjectID: "0c7e6a3b-1111-4b6f-9c2d-5e8f7a6b5c4d", Name: NameView{Name: "Load person 50", UPN: "load50@contoso.test"},
			Label: "Load agent 50", KindLabel: "User", State: "in_sync", StateLabel: "In sync", UpdatedAt: "2026-12-07 19:37 UTC", UpdatedBy: "bench",
			Apps: []AppRef{{ID: "83ecbc78-e1ba-4e8f-a454-5483ef618061", Name: "Contoso Agent Desktop"}}}
	}
	for _, c := range []struct {
		name string
		c    templ.Component
	}{{"hand-written", assignmentRows(rows)}, {"templ", oracleRows(rows)}} {
		b.Run(c.name, func(b *testing.B) {
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				if err := c.c.Render(context.Background(), &buf); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(buf.Len()))
		})
	}
}
