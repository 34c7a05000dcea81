package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/devidp"
)

// "Access ends" is typed in ISO 8601: a date (YYYY-MM-DD) and an optional
// time (HH:MM), both UTC, never the browser's mm/dd/yyyy. A date alone is
// the end of that day; the edit form shows the end as it was typed; what
// cannot be read is refused beside its field, and nothing is written.
func TestExpiryFieldsAreISO(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	c := noFollow(e.as("admin@contoso.test"))
	day := e.clock.Now().UTC().AddDate(0, 0, 10).Format(time.DateOnly)

	// The grant form offers two text fields, not a date picker.
	form := e.get(c, "/assignments/new")
	for id, want := range map[string]string{"expiresAt": "YYYY-MM-DD", "expiresTime": "HH:MM"} {
		if typ, ph := form.attr(id, "type"), form.attr(id, "placeholder"); typ != "text" || ph != want {
			t.Errorf("the grant form's %s is type=%q placeholder=%q, want a text field saying %s", id, typ, ph, want)
		}
	}

	for _, tc := range []struct {
		name, date, clock string
		want              time.Time // the end recorded; zero: refused
		field, message    string    // where the refusal says what
	}{
		{"date and time", day, "18:30", mustTime(t, day+"T18:30:00Z"), "", ""},
		{"a date alone ends with its day", day, "", mustTime(t, day+"T00:00:00Z").AddDate(0, 0, 1), "", ""},
		{"an hour of one digit", day, "7:05", mustTime(t, day+"T07:05:00Z"), "", ""},
		{"date and time in the date field, as scripts send it", day + "T09:15", "", mustTime(t, day+"T09:15:00Z"), "", ""},
		{"the browser's American date", "12/24/2026", "", time.Time{}, "expiresAt-error", "write the date as YYYY-MM-DD"},
		{"a day that does not exist", "2026-02-30", "10:00", time.Time{}, "expiresAt-error", "write the date as YYYY-MM-DD"},
		{"a time past midnight", day, "24:30", time.Time{}, "expiresTime-error", "write the time as HH:MM"},
		{"a time with seconds", day, "18:30:00", time.Time{}, "expiresTime-error", "write the time as HH:MM"},
		{"a time without a date", "", "18:00", time.Time{}, "expiresAt-error", "a time needs a date"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := e.post(c, "/assignments", url.Values{"objectId": {alice.String()}, "kind": {"user"}, "clientId": {appDesktop.String()},
				"expiresAt": {tc.date}, "expiresTime": {tc.clock}})
			inv := e.inventory(devidp.ContosoTenant)
			if tc.want.IsZero() {
				if p.status != http.StatusUnprocessableEntity || len(inv) != 0 {
					t.Fatalf("%q %q: status %d, %d rows; want 422 and nothing granted", tc.date, tc.clock, p.status, len(inv))
				}
				if got, _ := p.testid(tc.field); !strings.Contains(got, tc.message) {
					t.Errorf("%s says %q, want %q", tc.field, got, tc.message)
				}
				if p.attr("expiresAt", "value") != tc.date || p.attr("expiresTime", "value") != tc.clock {
					t.Errorf("the form came back with %q %q, want what was typed", p.attr("expiresAt", "value"), p.attr("expiresTime", "value"))
				}
				return
			}
			if p.status != http.StatusSeeOther || len(inv) != 1 || !inv[0].ExpiresAt.Equal(tc.want) {
				t.Fatalf("%q %q: status %d, inventory %+v; want it to end %v", tc.date, tc.clock, p.status, inv, tc.want)
			}
			// The edit form shows the end as typed (a date alone: the
			// date alone), and saving it unchanged keeps it.
			d := e.get(c, "/assignments/"+alice.String())
			date, clock := d.attr("expiresAt", "value"), d.attr("expiresTime", "value")
			wantDate, wantClock := tc.want.Format(time.DateOnly), tc.want.Format("15:04")
			if tc.clock == "" && !strings.Contains(tc.date, "T") {
				wantDate, wantClock = tc.date, ""
			}
			if date != wantDate || clock != wantClock {
				t.Errorf("the edit form shows %q %q, want %q %q", date, clock, wantDate, wantClock)
			}
			if p := e.post(c, "/assignments/"+alice.String(), url.Values{"version": {"1"}, "clientId": {appDesktop.String()}, "expiresAt": {date}, "expiresTime": {clock}}); p.status != http.StatusSeeOther {
				t.Fatalf("saving the edit form unchanged: %d", p.status)
			}
			if inv := e.inventory(devidp.ContosoTenant); !inv[0].ExpiresAt.Equal(tc.want) {
				t.Errorf("after saving the edit form unchanged access ends %v, want %v", inv[0].ExpiresAt, tc.want)
			}
			if p := e.post(c, "/assignments/"+alice.String()+"/delete", url.Values{"version": {"1"}}); p.status != http.StatusSeeOther {
				t.Fatalf("revoking for the next case: %d", p.status)
			}
		})
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
