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
	q, qe := parseListQuery(opts, parseAccountFilter)
	if qe != nil {
		return qe.reply(c)
	}

	e.mu.Lock()
	accounts := e.directoryLocked(c.tenant, false).accountsLocked()
	e.mu.Unlock()
	var matches []ResourceAccount
	for _, a := range accounts {
		if q.filter == nil || matchAccountFilter(a, q.filter) {
			matches = append(matches, a)
		}
	}
	return pageReply(e, c, "/beta/$metadata#admin/teams/resourceAccounts", nil, matches, q, func(a ResourceAccount) portal.GUID { return a.ID }, renderAccount)
}

// renderAccount writes a resource account as the beta list does. Its
// accountEnabled is not among them: it is read from the user calls.
func renderAccount(a ResourceAccount) jsonObject {
	return jsonObject{
		{"id", a.ID.String()},
		{"userPrincipalName", a.UserPrincipalName},
		{"displayName", a.DisplayName},
		{"appId", guidOrNull(a.AppID)},
		{"phoneNumber", nullIfEmpty(a.PhoneNumber)},
		{"acsResourceId", nullIfEmpty(a.ACSResourceID)},
	}
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
