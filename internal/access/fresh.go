package access

import (
	"fmt"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// The most destructive acts ask for a recent sign-in, so that a session
// left open on an unattended screen, or a stolen session cookie, cannot
// cut a phone number off or revoke access in bulk. The acts, and only
// these (SECURITY.md, "Fresh sign-in"):
//
//   - revoking a resource account: its phone number stops reaching ACS;
//   - applying a bulk plan with revoke rows.
//
// Not asked: revoking a user (helpdesk's daily work; the user signs in
// again and is granted again), edits and re-applies that narrow a user's
// apps, accepting ACS's state over drift (it writes nothing to ACS: a row
// ACS lost is gone already), and resuming a job (its rows were confirmed
// when it was applied). Background work (expiry, a job's rows) acts on
// what a person confirmed before and is not asked.

// FreshSignInWindow is how recent a sign-in the most destructive acts ask
// for; 0 when none is asked.
func (s *core) FreshSignInWindow() time.Duration { return s.freshWindow }

// freshSignIn returns nil when who signed in recently enough for an act
// that asks for it (or none is asked), and otherwise EFORBIDDEN wrapping
// portal.ErrSignInNotFresh, saying what the act does (what) and what to do.
func (s *core) freshSignIn(who Who, what string) error {
	if s.freshWindow <= 0 || who.User.SignedInWithin(s.now(), s.freshWindow) {
		return nil
	}
	last := "Microsoft Entra ID did not say when you last signed in"
	if !who.User.AuthTime.IsZero() {
		last = "Your last sign-in was at " + who.User.AuthTime.UTC().Format("15:04 UTC on 2 January")
	}
	return portal.Wrap(portal.ErrSignInNotFresh, portal.EFORBIDDEN, fmt.Sprintf(
		"%s. Confirm it is you: sign in again. %s; this asks for a sign-in within the last %s. Nothing was changed.",
		what, last, windowText(s.freshWindow)))
}

// freshNote is what the audit row of an act that asked for a fresh
// sign-in says about it.
func freshNote(who Who) string {
	return "signed in afresh at " + who.User.AuthTime.UTC().Format(portal.AuditTimeFormat)
}

// windowText says a window as people do: "10 minutes", "90 seconds".
func windowText(d time.Duration) string {
	switch {
	case d%time.Hour == 0 && d >= time.Hour:
		return plural(int(d/time.Hour), "hour")
	case d%time.Minute == 0 && d >= time.Minute:
		return plural(int(d/time.Minute), "minute")
	}
	return plural(int(max(d/time.Second, 1)), "second")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// revokeAsksFreshSignIn reports whether revoking item is one of the acts
// that ask for a fresh sign-in: a resource account, by the inventory or by
// what ACS was last seen to hold.
func revokeAsksFreshSignIn(item portal.InventoryItem) bool {
	return item.Kind == portal.KindResourceAccount || item.Observed != nil && item.Observed.Kind == portal.KindResourceAccount
}

// RevokeNeedsFreshSignIn returns the refusal Revoke would give who for
// item for want of a recent sign-in (see freshSignIn), or nil: for pages
// that ask before the person submits.
func (s *Changes) RevokeNeedsFreshSignIn(who Who, item portal.InventoryItem) error {
	if !revokeAsksFreshSignIn(item) {
		return nil
	}
	name := item.ObjectID.String()
	if item.Label != "" {
		name = item.Label
	}
	return s.freshSignIn(who, "Revoking the resource account "+name+" ends its server consent: calls to its number stop reaching ACS")
}

// ApplyNeedsFreshSignIn returns the refusal StartJob would give who for
// plan for want of a recent sign-in, or nil.
func (s *Jobs) ApplyNeedsFreshSignIn(who Who, plan portal.Plan) error {
	n := plan.Totals[portal.PlanRevoke]
	if n == 0 {
		return nil
	}
	return s.freshSignIn(who, fmt.Sprintf("This plan revokes access for %s: the people lose their tokens at once, resource accounts their server consent", plural(n, "assignment")))
}
