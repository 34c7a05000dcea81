package acsemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/teamsphone/portal/internal/portal"
)

// handleAssignmentGet answers GET …/assignments/{objectId}: 200 with the
// stored assignment, or 404 NotFound.
func (e *Emulator) handleAssignmentGet(key stateKey) reply {
	s, ok := e.lookup(key)
	if !ok {
		return notFoundReply()
	}
	return assignmentReply(http.StatusOK, s)
}

// handleAssignmentPut answers PUT …/assignments/{objectId}: it wholly
// replaces (200) or creates (201) the assignment and returns what it stored.
// A body that breaks a rule is a 400 BadRequest and changes nothing.
func (e *Emulator) handleAssignmentPut(key stateKey, in *inbound) reply {
	principalType, clientIDs, msg := parseAssignmentBody(in.body, in.bodySize, e.usersWithoutClients)
	if msg != "" {
		return errorReply(http.StatusBadRequest, "BadRequest", msg)
	}
	s := Stored{
		Host:          key.host,
		TenantID:      key.tenant,
		ObjectID:      key.object,
		PrincipalType: principalType,
		ClientIDs:     clientIDs,
		Updated:       e.now().UTC(),
	}
	existed, err := e.store(s)
	if err != nil {
		e.logError("acsemu: saving state", err)
		return errorReply(http.StatusInternalServerError, "InternalServerError", "The emulator could not save its state.")
	}
	if existed {
		return assignmentReply(http.StatusOK, s)
	}
	return assignmentReply(http.StatusCreated, s)
}

// handleAssignmentDelete answers DELETE …/assignments/{objectId}: 204 when it
// removed one; for a missing one, Config.DeleteMissingStatus (404 NotFound by
// default, or 204).
func (e *Emulator) handleAssignmentDelete(key stateKey) reply {
	existed, err := e.delete(key)
	if err != nil {
		e.logError("acsemu: saving state", err)
		return errorReply(http.StatusInternalServerError, "InternalServerError", "The emulator could not save its state.")
	}
	if !existed && e.deleteMissingStatus == http.StatusNotFound {
		return notFoundReply()
	}
	return reply{status: http.StatusNoContent}
}

func notFoundReply() reply {
	return errorReply(http.StatusNotFound, "NotFound", "The access assignment does not exist.")
}

// parseAssignmentBody validates a PUT body and returns the principalType
// exactly as spelt and the client IDs in canonical form, or a message saying
// what is wrong. Field names are matched case-insensitively and unknown fields
// are ignored, as ASP.NET services do; values are checked strictly.
func parseAssignmentBody(body []byte, size int64, usersWithoutClients bool) (principalType string, clientIDs []string, msg string) {
	if size > maxBodyBytes {
		return "", nil, fmt.Sprintf("The request body is larger than %d bytes.", maxBodyBytes)
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return "", nil, `The request body is empty: expected {"principalType":"user","clientIds":["…"]}.`
	}
	if trimmed[0] != '{' {
		return "", nil, "The request body must be a JSON object."
	}
	var doc struct {
		PrincipalType json.RawMessage `json:"principalType"`
		ClientIDs     json.RawMessage `json:"clientIds"`
	}
	if err := json.Unmarshal(trimmed, &doc); err != nil {
		return "", nil, "The request body is not valid JSON: " + err.Error() + "."
	}

	if isAbsent(doc.PrincipalType) {
		return "", nil, "principalType is required: user or teamsResourceAccount."
	}
	if err := json.Unmarshal(doc.PrincipalType, &principalType); err != nil {
		return "", nil, "principalType must be a string: user or teamsResourceAccount."
	}
	if principalType == "" {
		return "", nil, "principalType is required: user or teamsResourceAccount."
	}
	kind, err := portal.ParsePrincipalKind(principalType)
	if err != nil {
		return "", nil, fmt.Sprintf("Unknown principalType %q: expected user, resourceAccount or teamsResourceAccount.", truncate(principalType, 40))
	}

	if !isAbsent(doc.ClientIDs) {
		var items []json.RawMessage
		if err := json.Unmarshal(doc.ClientIDs, &items); err != nil {
			return "", nil, "clientIds must be an array of GUID strings."
		}
		for i, item := range items {
			var s string
			if err := json.Unmarshal(item, &s); err != nil {
				return "", nil, fmt.Sprintf("clientIds[%d] must be a GUID string.", i)
			}
			g, err := parseStrictGUID(s)
			if err != nil {
				return "", nil, fmt.Sprintf("clientIds[%d] %q is not a GUID: expected 36 characters like 1bfa671a-dc6b-47f3-8940-45c0f1af0fa6.", i, truncate(s, 40))
			}
			clientIDs = append(clientIDs, g.String())
		}
	}
	switch kind {
	case portal.KindUser:
		if len(clientIDs) == 0 && !usersWithoutClients {
			return "", nil, "A user assignment needs at least one client ID in clientIds."
		}
	case portal.KindResourceAccount:
		if len(clientIDs) != 0 {
			return "", nil, "A resource account assignment takes no clientIds."
		}
	}
	return principalType, clientIDs, ""
}

// isAbsent reports whether a JSON field was missing or null.
func isAbsent(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// parseStrictGUID accepts only the bare 8-4-4-4-12 form (any case): the wire
// format, without the braces portal.ParseGUID also allows for people.
func parseStrictGUID(s string) (portal.GUID, error) {
	if len(s) != 36 {
		return portal.GUID{}, fmt.Errorf("%q is not a GUID", truncate(s, 40))
	}
	return portal.ParseGUID(s)
}
