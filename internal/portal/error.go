package portal

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. Each maps to one kind of answer a person or a caller can act on;
// the web layer maps them to HTTP statuses in one place.
const (
	EINVALID      = "invalid"      // the input is wrong; the message says how
	ENOTFOUND     = "not_found"    // no such thing (also: one in another tenant)
	ECONFLICT     = "conflict"     // someone changed it meanwhile
	EFORBIDDEN    = "forbidden"    // signed in, but the role does not allow it
	EUNAUTHORIZED = "unauthorized" // not signed in, or sign-in failed
	ETHROTTLED    = "throttled"    // an upstream service asked us to slow down
	EUNAVAILABLE  = "unavailable"  // an upstream service failed or could not be reached
	EINTERNAL     = "internal"     // a bug or an unexpected failure
)

// Error is an error whose Message is safe to show to the person using the
// portal. Err, when set, is the underlying cause: it is for logs, never for pages.
type Error struct {
	Code    string
	Message string
	// Field, for an EINVALID error about one part of the input, names it
	// (one of the Field constants); "" for the input as a whole.
	Field string
	Err   error
}

// Fields of the input that validation errors name. Forms and files map
// them onto their own fields and columns, so each rule is written once, in
// the domain, and shown beside whatever the person typed it into.
const (
	FieldObjectID      = "objectId"
	FieldKind          = "kind"
	FieldClientIDs     = "clientIds"
	FieldLabel         = "label"
	FieldJustification = "justification"
	FieldExpiresAt     = "expiresAt"
)

// Invalid returns an EINVALID error about field ("" for none in
// particular) with a formatted, user-safe message.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Problems returns the *Errors in err, in order: each of the errors
// errors.Join joined (validation reports every problem of an input at
// once), or the first in err's chain. An error without any is none.
func Problems(err error) []*Error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*Error
		for _, e := range j.Unwrap() {
			out = append(out, Problems(e)...)
		}
		return out
	}
	var e *Error
	if errors.As(err, &e) {
		return []*Error{e}
	}
	return nil
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the cause, so errors.As can still find a typed upstream error.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted, user-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with the given code and message whose cause is err.
func Wrap(err error, code, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-safe message of the first *Error in err's
// chain, and a generic sentence for any other error, so internal details never
// reach a page.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Something went wrong on our side."
}

// RetryAfter is how long an upstream service asked to be left alone, found
// in err's chain (an error with a RetryAfterHint method), or 0.
func RetryAfter(err error) time.Duration {
	var h interface{ RetryAfterHint() time.Duration }
	if errors.As(err, &h) {
		return h.RetryAfterHint()
	}
	return 0
}
