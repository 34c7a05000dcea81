package graphemu

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/teamsphone/portal/internal/portal"
)

// Messages of Graph's 401 InvalidAuthenticationToken answers.
const (
	msgTokenEmpty   = "Access token is empty."
	msgTokenInvalid = "Access token validation failure."
)

// Grant is what a static token stands for: its tenant and the permissions it
// carries.
type Grant struct {
	Tenant portal.GUID
	Scopes []string
}

// StaticTokens returns a Config.Verify that accepts exactly the given tokens
// (empty ones and those with a zero tenant are ignored) and refuses every
// other, comparing in constant time. It is for dev mode and tests, where no
// real Entra token can be checked. The map is copied.
func StaticTokens(tokens map[string]Grant) func(r *http.Request, token string) (portal.GUID, []string, error) {
	type known struct {
		token []byte
		grant Grant
	}
	var all []known
	for t, g := range tokens {
		if t != "" && !g.Tenant.IsZero() {
			all = append(all, known{[]byte(t), Grant{Tenant: g.Tenant, Scopes: slices.Clone(g.Scopes)}})
		}
	}
	return func(_ *http.Request, token string) (portal.GUID, []string, error) {
		// Compare with every token, so the time taken does not tell which
		// one was nearly right.
		found := -1
		for i, k := range all {
			if subtle.ConstantTimeCompare(k.token, []byte(token)) == 1 {
				found = i
			}
		}
		if found < 0 {
			return portal.GUID{}, nil, errors.New("graphemu: unknown bearer token")
		}
		g := all[found].grant
		return g.Tenant, slices.Clone(g.Scopes), nil
	}
}

// authenticate reads the bearer token and verifies it. kind is what the
// request log records ("ok", "none", "bad"); deny is the message of the 401,
// "" when the token was accepted.
func (e *Emulator) authenticate(r *http.Request) (tenant portal.GUID, scopes []string, kind, deny string) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return portal.GUID{}, nil, "none", msgTokenEmpty
	}
	scheme, token, _ := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" || e.verify == nil {
		return portal.GUID{}, nil, "bad", msgTokenInvalid
	}
	tenant, scopes, err := e.verify(r, token)
	// A verifier that returns no tenant is a bug in it; refusing keeps a
	// zero tenant from ever naming a directory.
	if err != nil || tenant.IsZero() {
		return portal.GUID{}, nil, "bad", msgTokenInvalid
	}
	return tenant, scopes, "ok", ""
}

// routeScopes lists, per operation, the permissions of which a token needs
// one. They are the ones Microsoft documents for the call (least privileged
// first) and the broader ones that include them, so that a token Graph
// accepts is accepted here too.
var routeScopes = map[route][]string{
	routeUserList: {"User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
	routeUserGet:  {"User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
	routeGetByIDs: {"User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
	// Only the Teams permission: a directory-wide one does not reach the
	// Teams admin API.
	routeResourceAccounts: {"TeamsResourceAccount.Read.All"},
	routeServicePrincipal: {"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
	// Microsoft's reference names Directory.Read.All as the least
	// privileged; DelegatedPermissionGrant.Read.All is the narrower
	// permission made for it.
	routeGrants: {"DelegatedPermissionGrant.Read.All", "DelegatedPermissionGrant.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
}

// graphScopePrefix is how a scope is written when requested from Entra
// (and how a verifier may pass it on); the token's scp claim has the bare
// name.
const graphScopePrefix = "https://graph.microsoft.com/"

// hasAnyScope reports whether granted includes one of accepted. Permission
// names are compared without regard to case, as Entra does.
func hasAnyScope(granted, accepted []string) bool {
	for _, g := range granted {
		if len(g) >= len(graphScopePrefix) && strings.EqualFold(g[:len(graphScopePrefix)], graphScopePrefix) {
			g = g[len(graphScopePrefix):]
		}
		for _, a := range accepted {
			if strings.EqualFold(g, a) {
				return true
			}
		}
	}
	return false
}
