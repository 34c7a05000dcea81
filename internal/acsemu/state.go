package acsemu

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// Stored is one assignment as the emulator holds it.
type Stored struct {
	// Host names the emulated ACS resource: the request's Host, lower-cased,
	// without its port (so an emulator restarted on another port keeps its
	// state).
	Host     string      `json:"host"`
	TenantID portal.GUID `json:"tenantId"`
	ObjectID portal.GUID `json:"objectId"`
	// PrincipalType is exactly as it was sent ("user", "User",
	// "teamsResourceAccount", …) and is echoed back in that spelling.
	PrincipalType string `json:"principalType"`
	// ClientIDs are canonical lower-case GUID strings in the order sent;
	// nil for a resource account.
	ClientIDs []string  `json:"clientIds,omitempty"`
	Updated   time.Time `json:"updated"`
}

// stateKey identifies an assignment: ACS resource, tenant, object.
type stateKey struct {
	host           string
	tenant, object portal.GUID
}

// stateFile is the on-disk form of the state.
type stateFile struct {
	Assignments []Stored `json:"assignments"`
}

// resourceHost reduces a Host header to the name of the emulated resource:
// lower case, port dropped (brackets of an IPv6 literal kept).
func resourceHost(host string) string {
	return strings.ToLower(hostWithoutPort(host))
}

// Seed creates or replaces an assignment directly, without authentication and
// without appearing in the request log: for tests, and for assignments made
// outside the portal (adoption and drift). s.Host is normalised like a
// request's Host; s.Updated defaults to now. The same rules as a PUT apply
// (a known principalType, GUID client IDs, at least one for a user and none
// for a resource account); a broken rule or a failed state write is an error
// and changes nothing.
func (e *Emulator) Seed(s Stored) error {
	s.Host = resourceHost(s.Host)
	if s.Host == "" {
		return errors.New("acsemu: seed: the host is missing")
	}
	if s.TenantID.IsZero() || s.ObjectID.IsZero() {
		return errors.New("acsemu: seed: the tenant or object ID is missing")
	}
	kind, err := portal.ParsePrincipalKind(s.PrincipalType)
	if err != nil {
		return fmt.Errorf("acsemu: seed: %s", portal.ErrorMessage(err))
	}
	var ids []string
	for _, id := range s.ClientIDs {
		g, err := parseStrictGUID(id)
		if err != nil {
			return fmt.Errorf("acsemu: seed: client ID %q is not a GUID", truncate(id, 40))
		}
		ids = append(ids, g.String())
	}
	s.ClientIDs = ids
	if kind == portal.KindUser && len(ids) == 0 && !e.usersWithoutClients {
		return errors.New("acsemu: seed: a user needs at least one client ID")
	}
	if kind == portal.KindResourceAccount && len(ids) != 0 {
		return errors.New("acsemu: seed: a resource account takes no client IDs")
	}
	if s.Updated.IsZero() {
		s.Updated = e.now().UTC()
	}
	_, err = e.store(s)
	return err
}

// Lookup returns the assignment held for (host, tenant, object), host being
// normalised like a request's Host, and whether there is one.
func (e *Emulator) Lookup(host string, tenant, object portal.GUID) (Stored, bool) {
	return e.lookup(stateKey{host: resourceHost(host), tenant: tenant, object: object})
}

// Remove deletes the assignment held for (host, tenant, object) directly,
// without authentication or logging as a request, and reports whether it
// removed one: false when there was none, and false too (with the failure
// logged) when the change could not be saved, in which case the assignment
// stays.
func (e *Emulator) Remove(host string, tenant, object portal.GUID) bool {
	existed, err := e.delete(stateKey{host: resourceHost(host), tenant: tenant, object: object})
	if err != nil {
		e.logError("acsemu: saving state", err)
		return false
	}
	return existed
}

// All returns a copy of every assignment, sorted by host, tenant and object.
func (e *Emulator) All() []Stored {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.allLocked()
}

func (e *Emulator) allLocked() []Stored {
	out := make([]Stored, 0, len(e.state))
	for _, s := range e.state {
		out = append(out, cloneStored(s))
	}
	slices.SortFunc(out, func(a, b Stored) int {
		if c := strings.Compare(a.Host, b.Host); c != 0 {
			return c
		}
		if c := bytes.Compare(a.TenantID[:], b.TenantID[:]); c != 0 {
			return c
		}
		return bytes.Compare(a.ObjectID[:], b.ObjectID[:])
	})
	return out
}

func cloneStored(s Stored) Stored {
	s.ClientIDs = slices.Clone(s.ClientIDs)
	return s
}

func (e *Emulator) lookup(key stateKey) (Stored, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.state[key]
	return cloneStored(s), ok
}

// store creates or replaces an assignment and journals the change,
// reporting whether one existed. If journaling fails the change is undone, so
// memory never claims what a restart would forget.
func (e *Emulator) store(s Stored) (existed bool, err error) {
	key := stateKey{host: s.Host, tenant: s.TenantID, object: s.ObjectID}
	s = cloneStored(s)
	e.mu.Lock()
	defer e.mu.Unlock()
	old, existed := e.state[key]
	e.state[key] = s
	if err := e.journalLocked(journalRecord{Op: opPut, Assignment: &s}); err != nil {
		if existed {
			e.state[key] = old
		} else {
			delete(e.state, key)
		}
		return false, err
	}
	return existed, nil
}

// delete removes an assignment and journals the change, reporting whether
// one existed. If journaling fails the assignment is put back.
func (e *Emulator) delete(key stateKey) (existed bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	old, existed := e.state[key]
	if !existed {
		return false, nil
	}
	delete(e.state, key)
	if err := e.journalLocked(journalRecord{Op: opDelete, Host: key.host, TenantID: key.tenant, ObjectID: key.object}); err != nil {
		e.state[key] = old
		return true, err
	}
	return true, nil
}

// The state on disk is a snapshot (StatePath, a stateFile) and a journal
// beside it (StatePath + ".journal") of the changes made since, one JSON
// journalRecord a line. Rewriting the whole snapshot on every change costs
// O(n) and an fsync while every other writer waits on e.mu; appending one
// line costs neither. The journal is folded into the snapshot when the
// emulator starts and when it is closed, so it only ever holds one run's
// changes.

// Journal operations.
const (
	opPut    = "put"
	opDelete = "delete"
)

// journalRecord is one line of the journal: a put carries the whole
// assignment, a delete only its key.
type journalRecord struct {
	Op         string      `json:"op"`
	Assignment *Stored     `json:"assignment,omitempty"`
	Host       string      `json:"host,omitempty"`
	TenantID   portal.GUID `json:"tenantId,omitzero"`
	ObjectID   portal.GUID `json:"objectId,omitzero"`
}

func (e *Emulator) journalPath() string { return e.statePath + ".journal" }

// journalLocked appends rec to the journal in a single write. It runs under
// e.mu so that lines land in the order the changes were made.
//
// There is deliberately no fsync: the journal is there to survive the
// process being killed (SIGKILL, a crash, ^C in the middle of a bulk apply),
// and the kernel's page cache keeps a completed write for that. A machine
// crash may lose the last changes, which is acceptable for an emulator and
// is what keeps a write at a few microseconds.
func (e *Emulator) journalLocked(rec journalRecord) (err error) {
	if e.statePath == "" {
		return nil
	}
	if e.journalErr != nil {
		return e.journalErr
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	f, size := e.journal, e.journalSize
	if f == nil {
		// Close has compacted the state and closed the journal, but requests
		// still in flight (Close runs as the server starts shutting down) may
		// change it: open the journal for this one line, so that nothing is
		// lost and nothing stays open. The next start replays it.
		f, err = os.OpenFile(e.journalPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}()
		st, serr := f.Stat()
		if serr != nil {
			return serr
		}
		size = st.Size()
	}
	n, err := f.Write(line)
	if err != nil {
		if n > 0 {
			// Part of the line may be in the file. Cut it off, or the next
			// line would be glued to it and the journal would no longer
			// load. If that fails too, refuse every later change rather than
			// write after a broken line.
			if terr := f.Truncate(size); terr != nil {
				e.journalErr = fmt.Errorf("acsemu: the journal %s ends in a partial line that could not be removed (%v); no further changes are accepted", e.journalPath(), terr)
			}
		}
		return err
	}
	if f == e.journal {
		e.journalSize += int64(n)
	}
	return nil
}

// load reads the snapshot (a missing file is an empty state), replays the
// journal over it (a missing journal holds nothing), folds the two into a
// fresh snapshot if the journal held anything, and opens the journal for the
// changes to come. An unreadable or invalid file is an error: a corrupt state
// is reported, never silently replaced by an empty one.
func (e *Emulator) load() error {
	if e.statePath == "" {
		return nil
	}
	data, err := os.ReadFile(e.statePath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("acsemu: reading state: %w", err)
	default:
		var f stateFile
		if err := json.Unmarshal(data, &f); err != nil {
			return fmt.Errorf("acsemu: reading state %s: %w", e.statePath, err)
		}
		for i, s := range f.Assignments {
			if err := checkStored(&s); err != nil {
				return fmt.Errorf("acsemu: reading state %s: assignment %d: %w", e.statePath, i, err)
			}
			e.state[stateKey{host: s.Host, tenant: s.TenantID, object: s.ObjectID}] = s
		}
	}
	replayed, err := e.replayJournal()
	if err != nil {
		return err
	}
	journal, err := os.OpenFile(e.journalPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("acsemu: opening the journal: %w", err)
	}
	e.journal = journal
	if replayed {
		e.mu.Lock()
		err = e.compactLocked()
		e.mu.Unlock()
		if err != nil {
			_ = journal.Close()
			return fmt.Errorf("acsemu: compacting state: %w", err)
		}
	}
	return nil
}

// replayJournal applies the journal's lines to e.state in order and reports
// whether there were any. A final line without its newline that does not
// parse is the remains of a write cut short by the process dying, and is
// ignored (the client never had an answer); any other bad line is an error.
func (e *Emulator) replayJournal() (replayed bool, err error) {
	data, err := os.ReadFile(e.journalPath())
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("acsemu: reading journal: %w", err)
	}
	for n := 1; len(data) > 0; n++ {
		line, rest, complete := bytes.Cut(data, []byte{'\n'})
		data = rest
		var rec journalRecord
		if err := json.Unmarshal(line, &rec); err != nil {
			if !complete {
				e.logError("acsemu: ignoring the torn last line of the journal", fmt.Errorf("%s: line %d: %w", e.journalPath(), n, err))
				break
			}
			return false, fmt.Errorf("acsemu: reading journal %s: line %d: %w", e.journalPath(), n, err)
		}
		if err := e.apply(rec); err != nil {
			return false, fmt.Errorf("acsemu: reading journal %s: line %d: %w", e.journalPath(), n, err)
		}
		replayed = true
	}
	return replayed, nil
}

// apply makes the change a journal line records, checking it as load checks
// the snapshot.
func (e *Emulator) apply(rec journalRecord) error {
	switch rec.Op {
	case opPut:
		if rec.Assignment == nil {
			return errors.New("a put without its assignment")
		}
		s := *rec.Assignment
		if err := checkStored(&s); err != nil {
			return err
		}
		e.state[stateKey{host: s.Host, tenant: s.TenantID, object: s.ObjectID}] = s
	case opDelete:
		host := resourceHost(rec.Host)
		if host == "" || rec.TenantID.IsZero() || rec.ObjectID.IsZero() {
			return errors.New("the delete is incomplete")
		}
		delete(e.state, stateKey{host: host, tenant: rec.TenantID, object: rec.ObjectID})
	default:
		return fmt.Errorf("unknown op %q", truncate(rec.Op, 20))
	}
	return nil
}

// checkStored checks an assignment read from disk and normalises its host.
func checkStored(s *Stored) error {
	s.Host = resourceHost(s.Host)
	if s.Host == "" || s.TenantID.IsZero() || s.ObjectID.IsZero() {
		return errors.New("the host, tenant or object ID is missing")
	}
	if _, err := portal.ParsePrincipalKind(s.PrincipalType); err != nil {
		return errors.New(portal.ErrorMessage(err))
	}
	return nil
}

// compactLocked writes the whole state as a fresh snapshot and empties the
// journal. The snapshot is written before the journal is emptied: if the
// process dies in between, the next start replays the journal over a
// snapshot that already holds it, which changes nothing, since every line
// sets or removes one assignment outright and nothing was written after it.
func (e *Emulator) compactLocked() error {
	if e.statePath == "" {
		return nil
	}
	if err := e.writeSnapshotLocked(); err != nil {
		return err
	}
	var err error
	if e.journal != nil {
		err = e.journal.Truncate(0)
	} else {
		err = os.Truncate(e.journalPath(), 0)
		if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
	}
	if err != nil {
		return err
	}
	e.journalSize, e.journalErr = 0, nil
	return nil
}

// closeState compacts the state and closes the journal. Changes made after
// it (by requests still finishing) are journaled line by line, see
// journalLocked.
func (e *Emulator) closeState() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.statePath == "" {
		return
	}
	if err := e.compactLocked(); err != nil {
		// The journal is left as it is: the next start replays it.
		e.logError("acsemu: compacting state", err)
	}
	if e.journal != nil {
		if err := e.journal.Close(); err != nil {
			e.logError("acsemu: closing the journal", err)
		}
		e.journal = nil
	}
}

// writeSnapshotLocked rewrites StatePath with the whole state: to a temporary
// file in the same directory, synced, then renamed over the old one, so a
// crash leaves either the old snapshot or the new one, never half of one.
func (e *Emulator) writeSnapshotLocked() (err error) {
	if e.statePath == "" {
		return nil
	}
	data, err := json.MarshalIndent(stateFile{Assignments: e.allLocked()}, "", "  ")
	if err != nil {
		return err
	}
	dir, base := filepath.Split(e.statePath)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(append(data, '\n')); err != nil {
		_ = tmp.Close()
		return err
	}
	if err = tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), e.statePath)
}
