package web

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/templates"
)

// Typed forms: each parses the request into fields and per-field messages
// for what cannot be read (an object ID that is not one, a time in no
// format). Whether what was read is acceptable is the domain's to say: the
// handlers ask the use cases (Check…), and addProblems puts each problem
// beside its field. Only r.PostForm is read on POST (never the query
// string), a field sent twice is refused, and a body ParseForm cannot read
// (too large, too many fields) is an error, never an empty list that would
// wipe someone's access.

// postForm parses a form body. Anything but a urlencoded form is 415; a
// body over the limit is 413; a malformed one (or more than Go's field
// limit) is 400.
func postForm(r *http.Request) (url.Values, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" {
		return nil, errUnsupportedMedia
	}
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, errTooLarge
		}
		return nil, portal.Wrap(err, portal.EINVALID, "The form could not be read.")
	}
	return r.PostForm, nil
}

var (
	errUnsupportedMedia = portal.Errorf(portal.EINVALID, "This address takes an HTML form (application/x-www-form-urlencoded).")
	errTooLarge         = portal.Errorf(portal.EINVALID, "The form is too large.")
)

// one returns the single value of a field ("" if absent), or an error if
// it was sent more than once.
func one(v url.Values, name string) (string, error) {
	switch vals := v[name]; len(vals) {
	case 0:
		return "", nil
	case 1:
		return vals[0], nil
	}
	return "", portal.Errorf(portal.EINVALID, "The field %q was sent more than once.", name)
}

// singles reads fields that must each appear at most once.
func singles(v url.Values, names ...string) (map[string]string, error) {
	out := make(map[string]string, len(names))
	for _, n := range names {
		s, err := one(v, n)
		if err != nil {
			return nil, err
		}
		out[n] = s
	}
	return out, nil
}

var clientIDSeparators = regexp.MustCompile(`[\s,;]+`)

// splitClientIDs turns the repeated clientId field (ticked boxes, and a text
// area with one ID per line) into single values.
func splitClientIDs(values []string) []string {
	var out []string
	for _, v := range values {
		for _, f := range clientIDSeparators.Split(v, -1) {
			if f != "" {
				out = append(out, f)
			}
		}
	}
	return out
}

// grantForm is POST /assignments.
type grantForm struct {
	ObjectID, Kind, Label, Justification string
	ExpiresAt, ExpiresTime               string // the end date and time, as typed
	ClientIDs                            []string
	// ConfirmAbsent is the object ID the person confirmed granting
	// although the directory does not have it ("Grant anyway").
	ConfirmAbsent string
	// parsed
	objectID  portal.GUID
	kind      portal.PrincipalKind
	clientIDs []portal.GUID
	expiresAt time.Time
}

func parseGrantForm(v url.Values) (grantForm, templates.FieldErrors, error) {
	f, errs := grantForm{}, templates.FieldErrors{}
	s, err := singles(v, "objectId", "kind", "label", "justification", "expiresAt", "expiresTime", "confirmAbsent")
	if err != nil {
		return f, nil, err
	}
	f.ObjectID, f.Kind, f.Label, f.Justification, f.ExpiresAt = s["objectId"], s["kind"], s["label"], s["justification"], s["expiresAt"]
	f.ExpiresTime = s["expiresTime"]
	f.ConfirmAbsent = s["confirmAbsent"]
	f.expiresAt = parseExpiry(f.ExpiresAt, f.ExpiresTime, errs)
	f.ClientIDs = splitClientIDs(v["clientId"])
	if f.objectID, err = portal.ParseGUID(strings.TrimSpace(f.ObjectID)); err != nil {
		errs["objectId"] = "Object ID: " + portal.ErrorMessage(err)
	}
	if f.Kind != "" { // none chosen: the domain says a kind is needed
		if f.kind, err = portal.ParsePrincipalKind(f.Kind); err != nil {
			errs["kind"] = portal.ErrorMessage(err)
		}
	}
	if f.clientIDs, err = portal.ParseClientIDs(f.ClientIDs); err != nil {
		errs["clientId"] = portal.ErrorMessage(err)
	}
	return f, errs, nil
}

// confirmedAbsent reports whether the person confirmed granting this very
// object ID should the directory not have it: a confirmation of another ID
// (changed after the warning) confirms nothing. The directory is asked
// again all the same, so that the audit log says only what holds.
func (f grantForm) confirmedAbsent() bool {
	id, err := portal.ParseGUID(strings.TrimSpace(f.ConfirmAbsent))
	return err == nil && id == f.objectID
}

// request is the grant the form asks for.
func (f grantForm) request() access.GrantRequest {
	return access.GrantRequest{ObjectID: f.objectID, Kind: f.kind, ClientIDs: f.clientIDs, Label: f.Label, Justification: f.Justification, ExpiresAt: f.expiresAt}
}

// formFields are the form fields people type the domain's fields into,
// where their names differ.
var formFields = map[string]string{portal.FieldClientIDs: "clientId"}

// addProblems puts the problems err names (see portal.Problems) beside
// the fields of errs they are about, among the form's fields, unless
// parsing already found that field unreadable. A problem of no field, or
// of one the form does not have, is left out: the use case then refuses
// the request with it, and the form shows it as a whole.
func addProblems(errs templates.FieldErrors, err error, fields ...string) {
	if portal.ErrorCode(err) != portal.EINVALID {
		return
	}
	for _, p := range portal.Problems(err) {
		name := p.Field
		if f, ok := formFields[name]; ok {
			name = f
		}
		if _, unreadable := errs[name]; slices.Contains(fields, name) && !unreadable {
			errs[name] = p.Message
		}
	}
}

// grantFields, editFields and textFields are the fields of the forms that
// change an assignment (the revoke form has only a justification).
var (
	grantFields = []string{"objectId", "kind", "clientId", "label", "justification", "expiresAt"}
	editFields  = []string{"clientId", "label", "justification", "expiresAt"}
	textFields  = []string{"label", "justification"}
)

// editForm is POST /assignments/{objectId}.
type editForm struct {
	Label, Justification, ExpiresAt, Seen string
	ExpiresTime                           string
	expiresGiven                          bool // the form had the field at all
	ClientIDs                             []string
	version                               int64
	clientIDs                             []portal.GUID
	expiresAt                             time.Time
}

func parseEditForm(v url.Values) (editForm, templates.FieldErrors, error) {
	f, errs := editForm{}, templates.FieldErrors{}
	s, err := singles(v, "version", "label", "justification", "expiresAt", "expiresTime", "seen")
	if err != nil {
		return f, nil, err
	}
	f.Label, f.Justification, f.ExpiresAt, f.Seen = s["label"], s["justification"], s["expiresAt"], s["seen"]
	f.ExpiresTime = s["expiresTime"]
	_, f.expiresGiven = v["expiresAt"]
	if f.version, err = parseVersion(s["version"]); err != nil {
		return f, nil, err
	}
	f.expiresAt = parseExpiry(f.ExpiresAt, f.ExpiresTime, errs)
	f.ClientIDs = splitClientIDs(v["clientId"])
	if f.clientIDs, err = portal.ParseClientIDs(f.ClientIDs); err != nil {
		errs["clientId"] = portal.ErrorMessage(err)
	}
	return f, errs, nil
}

// parseVersion reads the version a form was rendered from: it must be there.
func parseVersion(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, portal.Errorf(portal.EINVALID, "The form is missing the version it was made from; reload the page and try again.")
	}
	return n, nil
}

// revokeForm is POST /assignments/{objectId}/delete (and DELETE, whose
// fields htmx sends in the query string).
type revokeForm struct {
	Justification string
	Seen          string
	version       int64
}

func parseRevokeForm(v url.Values) (revokeForm, templates.FieldErrors, error) {
	f, errs := revokeForm{}, templates.FieldErrors{}
	s, err := singles(v, "version", "justification", "seen")
	if err != nil {
		return f, nil, err
	}
	f.Justification, f.Seen = s["justification"], s["seen"]
	if f.version, err = parseVersion(s["version"]); err != nil {
		return f, nil, err
	}
	return f, errs, nil
}

// repairForm is POST /assignments/{objectId}/reapply and /accept: the
// revoke form's fields, and where the person came from (back=assignment:
// its page; else the drift report).
type repairForm struct {
	revokeForm
	backToAssignment bool
}

func parseRepairForm(v url.Values) (repairForm, templates.FieldErrors, error) {
	back, err := one(v, "back")
	if err != nil {
		return repairForm{}, nil, err
	}
	f, errs, err := parseRevokeForm(v)
	return repairForm{revokeForm: f, backToAssignment: back == "assignment"}, errs, err
}

// adoptForm is POST /assignments/{objectId}/adopt.
type adoptForm struct {
	Label, Justification string
}

func parseAdoptForm(v url.Values) (adoptForm, templates.FieldErrors, error) {
	s, err := singles(v, "label", "justification")
	if err != nil {
		return adoptForm{}, nil, err
	}
	return adoptForm{Label: s["label"], Justification: s["justification"]}, templates.FieldErrors{}, nil
}

// parseExpiry reads when access ends from the "access ends" fields: a
// date, YYYY-MM-DD, and an optional time, HH:MM (24-hour), both UTC, typed
// as text so that no browser shows them as mm/dd/yyyy. Without a time the
// access ends at the end of that day, as a bare date always does
// (portal.ParseExpiry). The date field alone also takes a date and time
// (2026-12-24T18:00, as scripts and older pages send it). Both empty is no
// end. What cannot be read is put in errs beside its field.
func parseExpiry(date, clock string, errs templates.FieldErrors) time.Time {
	date, clock = strings.TrimSpace(date), strings.TrimSpace(clock)
	switch {
	case date == "" && clock == "":
		return time.Time{}
	case date == "":
		errs["expiresAt"] = "Access ends: a time needs a date too; write the date as YYYY-MM-DD, such as 2026-12-24."
		return time.Time{}
	case clock == "":
		t, ok := portal.ParseExpiry(date)
		if !ok {
			errs["expiresAt"] = expiryDateProblem
		}
		return t
	}
	day, dayErr := time.Parse(time.DateOnly, date)
	if dayErr != nil {
		errs["expiresAt"] = expiryDateProblem
	}
	at, atErr := time.Parse("15:04", clock)
	if atErr != nil {
		errs["expiresTime"] = "Access ends at: write the time as HH:MM, 24-hour UTC, such as 18:00, or leave it empty for the end of the day."
	}
	if dayErr != nil || atErr != nil {
		return time.Time{}
	}
	return time.Date(day.Year(), day.Month(), day.Day(), at.Hour(), at.Minute(), 0, 0, time.UTC)
}

const expiryDateProblem = "Access ends: write the date as YYYY-MM-DD, such as 2026-12-24, or leave it empty for no end."

// expiryValue is t as the "access ends" fields show it: its date and time,
// or its date alone when it ends at midnight, which the date alone means
// (the end of the day before), so that the fields read back as typed.
func expiryValue(t time.Time) (date, clock string) {
	if t.IsZero() {
		return "", ""
	}
	t = t.UTC()
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
		return t.AddDate(0, 0, -1).Format(time.DateOnly), ""
	}
	return t.Format(time.DateOnly), t.Format("15:04")
}
