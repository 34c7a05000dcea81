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
	if kind == portal.KindUser && len(ids) == 0 {
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
// logged) when the state file could not be rewritten, in which case the
// assignment stays.
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

// store creates or replaces an assignment and persists the state, reporting
// whether one existed. If persisting fails the change is undone, so memory
// never claims what a restart would forget.
func (e *Emulator) store(s Stored) (existed bool, err error) {
	key := stateKey{host: s.Host, tenant: s.TenantID, object: s.ObjectID}
	s = cloneStored(s)
	e.mu.Lock()
	defer e.mu.Unlock()
	old, existed := e.state[key]
	e.state[key] = s
	if err := e.persistLocked(); err != nil {
		if existed {
			e.state[key] = old
		} else {
			delete(e.state, key)
		}
		return false, err
	}
	return existed, nil
}

// delete removes an assignment and persists the state, reporting whether one
// existed. If persisting fails the assignment is put back.
func (e *Emulator) delete(key stateKey) (existed bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	old, existed := e.state[key]
	if !existed {
		return false, nil
	}
	delete(e.state, key)
	if err := e.persistLocked(); err != nil {
		e.state[key] = old
		return true, err
	}
	return true, nil
}

// load reads StatePath into memory. A missing file is an empty state; an
// unreadable or invalid one is an error.
func (e *Emulator) load() error {
	if e.statePath == "" {
		return nil
	}
	data, err := os.ReadFile(e.statePath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("acsemu: reading state: %w", err)
	}
	var f stateFile
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("acsemu: reading state %s: %w", e.statePath, err)
	}
	for i, s := range f.Assignments {
		s.Host = resourceHost(s.Host)
		if s.Host == "" || s.TenantID.IsZero() || s.ObjectID.IsZero() {
			return fmt.Errorf("acsemu: reading state %s: assignment %d is incomplete", e.statePath, i)
		}
		if _, err := portal.ParsePrincipalKind(s.PrincipalType); err != nil {
			return fmt.Errorf("acsemu: reading state %s: assignment %d: %s", e.statePath, i, portal.ErrorMessage(err))
		}
		e.state[stateKey{host: s.Host, tenant: s.TenantID, object: s.ObjectID}] = s
	}
	return nil
}

// persistLocked rewrites StatePath with the whole state: to a temporary file
// in the same directory, synced, then renamed over the old one, so a crash
// leaves either the old state or the new one, never half of one. It runs
// under e.mu so that writes land in the order the changes were made.
func (e *Emulator) persistLocked() (err error) {
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
