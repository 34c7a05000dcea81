package graph

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/teamsphone/portal/internal/portal"
)

// The reads of portal.ReadinessDirectory. Each is refused with a message
// naming the permission it needs (see readiness), and a list too long to
// read whole is an error rather than a short answer: a check must not pass
// on what the portal did not see.

// usersPerFilter is how many IDs one $filter=id in (…) may carry: Graph
// counts each as an "or" clause and allows 15.
const usersPerFilter = 15

// errListCut is the error of a readiness list longer than maxPages pages.
func errListCut(what string) error {
	return portal.Errorf(portal.EUNAVAILABLE, "Microsoft Graph's list of %s is too long for the portal to read whole, so this check is unknown.", what)
}

// ServicePrincipal returns the tenant's service principal of the app
// appID; found is false when the tenant has none. A service principal
// without accountEnabled in the answer counts as enabled, as Graph
// defaults it.
func (c *Client) ServicePrincipal(ctx context.Context, token string, appID portal.GUID) (portal.ServicePrincipal, bool, error) {
	sp, found, err := c.servicePrincipal(ctx, token, forServicePrincipals, appID)
	if !found || err != nil {
		return portal.ServicePrincipal{}, false, err
	}
	id, err := portal.ParseGUID(sp.ID)
	if err != nil {
		return portal.ServicePrincipal{}, false, portal.Wrap(err, portal.EUNAVAILABLE, "Microsoft Graph's answer could not be read.")
	}
	app, _ := portal.ParseGUID(sp.AppID)
	return portal.ServicePrincipal{ObjectID: id, AppID: app, DisplayName: sp.DisplayName, Enabled: sp.AccountEnabled == nil || *sp.AccountEnabled}, true, nil
}

// PermissionGrants returns the delegated permission grants the service
// principal client holds on the service principal resource (object IDs),
// every page of them. A grant of an unknown consent type is left out: it
// grants nobody anything the portal can name.
func (c *Client) PermissionGrants(ctx context.Context, token string, client, resource portal.GUID) ([]portal.PermissionGrant, error) {
	query := url.Values{"$filter": {"clientId eq '" + client.String() + "' and resourceId eq '" + resource.String() + "'"}}
	out := []portal.PermissionGrant{}
	cut, err := list(ctx, c, token, forGrants, "/v1.0/oauth2PermissionGrants", query, func(g struct {
		ConsentType string `json:"consentType"`
		PrincipalID string `json:"principalId"`
		Scope       string `json:"scope"`
	}) {
		grant := portal.PermissionGrant{AllPrincipals: g.ConsentType == "AllPrincipals", Scopes: strings.Fields(g.Scope)}
		if !grant.AllPrincipals {
			var err error
			if grant.PrincipalID, err = portal.ParseGUID(g.PrincipalID); g.ConsentType != "Principal" || err != nil {
				return
			}
		}
		out = append(out, grant)
	})
	if err == nil && cut {
		err = errListCut("delegated permission grants")
	}
	return out, err
}

// Users returns what the directory says of each of ids that it holds, 15
// IDs a call, every page of each. An ID absent from the map is not in the
// directory. An answer without accountEnabled or assignedPlans means the
// token may read only basic profiles (User.ReadBasic.All, which leaves
// them out): that is a refusal naming User.Read.All, never a disabled or
// unlicensed person.
func (c *Client) Users(ctx context.Context, token string, ids []portal.GUID) (map[portal.GUID]portal.UserState, error) {
	out := make(map[portal.GUID]portal.UserState, len(ids))
	for start := 0; start < len(ids); start += usersPerFilter {
		chunk := ids[start:min(start+usersPerFilter, len(ids))]
		quoted := make([]string, len(chunk))
		for i, id := range chunk {
			quoted[i] = "'" + id.String() + "'"
		}
		query := url.Values{
			"$filter": {"id in (" + strings.Join(quoted, ",") + ")"},
			"$select": {"id,accountEnabled,assignedPlans"},
		}
		partial := false
		cut, err := list(ctx, c, token, forUserStates, "/v1.0/users", query, func(u struct {
			ID             string `json:"id"`
			AccountEnabled *bool  `json:"accountEnabled"`
			AssignedPlans  *[]struct {
				ServicePlanID    string `json:"servicePlanId"`
				CapabilityStatus string `json:"capabilityStatus"`
			} `json:"assignedPlans"`
		}) {
			id, err := portal.ParseGUID(u.ID)
			if err != nil {
				return
			}
			if u.AccountEnabled == nil || u.AssignedPlans == nil {
				partial = true
				return
			}
			st := portal.UserState{ObjectID: id, Enabled: *u.AccountEnabled}
			for _, p := range *u.AssignedPlans {
				if plan, err := portal.ParseGUID(p.ServicePlanID); err == nil && plan == TeamsPhonePlanID && p.CapabilityStatus == "Enabled" {
					st.TeamsPhone = true
				}
			}
			out[id] = st
		})
		switch {
		case err != nil:
			return out, err
		case partial:
			return out, portal.Wrap(&Error{Status: http.StatusForbidden, Code: "PropertiesLeftOut"}, portal.EFORBIDDEN, forUserStates.forbidden)
		case cut:
			return out, errListCut("people")
		}
	}
	return out, nil
}

// TeamsResourceAccounts lists every Teams resource account of the tenant,
// bound to any ACS resource or none, each with its accountEnabled read
// from the users (the beta list does not carry it; see Users, whose
// refusal names User.Read.All). An account the users do not hold (deleted
// from Entra, Teams not yet knowing) is not enabled: calls to it cannot
// work.
func (c *Client) TeamsResourceAccounts(ctx context.Context, token string) ([]portal.TeamsResourceAccount, error) {
	var out []portal.TeamsResourceAccount
	cut, err := c.resourceAccounts(ctx, token, forResourceAccounts, "", func(id portal.GUID, ra resourceAccountJSON) {
		app, _ := portal.ParseGUID(ra.AppID)
		out = append(out, portal.TeamsResourceAccount{ObjectID: id, UPN: ra.UserPrincipalName, DisplayName: ra.DisplayName,
			AppID: app, ACSResourceID: ra.ACSResourceID, PhoneNumber: strings.TrimPrefix(ra.PhoneNumber, "tel:")})
	})
	if err == nil && cut {
		err = errListCut("Teams resource accounts")
	}
	if err != nil || len(out) == 0 {
		return out, err
	}
	ids := make([]portal.GUID, len(out))
	for i, ra := range out {
		ids[i] = ra.ObjectID
	}
	states, err := c.Users(ctx, token, ids)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Enabled = states[out[i].ObjectID].Enabled
	}
	return out, nil
}
