package web

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/devidp"
)

// csvRecords fetches an export and returns its data rows (without the
// header), failing on anything but a CSV file.
func (e *portalEnv) csvRecords(c *http.Client, path string) [][]string {
	e.t.Helper()
	p := e.get(c, path)
	if p.status != http.StatusOK || !strings.HasPrefix(p.header.Get("Content-Type"), "text/csv") {
		e.t.Fatalf("GET %s: %d %s", path, p.status, p.header.Get("Content-Type"))
	}
	recs, err := csv.NewReader(strings.NewReader(p.body)).ReadAll()
	if err != nil || len(recs) == 0 {
		e.t.Fatalf("GET %s: %d records, %v", path, len(recs), err)
	}
	return recs[1:]
}

// column returns the index of name in an export's header.
func column(t *testing.T, header []string, name string) int {
	t.Helper()
	i := slices.Index(header, name)
	if i < 0 {
		t.Fatalf("no column %q in %q", name, header)
	}
	return i
}

// An admin changes only an assignment's end date: the message says what
// changed, by name, and that ACS was not called; ACS is not called; the
// audit log and the assignment's history show one readable row with the
// date before → after, and a change of apps and date after it shows both,
// as one row whose intent and outcome are in its detail. The CSV keeps
// codes and both rows of a change.
func TestEndDateChangeReadsInTheAuditLog(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	e.withGraph()
	admin := e.as("admin@contoso.test")
	if p := e.post(admin, "/assignments", url.Values{"objectId": {alice.String()}, "kind": {"user"}, "clientId": {appDesktop.String()},
		"label": {"London desk"}, "justification": {"CHG-1 new agent"}}); p.status != http.StatusOK {
		t.Fatalf("grant: %d %s", p.status, p.body)
	}
	e.emu.ResetRequests()
	ends := e.clock.Now().Add(60 * 24 * time.Hour).UTC().Truncate(time.Minute)
	saved := e.post(admin, "/assignments/"+alice.String(), url.Values{"version": {"1"}, "clientId": {appDesktop.String()}, "label": {"London desk"},
		"expiresAt": {ends.Format("2006-01-02T15:04")}, "justification": {"CHG-2 until the project ends"}})
	want := "End date for Alice Smith set to " + displayTime(ends) + ". ACS was not called: the end date lives in the portal."
	if msg, _ := saved.testid("flash"); saved.status != http.StatusOK || msg != want {
		t.Errorf("after saving an end date: %d, %q; want %q", saved.status, msg, want)
	}
	if reqs := e.emu.Requests(); len(reqs) != 0 {
		t.Errorf("ACS was called %d time(s) for an end date", len(reqs))
	}
	later := ends.Add(30 * 24 * time.Hour)
	saved = e.post(admin, "/assignments/"+alice.String(), url.Values{"version": {"2"}, "clientId": {appDesktop.String(), appMobile.String()},
		"label": {"London desk"}, "expiresAt": {later.Format("2006-01-02T15:04")}, "justification": {"CHG-3 mobile too"}})
	want = "Calling-client apps for Alice Smith: added Contoso Agent Mobile. End date changed from " + displayTime(ends) + " to " + displayTime(later) + "."
	if msg, _ := saved.testid("flash"); msg != want {
		t.Errorf("after saving apps and an end date: %q; want %q", msg, want)
	}

	auditor := e.as("auditor@contoso.test")
	for _, where := range []string{"/audit?target=" + alice.String(), "/assignments/" + alice.String()} {
		p := e.get(auditor, where)
		actions, outcomes := p.testids("history-action"), p.testids("history-outcome")
		if !slices.Equal(actions, []string{"Edit", "Edit end date or label", "Grant"}) || !slices.Equal(outcomes, []string{"Succeeded", "Succeeded", "Succeeded"}) {
			t.Errorf("%s: one row per change reads %q, %q; want the edit, the end date and the grant, each succeeded", where, actions, outcomes)
		}
		changes := p.testids("change")
		for i := range changes {
			changes[i] = strings.Join(strings.Fields(changes[i]), " ")
		}
		if len(changes) != 3 ||
			!strings.Contains(changes[0], "Apps added: Contoso Agent Mobile") || !strings.Contains(changes[0], "End date: "+displayTime(ends)) ||
			!strings.Contains(changes[0], displayTime(later)) || strings.Contains(changes[0], appMobile.String()) ||
			!strings.Contains(changes[1], "End date: none") || !strings.Contains(changes[1], displayTime(ends)) || strings.Contains(changes[1], "Apps") ||
			!strings.Contains(changes[2], "Apps: Contoso Agent Desktop") || !strings.Contains(changes[2], "Label: “London desk”") {
			t.Errorf("%s: the changes read %q", where, changes)
		}
		details := p.testids("history-detail")
		if len(details) != 3 || !strings.HasPrefix(details[0], "Intent #") || !strings.Contains(details[0], "and outcome #") ||
			!strings.Contains(details[0], "Written before ACS was called") || !strings.Contains(details[0], "HTTP 200") ||
			!strings.HasPrefix(details[1], "Row #") || !strings.HasPrefix(details[2], "Intent #") {
			t.Errorf("%s: the rows' details read %q", where, details)
		}
		for _, row := range p.testids("history-row") {
			for _, code := range []string{"no_change", "edit_inventory", "success"} {
				if strings.Contains(row, code) {
					t.Errorf("%s: a row shows the code %s: %q", where, code, row)
				}
			}
		}
	}

	// The export of what the audit page shows: every row, codes kept.
	p := e.get(auditor, "/audit?target="+alice.String())
	href, rows := p.attr("audit-csv", "href"), p.attr("audit-csv", "data-rows")
	if label, _ := p.testid("audit-csv"); href != "/audit.csv?target="+alice.String() || rows != "5" || label != "Export these 5 rows (CSV)" {
		t.Errorf("the export link is %s, %s rows, %q; want 5 rows of Alice's", href, rows, label)
	}
	if all := p.attr("audit-csv-all", "href"); all != "/audit.csv" {
		t.Errorf("the whole log's export is %q", all)
	}
	head := e.get(auditor, href)
	recs := e.csvRecords(auditor, href)
	header, _ := csv.NewReader(strings.NewReader(head.body)).Read()
	action, phase, object := column(t, header, "action"), column(t, header, "phase"), column(t, header, "object")
	var got []string
	for _, r := range recs {
		got = append(got, r[action]+"/"+r[phase])
		if r[object] != alice.String() {
			t.Errorf("the export of Alice's rows holds a row of %s", r[object])
		}
	}
	if want := []string{"grant/intent", "grant/outcome", "edit_inventory/event", "edit/intent", "edit/outcome"}; !slices.Equal(got, want) {
		t.Errorf("the export of Alice's rows holds %q, want %q", got, want)
	}
}

// Every filter's export holds exactly the rows its link counts and the
// filter matches; the Who filter takes an email; dates are ISO, and a bad
// one is refused beside its field, on the page and by the export.
func TestAuditExportsWhatIsShown(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	e.seedInventory(devidp.ContosoTenant, alice, "user", appDesktop)
	e.seedInventory(devidp.ContosoTenant, room, "teamsResourceAccount")
	admin := noFollow(e.as("admin@contoso.test"))
	if p := e.post(admin, "/assignments/"+alice.String()+"/verify", nil); p.status != http.StatusSeeOther {
		t.Fatalf("verify: %d", p.status)
	}
	helpdesk := noFollow(e.as("helpdesk@contoso.test"))
	if p := e.post(helpdesk, "/assignments/"+alice.String(), url.Values{"version": {"1"}, "clientId": {appDesktop.String(), appMobile.String()}, "label": {"seed"}}); p.status != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", p.status, p.body)
	}
	auditor := e.as("auditor@contoso.test")
	today := e.clock.Now().UTC().Format("2006-01-02")
	for _, tc := range []struct {
		name  string
		query url.Values
		check func(header, row []string) bool
	}{
		{"everything", nil, func(_, _ []string) bool { return true }},
		{"one object", url.Values{"target": {alice.String()}}, func(h, r []string) bool { return r[column(t, h, "object")] == alice.String() }},
		{"an action", url.Values{"action": {"edit"}}, func(h, r []string) bool { return r[column(t, h, "action")] == "edit" }},
		{"an outcome", url.Values{"outcome": {"success"}}, func(h, r []string) bool { return r[column(t, h, "outcome")] == "success" }},
		{"who, by email", url.Values{"actor": {"HelpDesk@contoso.test"}}, func(h, r []string) bool { return r[column(t, h, "actorName")] == "Hugo Helpdesk" }},
		{"who, by name", url.Values{"actor": {"hugo"}}, func(h, r []string) bool { return r[column(t, h, "actorName")] == "Hugo Helpdesk" }},
		{"dates", url.Values{"from": {today}, "to": {today}}, func(h, r []string) bool { return strings.HasPrefix(r[column(t, h, "time")], today) }},
	} {
		p := e.get(auditor, "/audit?"+tc.query.Encode())
		if p.status != http.StatusOK {
			t.Errorf("%s: %d", tc.name, p.status)
			continue
		}
		href, rows := p.attr("audit-csv", "href"), p.attr("audit-csv", "data-rows")
		if tc.query == nil && href != "/audit.csv" || tc.query != nil && p.attr("audit-csv-all", "href") != "/audit.csv" {
			t.Errorf("%s: export links %q and %q", tc.name, href, p.attr("audit-csv-all", "href"))
		}
		body := e.get(auditor, href).body
		all, _ := csv.NewReader(strings.NewReader(body)).ReadAll()
		if len(all) < 2 || strconv.Itoa(len(all)-1) != rows {
			t.Errorf("%s: the export holds %d rows, its link says %s", tc.name, len(all)-1, rows)
			continue
		}
		shown := len(p.testids("history-row"))
		intents := 0
		for _, r := range all[1:] {
			if !tc.check(all[0], r) {
				t.Errorf("%s: the export holds a row the filter does not match: %q", tc.name, r)
			}
			if r[column(t, all[0], "phase")] == "intent" {
				intents++
			}
		}
		// One row per change on the page, both rows in the file.
		if shown != len(all)-1-intents {
			t.Errorf("%s: the page shows %d rows; the export holds %d, %d of them intents", tc.name, shown, len(all)-1, intents)
		}
	}

	// Who by email: unknown is refused beside the field.
	p := e.get(auditor, "/audit?actor=nobody@contoso.test")
	if msg, _ := p.testid("actor-error"); p.status != http.StatusBadRequest || !strings.Contains(msg, "nobody@contoso.test") {
		t.Errorf("an unknown email: %d, %q", p.status, msg)
	}
	for _, q := range []url.Values{{"from": {"11/27/2026"}}, {"to": {"2026-13-01"}}, {"from": {today}, "to": {"2020-01-01"}}} {
		p := e.get(auditor, "/audit?"+q.Encode())
		field := "from"
		if q.Has("to") {
			field = "to"
		}
		msg, _ := p.testid(field + "-error")
		if p.status != http.StatusBadRequest || msg == "" || p.attr("audit-"+field, "aria-invalid") != "true" {
			t.Errorf("dates %v: %d, %q", q, p.status, msg)
		}
		if field == "from" && !strings.Contains(msg, "YYYY-MM-DD") {
			t.Errorf("dates %v: the message %q does not say how to write a date", q, msg)
		}
		if c := e.get(auditor, "/audit.csv?"+q.Encode()); c.status != http.StatusBadRequest {
			t.Errorf("the export of dates %v: %d", q, c.status)
		}
	}
	if p := e.get(auditor, "/audit"); p.attr("audit-from", "type") != "text" || p.attr("audit-from", "placeholder") != "YYYY-MM-DD" {
		t.Errorf("the From field is type %q, placeholder %q", p.attr("audit-from", "type"), p.attr("audit-from", "placeholder"))
	}
}

// The assignments export holds what the list shows for the same search
// and filters, in its order; "all" holds every row.
func TestAssignmentsExportWhatIsShown(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	e.seedInventory(devidp.ContosoTenant, alice, "user", appDesktop)
	e.seedInventory(devidp.ContosoTenant, bob, "user", appMobile)
	e.seedInventory(devidp.ContosoTenant, room, "teamsResourceAccount")
	auditor := e.as("auditor@contoso.test")
	for _, tc := range []struct {
		query url.Values
		want  []string
	}{
		{nil, []string{room.String(), bob.String(), alice.String()}}, // everything, in object order
		{url.Values{"kind": {"user"}, "sort": {"object"}, "desc": {"1"}}, []string{alice.String(), bob.String()}},
		{url.Values{"q": {appMobile.String()}}, []string{bob.String()}},
	} {
		list := e.get(auditor, "/assignments?"+tc.query.Encode())
		href, rows := list.attr("export-csv", "href"), list.attr("export-csv", "data-rows")
		shown := list.testids("assignment-row")
		if rows != strconv.Itoa(len(shown)) {
			t.Errorf("%v: the export link counts %s rows, the list shows %d", tc.query, rows, len(shown))
		}
		var got []string
		for _, r := range e.csvRecords(auditor, href) {
			got = append(got, r[0])
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%v: %s holds %v, want %v", tc.query, href, got, tc.want)
		}
		if tc.query != nil {
			if label, _ := list.testid("export-csv"); !strings.HasPrefix(label, "Export these "+rows+" row") {
				t.Errorf("%v: the export link reads %q", tc.query, label)
			}
			if all := list.attr("export-csv-all", "href"); all != "/assignments.csv" || len(e.csvRecords(auditor, all)) != 3 {
				t.Errorf("%v: the export of all is %q", tc.query, all)
			}
		}
	}
}
