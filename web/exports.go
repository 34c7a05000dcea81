package web

import (
	"bufio"
	"encoding/csv"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
)

// Exports stream: the use cases hand over a batch of rows at a time
// (access.ExportBatch), written and flushed to the client before the next.
// The assignments come from the list's index, each batch with its names,
// holding four bytes a row matched beside it; the audit log is read from
// the store ahead of the client, no database connection held between
// batches. Memory stays a few batches whatever the size, and a slow
// client keeps nothing from other requests.

// exportBatchWait is how long a client may take to accept one batch of an
// export (a few hundred kilobytes). Each batch moves the connection's write
// deadline on by this much, so a large export to a slow but steady client
// is not cut off by the server's WriteTimeout, while a stalled one is.
const exportBatchWait = time.Minute

// csvCell neutralises a cell a spreadsheet would run as a formula.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func csvRow(w *csv.Writer, cells ...string) error {
	for i, c := range cells {
		cells[i] = csvCell(c)
	}
	return w.Write(cells)
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// startCSV sets a download's headers and returns its writer. The writer
// buffers 64 KiB (csv.Writer takes a large enough bufio.Writer as its own),
// so a large file goes out in few writes, not one per 4 KiB.
func startCSV(w http.ResponseWriter, name string, now time.Time) *csv.Writer {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+"-"+now.UTC().Format("20060102-150405")+`.csv"`)
	return csv.NewWriter(bufio.NewWriterSize(w, 64<<10))
}

// csvExport is one export under way. Nothing is sent before its first
// batch is ready, so a failure before then (the database down) is still
// answered with an error page; after, the file can only be cut short.
type csvExport struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	name   string
	header []string
	cw     *csv.Writer
}

func (s *Server) newCSVExport(w http.ResponseWriter, r *http.Request, name string, header ...string) *csvExport {
	return &csvExport{s: s, w: w, r: r, name: name, header: header}
}

// batch writes rows with write, after the header if this is the first,
// and flushes them to the client.
func (e *csvExport) batch(write func(cw *csv.Writer) error) error {
	rc := http.NewResponseController(e.w)
	rc.SetWriteDeadline(time.Now().Add(exportBatchWait)) // not every writer has one
	if e.cw == nil {
		e.cw = startCSV(e.w, e.name, e.s.deps.Now())
		csvRow(e.cw, e.header...)
	}
	if err := write(e.cw); err != nil {
		return err
	}
	e.cw.Flush()
	if err := e.cw.Error(); err != nil {
		return err
	}
	rc.Flush()
	return nil
}

// end finishes the export after its last batch, or answers err.
func (e *csvExport) end(err error) {
	if e.cw == nil {
		if err != nil {
			e.s.renderError(e.w, e.r, err)
			return
		}
		err = e.batch(func(*csv.Writer) error { return nil }) // no rows: the header alone
	}
	e.s.endCSV(e.r, e.cw, err)
}

// handleAssignmentsCSV exports the tenant's inventory: the rows the list
// shows for the same query (search and filters, in the list's order), or
// all of it without one, in object order. Both walk the list's index (as
// the list answers, so does its export): reading the store instead cost
// a whole table read a download and, on SQLite, filled every pooled
// connection's page cache (+60 MB RSS at 200,000 rows). A tenant whose
// list nobody has opened for a while has its index built first, as its
// list page would (seconds, and the index's memory, at 200,000 rows).
// GET /assignments.csv
func (s *Server) handleAssignmentsCSV(w http.ResponseWriter, r *http.Request) {
	who := s.who(r)
	if !access.MayReadAudit(who.User) {
		s.renderError(w, r, portal.Errorf(portal.EFORBIDDEN, "Only admins and auditors may export."))
		return
	}
	lq, err := parseListQuery(r.URL.Query())
	// As of the readiness checks' last run (never run: unknown); the
	// columns come last, so the others keep their places.
	readiness, checked := s.deps.Access.LastTenantChecks(who)
	if err == nil && lq.notReady {
		err = lq.onlyNotReady(readiness, checked)
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	ex := s.newCSVExport(w, r, "assignments", "objectId", "kind", "clientIds", "label", "state", "verifiedAt", "createdAt", "createdBy",
		"updatedAt", "updatedBy", "version", "displayName", "userPrincipalName", "phoneNumber", "inDirectory", "namesFetchedAt", "clientNames",
		"ready", "readinessReasons")
	write := func(items []portal.InventoryItem, names, apps map[portal.GUID]portal.DirectoryName) error {
		return ex.batch(func(cw *csv.Writer) error {
			for _, it := range items {
				n := names[it.ObjectID]
				clientNames := make([]string, 0, len(it.ClientIDs))
				for _, id := range it.ClientIDs {
					clientNames = append(clientNames, exportAppName(s.appName(id), apps[id]))
				}
				ready, reasons := readiness.Ready(it)
				err := csvRow(cw, it.ObjectID.String(), it.Kind.String(), strings.Join(guidStrings(it.ClientIDs), ";"), it.Label,
					string(it.State), csvTime(it.VerifiedAt), csvTime(it.CreatedAt), actorName(it.CreatedBy),
					csvTime(it.UpdatedAt), actorName(it.UpdatedBy), strconv.FormatInt(it.Version, 10),
					n.DisplayName, n.UPN, n.Phone, inDirectory(n), csvTime(n.FetchedAt), strings.Join(clientNames, ";"),
					ready, strings.Join(reasons, "; "))
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	f := lq.filter
	if !lq.filtered() {
		f.Sort, f.Desc = portal.SortObjectID, false // all of it: in object order, whatever the list's
	}
	err = s.deps.Access.ExportList(r.Context(), who, f, func(p portal.InventoryPage) error {
		return write(p.Items, p.Names, p.Apps)
	})
	ex.end(err)
}

// handleAuditCSV exports the tenant's audit log: the rows the audit page
// shows for the same query (every row of each change: its intent and its
// outcome), or all of it without one. GET /audit.csv
func (s *Server) handleAuditCSV(w http.ResponseWriter, r *http.Request) {
	who := s.who(r)
	if !access.MayReadAudit(who.User) {
		s.renderError(w, r, portal.Errorf(portal.EFORBIDDEN, "Only admins and auditors may export."))
		return
	}
	aq, errs, err := parseAuditQuery(r.URL.Query())
	if err == nil {
		if len(s.resolveAuditQuery(r, &aq, errs)) > 0 {
			errs["target"] = "Object: several people match that name; pick one on the audit page."
		}
		if keys := slices.Sorted(maps.Keys(errs)); len(keys) > 0 {
			err = portal.Errorf(portal.EINVALID, "%s", errs[keys[0]])
		}
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	// Names come after the sealed row's columns, so those keep their
	// places for whoever reads exports; they are today's names, not part
	// of the sealed row. tenantSeq, added last, is the row's number among
	// the tenant's rows (1, 2, 3 … without gaps); seq is its place in the
	// portal's one chain, which skips other tenants' rows.
	ex := s.newCSVExport(w, r, "audit", "seq", "time", "actorTenant", "actorObject", "actorName", "clientIp", "object", "kind", "action", "phase",
		"intentSeq", "outcome", "before", "after", "justification", "acsStatus", "acsCode", "requestId", "msCv", "detail", "prevHash", "hash",
		"objectDisplayName", "objectUserPrincipalName", "tenantSeq")
	err = s.deps.Access.ExportAudit(r.Context(), who, aq.filter, func(events []portal.AuditEvent) error {
		var objects []portal.GUID
		for _, e := range events {
			if !e.ObjectID.IsZero() {
				objects = append(objects, e.ObjectID)
			}
		}
		names, err := s.deps.Access.CachedNames(r.Context(), who, portal.SpaceObject, distinct(objects))
		if err != nil {
			return err
		}
		return ex.batch(func(cw *csv.Writer) error {
			for _, e := range events {
				kind, object := "", ""
				if e.Kind != portal.KindUnknown {
					kind = e.Kind.String()
				}
				if !e.ObjectID.IsZero() {
					object = e.ObjectID.String()
				}
				actorObject := ""
				if !e.Actor.ObjectID.IsZero() {
					actorObject = e.Actor.ObjectID.String()
				}
				n := names[e.ObjectID]
				err := csvRow(cw, strconv.FormatInt(e.Seq, 10), e.Time.UTC().Format(portal.AuditTimeFormat), e.Actor.TenantID.String(),
					actorObject, e.Actor.Name, e.ClientIP, object, kind, string(e.Action), string(e.Phase),
					strconv.FormatInt(e.IntentSeq, 10), string(e.Outcome), auditStateText(e.Before), auditStateText(e.After),
					e.Justification, strconv.Itoa(e.ACSStatus), e.ACSCode, e.RequestID, e.CorrelationVector, e.Detail, e.PrevHash, e.Hash,
					n.DisplayName, n.UPN, strconv.FormatInt(e.TenantSeq, 10))
				if err != nil {
					return err
				}
			}
			return nil
		})
	})
	ex.end(err)
}

// distinct returns ids without repeats, in their first order.
func distinct(ids []portal.GUID) []portal.GUID {
	seen := make(map[portal.GUID]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// inDirectory says in an export whether Graph had the object when last
// asked: yes, no (deleted), or "" (never asked).
func inDirectory(n portal.DirectoryName) string {
	switch {
	case !n.Known():
		return ""
	case n.Found:
		return "yes"
	}
	return "no"
}

// exportAppName is an app's name for an export: the operator's, else its
// service principal's, "(no service principal)" when the tenant has none.
func exportAppName(known string, n portal.DirectoryName) string {
	switch {
	case known != "":
		return known
	case n.Known() && !n.Found:
		return "(no service principal)"
	}
	return n.DisplayName
}

// endCSV flushes an export. Headers are gone by now, so a failure midway
// can only be logged and the file cut short with a last line saying so.
func (s *Server) endCSV(r *http.Request, cw *csv.Writer, err error) {
	if err != nil {
		s.log.ErrorContext(r.Context(), "export failed", "request_id", requestIDFrom(r.Context()), "err", err)
		cw.Write([]string{"# export incomplete: the database failed; request " + requestIDFrom(r.Context())})
	}
	cw.Flush()
}
