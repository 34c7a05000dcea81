package graphemu

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/teamsphone/portal/internal/portal"
)

// Page sizes of the list calls: Graph's default for directory objects, and
// its hard ceiling (asking for more is a 400, not a smaller page).
const (
	defaultTop = 100
	maxTop     = 999
)

// queryError is a 400 answer to a query option, with Graph's code.
type queryError struct {
	code, message string
}

func (q *queryError) Error() string { return q.code + ": " + q.message }

func badRequest(format string, args ...any) *queryError {
	return &queryError{"Request_BadRequest", fmt.Sprintf(format, args...)}
}

func unsupportedQuery(format string, args ...any) *queryError {
	return &queryError{"Request_UnsupportedQuery", fmt.Sprintf(format, args...)}
}

// reply turns the error into its 400 answer.
func (q *queryError) reply(c *call) reply {
	return c.errorReply(http.StatusBadRequest, q.code, q.message)
}

// queryOptions reads the OData system query options ($-prefixed, names
// compared without case, as Graph does) of a request. Each may be given
// once. An option outside allowed is refused rather than ignored: the
// emulator does not implement it, and a client relying on it would get an
// answer that Graph would not give. Other parameters are ignored.
func queryOptions(r *http.Request, allowed ...string) (map[string]string, *queryError) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest("The query string could not be parsed.")
	}
	out := map[string]string{}
	for name, vs := range values {
		if !strings.HasPrefix(name, "$") {
			continue
		}
		key := strings.ToLower(name)
		known := false
		for _, a := range allowed {
			if key == strings.ToLower(a) {
				key, known = a, true
			}
		}
		if !known {
			return nil, unsupportedQuery("The query option '%s' is not supported here (graphemu implements %s).", truncate(name, 30), strings.Join(allowed, ", "))
		}
		if _, dup := out[key]; dup || len(vs) > 1 {
			return nil, badRequest("Query option '%s' was specified more than once, but it must be specified at most once.", key)
		}
		out[key] = vs[0]
	}
	return out, nil
}

// listQuery is what a list call's $filter, $top and $skiptoken ask for.
type listQuery struct {
	filter [][]condition // nil: no $filter
	top    int
	after  portal.GUID // zero: from the start
}

// parseListQuery reads a list call's $filter (checked by parseFilter, for
// the properties and operators the call takes), $top and $skiptoken.
func parseListQuery(opts map[string]string, parseFilter func(string) ([][]condition, *queryError)) (listQuery, *queryError) {
	var q listQuery
	var qe *queryError
	if v, ok := opts["$filter"]; ok {
		if q.filter, qe = parseFilter(v); qe != nil {
			return q, qe
		}
	}
	if q.top, qe = parseTop(opts["$top"], has(opts, "$top")); qe != nil {
		return q, qe
	}
	q.after, qe = decodeSkipToken(opts["$skiptoken"], has(opts, "$skiptoken"))
	return q, qe
}

// parseTop reads $top: 1 to 999, defaultTop when absent.
func parseTop(v string, present bool) (int, *queryError) {
	if !present {
		return defaultTop, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 || n > maxTop {
		return 0, unsupportedQuery("Invalid page size specified: '%s'. Must be between 1 and %d inclusive.", truncate(v, 20), maxTop)
	}
	return n, nil
}

// parseSelect reads $select against the properties the emulator knows for
// a type (in their canonical spelling, matched without case). Absent, it
// is all of them. The result keeps the client's order, without repeats.
func parseSelect(v string, present bool, typeName string, known []string) ([]string, *queryError) {
	if !present || strings.TrimSpace(v) == "" {
		return known, nil
	}
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		match := ""
		for _, k := range known {
			if strings.EqualFold(item, k) {
				match = k
			}
		}
		if match == "" {
			return nil, badRequest("Could not find a property named '%s' on type 'microsoft.graph.%s'.", truncate(item, 40), typeName)
		}
		if !containsString(out, match) {
			out = append(out, match)
		}
	}
	return out, nil
}

// canonical returns the spelling in known of name, compared without
// case as Graph compares property names; "" when it is not there.
func canonical(name string, known []string) string {
	for _, k := range known {
		if strings.EqualFold(strings.TrimSpace(name), k) {
			return k
		}
	}
	return ""
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseCount reads $count: "true" or "false".
func parseCount(v string, present bool) (bool, *queryError) {
	if !present {
		return false, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, badRequest("The value '%s' is not valid for $count: use true or false.", truncate(v, 20))
}

// A skip token marks where the next page starts: after the object with the
// ID it carries (lists are ordered by ID). It is opaque to clients, as
// Graph's are; a prefix lets the emulator refuse a token it did not make.
const skipTokenPrefix = "graphemu-after:"

func encodeSkipToken(after portal.GUID) string {
	return base64.RawURLEncoding.EncodeToString(append([]byte(skipTokenPrefix), after[:]...))
}

func decodeSkipToken(v string, present bool) (portal.GUID, *queryError) {
	var after portal.GUID
	if !present {
		return after, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	rest, ok := bytes.CutPrefix(raw, []byte(skipTokenPrefix))
	if err != nil || !ok || len(rest) != len(after) {
		return after, badRequest("The specified page token value is not valid.")
	}
	copy(after[:], rest)
	return after, nil
}

// page returns the items after the one with ID after (all when after is
// zero), at most top of them, and whether more follow.
func page[T any](items []T, id func(T) portal.GUID, after portal.GUID, top int) ([]T, bool) {
	start := 0
	if !after.IsZero() {
		for start < len(items) {
			x := id(items[start])
			if bytes.Compare(x[:], after[:]) > 0 {
				break
			}
			start++
		}
	}
	items = items[start:]
	if len(items) > top {
		return items[:top], true
	}
	return items, false
}

// pageReply answers with one page of matches (ordered by ID): the
// @odata.context, the extra members (such as @odata.count), an
// @odata.nextLink when more follow, and the page's values.
func pageReply[T any](e *Emulator, c *call, context string, extra jsonObject, matches []T, q listQuery, id func(T) portal.GUID, render func(T) jsonObject) reply {
	pg, more := page(matches, id, q.after, e.pageSize(q.top))
	out := append(jsonObject{{"@odata.context", baseURL(c.r) + context}}, extra...)
	if more {
		out = append(out, jsonMember{"@odata.nextLink", nextLink(c.r, id(pg[len(pg)-1]))})
	}
	value := make([]jsonObject, 0, len(pg))
	for _, x := range pg {
		value = append(value, render(x))
	}
	return okReply(append(out, jsonMember{"value", value}))
}

// baseURL is the scheme and host the client called, so that links in
// answers (@odata.context, @odata.nextLink) lead back to the emulator.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// nextLink is the request's own URL with $skiptoken replaced, the other
// options kept exactly as the client encoded them, as Graph's next links
// carry the query forward.
func nextLink(r *http.Request, after portal.GUID) string {
	var kept []string
	for part := range strings.SplitSeq(r.URL.RawQuery, "&") {
		name, _, _ := strings.Cut(part, "=")
		if n, err := url.QueryUnescape(name); part == "" || err == nil && strings.EqualFold(n, "$skiptoken") {
			continue
		}
		kept = append(kept, part)
	}
	kept = append(kept, "$skiptoken="+encodeSkipToken(after))
	return baseURL(r) + r.URL.EscapedPath() + "?" + strings.Join(kept, "&")
}

// condition is one comparison of a $filter: startswith(prop,'value'),
// prop eq 'value' or prop in ('value', …). prop is as written.
type condition struct {
	op     string // "startswith", "eq" or "in"
	prop   string
	value  string   // startswith and eq
	values []string // in
}

// parseFilter reads the subset of OData $filter the emulator serves: a
// disjunction (or) of conjunctions (and) of conditions, each
// startswith(property,'literal'), property eq 'literal' or property in
// ('literal', …); keywords without
// regard to case, string literals in single quotes, a single quote inside
// one written twice. Which properties and operators a call accepts is for the
// call to check.
func parseFilter(s string) ([][]condition, *queryError) {
	toks, qe := lexFilter(s)
	if qe != nil {
		return nil, qe
	}
	p := &filterParser{toks: toks, src: s}
	var groups [][]condition
	for {
		var group []condition
		for {
			cond, qe := p.condition()
			if qe != nil {
				return nil, qe
			}
			group = append(group, cond)
			if !p.keyword("and") {
				break
			}
		}
		groups = append(groups, group)
		if !p.keyword("or") {
			break
		}
	}
	if p.pos < len(p.toks) {
		return nil, p.syntaxError()
	}
	return groups, nil
}

// filterToken is a lexeme of $filter: kind is 'i' (identifier), 's'
// (string literal, text unquoted) or the punctuation character itself.
type filterToken struct {
	kind byte
	text string
}

func lexFilter(s string) ([]filterToken, *queryError) {
	var toks []filterToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')' || c == ',':
			toks = append(toks, filterToken{kind: c})
			i++
		case c == '\'':
			var b strings.Builder
			i++
			for {
				if i >= len(s) {
					return nil, badRequest("Invalid filter clause: unterminated string literal in '%s'.", truncate(s, 80))
				}
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			toks = append(toks, filterToken{kind: 's', text: b.String()})
		case isIdentByte(c):
			j := i
			for j < len(s) && isIdentByte(s[j]) {
				j++
			}
			toks = append(toks, filterToken{kind: 'i', text: s[i:j]})
			i = j
		default:
			return nil, badRequest("Invalid filter clause: syntax error at position %d in '%s'.", i, truncate(s, 80))
		}
	}
	return toks, nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '.' || c == '/' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

type filterParser struct {
	toks []filterToken
	pos  int
	src  string
}

func (p *filterParser) syntaxError() *queryError {
	return badRequest("Invalid filter clause: syntax error in '%s'.", truncate(p.src, 80))
}

// next returns the next token if it is of kind, and consumes it.
func (p *filterParser) next(kind byte) (string, bool) {
	if p.pos < len(p.toks) && p.toks[p.pos].kind == kind {
		p.pos++
		return p.toks[p.pos-1].text, true
	}
	return "", false
}

// keyword consumes the identifier word (any case) if it is next.
func (p *filterParser) keyword(word string) bool {
	if p.pos < len(p.toks) && p.toks[p.pos].kind == 'i' && strings.EqualFold(p.toks[p.pos].text, word) {
		p.pos++
		return true
	}
	return false
}

func (p *filterParser) condition() (condition, *queryError) {
	first, ok := p.next('i')
	if !ok {
		return condition{}, p.syntaxError()
	}
	if _, open := p.next('('); open {
		if !strings.EqualFold(first, "startswith") {
			return condition{}, unsupportedQuery("Unsupported Query.")
		}
		prop, ok1 := p.next('i')
		_, ok2 := p.next(',')
		value, ok3 := p.next('s')
		_, ok4 := p.next(')')
		if !ok1 || !ok2 || !ok3 || !ok4 {
			return condition{}, p.syntaxError()
		}
		return condition{op: "startswith", prop: prop, value: value}, nil
	}
	if p.keyword("in") {
		if _, ok := p.next('('); !ok {
			return condition{}, p.syntaxError()
		}
		cond := condition{op: "in", prop: first}
		for {
			value, ok := p.next('s')
			if !ok {
				return condition{}, p.syntaxError()
			}
			cond.values = append(cond.values, value)
			if _, more := p.next(','); !more {
				break
			}
		}
		if _, ok := p.next(')'); !ok {
			return condition{}, p.syntaxError()
		}
		return cond, nil
	}
	if !p.keyword("eq") {
		if p.pos < len(p.toks) && p.toks[p.pos].kind == 'i' {
			// ne, gt, …: valid OData the emulator does not serve.
			return condition{}, unsupportedQuery("Unsupported Query.")
		}
		return condition{}, p.syntaxError()
	}
	value, ok := p.next('s')
	if !ok {
		return condition{}, p.syntaxError()
	}
	return condition{op: "eq", prop: first, value: value}, nil
}

// searchClause is one "property:term" of $search.
type searchClause struct {
	prop string // canonical: displayName, userPrincipalName or mail
	term string
}

// searchProperties are the user properties $search accepts here.
var searchProperties = []string{"displayName", "userPrincipalName", "mail"}

// parseSearch reads $search as Graph takes it on directory objects:
// double-quoted "property:term" clauses joined by OR and AND (AND binds
// tighter), a backslash escaping a quote or backslash inside a clause.
// The result is a disjunction of conjunctions.
func parseSearch(s string) ([][]searchClause, *queryError) {
	var groups [][]searchClause
	var group []searchClause
	i := 0
	skipSpace := func() {
		for i < len(s) && s[i] == ' ' {
			i++
		}
	}
	for {
		skipSpace()
		if i >= len(s) || s[i] != '"' {
			return nil, badRequest("Syntax error: the $search clause at position %d of '%s' must be in double quotes, like \"displayName:ali\".", i, truncate(s, 80))
		}
		i++
		var b strings.Builder
		closed := false
		for i < len(s) {
			c := s[i]
			i++
			if c == '\\' && i < len(s) {
				b.WriteByte(s[i])
				i++
				continue
			}
			if c == '"' {
				closed = true
				break
			}
			b.WriteByte(c)
		}
		if !closed {
			return nil, badRequest("Syntax error: unterminated quote in $search '%s'.", truncate(s, 80))
		}
		prop, term, ok := strings.Cut(b.String(), ":")
		if !ok {
			return nil, badRequest("Syntax error: the $search clause \"%s\" needs a property, like \"displayName:ali\".", truncate(b.String(), 40))
		}
		canonical := ""
		for _, k := range searchProperties {
			if strings.EqualFold(strings.TrimSpace(prop), k) {
				canonical = k
			}
		}
		if canonical == "" {
			return nil, unsupportedQuery("Unsupported or invalid query filter clause specified for property '%s' of resource 'User'.", truncate(prop, 40))
		}
		if strings.TrimSpace(term) == "" {
			return nil, badRequest("Syntax error: the $search clause \"%s\" has no search term.", truncate(b.String(), 40))
		}
		group = append(group, searchClause{prop: canonical, term: term})
		skipSpace()
		if i >= len(s) {
			return append(groups, group), nil
		}
		word := s[i:]
		if end := strings.IndexByte(word, ' '); end >= 0 {
			word = word[:end]
		}
		switch {
		case strings.EqualFold(word, "OR"):
			groups, group = append(groups, group), nil
		case strings.EqualFold(word, "AND"):
		default:
			return nil, badRequest("Syntax error: expected OR or AND at position %d of $search '%s'.", i, truncate(s, 80))
		}
		i += len(word)
	}
}
