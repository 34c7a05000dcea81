package acs

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// ResponseError is a non-success answer from ACS. It is the cause inside the
// *portal.Error the client returns; find it with errors.As for the details.
type ResponseError struct {
	StatusCode int
	// RetryAfter is how long ACS asked the portal to wait (a 429, or a
	// 503 with Retry-After); 0 when it did not say.
	RetryAfter        time.Duration
	Code              string // ACS's error code, e.g. "Denied"; may be empty
	Message           string // ACS's message, capped in length
	RequestID         string
	CorrelationVector string
}

// Refused reports whether ACS refused the portal itself (401 or 403):
// see portal.ACSRefused.
func (e *ResponseError) Refused() bool {
	return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
}

func (e *ResponseError) Error() string {
	return fmt.Sprintf("acs: HTTP %d %s: %s (x-ms-client-request-id %s, MS-CV %s)",
		e.StatusCode, e.Code, e.Message, e.RequestID, e.CorrelationVector)
}

// responseError maps a non-2xx answer to a coded portal error. The mapping
// follows the status, not ACS's code strings, which are not documented for
// this API.
func responseError(resp *http.Response, body []byte, call portal.ACSCall, now time.Time) error {
	re := &ResponseError{StatusCode: resp.StatusCode, RequestID: call.RequestID, CorrelationVector: call.CorrelationVector,
		RetryAfter: retryAfter(resp.Header)}
	var envelope struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &envelope) == nil {
		re.Code = capText(envelope.Error.Code, 100)
		re.Message = capText(envelope.Error.Message, 300)
	}
	said := ""
	if re.Message != "" {
		said = " ACS said: " + re.Message
	}
	var code, msg string
	switch s := resp.StatusCode; {
	case s == http.StatusNotFound:
		code, msg = portal.ENOTFOUND, "ACS has no assignment for this object."
	case s == http.StatusBadRequest:
		code, msg = portal.EINVALID, "ACS refused the request."+said
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		code, msg = portal.EUNAVAILABLE, refusedMessage(re)
	case s == http.StatusConflict || s == http.StatusPreconditionFailed:
		code, msg = portal.ECONFLICT, "ACS reported a conflicting change."+said
	case s == http.StatusTooManyRequests:
		code, msg = portal.ETHROTTLED, throttledMessage(re.RetryAfter, now)
	case re.RetryAfter > 0:
		// A 503 that says for how long: "shortly" would be wrong for an hour.
		code, msg = portal.EUNAVAILABLE, fmt.Sprintf("ACS failed to answer (HTTP %d); nothing is lost. %s", s, throttledMessage(re.RetryAfter, now))
	default:
		code, msg = portal.EUNAVAILABLE, fmt.Sprintf("ACS failed to answer (HTTP %d); nothing is lost, try again shortly.", s)
	}
	return portal.Wrap(re, code, msg)
}

// refusedMessage says what a 401 or 403 means and what to do, with ACS's
// own code and message: the only clue an administrator has.
func refusedMessage(re *ResponseError) string {
	said := fmt.Sprintf("ACS refused the portal (HTTP %d", re.StatusCode)
	if re.Code != "" {
		said += " " + re.Code
	}
	said += ")"
	if re.Message != "" {
		said += ": " + strings.TrimSuffix(re.Message, ".") + "."
	} else {
		said += "."
	}
	return said + " " + re.Remedy()
}

// Remedy is what an administrator must do about a refusal (401 or 403);
// "" for any other answer.
func (e *ResponseError) Remedy() string {
	switch {
	case !e.Refused():
		return ""
	case strings.EqualFold(e.Code, "SubscriptionNotAllowed"):
		return "The Azure subscription of this ACS resource is not enabled for Teams Phone extensibility; ask Microsoft to enable it for the subscription, then try again."
	case e.StatusCode == http.StatusUnauthorized:
		return "An administrator must check the portal's credentials: the access key in PORTAL_ACS_CONNECTION_STRING, or that the managed identity can get a token for https://communication.azure.com."
	}
	return "An administrator must give the portal's managed identity a role on the ACS resource that allows Microsoft.Communication/communicationServices/teamsExtension/* (Contributor does)."
}

// throttledMessage says how long ACS asked the portal to wait, and until
// when: a call is not held that long (see Options.MaxRetryAfter), so the
// person must know when to try again.
func throttledMessage(wait time.Duration, now time.Time) string {
	if wait <= 0 {
		return "ACS is throttling the portal's requests without saying for how long; try again in a minute."
	}
	return fmt.Sprintf("ACS asks the portal to wait %s; try again after %s.", portal.WaitText(wait), portal.UntilText(now.Add(wait), wait))
}

func unexpectedStatus(status int, call portal.ACSCall) error {
	re := &ResponseError{StatusCode: status, RequestID: call.RequestID, CorrelationVector: call.CorrelationVector}
	return portal.Wrap(re, portal.EUNAVAILABLE, fmt.Sprintf("ACS answered with an unexpected HTTP %d.", status))
}

func capText(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	return s
}

// ACSErrorCode is ACS's own error code ("Denied", "TooManyRequests", …), so
// the use cases can record it in the audit log without importing this
// package.
func (e *ResponseError) ACSErrorCode() string { return e.Code }

// RetryAfterHint is how long ACS asked the portal to wait (see
// portal.RetryAfter): a bulk job pauses for it rather than fail its rows.
func (e *ResponseError) RetryAfterHint() time.Duration { return e.RetryAfter }
