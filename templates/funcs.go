package templates

import (
	"context"
	"sort"

	"github.com/a-h/templ"
)

// sortedKeys lists a form's field errors in a stable order.
func sortedKeys(m FieldErrors) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// inParens is " (s)", or "" for an empty s.
func inParens(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// outOfBand marks an element of an htmx answer to replace the one with its
// id elsewhere on the page (hx-swap-oob), with the request's nonce, which
// hx-csp requires of every element with hx-* attributes.
func outOfBand(ctx context.Context) templ.Attributes {
	return templ.Attributes{"hx-swap-oob": "true", "hx-nonce": templ.GetNonce(ctx)}
}
