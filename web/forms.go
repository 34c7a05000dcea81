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
	ExpiresAt                            string
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
	s, err := singles(v, "objectId", "kind", "label", "justification", "expiresAt", "confirmAbsent")
	if err != nil {
		return f, nil, err
	}
	f.ObjectID, f.Kind, f.Label, f.Justification, f.ExpiresAt = s["objectId"], s["kind"], s["label"], s["justification"], s["expiresAt"]
	f.ConfirmAbsent = s["confirmAbsent"]
	f.expiresAt = parseExpiry(f.ExpiresAt, errs)
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
	expiresGiven                          bool // the form had the field at all
	ClientIDs                             []string
	version                               int64
	clientIDs                             []portal.GUID
	expiresAt                             time.Time
}

func parseEditForm(v url.Values) (editForm, templates.FieldErrors, error) {
	f, errs := editForm{}, templates.FieldErrors{}
	s, err := singles(v, "version", "label", "justification", "expiresAt", "seen")
	if err != nil {
		return f, nil, err
	}
	f.Label, f.Justification, f.ExpiresAt, f.Seen = s["label"], s["justification"], s["expiresAt"], s["seen"]
	_, f.expiresGiven = v["expiresAt"]
	if f.version, err = parseVersion(s["version"]); err != nil {
		return f, nil, err
	}
	f.expiresAt = parseExpiry(f.ExpiresAt, errs)
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

// parseExpiry reads the optional expiresAt field; "" is no expiry.
func parseExpiry(v string, errs templates.FieldErrors) time.Time {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}
	}
	t, ok := portal.ParseExpiry(v)
	if !ok {
		errs["expiresAt"] = "Access ends: write the time like 2026-12-24T18:00 (UTC), or leave it empty."
	}
	return t
}

// expiryValue is t as an "access ends" field shows it.
func expiryValue(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04")
}
