package access_test

import (
	"context"
	"testing"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
)

// Before a grant, each object ID is found, gone (the portal knew its name,
// Graph no longer has it), never found (a typo), or unknown (Graph could
// not be asked) — and checking writes nothing, so a typo stays a typo.
func TestClassifyObjectIDs(t *testing.T) {
	e, dir, _ := namesEnv(t)
	ctx := context.Background()
	typo := portal.MustParseGUID("e5b7f628-ea94-4fdc-b3d9-1af1fe231112")
	// The portal learns Alice's name, then Alice leaves.
	if err := e.svc.RefreshNames(ctx, admin, testToken, access.NameRequest{Objects: []portal.GUID{alice}}); err != nil {
		t.Fatal(err)
	}
	delete(dir.users, alice)
	// A page notices she is gone: her name is kept as the last known.
	if err := e.svc.RefreshNames(ctx, admin, testToken, access.NameRequest{Objects: []portal.GUID{alice}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.svc.CachedNames(ctx, admin, portal.SpaceObject, []portal.GUID{alice}); got[alice].Found || got[alice].DisplayName != "Alice Smith" {
		t.Fatalf("a person gone from the directory: %+v, want not found with her last name", got[alice])
	}

	for _, who := range []access.Who{admin, helpdesk} {
		got, err := e.svc.ClassifyObjectIDs(ctx, who, testToken, []portal.GUID{room, alice, typo, typo})
		if err != nil {
			t.Fatal(err)
		}
		want := map[portal.GUID]access.DirectoryPresence{room: access.PresenceFound, alice: access.PresenceGone, typo: access.PresenceNeverFound}
		if len(got) != len(want) {
			t.Errorf("%d presences, want %d: %v", len(got), len(want), got)
		}
		for id, p := range want {
			if got[id] != p {
				t.Errorf("%s: %q, want %q", id, got[id], p)
			}
		}
		if !got[alice].Absent() || !got[typo].Absent() || got[room].Absent() {
			t.Errorf("Absent: %v", got)
		}
	}
	if got, _ := e.svc.CachedNames(ctx, admin, portal.SpaceObject, []portal.GUID{typo}); len(got) != 0 {
		t.Errorf("checking a typo cached it: %+v", got)
	}

	// Graph down: unknown, with the reason, never absent.
	dir.err = portal.Errorf(portal.EUNAVAILABLE, "Graph is down.")
	got, err := e.svc.ClassifyObjectIDs(ctx, admin, testToken, []portal.GUID{typo})
	if portal.ErrorCode(err) != portal.EUNAVAILABLE || got[typo] != access.PresenceUnknown {
		t.Errorf("Graph down: %v, %v", got, err)
	}
	// Auditors grant nothing.
	if _, err := e.svc.ClassifyObjectIDs(ctx, auditor, testToken, []portal.GUID{typo}); portal.ErrorCode(err) != portal.EFORBIDDEN {
		t.Errorf("auditor: %v", err)
	}

	// Names off: unknown for everyone.
	off := access.New(access.Config{Store: e.store})
	if got, err := off.ClassifyObjectIDs(ctx, admin, testToken, []portal.GUID{typo}); got[typo] != access.PresenceUnknown || err == nil {
		t.Errorf("names off: %v, %v", got, err)
	}
}
