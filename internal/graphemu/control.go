package graphemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/teamsphone/portal/internal/portal"
)

// controlPrefix starts the paths of the state routes, which change the
// emulated directory while it runs. They are not Graph: they take no token
// and no fault, are not in the request log, and name the tenant in the
// path. Whoever can reach the emulator can use them: serve it on loopback.
const controlPrefix = "/_emulator/"

// The state routes, for a person applying a fix (or breaking something)
// with curl, and for tests. Bodies are JSON in Graph's own property names;
// a bad body or an unknown object is a 400 or 404 that changes nothing.
//
//	GET    /_emulator/tenants/{tenant}                              the tenant's state
//	POST   /_emulator/tenants/{tenant}/servicePrincipals             {"appId":"…","displayName":"…"} (New-MgServicePrincipal)
//	PATCH  /_emulator/tenants/{tenant}/servicePrincipals/{id}        {"accountEnabled":true}
//	DELETE /_emulator/tenants/{tenant}/servicePrincipals/{id}        (its grants go too)
//	POST   /_emulator/tenants/{tenant}/oauth2PermissionGrants        {"clientId":"…","resourceId":"…","consentType":"AllPrincipals","scope":"…"}
//	DELETE /_emulator/tenants/{tenant}/oauth2PermissionGrants/{id}
//	PATCH  /_emulator/tenants/{tenant}/users/{id}                    {"accountEnabled":true,"assignedPlans":[…]}
//	DELETE /_emulator/tenants/{tenant}/users/{id}                    (into the recycle bin)
//	PATCH  /_emulator/tenants/{tenant}/resourceAccounts/{id}         {"acsResourceId":"…","phoneNumber":"tel:+1…","appId":"…","accountEnabled":true}
//	PUT    /_emulator/tenants/{tenant}/withheldPermissions           ["User.Read.All"] (see Withhold; [] restores all)
//
// A grant may name its service principals by app ID instead
// ("clientAppId", "resourceAppId"). In a PATCH, null clears a property.
func (e *Emulator) serveControl(w http.ResponseWriter, r *http.Request) {
	e.controlOnce.Do(func() {
		mux := http.NewServeMux()
		t := controlPrefix + "tenants/{tenant}"
		mux.HandleFunc("GET "+t, e.controlTenant)
		mux.HandleFunc("POST "+t+"/servicePrincipals", e.controlAddServicePrincipal)
		mux.HandleFunc("PATCH "+t+"/servicePrincipals/{id}", e.controlPatchServicePrincipal)
		mux.HandleFunc("DELETE "+t+"/servicePrincipals/{id}", e.controlRemoveServicePrincipal)
		mux.HandleFunc("POST "+t+"/oauth2PermissionGrants", e.controlAddGrant)
		mux.HandleFunc("DELETE "+t+"/oauth2PermissionGrants/{id}", e.controlRemoveGrant)
		mux.HandleFunc("PATCH "+t+"/users/{id}", e.controlPatchUser)
		mux.HandleFunc("DELETE "+t+"/users/{id}", e.controlDeleteUser)
		mux.HandleFunc("PATCH "+t+"/resourceAccounts/{id}", e.controlPatchResourceAccount)
		mux.HandleFunc("PUT "+t+"/withheldPermissions", e.controlWithhold)
		mux.HandleFunc(controlPrefix, func(w http.ResponseWriter, r *http.Request) {
			controlError(w, http.StatusNotFound, "No such state route: see the graphemu package documentation or the README.")
		})
		e.control = mux
	})
	e.control.ServeHTTP(w, r)
}

// controlError answers with Graph's error shape, so that curl users read
// the same kind of message as from the Graph routes.
func controlError(w http.ResponseWriter, status int, format string, args ...any) {
	code := strings.ReplaceAll(http.StatusText(status), " ", "")
	writeJSON(w, status, jsonObject{{"error", jsonObject{{"code", code}, {"message", fmt.Sprintf(format, args...)}}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(encodeJSON(v), '\n'))
}

// pathIDs reads the tenant and, when the route has one, the {id} of a
// state route; on a bad one it answers 400 and returns false.
func pathIDs(w http.ResponseWriter, r *http.Request) (tenant, id portal.GUID, ok bool) {
	tenant, err := portal.ParseGUID(r.PathValue("tenant"))
	if err != nil || tenant.IsZero() {
		controlError(w, http.StatusBadRequest, "The tenant in the path is not a GUID: %q.", truncate(r.PathValue("tenant"), 60))
		return tenant, id, false
	}
	if s := r.PathValue("id"); s != "" {
		if id, err = portal.ParseGUID(s); err != nil || id.IsZero() {
			controlError(w, http.StatusBadRequest, "The object ID in the path is not a GUID: %q.", truncate(s, 60))
			return tenant, id, false
		}
	}
	return tenant, id, true
}

// readFields reads a JSON object body as its members, refusing any member
// not in allowed: a misspelt property must not be silently ignored.
func readFields(w http.ResponseWriter, r *http.Request, allowed ...string) (map[string]json.RawMessage, bool) {
	var fields map[string]json.RawMessage
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err == nil {
		err = json.Unmarshal(body, &fields)
	}
	if err != nil || fields == nil {
		controlError(w, http.StatusBadRequest, "The body must be a JSON object with some of: %s.", strings.Join(allowed, ", "))
		return nil, false
	}
	for k := range fields {
		if !slices.Contains(allowed, k) {
			controlError(w, http.StatusBadRequest, "Unknown property %q: use %s.", truncate(k, 40), strings.Join(allowed, ", "))
			return nil, false
		}
	}
	return fields, true
}

// pathAndFields reads a state route's path IDs and body (see pathIDs and
// readFields); on a problem it has answered and ok is false.
func pathAndFields(w http.ResponseWriter, r *http.Request, allowed ...string) (tenant, id portal.GUID, fields map[string]json.RawMessage, ok bool) {
	if tenant, id, ok = pathIDs(w, r); ok {
		fields, ok = readFields(w, r, allowed...)
	}
	return tenant, id, fields, ok
}

// field decodes one member into dst; null leaves dst as it is and reports
// null. A member of the wrong type answers 400.
func field(w http.ResponseWriter, fields map[string]json.RawMessage, name string, dst any) (present, null, ok bool) {
	raw, present := fields[name]
	if !present {
		return false, false, true
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return true, true, true
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		controlError(w, http.StatusBadRequest, "Property %q has the wrong type: %v.", name, err)
		return true, false, false
	}
	return true, false, true
}

// guidField decodes a member holding a GUID string ("" or null: zero).
func guidField(w http.ResponseWriter, fields map[string]json.RawMessage, name string) (g portal.GUID, present, ok bool) {
	var s string
	present, _, ok = field(w, fields, name, &s)
	if !ok || s == "" {
		return g, present, ok
	}
	g, err := portal.ParseGUID(s)
	if err != nil {
		controlError(w, http.StatusBadRequest, "Property %q is not a GUID: %q.", name, truncate(s, 60))
		return g, present, false
	}
	return g, present, true
}

// controlTenant serves GET /_emulator/tenants/{tenant}: everything the
// emulator holds for the tenant, to check what a fix changed.
func (e *Emulator) controlTenant(w http.ResponseWriter, r *http.Request) {
	tenant, _, ok := pathIDs(w, r)
	if !ok {
		return
	}
	e.mu.Lock()
	d := e.directoryLocked(tenant, false)
	if d == nil {
		e.mu.Unlock()
		controlError(w, http.StatusNotFound, "The emulator holds nothing for tenant %s.", tenant)
		return
	}
	users := []jsonObject{}
	for _, id := range sortedKeys(d.users) {
		u := d.users[id]
		p := person{u.ID, u.DisplayName, u.UserPrincipalName, u.Mail, !u.Disabled, u.AssignedPlans}
		users = append(users, append(renderPerson(p, userSelectable), jsonMember{"deleted", u.Deleted}))
	}
	accounts := []jsonObject{}
	for _, a := range d.accountsLocked() {
		accounts = append(accounts, renderAccount(a))
	}
	sps := []jsonObject{}
	for _, id := range sortedKeys(d.sps) {
		sps = append(sps, renderServicePrincipal(d.sps[id], servicePrincipalProperties))
	}
	grants := []jsonObject{}
	for _, id := range sortedKeys(d.grants) {
		grants = append(grants, renderGrant(d.grants[id]))
	}
	withheld := append([]string{}, d.withheld...)
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, jsonObject{
		{"tenant", tenant.String()},
		{"users", users},
		{"resourceAccounts", accounts},
		{"servicePrincipals", sps},
		{"oauth2PermissionGrants", grants},
		{"withheldPermissions", withheld},
	})
}

// objectLocked finds id among the objects pick chooses of tenant's
// directory; found is false when the tenant or the object is missing.
func objectLocked[V any](e *Emulator, tenant, id portal.GUID, pick func(*directory) map[portal.GUID]V) (d *directory, v V, found bool) {
	if d = e.directoryLocked(tenant, false); d != nil {
		v, found = pick(d)[id]
	}
	return d, v, found
}

func sortedKeys[V any](m map[portal.GUID]V) []portal.GUID {
	keys := make([]portal.GUID, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b portal.GUID) int { return bytes.Compare(a[:], b[:]) })
	return keys
}

// controlAddServicePrincipal serves POST …/servicePrincipals: what
// New-MgServicePrincipal -AppId does. The tenant may hold one per app: a
// second is a 409.
func (e *Emulator) controlAddServicePrincipal(w http.ResponseWriter, r *http.Request) {
	tenant, _, fields, ok := pathAndFields(w, r, "appId", "displayName", "id", "accountEnabled")
	if !ok {
		return
	}
	sp := ServicePrincipal{}
	var enabled = true
	var present bool
	if sp.AppID, present, ok = guidField(w, fields, "appId"); !ok {
		return
	}
	if !present || sp.AppID.IsZero() {
		controlError(w, http.StatusBadRequest, "appId is required: the application ID of the app, e.g. %s.", portal.ACSFirstPartyAppID)
		return
	}
	if sp.ID, _, ok = guidField(w, fields, "id"); !ok {
		return
	}
	if _, _, ok = field(w, fields, "displayName", &sp.DisplayName); !ok {
		return
	}
	if _, _, ok = field(w, fields, "accountEnabled", &enabled); !ok {
		return
	}
	sp.Disabled = !enabled
	if sp.ID.IsZero() {
		sp.ID = portal.MustParseGUID(newGUID())
	}
	e.mu.Lock()
	d := e.directoryLocked(tenant, true)
	for _, old := range d.sps {
		if old.AppID == sp.AppID {
			e.mu.Unlock()
			controlError(w, http.StatusConflict, "Tenant %s already has a service principal (%s) for app %s.", tenant, old.ID, sp.AppID)
			return
		}
	}
	if _, taken := d.personLocked(sp.ID); taken || d.sps[sp.ID] != (ServicePrincipal{}) {
		e.mu.Unlock()
		controlError(w, http.StatusConflict, "Object ID %s names another object of tenant %s.", sp.ID, tenant)
		return
	}
	d.sps[sp.ID] = sp
	e.mu.Unlock()
	writeJSON(w, http.StatusCreated, renderServicePrincipal(sp, servicePrincipalProperties))
}

// controlPatchServicePrincipal serves PATCH …/servicePrincipals/{id}.
func (e *Emulator) controlPatchServicePrincipal(w http.ResponseWriter, r *http.Request) {
	tenant, id, fields, ok := pathAndFields(w, r, "accountEnabled", "displayName")
	if !ok {
		return
	}
	var enabled *bool
	var name *string
	if _, _, ok = field(w, fields, "accountEnabled", &enabled); !ok {
		return
	}
	if _, _, ok = field(w, fields, "displayName", &name); !ok {
		return
	}
	e.mu.Lock()
	d, sp, found := objectLocked(e, tenant, id, func(d *directory) map[portal.GUID]ServicePrincipal { return d.sps })
	if !found {
		e.mu.Unlock()
		controlError(w, http.StatusNotFound, "Tenant %s has no service principal %s.", tenant, id)
		return
	}
	if enabled != nil {
		sp.Disabled = !*enabled
	}
	if name != nil {
		sp.DisplayName = *name
	}
	d.sps[id] = sp
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, renderServicePrincipal(sp, servicePrincipalProperties))
}

// controlRemoveServicePrincipal serves DELETE …/servicePrincipals/{id}.
func (e *Emulator) controlRemoveServicePrincipal(w http.ResponseWriter, r *http.Request) {
	controlRemove(e, w, r, "service principal", func(d *directory) map[portal.GUID]ServicePrincipal { return d.sps }, (*directory).remove)
}

// controlRemove removes the object {id} of the kind what that pick
// chooses, by remove; 404 when the tenant has none.
func controlRemove[V any](e *Emulator, w http.ResponseWriter, r *http.Request, what string, pick func(*directory) map[portal.GUID]V, remove func(*directory, portal.GUID) bool) {
	tenant, id, ok := pathIDs(w, r)
	if !ok {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	d, _, found := objectLocked(e, tenant, id, pick)
	if !found {
		controlError(w, http.StatusNotFound, "Tenant %s has no %s %s.", tenant, what, id)
		return
	}
	remove(d, id)
	w.WriteHeader(http.StatusNoContent)
}

// controlAddGrant serves POST …/oauth2PermissionGrants: admin consent
// (consentType AllPrincipals) or one person's (Principal, principalId).
// Both service principals must exist in the tenant, as Graph requires; a
// grant with the same client, resource, type and principal is a 409.
func (e *Emulator) controlAddGrant(w http.ResponseWriter, r *http.Request) {
	tenant, _, fields, ok := pathAndFields(w, r, "clientId", "resourceId", "clientAppId", "resourceAppId", "consentType", "principalId", "scope")
	if !ok {
		return
	}
	var g PermissionGrant
	var clientApp, resourceApp portal.GUID
	for _, f := range []struct {
		name string
		dst  *portal.GUID
	}{{"clientId", &g.ClientID}, {"resourceId", &g.ResourceID}, {"clientAppId", &clientApp}, {"resourceAppId", &resourceApp}, {"principalId", &g.PrincipalID}} {
		if *f.dst, _, ok = guidField(w, fields, f.name); !ok {
			return
		}
	}
	if _, _, ok = field(w, fields, "consentType", &g.ConsentType); !ok {
		return
	}
	if _, _, ok = field(w, fields, "scope", &g.Scope); !ok {
		return
	}
	switch {
	case g.ConsentType != "AllPrincipals" && g.ConsentType != "Principal":
		controlError(w, http.StatusBadRequest, `consentType must be "AllPrincipals" (admin consent) or "Principal" (one person's, with principalId).`)
		return
	case g.ConsentType == "Principal" && g.PrincipalID.IsZero():
		controlError(w, http.StatusBadRequest, `A "Principal" grant needs principalId: the person it is for.`)
		return
	case g.ConsentType == "AllPrincipals" && !g.PrincipalID.IsZero():
		controlError(w, http.StatusBadRequest, `An "AllPrincipals" grant is for everyone: leave principalId out.`)
		return
	case strings.TrimSpace(g.Scope) == "":
		controlError(w, http.StatusBadRequest, `scope is required: the delegated permissions, space-separated, e.g. %q.`, portal.ManageCallsScope)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.directoryLocked(tenant, false)
	resolve := func(id *portal.GUID, app portal.GUID, what string) bool {
		if d == nil {
			controlError(w, http.StatusBadRequest, "Tenant %s has no service principals.", tenant)
			return false
		}
		if id.IsZero() && !app.IsZero() {
			for _, sp := range d.sps {
				if sp.AppID == app {
					*id = sp.ID
				}
			}
			if id.IsZero() {
				controlError(w, http.StatusBadRequest, "Tenant %s has no service principal for app %s (the %s).", tenant, app, what)
				return false
			}
		}
		if _, found := d.sps[*id]; !found {
			controlError(w, http.StatusBadRequest, "Tenant %s has no service principal %q (the %s): give its object ID, or its app ID as %sAppId.", tenant, id.String(), what, what)
			return false
		}
		return true
	}
	if !resolve(&g.ClientID, clientApp, "client") || !resolve(&g.ResourceID, resourceApp, "resource") {
		return
	}
	if !g.PrincipalID.IsZero() {
		if _, found := d.personLocked(g.PrincipalID); !found {
			controlError(w, http.StatusBadRequest, "Tenant %s has no user %s (the principalId).", tenant, g.PrincipalID)
			return
		}
	}
	for _, old := range d.grants {
		if old.ClientID == g.ClientID && old.ResourceID == g.ResourceID && old.ConsentType == g.ConsentType && old.PrincipalID == g.PrincipalID {
			controlError(w, http.StatusConflict, "Permission entry already exists (%s): delete it first to change its scope.", old.ID)
			return
		}
	}
	g.ID = portal.MustParseGUID(newGUID())
	d.grants[g.ID] = g
	writeJSON(w, http.StatusCreated, renderGrant(g))
}

// controlRemoveGrant serves DELETE …/oauth2PermissionGrants/{id}.
func (e *Emulator) controlRemoveGrant(w http.ResponseWriter, r *http.Request) {
	controlRemove(e, w, r, "permission grant", func(d *directory) map[portal.GUID]PermissionGrant { return d.grants },
		func(d *directory, id portal.GUID) bool { delete(d.grants, id); return true })
}

// assignedPlanJSON is an assigned plan as a PATCH body gives it.
type assignedPlanJSON struct {
	ServicePlanID    string `json:"servicePlanId"`
	Service          string `json:"service"`
	CapabilityStatus string `json:"capabilityStatus"`
}

// controlPatchUser serves PATCH …/users/{id}: accountEnabled, and
// assignedPlans (replaced whole; [] or null: none).
func (e *Emulator) controlPatchUser(w http.ResponseWriter, r *http.Request) {
	tenant, id, fields, ok := pathAndFields(w, r, "accountEnabled", "assignedPlans")
	if !ok {
		return
	}
	var enabled *bool
	var plansIn []assignedPlanJSON
	if _, _, ok = field(w, fields, "accountEnabled", &enabled); !ok {
		return
	}
	plansGiven, _, ok := field(w, fields, "assignedPlans", &plansIn)
	if !ok {
		return
	}
	var plans []AssignedPlan
	for _, p := range plansIn {
		planID, err := portal.ParseGUID(p.ServicePlanID)
		if err != nil || p.CapabilityStatus == "" {
			controlError(w, http.StatusBadRequest, `Each assigned plan needs a servicePlanId (a GUID) and a capabilityStatus ("Enabled", "Suspended", …).`)
			return
		}
		plans = append(plans, AssignedPlan{ServicePlanID: planID, Service: p.Service, CapabilityStatus: p.CapabilityStatus, AssignedDateTime: e.now()})
	}
	e.mu.Lock()
	d, u, found := objectLocked(e, tenant, id, func(d *directory) map[portal.GUID]User { return d.users })
	if !found || u.Deleted {
		e.mu.Unlock()
		controlError(w, http.StatusNotFound, "Tenant %s has no user %s (a resource account: PATCH …/resourceAccounts/{id}).", tenant, id)
		return
	}
	if enabled != nil {
		u.Disabled = !*enabled
	}
	if plansGiven {
		u.AssignedPlans = plans
	}
	d.users[id] = u
	p, _ := d.personLocked(id)
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, renderPerson(p, userSelectable))
}

// controlDeleteUser serves DELETE …/users/{id}: into the recycle bin, as
// DeleteUser does.
func (e *Emulator) controlDeleteUser(w http.ResponseWriter, r *http.Request) {
	tenant, id, ok := pathIDs(w, r)
	if !ok {
		return
	}
	if !e.DeleteUser(tenant, id) {
		controlError(w, http.StatusNotFound, "Tenant %s has no user %s.", tenant, id)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// controlPatchResourceAccount serves PATCH …/resourceAccounts/{id}: what
// Set-CsOnlineApplicationInstance (-AcsResourceId, -ApplicationId) and
// Set-CsPhoneNumberAssignment change, and accountEnabled.
func (e *Emulator) controlPatchResourceAccount(w http.ResponseWriter, r *http.Request) {
	tenant, id, fields, ok := pathAndFields(w, r, "appId", "acsResourceId", "phoneNumber", "accountEnabled")
	if !ok {
		return
	}
	appID, appGiven, ok := guidField(w, fields, "appId")
	if !ok {
		return
	}
	var acs, phone string
	var enabled *bool
	acsGiven, _, ok := field(w, fields, "acsResourceId", &acs)
	if !ok {
		return
	}
	phoneGiven, _, ok := field(w, fields, "phoneNumber", &phone)
	if !ok {
		return
	}
	if _, _, ok = field(w, fields, "accountEnabled", &enabled); !ok {
		return
	}
	if phone != "" && !strings.HasPrefix(phone, "tel:+") {
		controlError(w, http.StatusBadRequest, `phoneNumber is a tel: URI, as Graph writes it: "tel:+14255550100".`)
		return
	}
	e.mu.Lock()
	d, a, found := objectLocked(e, tenant, id, func(d *directory) map[portal.GUID]ResourceAccount { return d.accounts })
	if !found {
		e.mu.Unlock()
		controlError(w, http.StatusNotFound, "Tenant %s has no resource account %s.", tenant, id)
		return
	}
	if appGiven {
		a.AppID = appID
	}
	if acsGiven {
		a.ACSResourceID = acs
	}
	if phoneGiven {
		a.PhoneNumber = phone
	}
	if enabled != nil {
		a.Disabled = !*enabled
	}
	d.accounts[id] = a
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, renderAccount(a))
}

// controlWithhold serves PUT …/withheldPermissions: a JSON array of
// permission names, replacing what was withheld.
func (e *Emulator) controlWithhold(w http.ResponseWriter, r *http.Request) {
	tenant, _, ok := pathIDs(w, r)
	if !ok {
		return
	}
	var perms []string
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err == nil {
		err = json.Unmarshal(body, &perms)
	}
	if err != nil || slices.Contains(perms, "") {
		controlError(w, http.StatusBadRequest, `The body must be a JSON array of permission names, e.g. ["User.Read.All"]; [] withholds none.`)
		return
	}
	e.Withhold(tenant, perms...)
	writeJSON(w, http.StatusOK, jsonObject{{"withheldPermissions", append([]string{}, perms...)}})
}
