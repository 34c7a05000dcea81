package templates

import (
	"context"
	"io"
	"sync"

	"github.com/a-h/templ"
)

// The cells of an assignment row — StateBadge, ObjectID, Principal,
// ObjectCell, AppList and AppCell — and the list's rows themselves are
// written here by hand, as appends to a byte slice, rather than in templ:
// a list page is fifty rows of six nested components, and templ's cost per
// component call (a closure, a buffer from its pool, the context's
// children, an escaped copy of every string) was most of the time a page
// took to render (issue 13: 200 of a deep page's 480 µs at 200,000 rows).
// Their markup lives here only; the .templ files use them as components.
//
// Every value is escaped as templ escapes it (html.EscapeString, in text
// and in attributes alike) and URLs are sanitized by templ.URL:
// FuzzCellsMatchTempl holds this output to the templ version's, byte for
// byte, with any strings.

// StateBadge shows a verification state. Each state's class is spelled out.
func StateBadge(state, label string) templ.Component {
	return cell(func(b []byte) []byte { return appendStateBadge(b, state, label) })
}

// AppList lists calling-client apps, by name where known, each with its ID.
func AppList(apps []AppRef) templ.Component {
	return cell(func(b []byte) []byte { return appendApps(b, apps, true) })
}

// AppCell is AppList for a table's cell, where a named app shows its name
// alone (its ID on hover): a list page shows fifty of them.
func AppCell(apps []AppRef) templ.Component {
	return cell(func(b []byte) []byte { return appendApps(b, apps, false) })
}

// ObjectCell is a table's first cell: the principal, and the label the
// portal keeps for its assignment, beside the name (or the ID) on the
// first line when there is room (.object-cell).
func ObjectCell(objectID string, n NameView, label string) templ.Component {
	return cell(func(b []byte) []byte { return appendObjectCell(b, objectID, n, label) })
}

// ObjectID shows a GUID short, its first 8 characters and "…", with a
// button that copies it whole. The element holds the whole ID, clipped by
// the stylesheet (.oid), so that screen readers read it, a selection or
// find-in-page takes it whole and it shows on hover (title) and while the
// copy button has the keyboard focus. The button is app.js's, made beside
// each .oid[data-id]: it works only with JavaScript, and a list page
// would otherwise carry a hundred of them (a third of its bytes); without
// JavaScript the ID is there to select. href, if not "", makes the ID a
// link.
func ObjectID(id, href string) templ.Component {
	return cell(func(b []byte) []byte { return appendObjectID(b, id, href, false) })
}

// Principal names an assignment's principal: display name, then on one
// line the user name and phone number as Graph last gave them and the
// object ID, which is its identity (short, see ObjectID); and a flag when
// the directory no longer has it.
func Principal(objectID string, n NameView, link bool) templ.Component {
	return cell(func(b []byte) []byte { return appendPrincipal(b, objectID, n, link) })
}

// assignmentRows is the list's table rows.
func assignmentRows(rows []AssignmentRow) templ.Component {
	return cell(func(b []byte) []byte {
		for i := range rows {
			b = appendAssignmentRow(b, &rows[i])
		}
		return b
	})
}

func appendAssignmentRow(b []byte, r *AssignmentRow) []byte {
	b = append(b, `<tr data-testid="assignment-row" data-object-id="`...)
	b = appendEscaped(b, r.ObjectID)
	b = append(b, `"><td>`...)
	b = appendObjectCell(b, r.ObjectID, r.Name, r.Label)
	b = append(b, `</td><td data-label="Kind">`...)
	b = appendEscaped(b, r.KindLabel)
	b = append(b, `</td><td data-label="Verification">`...)
	b = appendStateBadge(b, r.State, r.StateLabel)
	b = append(b, `</td><td class="nowrap" data-label="Last change">`...)
	b = appendEscaped(b, r.UpdatedAt)
	b = append(b, `<br><span class="muted">`...)
	b = appendEscaped(b, r.UpdatedBy)
	b = append(b, `</span></td><td data-label="Last verified">`...)
	if r.VerifiedAt == "" {
		b = append(b, `<span class="muted">never</span>`...)
	} else {
		b = appendEscaped(b, r.VerifiedAt)
	}
	b = append(b, `</td><td data-label="Apps">`...)
	b = appendApps(b, r.Apps, false)
	b = append(b, `</td><td data-label="Expires">`...)
	if r.ExpiresIn != "" {
		b = append(b, `<span title="`...)
		b = appendEscaped(b, r.ExpiresAt)
		b = append(b, `" data-testid="expires-in">`...)
		b = appendEscaped(b, r.ExpiresIn)
		b = append(b, `</span>`...)
	}
	return append(b, `</td></tr>`...)
}

func appendStateBadge(b []byte, state, label string) []byte {
	switch state {
	case "in_sync":
		b = append(b, `<span class="badge badge-ok" data-testid="state">`...)
	case "drifted":
		b = append(b, `<span class="badge badge-warn" data-testid="state">`...)
	case "missing":
		b = append(b, `<span class="badge badge-error" data-testid="state">`...)
	default:
		b = append(b, `<span class="badge badge-muted" data-testid="state">`...)
	}
	b = appendEscaped(b, label)
	return append(b, `</span>`...)
}

func appendApps(b []byte, apps []AppRef, ids bool) []byte {
	if len(apps) == 0 {
		return append(b, `<span class="muted">—</span>`...)
	}
	b = append(b, `<ul class="apps" data-testid="apps">`...)
	for _, a := range apps {
		b = append(b, `<li>`...)
		if a.Name != "" {
			b = append(b, `<span class="app-name" title="`...)
			b = appendEscaped(b, a.ID)
			b = append(b, `">`...)
			b = appendEscaped(b, a.Name)
			b = append(b, `</span> `...)
			if ids {
				b = appendObjectID(b, a.ID, "", false)
			}
		} else {
			b = appendObjectID(b, a.ID, "", false)
		}
		if a.NoServicePrincipal {
			b = append(b, `<span class="badge badge-warn" title="The tenant has no service principal for this app, so its users cannot get a token through it." data-testid="no-service-principal">not in tenant</span> `...)
		}
		if a.NotAnAppID {
			b = append(b, `<span class="badge badge-warn" title="ACS holds this client ID, but it is not an application ID: no app can use it. Grant the assignment again with the right apps." data-testid="not-an-app-id">not an app ID</span>`...)
		}
		b = append(b, `</li>`...)
	}
	return append(b, `</ul>`...)
}

func appendObjectCell(b []byte, objectID string, n NameView, label string) []byte {
	b = append(b, `<div class="object-cell">`...)
	b = appendPrincipal(b, objectID, n, true)
	if label != "" {
		b = append(b, `<span class="row-label" data-testid="row-label">`...)
		b = appendEscaped(b, label)
		b = append(b, `</span>`...)
	}
	return append(b, `</div>`...)
}

// appendObjectID writes ObjectID(id, href), or with toAssignment the link
// to id's assignment page.
func appendObjectID(b []byte, id, href string, toAssignment bool) []byte {
	b = append(b, `<span class="oid" data-id="`...)
	b = appendEscaped(b, id)
	b = append(b, `">`...)
	if toAssignment {
		b = appendAssignmentHref(b, id)
	} else if href != "" {
		b = append(b, `<a href="`...)
		b = appendEscaped(b, string(templ.URL(href)))
		b = append(b, `">`...)
	}
	b = append(b, `<code title="`...)
	b = appendEscaped(b, id)
	b = append(b, `">`...)
	b = appendEscaped(b, id)
	b = append(b, `</code>`...)
	if toAssignment || href != "" {
		b = append(b, `</a>`...)
	}
	return append(b, `</span>`...)
}

// appendAssignmentHref opens a link to the assignment page of id: what
// templ.URL("/assignments/"+id) gives (a path, never sanitized away),
// without making that string.
func appendAssignmentHref(b []byte, id string) []byte {
	b = append(b, `<a href="/assignments/`...)
	b = appendEscaped(b, id)
	return append(b, `">`...)
}

func appendPrincipal(b []byte, objectID string, n NameView, link bool) []byte {
	b = append(b, `<span class="principal" data-testid="principal">`...)
	switch {
	case n.Name != "":
		if link {
			b = appendAssignmentHref(b, objectID)
		}
		b = append(b, `<strong data-testid="principal-name">`...)
		b = appendEscaped(b, n.Name)
		b = append(b, `</strong>`...)
		if link {
			b = append(b, `</a>`...)
		}
		b = append(b, ` <span class="principal-meta">`...)
		if n.UPN != "" && n.UPN != n.Name {
			b = append(b, `<span class="muted upn" title="`...)
			b = appendEscaped(b, n.UPN)
			b = append(b, `" data-testid="principal-upn">`...)
			b = appendEscaped(b, n.UPN)
			b = append(b, `</span> `...)
		}
		if n.Phone != "" {
			b = append(b, `<span class="phone" data-testid="principal-phone">`...)
			b = appendEscaped(b, n.Phone)
			b = append(b, `</span>`...)
		}
		b = appendObjectID(b, objectID, "", false)
		b = append(b, `</span> `...)
	case link:
		b = appendObjectID(b, objectID, "", true)
	default:
		b = appendObjectID(b, objectID, "", false)
	}
	if n.Deleted {
		b = append(b, `<span class="badge badge-error" title="Microsoft Graph no longer has this object: it was deleted from the directory." data-testid="principal-deleted">not in directory</span>`...)
	}
	return append(b, `</span>`...)
}

// appendEscaped appends s escaped as html.EscapeString escapes it (which
// is what templ does to text and attribute values), without an
// intermediate string. Most strings need nothing escaped: they are found
// by a table lookup a byte and appended whole.
func appendEscaped(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		if !htmlSpecial[s[i]] {
			continue
		}
		b = append(b, s[last:i]...)
		switch s[i] {
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '&':
			b = append(b, "&amp;"...)
		case '\'':
			b = append(b, "&#39;"...)
		case '"':
			b = append(b, "&#34;"...)
		}
		last = i + 1
	}
	return append(b, s[last:]...)
}

var htmlSpecial = [256]bool{'<': true, '>': true, '&': true, '\'': true, '"': true}

// cell is a component that appends its markup to a pooled slice and
// writes it in one call.
func cell(appendTo func([]byte) []byte) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := cellBuffers.Get().(*[]byte)
		b := appendTo((*p)[:0])
		_, err := w.Write(b)
		if cap(b) <= 1<<20 { // do not keep a rare huge one
			*p = b
			cellBuffers.Put(p)
		}
		return err
	})
}

var cellBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}
