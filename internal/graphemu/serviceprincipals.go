package graphemu

import (
	"github.com/teamsphone/portal/internal/portal"
)

// servicePrincipalProperties are the service principal properties the
// emulator holds, in the order it writes them.
var servicePrincipalProperties = []string{"id", "appId", "displayName", "accountEnabled"}

// handleServicePrincipalGet serves GET /v1.0/servicePrincipals(appId='…'):
// the token's tenant's service principal of that app, or 404 when the
// tenant has none (which is also the answer for an appId that is not a
// GUID: no app has it).
func (e *Emulator) handleServicePrincipalGet(c *call, appIDText string) reply {
	opts, qe := queryOptions(c.r, "$select")
	if qe != nil {
		return qe.reply(c)
	}
	sel, qe := parseSelect(opts["$select"], has(opts, "$select"), "servicePrincipal", servicePrincipalProperties)
	if qe != nil {
		return qe.reply(c)
	}
	var sp ServicePrincipal
	found := false
	if appID, err := portal.ParseGUID(appIDText); err == nil {
		e.mu.Lock()
		if d := e.directoryLocked(c.tenant, false); d != nil {
			for _, s := range d.sps {
				if s.AppID == appID {
					sp, found = s, true
				}
			}
		}
		e.mu.Unlock()
	}
	if !found {
		return notFound(c, appIDText)
	}
	obj := jsonObject{{"@odata.context", baseURL(c.r) + "/v1.0/$metadata#servicePrincipals" + selectSuffix(opts) + "/$entity"}}
	return okReply(append(obj, renderServicePrincipal(sp, sel)...))
}

// renderServicePrincipal writes the selected properties of a service
// principal.
func renderServicePrincipal(sp ServicePrincipal, sel []string) jsonObject {
	obj := make(jsonObject, 0, len(sel))
	for _, prop := range sel {
		var v any
		switch prop {
		case "id":
			v = sp.ID.String()
		case "appId":
			v = sp.AppID.String()
		case "displayName":
			v = sp.DisplayName
		case "accountEnabled":
			v = !sp.Disabled
		}
		obj = append(obj, jsonMember{prop, v})
	}
	return obj
}
