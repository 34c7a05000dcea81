package portal

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
)

// PrincipalKind is what an access assignment is for.
type PrincipalKind int

const (
	// KindUnknown is the zero value: never valid in an assignment.
	KindUnknown PrincipalKind = iota
	// KindUser is a person, who may get an ACS token through the
	// calling-client apps named in the assignment's ClientIDs.
	KindUser
	// KindResourceAccount is a Teams resource account (server consent):
	// calls to its phone number reach the ACS resource. It has no ClientIDs.
	KindResourceAccount
)

// ParsePrincipalKind reads a principal type as ACS or a person may spell it:
// "user", and "resourceAccount" (the OpenAPI spec) or "teamsResourceAccount"
// (the Learn docs and live use) for a resource account, in any case. Anything
// else is an EINVALID error.
//
// This is the one vocabulary of kinds: the grant form, the list's filter
// and bulk files all take "user" and "resourceAccount" (or ACS's own
// "teamsResourceAccount"), in any case, and nothing else.
func ParsePrincipalKind(s string) (PrincipalKind, error) {
	switch strings.ToLower(s) {
	case "user":
		return KindUser, nil
	case "resourceaccount", "teamsresourceaccount":
		return KindResourceAccount, nil
	}
	return KindUnknown, Invalid(FieldKind, "Unknown kind of principal %q: expected user or resourceAccount.", truncate(s, 40))
}

// String returns the portal's own name for the kind ("user", "resourceAccount").
// It is not necessarily what is sent to ACS: see the ACS client's configured spelling.
func (k PrincipalKind) String() string {
	switch k {
	case KindUser:
		return "user"
	case KindResourceAccount:
		return "resourceAccount"
	}
	return "unknown"
}

// Label is the kind as people read it.
func (k PrincipalKind) Label() string {
	switch k {
	case KindUser:
		return "User"
	case KindResourceAccount:
		return "Resource account"
	}
	return "Unknown"
}

// MaxClientIDs caps the calling-client app IDs of one user assignment. The API
// sets no limit; a real tenant has a handful of calling apps, so a long list is
// a mistake (or an attack) and gets a clear message instead of a huge PUT.
const MaxClientIDs = 50

// Assignment is one Teams Phone extensibility access assignment: Entra object
// ObjectID of tenant TenantID may use the ACS resource.
type Assignment struct {
	TenantID GUID
	ObjectID GUID
	Kind     PrincipalKind
	// ClientIDs are the Entra application IDs through which a User may get an
	// ACS token, sorted and without duplicates (see NormalizeClientIDs).
	// Always empty for a ResourceAccount.
	ClientIDs []GUID
	// Spelling is the principalType exactly as ACS returned it ("user",
	// "teamsResourceAccount", "resourceAccount", …), or "" for an assignment
	// not read from ACS. It is informational: Equal ignores it.
	Spelling string
	// OddClientIDs are client IDs ACS holds that are not GUIDs, as ACS
	// sent them (made outside the portal; the portal never sends such).
	// They are shown, flagged; they make the assignment differ from any
	// the portal would grant (Equal), and refuse its adoption (Validate).
	OddClientIDs []string
}

// Validate reports every rule a proposed assignment breaks, as EINVALID
// errors naming their fields joined (see Problems), or nil. ClientIDs must
// already be normalised. These are the rules of an assignment's shape:
// forms, bulk files and the ACS client all ask this method, never a copy.
func (a Assignment) Validate() error {
	var problems []error
	if a.TenantID.IsZero() {
		problems = append(problems, Invalid("", "The tenant ID is missing."))
	}
	if a.ObjectID.IsZero() {
		problems = append(problems, Invalid(FieldObjectID, "The object ID is missing."))
	}
	if a.Kind != KindUser && a.Kind != KindResourceAccount {
		problems = append(problems, Invalid(FieldKind, "Choose a kind: user or resource account."))
	}
	if len(a.OddClientIDs) > 0 {
		problems = append(problems, Invalid(FieldClientIDs, "ACS holds client IDs that are not application IDs (%s); grant the assignment again with the right apps.",
			strings.Join(a.OddClientIDs, ", ")))
	}
	return errors.Join(append(problems, a.Kind.CheckClientIDs(a.ClientIDs))...)
}

// CheckClientIDs reports, as an EINVALID error about FieldClientIDs,
// whether normalised ids do not fit an assignment of kind k: a user needs
// at least one and at most MaxClientIDs, a resource account takes none.
// Nothing is said for KindUnknown (the kind is the problem then).
func (k PrincipalKind) CheckClientIDs(ids []GUID) error {
	switch {
	case k == KindUser && len(ids) == 0:
		return Invalid(FieldClientIDs, "A user needs at least one calling-client app ID: without one they could not get a token.")
	case k == KindUser && len(ids) > MaxClientIDs:
		return Invalid(FieldClientIDs, "%d calling-client app IDs is more than the %d allowed.", len(ids), MaxClientIDs)
	case k == KindResourceAccount && len(ids) != 0:
		return Invalid(FieldClientIDs, "A resource account takes no calling-client app IDs.")
	}
	return nil
}

// Equal reports whether two assignments grant the same access. ClientIDs
// (and OddClientIDs) are compared as sets.
func (a Assignment) Equal(b Assignment) bool {
	return a.TenantID == b.TenantID && a.ObjectID == b.ObjectID && a.Kind == b.Kind &&
		slices.Equal(NormalizeClientIDs(a.ClientIDs), NormalizeClientIDs(b.ClientIDs)) &&
		slices.Equal(slices.Compact(slices.Sorted(slices.Values(a.OddClientIDs))), slices.Compact(slices.Sorted(slices.Values(b.OddClientIDs))))
}

// NormalizeClientIDs returns ids sorted, without duplicates and without nil
// GUIDs, in a new slice; nil for an empty result. Two lists that name the same
// apps therefore normalise to equal slices.
func NormalizeClientIDs(ids []GUID) []GUID {
	if len(ids) == 0 {
		return nil
	}
	out := make([]GUID, 0, len(ids))
	for _, id := range ids {
		if !id.IsZero() {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, func(x, y GUID) int { return bytes.Compare(x[:], y[:]) })
	out = slices.Compact(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

// ParseClientIDs parses every value as a GUID (surrounding space trimmed, blank
// values skipped) and normalises the result. All or nothing: one bad value is
// an EINVALID error naming it, and no list is returned, so a typo can never
// shrink someone's access. More than MaxClientIDs distinct IDs is an error too.
func ParseClientIDs(values []string) ([]GUID, error) {
	if len(values) > 10*MaxClientIDs {
		return nil, Invalid(FieldClientIDs, "Too many calling-client app IDs: at most %d are allowed.", MaxClientIDs)
	}
	ids := make([]GUID, 0, len(values))
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		id, err := ParseGUID(v)
		if err != nil {
			return nil, Invalid(FieldClientIDs, "Calling-client app ID %s", ErrorMessage(err))
		}
		ids = append(ids, id)
	}
	ids = NormalizeClientIDs(ids)
	if len(ids) > MaxClientIDs {
		return nil, Invalid(FieldClientIDs, "%d calling-client app IDs is more than the %d allowed.", len(ids), MaxClientIDs)
	}
	return ids, nil
}

// ACSCall describes one logical call to ACS, whatever its outcome, so that the
// audit log can cite it and support staff can find it in Azure's logs.
type ACSCall struct {
	// RequestID is the x-ms-client-request-id sent on every attempt of the call.
	RequestID string
	// CorrelationVector is the MS-CV of the last response, if any.
	CorrelationVector string
	// Status is the HTTP status of the last response; 0 if none arrived.
	Status int
	// Attempts counts the HTTP requests sent, retries included.
	Attempts int
}

// ACS is the remote store of assignments: the Azure Communication Services
// resource. It has no list operation: the portal's inventory is the only list.
type ACS interface {
	// GetAssignment returns the assignment ACS holds, or an ENOTFOUND error.
	GetAssignment(ctx context.Context, tenant, object GUID) (Assignment, ACSCall, error)
	// PutAssignment creates or wholly replaces an assignment and reports whether
	// ACS created it (201) rather than replaced it (200).
	PutAssignment(ctx context.Context, a Assignment) (created bool, call ACSCall, err error)
	// DeleteAssignment removes an assignment, revoking the principal's tokens at
	// once. alreadyGone is true when ACS had none (404), which is not an error:
	// a retried DELETE whose first attempt succeeded sees exactly that.
	DeleteAssignment(ctx context.Context, tenant, object GUID) (alreadyGone bool, call ACSCall, err error)
}

func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// KnownApp is a calling-client application the portal's configuration names,
// so that forms can offer it by name instead of as a bare app ID.
type KnownApp struct {
	ID   GUID
	Name string
}
