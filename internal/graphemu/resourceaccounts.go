package graphemu

import (
	"strings"

	"github.com/teamsphone/portal/internal/portal"
)

// handleResourceAccountList serves GET /beta/admin/teams/resourceAccounts:
// the token's tenant's Teams resource accounts, optionally those with a
// given acsResourceId or appId ($filter=acsResourceId eq '…'), a page at a
// time.
func (e *Emulator) handleResourceAccountList(c *call) reply {
	opts, qe := queryOptions(c.r, "$filter", "$top", "$skiptoken")
	if qe != nil {
		return qe.reply(c)
	}
	var filter [][]condition
	if v, ok := opts["$filter"]; ok {
		if filter, qe = parseAccountFilter(v); qe != nil {
			return qe.reply(c)
		}
	}
	top, qe := parseTop(opts["$top"], has(opts, "$top"))
	if qe != nil {
		return qe.reply(c)
	}
	after, qe := decodeSkipToken(opts["$skiptoken"], has(opts, "$skiptoken"))
	if qe != nil {
		return qe.reply(c)
	}

	e.mu.Lock()
	accounts := e.directoryLocked(c.tenant, false).accountsLocked()
	e.mu.Unlock()
	var matches []ResourceAccount
	for _, a := range accounts {
		if filter == nil || matchAccountFilter(a, filter) {
			matches = append(matches, a)
		}
	}
	pg, more := page(matches, func(a ResourceAccount) portal.GUID { return a.ID }, after, top)

	out := jsonObject{{"@odata.context", baseURL(c.r) + "/beta/$metadata#admin/teams/resourceAccounts"}}
	if more {
		out = append(out, jsonMember{"@odata.nextLink", nextLink(c.r, pg[len(pg)-1].ID)})
	}
	value := make([]jsonObject, 0, len(pg))
	for _, a := range pg {
		value = append(value, jsonObject{
			{"id", a.ID.String()},
			{"userPrincipalName", a.UserPrincipalName},
			{"displayName", a.DisplayName},
			{"appId", guidOrNull(a.AppID)},
			{"phoneNumber", nullIfEmpty(a.PhoneNumber)},
			{"acsResourceId", nullIfEmpty(a.ACSResourceID)},
		})
	}
	return okReply(append(out, jsonMember{"value", value}))
}

func guidOrNull(g portal.GUID) any {
	if g.IsZero() {
		return nil
	}
	return g.String()
}

// parseAccountFilter reads $filter for resource accounts: "eq" on
// acsResourceId or appId, combined with and/or.
func parseAccountFilter(v string) ([][]condition, *queryError) {
	groups, qe := parseFilter(v)
	if qe != nil {
		return nil, qe
	}
	for _, g := range groups {
		for i, cond := range g {
			switch {
			case cond.op == "eq" && strings.EqualFold(cond.prop, "acsResourceId"):
				g[i].prop = "acsResourceId"
			case cond.op == "eq" && strings.EqualFold(cond.prop, "appId"):
				g[i].prop = "appId"
			default:
				return nil, unsupportedQuery("Unsupported or invalid query filter clause specified for property '%s' of resource 'teamsResourceAccount'.", truncate(cond.prop, 40))
			}
		}
	}
	return groups, nil
}

// matchAccountFilter evaluates a parsed resource account $filter. Both
// properties hold GUIDs, so case does not matter.
func matchAccountFilter(a ResourceAccount, groups [][]condition) bool {
	return anyGroup(groups, func(cond condition) bool {
		if cond.prop == "appId" {
			return !a.AppID.IsZero() && strings.EqualFold(a.AppID.String(), strings.TrimSpace(cond.value))
		}
		return a.ACSResourceID != "" && strings.EqualFold(a.ACSResourceID, strings.TrimSpace(cond.value))
	})
}
