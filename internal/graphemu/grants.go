package graphemu

import (
	"bytes"
	"slices"
	"strings"

	"github.com/teamsphone/portal/internal/portal"
)

// grantFilterProperties are the oauth2PermissionGrant properties $filter
// takes here, with "eq".
var grantFilterProperties = []string{"clientId", "resourceId", "consentType", "principalId"}

// handleGrantList serves GET /v1.0/oauth2PermissionGrants: the token's
// tenant's delegated permission grants, narrowed by $filter (clientId eq
// '…' and resourceId eq '…', as a client asks which consents one app has to
// one API), a page at a time.
func (e *Emulator) handleGrantList(c *call) reply {
	opts, qe := queryOptions(c.r, "$filter", "$top", "$skiptoken")
	if qe != nil {
		return qe.reply(c)
	}
	q, qe := parseListQuery(opts, parseGrantFilter)
	if qe != nil {
		return qe.reply(c)
	}

	e.mu.Lock()
	var matches []PermissionGrant
	if d := e.directoryLocked(c.tenant, false); d != nil {
		for _, g := range d.grants {
			if q.filter == nil || matchGrantFilter(g, q.filter) {
				matches = append(matches, g)
			}
		}
	}
	e.mu.Unlock()
	slices.SortFunc(matches, func(a, b PermissionGrant) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return pageReply(e, c, "/v1.0/$metadata#oauth2PermissionGrants", nil, matches, q, func(g PermissionGrant) portal.GUID { return g.ID }, renderGrant)
}

// renderGrant writes a grant with Graph's properties, in Graph's order.
func renderGrant(g PermissionGrant) jsonObject {
	return jsonObject{
		{"clientId", g.ClientID.String()},
		{"consentType", g.ConsentType},
		{"id", g.ID.String()},
		{"principalId", guidOrNull(g.PrincipalID)},
		{"resourceId", g.ResourceID.String()},
		{"scope", g.Scope},
	}
}

// parseGrantFilter reads $filter for grants: "eq" on clientId,
// resourceId, consentType or principalId, combined with and/or.
func parseGrantFilter(v string) ([][]condition, *queryError) {
	groups, qe := parseFilter(v)
	if qe != nil {
		return nil, qe
	}
	for _, g := range groups {
		for i, cond := range g {
			name := canonical(cond.prop, grantFilterProperties)
			if cond.op != "eq" || name == "" {
				return nil, unsupportedQuery("Unsupported or invalid query filter clause specified for property '%s' of resource 'OAuth2PermissionGrant'.", truncate(cond.prop, 40))
			}
			g[i].prop = name
		}
	}
	return groups, nil
}

// matchGrantFilter evaluates a parsed grant $filter; IDs and the consent
// type compare without regard to case.
func matchGrantFilter(g PermissionGrant, groups [][]condition) bool {
	return anyGroup(groups, func(cond condition) bool {
		var have string
		switch cond.prop {
		case "clientId":
			have = g.ClientID.String()
		case "resourceId":
			have = g.ResourceID.String()
		case "consentType":
			have = g.ConsentType
		default:
			if g.PrincipalID.IsZero() {
				return false
			}
			have = g.PrincipalID.String()
		}
		return strings.EqualFold(have, strings.TrimSpace(cond.value))
	})
}
