package access_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
)

// Each ID about to be granted access is found, gone (the portal knew it by
// name, the directory has it no more), never found (a typo), or unknown
// (the directory could not be asked) — never missing for want of an answer.
func TestCheckDirectoryTellsNeverFoundFromGone(t *testing.T) {
	e, dir, _ := namesEnv(t)
	ctx := context.Background()
	typo := portal.MustParseGUID("e5b7f628-ea94-4fdc-b3d9-1af1fe231112")
	// The portal has known Alice by name; then she leaves.
	if c := e.svc.CheckDirectory(ctx, admin, testToken, []portal.GUID{alice, room}); c.Why != "" ||
		c.Of(alice).Presence != portal.PresenceFound || c.Of(alice).Name.DisplayName != "Alice Smith" || c.Of(room).Presence != portal.PresenceFound {
		t.Fatalf("before she left: %+v", c)
	}
	delete(dir.users, alice)

	for round := range 2 { // the second time, from what the first left in the cache
		c := e.svc.CheckDirectory(ctx, helpdesk, testToken, []portal.GUID{alice, typo, room, typo})
		if c.Why != "" || len(c.Objects) != 3 {
			t.Fatalf("round %d: %+v", round, c)
		}
		gone, never, found := c.Of(alice), c.Of(typo), c.Of(room)
		if gone.Presence != portal.PresenceGone || gone.Name.DisplayName != "Alice Smith" || gone.Name.Found {
			t.Errorf("round %d: Alice, who left: %+v", round, gone)
		}
		if never.Presence != portal.PresenceNeverFound || found.Presence != portal.PresenceFound {
			t.Errorf("round %d: the typo %+v, the room %+v", round, never, found)
		}
		if f := gone.Flag(); !strings.Contains(f, "Alice Smith (alice@contoso.test), now gone") {
			t.Errorf("round %d: gone reads %q", round, f)
		}
		if f := never.Flag(); !strings.Contains(f, "never seen by the portal") || strings.Contains(f, "gone") {
			t.Errorf("round %d: never found reads %q", round, f)
		}
		if f := found.Flag(); f != "" {
			t.Errorf("round %d: found reads %q", round, f)
		}
		if got := c.Flagged(); len(got) != 2 || !slices.Contains(got, alice) || !slices.Contains(got, typo) {
			t.Errorf("round %d: flagged %v", round, got)
		}
	}
	// The cache marks her gone, with the name she had: pages still flag
	// her as not in the directory.
	if got, _ := e.svc.CachedNames(ctx, auditor, portal.SpaceObject, []portal.GUID{alice}); got[alice].Found || got[alice].Label() != "Alice Smith" {
		t.Errorf("the cache holds %+v", got[alice])
	}
}

// When the directory cannot be asked, every ID is unknown and the check
// says why: nobody is taken for missing, and the cache is not touched.
func TestCheckDirectoryUnknownWhenGraphCannotBeAsked(t *testing.T) {
	ctx := context.Background()
	typo := portal.MustParseGUID("e5b7f628-ea94-4fdc-b3d9-1af1fe231112")
	for name, tc := range map[string]struct {
		setup func(e *env, dir *fakeDirectory)
		who   access.Who
		token access.GraphToken
		why   string
	}{
		"Graph down": {setup: func(_ *env, dir *fakeDirectory) {
			dir.err = portal.Errorf(portal.EUNAVAILABLE, "Microsoft Graph is not answering.")
		},
			who: admin, token: testToken, why: "not answering"},
		"not consented": {setup: func(_ *env, dir *fakeDirectory) {
			dir.err = portal.Errorf(portal.EFORBIDDEN, "Microsoft Graph refused: User.Read.All is not consented.")
		}, who: admin, token: testToken, why: "not consented"},
		"throttled": {setup: func(_ *env, dir *fakeDirectory) {
			dir.err = portal.Wrap(throttled{}, portal.ETHROTTLED, "Microsoft Graph asked to slow down.")
		},
			who: admin, token: testToken, why: "slow down"},
		"no token": {who: admin, token: func(context.Context) (string, error) {
			return "", portal.Errorf(portal.EUNAUTHORIZED, "Sign in to see names.")
		}, why: "Sign in"},
		"names off": {setup: func(e *env, _ *fakeDirectory) { e.svc = access.New(access.Config{Store: e.store}) },
			who: admin, token: testToken, why: "Names are off"},
		"an auditor": {who: auditor, token: testToken, why: "Only admins and helpdesk"},
	} {
		t.Run(name, func(t *testing.T) {
			e, dir, _ := namesEnv(t)
			if tc.setup != nil {
				tc.setup(e, dir)
			}
			c := e.svc.CheckDirectory(ctx, tc.who, tc.token, []portal.GUID{alice, typo})
			if !strings.Contains(c.Why, tc.why) || c.Of(alice).Presence != portal.PresenceUnknown || c.Of(typo).Presence != portal.PresenceUnknown || len(c.Flagged()) != 0 {
				t.Errorf("%+v; want both unknown, saying %q", c, tc.why)
			}
			if f := c.Of(typo).Flag(); !strings.Contains(f, "could not be asked") {
				t.Errorf("unknown reads %q", f)
			}
			if got, _ := e.svc.CachedNames(ctx, auditor, portal.SpaceObject, []portal.GUID{alice, typo}); len(got) != 0 {
				t.Errorf("the cache learned %+v from a check that could not ask", got)
			}
		})
	}
}
