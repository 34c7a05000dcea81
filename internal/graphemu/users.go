package graphemu

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// userProperties are the user properties the emulator writes by default,
// in that order; userSelectable adds those Graph returns only on $select.
var (
	userProperties = []string{"id", "displayName", "userPrincipalName", "mail"}
	userSelectable = append(slices.Clone(userProperties), "accountEnabled", "assignedPlans")
)

// fullProfileProperties are the user properties beyond the basic profile:
// a token with User.ReadBasic.All alone gets a user without them (they
// are left out of the answer, not refused), so a client must notice
// their absence rather than read it as false or none.
var fullProfileProperties = []string{"accountEnabled", "assignedPlans"}

// fullProfileScopes are the permissions that read full profiles.
var fullProfileScopes = []string{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}

// maxInValues is how many values Graph takes in one $filter on directory
// objects ("in" counts each value as an "or" clause).
const maxInValues = 15

// userSelect reads a user call's $select and drops the properties the
// token may not read.
func userSelect(c *call, opts map[string]string) ([]string, *queryError) {
	known := userProperties
	if has(opts, "$select") {
		known = userSelectable
	}
	sel, qe := parseSelect(opts["$select"], has(opts, "$select"), "user", known)
	if qe != nil || hasAnyScope(c.scopes, fullProfileScopes) {
		return sel, qe
	}
	return slices.DeleteFunc(slices.Clone(sel), func(p string) bool { return slices.Contains(fullProfileProperties, p) }), nil
}

// msgSearchNeedsEventual is Graph's answer to $search without
// "ConsistencyLevel: eventual", word for word.
const msgSearchNeedsEventual = "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'"

// handleUserList serves GET /v1.0/users: all live user objects of the
// token's tenant, narrowed by $search and $filter, a page at a time.
func (e *Emulator) handleUserList(c *call) reply {
	opts, qe := queryOptions(c.r, "$search", "$filter", "$select", "$top", "$count", "$skiptoken")
	if qe != nil {
		return qe.reply(c)
	}
	eventual := strings.EqualFold(strings.TrimSpace(c.r.Header.Get("ConsistencyLevel")), "eventual")
	var search [][]searchClause
	if v, ok := opts["$search"]; ok {
		if !eventual {
			return unsupportedQuery("%s", msgSearchNeedsEventual).reply(c)
		}
		if search, qe = parseSearch(v); qe != nil {
			return qe.reply(c)
		}
	}
	q, qe := parseListQuery(opts, parseUserFilter)
	if qe != nil {
		return qe.reply(c)
	}
	sel, qe := userSelect(c, opts)
	if qe != nil {
		return qe.reply(c)
	}
	count, qe := parseCount(opts["$count"], has(opts, "$count"))
	if qe != nil {
		return qe.reply(c)
	}

	e.mu.Lock()
	people := e.directoryLocked(c.tenant, false).peopleLocked()
	e.mu.Unlock()
	var matches []person
	for _, p := range people {
		if (search == nil || matchSearch(p, search)) && (q.filter == nil || matchUserFilter(p, q.filter)) {
			matches = append(matches, p)
		}
	}
	var extra jsonObject
	// Microsoft documents that $count=true without ConsistencyLevel is
	// silently ignored on directory objects: no error, and no count.
	if count && eventual {
		extra = jsonObject{{"@odata.count", len(matches)}}
	}
	return pageReply(e, c, "/v1.0/$metadata#users"+selectSuffix(opts), extra, matches, q,
		func(p person) portal.GUID { return p.id }, func(p person) jsonObject { return renderPerson(p, sel) })
}

// handleUserGet serves GET /v1.0/users/{id | userPrincipalName}.
func (e *Emulator) handleUserGet(c *call, key string) reply {
	opts, qe := queryOptions(c.r, "$select")
	if qe != nil {
		return qe.reply(c)
	}
	sel, qe := userSelect(c, opts)
	if qe != nil {
		return qe.reply(c)
	}
	e.mu.Lock()
	d := e.directoryLocked(c.tenant, false)
	var p person
	var found bool
	if id, err := portal.ParseGUID(key); err == nil {
		p, found = d.personLocked(id)
	} else if d != nil {
		p, found = d.personByUPNLocked(key)
	}
	e.mu.Unlock()
	if !found {
		return notFound(c, key)
	}
	obj := jsonObject{{"@odata.context", baseURL(c.r) + "/v1.0/$metadata#users" + selectSuffix(opts) + "/$entity"}}
	return okReply(append(obj, renderPerson(p, sel)...))
}

// notFound is Graph's 404 for a directory object that does not exist, in
// this tenant or at all: the two are indistinguishable on purpose.
func notFound(c *call, key string) reply {
	return c.errorReply(http.StatusNotFound, "Request_ResourceNotFound",
		fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", truncate(key, 80)))
}

// renderPerson writes the selected properties of a user object; an empty
// mail is null, as Graph sends it.
func renderPerson(p person, sel []string) jsonObject {
	obj := make(jsonObject, 0, len(sel))
	for _, prop := range sel {
		var v any
		switch prop {
		case "id":
			v = p.id.String()
		case "displayName":
			v = p.displayName
		case "userPrincipalName":
			v = p.userPrincipalName
		case "mail":
			v = nullIfEmpty(p.mail)
		case "accountEnabled":
			v = p.enabled
		case "assignedPlans":
			plans := make([]jsonObject, 0, len(p.plans))
			for _, pl := range p.plans {
				at := pl.AssignedDateTime
				if at.IsZero() {
					at = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
				}
				plans = append(plans, jsonObject{
					{"assignedDateTime", at.UTC().Format(time.RFC3339)},
					{"capabilityStatus", pl.CapabilityStatus},
					{"service", pl.Service},
					{"servicePlanId", pl.ServicePlanID.String()},
				})
			}
			v = plans
		}
		obj = append(obj, jsonMember{prop, v})
	}
	return obj
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func has(opts map[string]string, key string) bool {
	_, ok := opts[key]
	return ok
}

// selectSuffix is the "(id,displayName)" Graph adds to @odata.context when
// $select is given.
func selectSuffix(opts map[string]string) string {
	if v, ok := opts["$select"]; ok && strings.TrimSpace(v) != "" {
		return "(" + strings.ReplaceAll(v, " ", "") + ")"
	}
	return ""
}

// parseUserFilter reads $filter for users: startswith on displayName,
// userPrincipalName or mail, or id eq '…' or id in ('…', …) (at most 15
// values in all, as Graph allows), combined with and/or. Other properties
// and operators are valid OData that this emulator does not serve.
func parseUserFilter(v string) ([][]condition, *queryError) {
	groups, qe := parseFilter(v)
	if qe != nil {
		return nil, qe
	}
	values := 0
	for _, g := range groups {
		for i, cond := range g {
			if strings.EqualFold(cond.prop, "id") && (cond.op == "eq" || cond.op == "in") {
				g[i].prop = "id"
				values += len(cond.values)
				continue
			}
			name := canonical(cond.prop, searchProperties)
			if cond.op != "startswith" || name == "" {
				return nil, unsupportedQuery("Unsupported or invalid query filter clause specified for property '%s' of resource 'User'.", truncate(cond.prop, 40))
			}
			g[i].prop = name
		}
	}
	if values > maxInValues {
		return nil, unsupportedQuery("Too many child clauses specified in search filter expression containing 'OR' operators: %d. Max allowed: %d.", values, maxInValues)
	}
	return groups, nil
}

// personProperty returns a user property by its canonical name.
func personProperty(p person, prop string) string {
	switch prop {
	case "displayName":
		return p.displayName
	case "userPrincipalName":
		return p.userPrincipalName
	default:
		return p.mail
	}
}

// matchUserFilter evaluates a parsed user $filter: startswith without
// regard to case, as Graph compares directory strings.
func matchUserFilter(p person, groups [][]condition) bool {
	return anyGroup(groups, func(cond condition) bool {
		switch {
		case cond.prop == "id" && cond.op == "eq":
			return strings.EqualFold(strings.TrimSpace(cond.value), p.id.String())
		case cond.prop == "id":
			return slices.ContainsFunc(cond.values, func(v string) bool { return strings.EqualFold(strings.TrimSpace(v), p.id.String()) })
		}
		return hasPrefixFold(personProperty(p, cond.prop), cond.value)
	})
}

// matchSearch evaluates a parsed $search. Graph tokenises displayName into
// words and matches a term that starts a word; every word of a term must
// start some word of the name ("ali sm" finds "Alice Smith"). The
// userPrincipalName and mail match when they start with the term. All
// without regard to case.
func matchSearch(p person, groups [][]searchClause) bool {
	return anyGroup(groups, func(cl searchClause) bool {
		if cl.prop != "displayName" {
			return hasPrefixFold(personProperty(p, cl.prop), cl.term)
		}
		words := strings.Fields(strings.ToLower(p.displayName))
		for _, t := range strings.Fields(strings.ToLower(cl.term)) {
			found := false
			for _, w := range words {
				if strings.HasPrefix(w, t) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	})
}

// anyGroup reports whether every item of some group satisfies ok: the
// evaluation of "a and b or c".
func anyGroup[T any](groups [][]T, ok func(T) bool) bool {
	for _, g := range groups {
		all := true
		for _, x := range g {
			if !ok(x) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	return strings.HasPrefix(strings.ToLower(s), strings.ToLower(prefix))
}
