// Package graph is the portal's Microsoft Graph adapter: the few calls that
// turn object IDs into names — find people by name, resolve many IDs at
// once, list a tenant's Teams resource accounts with their numbers, name a
// calling-client app. Every call carries the signed-in person's delegated
// token, so each person sees only what Graph lets them see in their tenant;
// the tenant is the token's, never a parameter.
//
// Names are a convenience: callers must keep working on IDs when a call
// fails, and the errors say why in words a person can act on.
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
)

// maxBody caps what the portal reads of an answer.
const maxBody = 1 << 20

var _ portal.Directory = (*Client)(nil)

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

// call sends one request with the person's token and decodes a JSON answer
// into out (nil: drop it). A non-2xx answer is a *portal.Error wrapping
// *Error, with a message for the person.
func (c *Client) call(ctx context.Context, token, method, path string, query url.Values, body any, header http.Header, out any) error {
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
		return portal.Wrap(err, portal.EUNAVAILABLE, "Microsoft Graph could not be reached, so names are not shown.")
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil || len(data) > maxBody {
		return portal.Wrap(errors.Join(err, errors.New("answer too large or cut")), portal.EUNAVAILABLE, "Microsoft Graph's answer could not be read.")
	}
	if resp.StatusCode/100 != 2 {
		return statusError(resp, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return portal.Wrap(err, portal.EUNAVAILABLE, "Microsoft Graph's answer could not be read.")
	}
	return nil
}

// statusError turns a non-2xx answer into the error a person reads.
func statusError(resp *http.Response, data []byte) error {
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
		return portal.Wrap(ge, portal.EUNAUTHORIZED, "Microsoft Graph did not accept your sign-in for names; sign in again to see them.")
	case resp.StatusCode == http.StatusForbidden:
		return portal.Wrap(ge, portal.EFORBIDDEN, "The portal may not read this from Microsoft Graph for you: an admin has not consented to the permission, or your account lacks it. IDs are shown instead.")
	case resp.StatusCode == http.StatusTooManyRequests:
		wait := "a moment"
		if ge.RetryAfter > 0 {
			wait = ge.RetryAfter.String()
		}
		return portal.Wrap(ge, portal.ETHROTTLED, "Microsoft Graph asked the portal to slow down; names are back in "+wait+".")
	case resp.StatusCode == http.StatusBadRequest:
		return portal.Wrap(ge, portal.EINVALID, "Microsoft Graph refused the query.")
	}
	return portal.Wrap(ge, portal.EUNAVAILABLE, "Microsoft Graph is unavailable, so names are not shown.")
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
		err := c.call(ctx, token, http.MethodGet, "/v1.0/users/"+id.String(), url.Values{"$select": {"id,displayName,userPrincipalName"}}, nil, nil, &u)
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
	err := c.call(ctx, token, http.MethodGet, "/v1.0/users", url.Values{
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
		if err := c.call(ctx, token, http.MethodPost, "/v1.0/directoryObjects/getByIds", nil, req, nil, &page); err != nil {
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

// ResourceAccounts lists the tenant's Teams resource accounts bound to the
// ACS resource acsResourceID ("": all), with their phone numbers. It is a
// beta Graph API (the only one there is) and needs a Teams admin.
func (c *Client) ResourceAccounts(ctx context.Context, token, acsResourceID string) ([]portal.DirectoryEntry, error) {
	query := url.Values{"$top": {"100"}}
	if acsResourceID != "" {
		query.Set("$filter", "acsResourceId eq '"+strings.ReplaceAll(acsResourceID, "'", "''")+"'")
	}
	var out []portal.DirectoryEntry
	path := "/beta/admin/teams/resourceAccounts"
	for range maxPages {
		var page struct {
			Value []struct {
				ID                string `json:"id"`
				DisplayName       string `json:"displayName"`
				UserPrincipalName string `json:"userPrincipalName"`
				AppID             string `json:"appId"`
				PhoneNumber       string `json:"phoneNumber"`
			} `json:"value"`
			Next string `json:"@odata.nextLink"`
		}
		if err := c.call(ctx, token, http.MethodGet, path, query, nil, nil, &page); err != nil {
			return out, err
		}
		for _, ra := range page.Value {
			id, err := portal.ParseGUID(ra.ID)
			if err != nil {
				continue
			}
			app, _ := portal.ParseGUID(ra.AppID)
			out = append(out, portal.DirectoryEntry{ObjectID: id, Kind: portal.KindResourceAccount, DisplayName: ra.DisplayName,
				UPN: ra.UserPrincipalName, Phone: strings.TrimPrefix(ra.PhoneNumber, "tel:"), AppID: app})
		}
		if page.Next == "" {
			return out, nil
		}
		// Follow the link only on the same host: a next link elsewhere
		// would carry the person's token away.
		next, err := url.Parse(page.Next)
		if err != nil || next.Host != "" && c.base != next.Scheme+"://"+next.Host {
			return out, portal.Errorf(portal.EUNAVAILABLE, "Microsoft Graph's next page points elsewhere; the list is cut short.")
		}
		path, query = next.Path, next.Query()
	}
	return out, nil
}

// AppName names a calling-client app by its service principal in the
// token's tenant; found is false when the tenant has none (its users
// cannot get a token for it).
func (c *Client) AppName(ctx context.Context, token string, appID portal.GUID) (name string, found bool, err error) {
	var sp struct {
		DisplayName string `json:"displayName"`
	}
	err = c.call(ctx, token, http.MethodGet, "/v1.0/servicePrincipals(appId='"+appID.String()+"')",
		url.Values{"$select": {"id,appId,displayName"}}, nil, nil, &sp)
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return sp.DisplayName, true, nil
}
