package web

import (
	"strconv"
	"strings"
	"time"

	"github.com/teamsphone/portal/internal/pagebuf"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/templates"
)

// Mapping from domain values to the templates' view models.

// displayTime is how pages show a time: UTC, to the minute.
func displayTime(t time.Time) string {
	var b [20]byte
	return string(appendDisplayTime(b[:0], t))
}

// appendDisplayTime appends displayTime(t) to b.
func appendDisplayTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return b
	}
	// Written out rather than t.Format: a list page shows a hundred and
	// fifty of these, and Format's layout parsing was most of their cost.
	// TestDisplayTime holds it to Format("2006-01-02 15:04 UTC").
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, _ := t.Clock()
	if y < 0 || y > 9999 {
		return t.AppendFormat(b, "2006-01-02 15:04 UTC")
	}
	two := func(v int) { b = append(b, byte('0'+v/10), byte('0'+v%10)) }
	two(y / 100)
	two(y % 100)
	b = append(b, '-')
	two(int(mo))
	b = append(b, '-')
	two(d)
	b = append(b, ' ')
	two(h)
	b = append(b, ':')
	two(mi)
	return append(b, " UTC"...)
}

// viewText holds the short strings a page of rows shows — object and app
// IDs, times — and the rows' app references in buffers of the page's own
// (see pagebuf): a list page's fifty rows made some three hundred small
// allocations of them. A nil *viewText makes each on its own (a page of
// one row).
type viewText struct {
	text pagebuf.Text
	apps pagebuf.Slots[templates.AppRef]
}

// newViewText is room for the rows of items: each an object ID, four
// times and its apps' IDs.
func newViewText(items []portal.InventoryItem) *viewText {
	apps := 0
	for _, it := range items {
		apps += len(it.ClientIDs)
	}
	return &viewText{text: pagebuf.NewText(len(items)*(36+4*20) + apps*36), apps: pagebuf.NewSlots[templates.AppRef](apps)}
}

// appSlots is n app references to fill in (see pagebuf.Slots.Take).
func (t *viewText) appSlots(n int) []templates.AppRef {
	if t == nil {
		return make([]templates.AppRef, n)
	}
	return t.apps.Take(n)
}

func (t *viewText) guid(g portal.GUID) string {
	if t == nil {
		return g.String()
	}
	return t.text.Write(g.AppendString)
}

func (t *viewText) time(tm time.Time) string {
	if t == nil {
		return displayTime(tm)
	}
	return t.text.Write(func(b []byte) []byte { return appendDisplayTime(b, tm) })
}

func actorName(a portal.Actor) string {
	if a.Name != "" {
		return a.Name
	}
	if a.ObjectID.IsZero() {
		return "System"
	}
	return a.ObjectID.String()
}

// appRefs shows app IDs with the operator's name for a known app, else the
// name of its service principal in the tenant (nb, may be nil).
func (s *Server) appRefs(nb *nameBook, ids []portal.GUID) []templates.AppRef {
	return s.appRefsIn(nb, ids, nil)
}

// appRefsIn is appRefs with its strings and slice in t (see viewText).
func (s *Server) appRefsIn(nb *nameBook, ids []portal.GUID, t *viewText) []templates.AppRef {
	out := t.appSlots(len(ids))
	for i, id := range ids {
		ref := templates.AppRef{ID: t.guid(id), Name: s.appName(id)}
		graphName, none := nb.app(id)
		if ref.Name == "" {
			ref.Name = graphName
		}
		ref.NoServicePrincipal = none
		out[i] = ref
	}
	return out
}

func (s *Server) appName(id portal.GUID) string {
	for _, a := range s.deps.KnownApps {
		if a.ID == id {
			return a.Name
		}
	}
	return ""
}

// rowView shows an inventory row, named from nb (may be nil).
func (s *Server) rowView(nb *nameBook, it portal.InventoryItem) templates.AssignmentRow {
	return s.rowViewIn(nb, it, nil)
}

// rowViewIn is rowView with its strings in t (see viewText).
func (s *Server) rowViewIn(nb *nameBook, it portal.InventoryItem, t *viewText) templates.AssignmentRow {
	state := it.State
	if state == "" {
		state = portal.StateUnverified
	}
	return templates.AssignmentRow{
		ObjectID:   t.guid(it.ObjectID),
		Name:       nb.name(it.ObjectID),
		Label:      it.Label,
		Kind:       it.Kind.String(),
		KindLabel:  it.Kind.Label(),
		Apps:       s.appRefsIn(nb, it.ClientIDs, t),
		State:      string(state),
		StateLabel: state.Label(),
		UpdatedAt:  t.time(it.UpdatedAt),
		UpdatedBy:  actorName(it.UpdatedBy),
		CreatedAt:  t.time(it.CreatedAt),
		CreatedBy:  actorName(it.CreatedBy),
		VerifiedAt: t.time(it.VerifiedAt),
		ExpiresAt:  t.time(it.ExpiresAt),
		ExpiresIn:  relativeTime(s.deps.Now(), it.ExpiresAt),
		Version:    it.Version,
	}
}

// relativeTime says how far t is from now in words ("in 3 days", "ended 2
// hours ago"), to the minute; "" for the zero time.
func relativeTime(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := t.Sub(now)
	past := d < 0
	if past {
		d = -d
	}
	var n int
	var unit string
	switch {
	case d < time.Minute:
		if past {
			return "ended just now"
		}
		return "in under a minute"
	case d < time.Hour:
		n, unit = int(d/time.Minute), "minute"
	case d < 48*time.Hour:
		n, unit = int(d/time.Hour), "hour"
	default:
		n, unit = int(d/(24*time.Hour)), "day"
	}
	if n != 1 {
		unit += "s"
	}
	if past {
		return "ended " + strconv.Itoa(n) + " " + unit + " ago"
	}
	return "in " + strconv.Itoa(n) + " " + unit
}

func (s *Server) acsView(nb *nameBook, a portal.Assignment) *templates.ACSView {
	v := &templates.ACSView{KindLabel: a.Kind.Label(), Spelling: a.Spelling, Apps: s.appRefs(nb, a.ClientIDs)}
	for _, odd := range a.OddClientIDs {
		v.Apps = append(v.Apps, templates.AppRef{ID: odd, NotAnAppID: true})
	}
	return v
}

// appOptions offers the known apps as checkboxes, ticking the chosen ones;
// the chosen IDs that are not known apps come back as the text area's lines.
func (s *Server) appOptions(chosen []string) ([]templates.Option, string) {
	picked := map[portal.GUID]bool{}
	var other []string
	for _, c := range chosen {
		id, err := portal.ParseGUID(strings.TrimSpace(c))
		if err != nil {
			other = append(other, c)
			continue
		}
		if s.appName(id) == "" {
			other = append(other, id.String())
			continue
		}
		picked[id] = true
	}
	opts := make([]templates.Option, 0, len(s.deps.KnownApps))
	for _, a := range s.deps.KnownApps {
		opts = append(opts, templates.Option{Value: a.ID.String(), Label: a.Name, Selected: picked[a.ID], Count: -1})
	}
	return opts, strings.Join(other, "\n")
}

func guidStrings(ids []portal.GUID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}

func auditStateText(st *portal.AuditState) string {
	if st == nil {
		return ""
	}
	text := st.Kind
	if len(st.ClientIDs) > 0 {
		text += " [" + strings.Join(st.ClientIDs, ", ") + "]"
	}
	if st.Label != "" {
		text += " “" + st.Label + "”"
	}
	return text
}

// navigation lists the sections u may open.
func navigation(u *portal.User) []templates.NavItem {
	if u == nil || u.PrimaryRole() == "" {
		return nil
	}
	nav := []templates.NavItem{{Key: "home", Label: "Home", Href: "/"}, {Key: "assignments", Label: "Assignments", Href: "/assignments"}}
	if u.HasAny(portal.RoleAdmin, portal.RoleHelpdesk) {
		nav = append(nav, templates.NavItem{Key: "grant", Label: "Grant access", Href: "/assignments/new"},
			templates.NavItem{Key: "bulk", Label: "Bulk changes", Href: "/bulk"})
	}
	nav = append(nav, templates.NavItem{Key: "lookup", Label: "Look up", Href: "/lookup"},
		templates.NavItem{Key: "drift", Label: "Drift report", Href: "/drift"},
		templates.NavItem{Key: "expiries", Label: "Expiring", Href: "/expiries"})
	if u.HasAny(portal.RoleAdmin, portal.RoleAuditor) {
		nav = append(nav, templates.NavItem{Key: "readiness", Label: "Will it work?", Href: "/readiness"},
			templates.NavItem{Key: "audit", Label: "Audit log", Href: "/audit"})
	}
	return nav
}
