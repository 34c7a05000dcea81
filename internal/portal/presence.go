package portal

// Presence is what the directory (Microsoft Graph) says of an object ID
// that access is about to be granted to: a typo, or a person who has left,
// would otherwise look like any grant. The classification itself is the
// use cases' (access.Names.CheckDirectory); this is its vocabulary.
type Presence string

const (
	// PresenceFound: the directory has the object now.
	PresenceFound Presence = "found"
	// PresenceGone: the directory has it no more, and the portal knew it
	// by name before (it was there: deleted since, or left).
	PresenceGone Presence = "gone"
	// PresenceNeverFound: the directory has it not, and the portal never
	// knew a name for it (a typo, or another tenant's object).
	PresenceNeverFound Presence = "never_found"
	// PresenceUnknown: the directory could not be asked (Microsoft Graph
	// down or throttling, a permission not consented, names off). Nothing
	// is said of the object: it is never taken for missing.
	PresenceUnknown Presence = "unknown"
)

// Flagged reports whether granting access to an object of presence p asks
// the person to confirm the ID first: never found, or gone.
func (p Presence) Flagged() bool { return p == PresenceNeverFound || p == PresenceGone }
