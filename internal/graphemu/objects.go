package graphemu

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/teamsphone/portal/internal/portal"
)

// maxGetByIDs is how many IDs one getByIds call may carry.
const maxGetByIDs = 1000

// directoryObjectTypes are the types getByIds accepts in "types". The
// emulator holds only users and service principals; asking for the others
// is valid and finds nothing.
var directoryObjectTypes = []string{
	"user", "servicePrincipal", "group", "device", "application",
	"orgContact", "directoryRole", "directoryRoleTemplate", "administrativeUnit",
}

// handleGetByIDs serves POST /v1.0/directoryObjects/getByIds: the objects
// of the token's tenant among ids, of the given types (all when none are
// given). IDs that name nothing visible (unknown, deleted, another
// tenant's, another type) are left out without a word, as Graph does; each
// object is returned once, in the order first asked for.
func (e *Emulator) handleGetByIDs(c *call) reply {
	if _, qe := queryOptions(c.r); qe != nil {
		return qe.reply(c)
	}
	if c.readErr != nil {
		return badRequest("The request body could not be read; at most %d bytes are accepted.", maxBodyBytes).reply(c)
	}
	var req struct {
		IDs   []string `json:"ids"`
		Types []string `json:"types"`
	}
	dec := json.NewDecoder(bytes.NewReader(c.body))
	if err := dec.Decode(&req); err != nil || dec.More() {
		return badRequest("Invalid request body: expected a JSON object like {\"ids\":[\"…\"],\"types\":[\"user\"]}.").reply(c)
	}
	if len(req.IDs) > maxGetByIDs {
		return badRequest("Too many object ids: %d were given, at most %d are allowed.", len(req.IDs), maxGetByIDs).reply(c)
	}
	wantUsers, wantSPs := len(req.Types) == 0, len(req.Types) == 0
	for _, t := range req.Types {
		name := canonicalType(t)
		if name == "" {
			return badRequest("Invalid type '%s' in types: use user, servicePrincipal, group, device, …", truncate(t, 40)).reply(c)
		}
		wantUsers = wantUsers || name == "user"
		wantSPs = wantSPs || name == "servicePrincipal"
	}
	ids := make([]portal.GUID, 0, len(req.IDs))
	for _, s := range req.IDs {
		id, err := portal.ParseGUID(s)
		if err != nil || len(s) != 36 {
			return badRequest("Invalid object identifier '%s'.", truncate(s, 40)).reply(c)
		}
		ids = append(ids, id)
	}

	value := []jsonObject{}
	seen := map[portal.GUID]bool{}
	e.mu.Lock()
	d := e.directoryLocked(c.tenant, false)
	for _, id := range ids {
		if seen[id] || d == nil {
			continue
		}
		seen[id] = true
		if p, ok := d.personLocked(id); ok && wantUsers {
			obj := jsonObject{{"@odata.type", "#microsoft.graph.user"}}
			value = append(value, append(obj, renderPerson(p, userProperties)...))
		} else if sp, ok := d.sps[id]; ok && wantSPs {
			obj := jsonObject{{"@odata.type", "#microsoft.graph.servicePrincipal"}}
			value = append(value, append(obj, renderServicePrincipal(sp, servicePrincipalProperties)...))
		}
	}
	e.mu.Unlock()
	return okReply(jsonObject{
		{"@odata.context", baseURL(c.r) + "/v1.0/$metadata#directoryObjects"},
		{"value", value},
	})
}

// canonicalType reads a getByIds type ("user", "microsoft.graph.user",
// "#microsoft.graph.user", any case) as its canonical name, "" if unknown.
func canonicalType(t string) string {
	t = strings.TrimPrefix(strings.TrimSpace(t), "#")
	if len(t) > len("microsoft.graph.") && strings.EqualFold(t[:len("microsoft.graph.")], "microsoft.graph.") {
		t = t[len("microsoft.graph."):]
	}
	for _, k := range directoryObjectTypes {
		if strings.EqualFold(t, k) {
			return k
		}
	}
	return ""
}
