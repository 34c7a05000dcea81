// Package graph is the portal's Microsoft Graph adapter: the few calls that
// turn object IDs into names — find people by name, resolve many IDs at
// once, list a tenant's Teams resource accounts with their numbers, name a
// calling-client app — and those that read whether access can work (see
// portal.ReadinessDirectory): service principals, delegated permission
// grants, people's accountEnabled and plans, resource accounts' bindings.
// Every call carries the signed-in person's delegated token, so each person
// sees only what Graph lets them see in their tenant; the tenant is the
// token's, never a parameter.
//
// Names are a convenience: callers must keep working on IDs when a call
// fails. Readiness reads that fail make a check unknown. Either way the
// errors say why in words a person can act on, and a refusal names the
// permission that would allow the read.
package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// DefaultBase is Microsoft Graph's global endpoint.
const DefaultBase = "https://graph.microsoft.com"

// Delegated permissions the portal asks for (incremental consent is not
// used: sign-in asks for them all; what is not consented fails with
// EFORBIDDEN and the page says so).
const (
	ScopeUsers            = "https://graph.microsoft.com/User.ReadBasic.All"
	ScopeResourceAccounts = "https://graph.microsoft.com/TeamsResourceAccount.Read.All"
	ScopeApps             = "https://graph.microsoft.com/Application.Read.All"
	// ScopeUserStates reads full profiles: accountEnabled and
	// assignedPlans, which the basic profile leaves out (readiness).
	ScopeUserStates = "https://graph.microsoft.com/User.Read.All"
	// ScopeGrants reads delegated permission grants (readiness).
	ScopeGrants = "https://graph.microsoft.com/DelegatedPermissionGrant.Read.All"
)

// TeamsPhonePlanID is the service plan ID of Teams Phone (MCOEV), in
// every licence that includes it: a person whose assigned plans hold it,
// enabled, may use Teams Phone.
var TeamsPhonePlanID = portal.MustParseGUID("4828c8ec-dc2e-4779-b502-87ac9ce28ab7")

// maxBody caps what the portal reads of an answer.
const maxBody = 1 << 20

var (
	_ portal.Directory          = (*Client)(nil)
	_ portal.ReadinessDirectory = (*Client)(nil)
)

// Client calls Graph. It is safe for concurrent use.
type Client struct {
	base string
	http *http.Client
}

// New returns a Client for base (DefaultBase when ""; an emulator's URL in
// dev mode and tests). hc may be nil (a 10 s timeout per call).
func New(base string, hc *http.Client) *Client {
	if base == "" {
		base = DefaultBase
	}
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	return &Client{base: strings.TrimRight(base, "/"), http: hc}
}

// Error is a failed Graph call: the status, Graph's error code, and how
// long Graph asked to wait (429 and 503).
type Error struct {
	Status     int
	Code       string
	RetryAfter time.Duration
}

func (e *Error) Error() string { return fmt.Sprintf("graph: %d %s", e.Status, e.Code) }

// RetryAfterHint is Graph's Retry-After (see portal.RetryAfter).
func (e *Error) RetryAfterHint() time.Duration { return e.RetryAfter }

// purpose says, for the messages of a call's errors, what the person goes
// without while it fails and what would allow it when Graph refuses.
type purpose struct {
	lost      string // "names are not shown"
	forbidden string // the whole message of a 403
	back      string // "names are back": after a throttled call, in how long
}

// forNames is the purpose of the calls that name IDs.
var forNames = purpose{
	lost:      "names are not shown",
	forbidden: "The portal may not read this from Microsoft Graph for you: an admin has not consented to the permission, or your account lacks it. IDs are shown instead.",
	back:      "names are back",
}

// readiness returns the purpose of a readiness read: refused, it names
// what it reads and the permission (least privileged first) that allows it.
func readiness(what, permission string) purpose {
	return purpose{
		lost:      "this check cannot run now",
		forbidden: "The portal may not read " + what + " from Microsoft Graph for you: it needs the delegated permission " + permission + ", consented by an admin. Until then this check is unknown.",
		back:      "the check can run again",
	}
}

// The readiness reads, each with the permission a 403 names.
var (
	forServicePrincipals = readiness("your tenant's service principals (enterprise apps)", "Application.Read.All")
	forGrants            = readiness("your tenant's delegated permission grants (consents)", "DelegatedPermissionGrant.Read.All (or Directory.Read.All)")
	forUserStates        = readiness("whether people are enabled and licensed", "User.Read.All")
	forResourceAccounts  = readiness("your tenant's Teams resource accounts", "TeamsResourceAccount.Read.All, and you must hold the Teams administrator role")
)

// call sends one request with the person's token and decodes a JSON answer
// into out (nil: drop it). A non-2xx answer is a *portal.Error wrapping
// *Error, with a message for the person in the words of p.
func (c *Client) call(ctx context.Context, token string, p purpose, method, path string, query url.Values, body any, header http.Header, out any) error {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return portal.Wrap(err, portal.EINTERNAL, "The request to Microsoft Graph could not be built.")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return portal.Wrap(err, portal.EUNAVAILABLE, "Microsoft Graph could not be reached, so "+p.lost+".")
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil || len(data) > maxBody {
		return portal.Wrap(errors.Join(err, errors.New("answer too large or cut")), portal.EUNAVAILABLE, "Microsoft Graph's answer could not be read.")
	}
	if resp.StatusCode/100 != 2 {
		return statusError(resp, data, p)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return portal.Wrap(err, portal.EUNAVAILABLE, "Microsoft Graph's answer could not be read.")
	}
	return nil
}

// statusError turns a non-2xx answer into the error a person reads. A 503
// with a Retry-After is Graph asking the portal to wait, like a 429.
func statusError(resp *http.Response, data []byte, p purpose) error {
	var body struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal(data, &body)
	ge := &Error{Status: resp.StatusCode, Code: body.Error.Code}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		ge.RetryAfter = time.Duration(s) * time.Second
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return portal.Wrap(ge, portal.ENOTFOUND, "Microsoft Graph has no such object (it may have been deleted).")
	case resp.StatusCode == http.StatusUnauthorized:
		return portal.Wrap(ge, portal.EUNAUTHORIZED, "Microsoft Graph did not accept your sign-in, so "+p.lost+"; sign in again.")
	case resp.StatusCode == http.StatusForbidden:
		return portal.Wrap(ge, portal.EFORBIDDEN, p.forbidden)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable && ge.RetryAfter > 0:
		wait := "a moment"
		if ge.RetryAfter > 0 {
			wait = ge.RetryAfter.String()
		}
		return portal.Wrap(ge, portal.ETHROTTLED, "Microsoft Graph asked the portal to slow down; "+p.back+" in "+wait+".")
	case resp.StatusCode == http.StatusBadRequest:
		return portal.Wrap(ge, portal.EINVALID, "Microsoft Graph refused the query.")
	}
	return portal.Wrap(ge, portal.EUNAVAILABLE, "Microsoft Graph is unavailable, so "+p.lost+".")
}

type userJSON struct {
	ID                string `json:"id"`
	DisplayName       string `json:"displayName"`
	UserPrincipalName string `json:"userPrincipalName"`
}

func (u userJSON) entry() (portal.DirectoryEntry, bool) {
	id, err := portal.ParseGUID(u.ID)
	if err != nil {
		return portal.DirectoryEntry{}, false
	}
	return portal.DirectoryEntry{ObjectID: id, Kind: portal.KindUser, DisplayName: u.DisplayName, UPN: u.UserPrincipalName}, true
}

// SearchUsers finds people of the token's tenant whose name or UPN starts
// a word with q (a whole object ID finds that person), at most limit.
func (c *Client) SearchUsers(ctx context.Context, token, q string, limit int) ([]portal.DirectoryEntry, error) {
	q = strings.TrimSpace(q)
	if id, err := portal.ParseGUID(q); err == nil {
		var u userJSON
		err := c.call(ctx, token, forNames, http.MethodGet, "/v1.0/users/"+id.String(), url.Values{"$select": {"id,displayName,userPrincipalName"}}, nil, nil, &u)
		if portal.ErrorCode(err) == portal.ENOTFOUND {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		e, _ := u.entry()
		return []portal.DirectoryEntry{e}, nil
	}
	// $search terms sit inside double quotes: a quote or backslash in a
	// name cannot be searched for, and is dropped rather than escaped.
	q = strings.NewReplacer(`"`, "", `\`, "").Replace(q)
	if q == "" {
		return nil, nil
	}
	limit = min(max(limit, 1), 50)
	var page struct {
		Value []userJSON `json:"value"`
	}
	err := c.call(ctx, token, forNames, http.MethodGet, "/v1.0/users", url.Values{
		"$search": {`"displayName:` + q + `" OR "userPrincipalName:` + q + `"`},
		"$select": {"id,displayName,userPrincipalName"},
		"$top":    {strconv.Itoa(limit)},
		"$count":  {"true"},
	}, nil, http.Header{"Consistencylevel": {"eventual"}}, &page)
	if err != nil {
		return nil, err
	}
	out := make([]portal.DirectoryEntry, 0, len(page.Value))
	for _, u := range page.Value {
		if e, ok := u.entry(); ok {
			out = append(out, e)
		}
	}
	return out, nil
}

// getByIDsMax is how many IDs Graph resolves in one call.
const getByIDsMax = 1000

// Resolve names the users among ids. An ID Graph does not return (deleted,
// unknown, or not visible to this person) is absent from the map.
func (c *Client) Resolve(ctx context.Context, token string, ids []portal.GUID) (map[portal.GUID]portal.DirectoryEntry, error) {
	out := make(map[portal.GUID]portal.DirectoryEntry, len(ids))
	for start := 0; start < len(ids); start += getByIDsMax {
		chunk := ids[start:min(start+getByIDsMax, len(ids))]
		req := struct {
			IDs   []string `json:"ids"`
			Types []string `json:"types"`
		}{Types: []string{"user"}}
		for _, id := range chunk {
			req.IDs = append(req.IDs, id.String())
		}
		var page struct {
			Value []userJSON `json:"value"`
		}
		if err := c.call(ctx, token, forNames, http.MethodPost, "/v1.0/directoryObjects/getByIds", nil, req, nil, &page); err != nil {
			return out, err
		}
		for _, u := range page.Value {
			if e, ok := u.entry(); ok {
				out[e.ObjectID] = e
			}
		}
	}
	return out, nil
}

// maxPages bounds how far a listing follows @odata.nextLink.
const maxPages = 50

// list reads a Graph collection from path, following @odata.nextLink, and
// hands each item to each. cut is true when the collection had more than
// maxPages pages and the rest was left unread; err is the first failed
// page (or a next link to another host), the items before it having been
// handed over.
func list[T any](ctx context.Context, c *Client, token string, p purpose, path string, query url.Values, each func(T)) (cut bool, err error) {
	for range maxPages {
		var page struct {
			Value []T    `json:"value"`
			Next  string `json:"@odata.nextLink"`
		}
		if err := c.call(ctx, token, p, http.MethodGet, path, query, nil, nil, &page); err != nil {
			return false, err
		}
		for _, item := range page.Value {
			each(item)
		}
		if page.Next == "" {
			return false, nil
		}
		// Follow the link only on the same host: a next link elsewhere
		// would carry the person's token away.
		next, err := url.Parse(page.Next)
		if err != nil || next.Host != "" && c.base != next.Scheme+"://"+next.Host {
			return true, portal.Errorf(portal.EUNAVAILABLE, "Microsoft Graph's next page points elsewhere; the list is cut short.")
		}
		path, query = next.Path, next.Query()
	}
	return true, nil
}

// resourceAccountJSON is a Teams resource account as the beta list
// returns it.
type resourceAccountJSON struct {
	ID                string `json:"id"`
	DisplayName       string `json:"displayName"`
	UserPrincipalName string `json:"userPrincipalName"`
	AppID             string `json:"appId"`
	PhoneNumber       string `json:"phoneNumber"`
	ACSResourceID     string `json:"acsResourceId"`
}

// resourceAccounts lists the tenant's Teams resource accounts bound to the
// ACS resource acsResourceID ("": all). It is a beta Graph API (the only
// one there is), the base being v1.0's host, and needs a Teams admin. An
// account whose ID is not a GUID is left out: nothing could refer to it.
func (c *Client) resourceAccounts(ctx context.Context, token string, p purpose, acsResourceID string, each func(id portal.GUID, ra resourceAccountJSON)) (cut bool, err error) {
	query := url.Values{"$top": {"100"}}
	if acsResourceID != "" {
		query.Set("$filter", "acsResourceId eq '"+strings.ReplaceAll(acsResourceID, "'", "''")+"'")
	}
	return list(ctx, c, token, p, "/beta/admin/teams/resourceAccounts", query, func(ra resourceAccountJSON) {
		if id, err := portal.ParseGUID(ra.ID); err == nil {
			each(id, ra)
		}
	})
}

// ResourceAccounts lists the tenant's Teams resource accounts bound to the
// ACS resource acsResourceID ("": all), with their phone numbers. It is a
// beta Graph API (the only one there is) and needs a Teams admin. A list
// too long to read whole is returned cut short, without an error: names
// are a convenience.
func (c *Client) ResourceAccounts(ctx context.Context, token, acsResourceID string) ([]portal.DirectoryEntry, error) {
	var out []portal.DirectoryEntry
	_, err := c.resourceAccounts(ctx, token, forNames, acsResourceID, func(id portal.GUID, ra resourceAccountJSON) {
		app, _ := portal.ParseGUID(ra.AppID)
		out = append(out, portal.DirectoryEntry{ObjectID: id, Kind: portal.KindResourceAccount, DisplayName: ra.DisplayName,
			UPN: ra.UserPrincipalName, Phone: strings.TrimPrefix(ra.PhoneNumber, "tel:"), AppID: app})
	})
	return out, err
}

// servicePrincipalJSON is a service principal as Graph returns it.
type servicePrincipalJSON struct {
	ID             string `json:"id"`
	AppID          string `json:"appId"`
	DisplayName    string `json:"displayName"`
	AccountEnabled *bool  `json:"accountEnabled"`
}

// servicePrincipal reads the tenant's service principal of appID; found
// is false when there is none.
func (c *Client) servicePrincipal(ctx context.Context, token string, p purpose, appID portal.GUID) (sp servicePrincipalJSON, found bool, err error) {
	err = c.call(ctx, token, p, http.MethodGet, "/v1.0/servicePrincipals(appId='"+appID.String()+"')",
		url.Values{"$select": {"id,appId,displayName,accountEnabled"}}, nil, nil, &sp)
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return sp, false, nil
	}
	return sp, err == nil, err
}

// AppName names a calling-client app by its service principal in the
// token's tenant; found is false when the tenant has none (its users
// cannot get a token for it).
func (c *Client) AppName(ctx context.Context, token string, appID portal.GUID) (name string, found bool, err error) {
	sp, found, err := c.servicePrincipal(ctx, token, forNames, appID)
	return sp.DisplayName, found, err
}
