package access

import (
	"context"
	"slices"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// ACS takes any GUID as an object ID: it never asks the directory. So a
// mistyped object ID makes an assignment that works for nobody, and looks
// like a grant. Before a grant (the form, a bulk plan), the object IDs are
// checked against Microsoft Graph, and those it does not have must be
// confirmed by the person.

// DirectoryPresence is what the directory says about an object ID about to
// be granted access.
type DirectoryPresence string

const (
	// PresenceFound: Graph has the object (a person or a resource account).
	PresenceFound DirectoryPresence = "found"
	// PresenceGone: Graph does not have it, but the portal knew its name
	// before: it was in the directory and has been deleted.
	PresenceGone DirectoryPresence = "gone"
	// PresenceNeverFound: Graph does not have it and the portal never knew
	// a name for it: most likely a typo, or another tenant's object.
	PresenceNeverFound DirectoryPresence = "neverFound"
	// PresenceUnknown: the directory could not be asked (names are off,
	// Graph is down, throttling, or not consented). Never a reason to
	// refuse a grant.
	PresenceUnknown DirectoryPresence = "unknown"
)

// Absent reports whether the directory says the object is not there
// (gone or never found): a grant to it must be confirmed.
func (p DirectoryPresence) Absent() bool { return p == PresenceGone || p == PresenceNeverFound }

// directoryCheckWait bounds how long a grant waits for the directory: past
// it the IDs are unknown, and the grant goes on.
const directoryCheckWait = 5 * time.Second

// ClassifyObjectIDs asks Microsoft Graph, on token (the person's own),
// which of ids the person's tenant's directory holds, and returns each
// ID's presence. When the directory cannot be asked, every ID is
// PresenceUnknown and err says why (for the page to say; the caller must
// not refuse the grant for it). "Gone" is told from "never found" by the
// portal's name cache: an ID it once had a name for was there. Nothing is
// written: a typo's check must not make it look known the next time.
func (s *Names) ClassifyObjectIDs(ctx context.Context, who Who, token GraphToken, ids []portal.GUID) (map[portal.GUID]DirectoryPresence, error) {
	out := make(map[portal.GUID]DirectoryPresence, len(ids))
	for _, id := range ids {
		out[id] = PresenceUnknown
	}
	if !who.User.HasAny(portal.RoleAdmin, portal.RoleHelpdesk) {
		return out, portal.Errorf(portal.EFORBIDDEN, "Only admins and helpdesk may grant access.")
	}
	dir, err := s.directory()
	if err != nil || len(ids) == 0 {
		return out, err
	}
	ids = slices.Compact(slices.SortedFunc(slices.Values(ids), portal.GUID.Compare))
	ctx, cancel := context.WithTimeout(ctx, directoryCheckWait)
	defer cancel()
	var found map[portal.GUID]portal.DirectoryEntry
	err = s.askGraph(ctx, who.User.TenantID, token, func(token string) (err error) {
		found, err = dir.Resolve(ctx, token, ids)
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			err = portal.Wrap(err, portal.EUNAVAILABLE, "Microsoft Graph did not answer in time.")
		}
		return out, err
	}
	known, err := s.store.Names(ctx, who.User.TenantID, portal.SpaceObject, ids)
	if err != nil {
		return out, err
	}
	for _, id := range ids {
		switch _, ok := found[id]; {
		case ok:
			out[id] = PresenceFound
		case known[id].Label() != "":
			out[id] = PresenceGone
		default:
			out[id] = PresenceNeverFound
		}
	}
	return out, nil
}
