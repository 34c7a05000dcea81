package access

import (
	"context"
	"slices"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// Before access is granted to an object ID, the directory is asked whether
// it has it: a typo, or a person who has left, would otherwise look like
// any grant, and be flagged as deleted only later. This is the one place
// that classifies an ID (portal.Presence); the grant form and bulk plans
// both ask it, and both word it with ObjectPresence.Flag.

// ObjectPresence is what the directory said of one object ID.
type ObjectPresence struct {
	Presence portal.Presence
	// Name is the object as Graph has it now (found), or as the portal
	// last knew it (gone); zero otherwise.
	Name portal.DirectoryName
}

// DirectoryCheck is what the directory said of the object IDs asked about.
type DirectoryCheck struct {
	// Objects holds every ID asked about.
	Objects map[portal.GUID]ObjectPresence
	// Why says why the directory could not be asked, or could not answer
	// for some IDs (those are PresenceUnknown); "" when it answered for all.
	Why string
}

// Of is what the check said of id (PresenceUnknown for an ID not asked).
func (c DirectoryCheck) Of(id portal.GUID) ObjectPresence {
	if p, ok := c.Objects[id]; ok {
		return p
	}
	return ObjectPresence{Presence: portal.PresenceUnknown}
}

// Flagged returns the IDs never found or gone, in ID order: granting
// access to them asks the person to confirm they checked them.
func (c DirectoryCheck) Flagged() []portal.GUID {
	var out []portal.GUID
	for id, p := range c.Objects {
		if p.Presence.Flagged() {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, portal.GUID.Compare)
	return out
}

// directoryCheckTimeout bounds how long a check waits for Graph; the IDs
// it has not answered for by then are unknown.
const directoryCheckTimeout = 30 * time.Second

// CheckDirectory asks Microsoft Graph, on token (the person's own), whether
// the directory has each of ids now, for admins and helpdesk about to grant
// access to them, and classifies each (see classifyPresence):
//
//   - found: Graph has it (its name is cached for the pages that show it);
//   - gone: Graph has it no more, and the portal knew it by name before;
//   - never found: Graph has it not, and the portal never knew a name for it;
//   - unknown: Graph could not be asked (names off, down, throttling, a
//     permission not consented, the person's token unavailable); Why says
//     why. An unknown ID is never taken for missing.
//
// It never fails: what it cannot find out is unknown. A role that may not
// grant gets every ID unknown, and Why says so.
func (s *Names) CheckDirectory(ctx context.Context, who Who, token GraphToken, ids []portal.GUID) DirectoryCheck {
	ids = slices.Compact(slices.SortedFunc(slices.Values(ids), portal.GUID.Compare))
	check := DirectoryCheck{Objects: make(map[portal.GUID]ObjectPresence, len(ids))}
	if len(ids) == 0 {
		return check
	}
	dir, err := s.directory()
	if err == nil && !who.User.HasAny(portal.RoleAdmin, portal.RoleHelpdesk) {
		err = portal.Errorf(portal.EFORBIDDEN, "Only admins and helpdesk may grant access.")
	}
	ctx, cancel := context.WithTimeout(ctx, directoryCheckTimeout)
	defer cancel()
	// In chunks, so that a plan of 50,000 rows holds one chunk's lookups
	// at a time; once Graph fails, the rest are unknown.
	for chunk := range slices.Chunk(ids, directoryCheckChunk) {
		var got, known map[portal.GUID]portal.DirectoryName
		if err == nil {
			err = s.askGraph(ctx, who.User.TenantID, token, func(token string) (err error) {
				got, known, err = s.refreshObjects(ctx, dir, who, token, chunk, nil)
				return err
			})
		}
		for _, id := range chunk {
			n, found := got[id]
			if !found {
				n = known[id]
				n.Found = false // as the cache has it now, when Graph answered
			}
			p := classifyPresence(err == nil, found, n)
			if p == portal.PresenceUnknown || p == portal.PresenceNeverFound {
				n = portal.DirectoryName{}
			}
			check.Objects[id] = ObjectPresence{Presence: p, Name: n}
		}
	}
	if err != nil {
		s.log.WarnContext(ctx, "directory not asked", "event", "names.check", "ids", len(ids), "err", err)
		check.Why = portal.ErrorMessage(err)
	}
	return check
}

// directoryCheckChunk is how many IDs CheckDirectory looks up at once:
// five of Graph's getByIds calls.
const directoryCheckChunk = 5000

// classifyPresence is what the directory says of an object: asked reports
// whether Graph answered, found whether it has the object, and cached is
// what the portal knew of it before (the zero name if nothing).
func classifyPresence(asked, found bool, cached portal.DirectoryName) portal.Presence {
	switch {
	case !asked:
		return portal.PresenceUnknown
	case found:
		return portal.PresenceFound
	case cached.Label() != "":
		return portal.PresenceGone
	}
	return portal.PresenceNeverFound
}

// Flag is what pages say of an ID granted access with this presence: ""
// for one found.
func (p ObjectPresence) Flag() string {
	switch p.Presence {
	case portal.PresenceNeverFound:
		return "Not in the directory, and never seen by the portal: check the object ID for a typo (or another tenant's ID)."
	case portal.PresenceGone:
		who := p.Name.Label()
		if p.Name.UPN != "" && p.Name.UPN != who {
			who += " (" + p.Name.UPN + ")"
		}
		return "Was in the directory as " + who + ", now gone: deleted or left. Access granted to it serves no one."
	case portal.PresenceUnknown:
		return "Not checked: the directory could not be asked."
	}
	return ""
}
