package web

import (
	"strconv"
	"strings"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/templates"
)

// One way to show a change, wherever the portal shows one: what it did to
// an assignment, from the before and after its audit rows record
// (portal.CompareStates), with names first — apps added and removed by
// name, the end date and label before → after — as a diff in the audit
// log and an assignment's history, and in sentences after saving.
// Actions and outcomes read in words (their Label); exports keep codes.

// historyRows shows a page of audit rows read one row per change
// (portal.AuditFilter.OnePerChange): each change is one row, its outcome,
// with its intent (page.Intents) one click away; nb (may be nil) names
// their objects and apps.
func (s *Server) historyRows(nb *nameBook, page portal.AuditPage) []templates.HistoryRow {
	out := make([]templates.HistoryRow, 0, len(page.Events))
	for _, e := range page.Events {
		h := templates.HistoryRow{
			Number: e.TenantSeq, Time: e.Time.UTC().Format("2006-01-02 15:04:05"),
			Actor: actorName(e.Actor), Action: string(e.Action), ActionLabel: e.Action.Label(),
			Outcome: string(e.Outcome), OutcomeLabel: e.Outcome.Label(), OutcomeBadge: outcomeBadge(e.Outcome),
			Change: s.changeView(nb, e), Justification: e.Justification, Detail: e.Detail, ClientIP: e.ClientIP,
		}
		if !e.Actor.ObjectID.IsZero() {
			h.ActorID = e.Actor.ObjectID.String()
		}
		if !e.ObjectID.IsZero() {
			h.ObjectID, h.Target = e.ObjectID.String(), nb.name(e.ObjectID)
		}
		switch e.Phase {
		case portal.PhaseIntent:
			// No outcome cites it (yet): the change is in flight, or an
			// instance stopped before recording its end.
			h.Outcome, h.OutcomeBadge = "intent", "muted"
			h.Steps = []templates.HistoryStep{step(e, "Intent", "Written before ACS was called; no outcome is recorded yet: the change is in flight, or its end was never recorded and the portal settles it with ACS.")}
		case portal.PhaseOutcome:
			if intent, ok := page.Intents[e.IntentSeq]; ok {
				h.Steps = append(h.Steps, step(intent, "Intent", "Written before ACS was called."))
			}
			h.Steps = append(h.Steps, step(e, "Outcome", ""))
		default:
			h.Steps = []templates.HistoryStep{step(e, "Event", "")}
		}
		out = append(out, h)
	}
	return out
}

// step shows one audit row behind a history row.
func step(e portal.AuditEvent, phase, note string) templates.HistoryStep {
	return templates.HistoryStep{Number: e.TenantSeq, Phase: phase, Time: e.Time.UTC().Format("2006-01-02 15:04:05.000"), Note: note,
		ACSStatus: e.ACSStatus, RequestID: e.RequestID, CV: e.CorrelationVector}
}

func outcomeBadge(o portal.AuditOutcome) string {
	switch o {
	case portal.OutcomeSuccess:
		return "ok"
	case portal.OutcomeNoChange:
		return "muted"
	case portal.OutcomeConflict, portal.OutcomeUnknown:
		return "warn"
	}
	return "error"
}

// auditNames is the name request for audit rows: their objects (resource
// accounts as such) and the apps their states name.
func auditNames(events []portal.AuditEvent) access.NameRequest {
	var req access.NameRequest
	for _, e := range events {
		if !e.ObjectID.IsZero() {
			req.Objects = append(req.Objects, e.ObjectID)
			if e.Kind == portal.KindResourceAccount {
				req.ResourceAccounts = append(req.ResourceAccounts, e.ObjectID)
			}
		}
		for _, st := range []*portal.AuditState{e.Before, e.After} {
			if st != nil {
				req.Apps = append(req.Apps, parseGUIDs(st.ClientIDs)...)
			}
		}
	}
	req.Objects, req.Apps = distinct(req.Objects), distinct(req.Apps)
	return req
}

// parseGUIDs returns the IDs among ids that are GUIDs.
func parseGUIDs(ids []string) []portal.GUID {
	out := make([]portal.GUID, 0, len(ids))
	for _, v := range ids {
		if id, err := portal.ParseGUID(v); err == nil {
			out = append(out, id)
		}
	}
	return out
}

// changeView shows what e did (nil: nothing to show). A verification
// compares instead of changing: its "after" is what ACS held, when that
// differed from the inventory.
func (s *Server) changeView(nb *nameBook, e portal.AuditEvent) *templates.ChangeView {
	v := &templates.ChangeView{}
	switch {
	case e.Before == nil && e.After == nil:
		return nil
	case e.Action == portal.ActionVerify || e.Action == portal.ActionReconcile:
		if e.After == nil {
			return nil // in sync, or missing: the detail says which
		}
		v.Lead = "ACS holds, unlike the inventory:"
	}
	v.New = e.Before == nil
	c := portal.CompareStates(e.Before, e.After)
	v.AppsAdded, v.AppsRemoved = s.appTexts(nb, c.AppsAdded), s.appTexts(nb, c.AppsRemoved)
	if c.Kind.Changed() {
		v.Fields = append(v.Fields, templates.FieldChangeView{Name: "Kind", From: kindText(c.Kind.From), To: kindText(c.Kind.To)})
	}
	if e.After != nil { // an assignment that is gone has no fields to compare
		if c.ExpiresAt.Changed() {
			v.Fields = append(v.Fields, templates.FieldChangeView{Name: "End date", From: auditTime(c.ExpiresAt.From), To: auditTime(c.ExpiresAt.To)})
		}
		if c.Label.Changed() {
			v.Fields = append(v.Fields, templates.FieldChangeView{Name: "Label", From: quoted(c.Label.From), To: quoted(c.Label.To)})
		}
	}
	if len(v.AppsAdded) == 0 && len(v.AppsRemoved) == 0 && len(v.Fields) == 0 {
		return nil
	}
	return v
}

// appTexts names the apps of an audit state's client IDs.
func (s *Server) appTexts(nb *nameBook, ids []string) []templates.AppRef {
	out := make([]templates.AppRef, 0, len(ids))
	for _, v := range ids {
		id, err := portal.ParseGUID(v)
		if err != nil {
			out = append(out, templates.AppRef{ID: v, NotAnAppID: true})
			continue
		}
		out = append(out, s.appRefs(nb, []portal.GUID{id})...)
	}
	return out
}

func kindText(k string) string {
	if kind, err := portal.ParsePrincipalKind(k); err == nil {
		return kind.Label()
	}
	return k
}

// auditTime shows a time as an audit state holds it (AuditTimeFormat) as
// pages show times; "" for none.
func auditTime(v string) string {
	t, err := time.Parse(portal.AuditTimeFormat, v)
	if err != nil {
		return v
	}
	return displayTime(t)
}

func quoted(v string) string {
	if v == "" {
		return ""
	}
	return "“" + v + "”"
}

// itemName is how a sentence names an assignment: its principal's name
// from nb, else its kind, object ID and label.
func (nb *nameBook) itemName(it portal.InventoryItem) string {
	if n := nb.name(it.ObjectID); n.Name != "" {
		return n.Name
	}
	return describe(it)
}

// changeSentences say what c did to the assignment named name, one
// sentence a field, the name in the first: "End date for Ada Lovelace
// changed from … to …. Label changed from “a” to “b”."
func (s *Server) changeSentences(nb *nameBook, name string, c portal.StateChange) string {
	var out []string
	subject := func(what string) string {
		if len(out) == 0 {
			return what + " for " + name
		}
		return what
	}
	if c.AppsChanged() {
		var parts []string
		if len(c.AppsAdded) > 0 {
			parts = append(parts, "added "+appNames(s.appTexts(nb, c.AppsAdded)))
		}
		if len(c.AppsRemoved) > 0 {
			parts = append(parts, "removed "+appNames(s.appTexts(nb, c.AppsRemoved)))
		}
		if len(parts) > 0 {
			out = append(out, subject("Calling-client apps")+": "+strings.Join(parts, "; ")+".")
		}
	}
	for _, f := range []struct {
		name string
		c    portal.FieldChange
		show func(string) string
	}{{"End date", c.ExpiresAt, auditTime}, {"Label", c.Label, quoted}} {
		from, to := f.show(f.c.From), f.show(f.c.To)
		switch {
		case !f.c.Changed():
		case from == "":
			out = append(out, subject(f.name)+" set to "+to+".")
		case to == "":
			out = append(out, subject(f.name)+" removed (it was "+from+").")
		default:
			out = append(out, subject(f.name)+" changed from "+from+" to "+to+".")
		}
	}
	return strings.Join(out, " ")
}

// appNames lists apps in a sentence, by name where known.
func appNames(apps []templates.AppRef) string {
	names := make([]string, len(apps))
	for i, a := range apps {
		names[i] = a.Name
		if a.Name == "" {
			names[i] = a.ID
		}
	}
	switch len(names) {
	case 1:
		return names[0]
	case 2:
		return names[0] + " and " + names[1]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// editMessage says what an edit did, the assignment's name first.
func (s *Server) editMessage(nb *nameBook, res access.Result) string {
	name := nb.itemName(res.Item)
	if res.Outcome == portal.OutcomeNoChange && res.Change.Empty() {
		return "Nothing to change for " + name + ": " + res.Detail
	}
	msg := s.changeSentences(nb, name, res.Change)
	if msg == "" {
		msg = "Saved: " + name + " may use " + strconv.Itoa(len(res.Item.ClientIDs)) + " calling-client app(s)."
	}
	if res.Detail != "" {
		msg += " " + res.Detail
	}
	return msg
}
