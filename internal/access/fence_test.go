package access_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/pgtest"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/postgres"
	"github.com/teamsphone/portal/internal/sqlite"
	"github.com/teamsphone/portal/internal/testwait"
)

// stores opens a fresh database of each kind.
var stores = map[string]func(t *testing.T) portal.Store{
	"sqlite": func(t *testing.T) portal.Store {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "portal.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	},
	"postgres": func(t *testing.T) portal.Store {
		url := pgtest.FreshSchema(t)
		if err := postgres.Migrate(context.Background(), url); err != nil {
			t.Fatal(err)
		}
		db, err := postgres.Open(context.Background(), url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	},
}

// pausable is one instance that can be frozen, as a process stopped by the
// operating system or a long GC pause is: once paused, its next ACS write
// waits until it is resumed, and meanwhile it renews no lease.
type pausable struct {
	portal.Store
	portal.ACS
	paused  atomic.Bool
	frozen  chan struct{} // closed when a write reached the pause
	resumed chan struct{}
}

func (p *pausable) Renew(ctx context.Context, name, holder string, until time.Time) (bool, error) {
	if p.paused.Load() {
		return true, nil // a frozen process renews nothing, and logs nothing
	}
	return p.Store.Renew(ctx, name, holder, until)
}

func (p *pausable) PutAssignment(ctx context.Context, a portal.Assignment) (bool, portal.ACSCall, error) {
	if p.paused.Load() {
		close(p.frozen)
		<-p.resumed
	}
	return p.ACS.PutAssignment(ctx, a)
}

// An instance paused mid-change, past its lease, cannot record its change
// once it wakes: another instance took the assignment's lock over and
// changed it meanwhile, and the paused one's commit is refused (ECONFLICT,
// lease lost) with nothing recorded — neither the inventory nor an outcome.
// Its intent stays open until the sweep settles it with a GET, which records
// what ACS holds.
func TestPausedChangeCannotCommit(t *testing.T) {
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := open(t)
			emu, err := acsemu.New(acsemu.Config{AccessKey: key})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(emu)
			t.Cleanup(srv.Close)
			t.Cleanup(emu.Close)
			client, err := acs.New(acs.Options{Endpoint: srv.URL, AccessKey: key, RetryDelay: time.Millisecond, TryTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			const lease = 300 * time.Millisecond
			a := &pausable{Store: db, ACS: client, frozen: make(chan struct{}), resumed: make(chan struct{})}
			instanceA := access.New(access.Config{ACS: a, Store: a, LockTTL: lease})
			instanceB := access.New(access.Config{ACS: client, Store: db, LockTTL: lease, LockWait: testwait.Patience})
			if _, err := instanceB.Grant(ctx, admin, access.GrantRequest{ObjectID: alice, Kind: portal.KindUser, ClientIDs: []portal.GUID{appA}, Label: "Alice"}); err != nil {
				t.Fatal(err)
			}

			// A starts an edit and freezes just before its PUT.
			a.paused.Store(true)
			aDone := make(chan error, 1)
			go func() {
				_, err := instanceA.Edit(ctx, admin, access.EditRequest{ObjectID: alice, ClientIDs: []portal.GUID{appA, appB}, Label: "Alice", Version: 1})
				aDone <- err
			}()
			testwait.For(t, "instance A to freeze mid-change", func() bool {
				select {
				case <-a.frozen:
					return true
				default:
					return false
				}
			})
			// B waits out A's lease, takes the lock over and edits.
			res, err := instanceB.Edit(ctx, admin, access.EditRequest{ObjectID: alice, ClientIDs: []portal.GUID{appB}, Label: "Alice", Version: 1})
			if err != nil || res.Item.Version != 2 {
				t.Fatalf("B's edit after A's lease lapsed: %+v, %v", res, err)
			}
			head := len(auditOf(t, db))

			// A wakes: its PUT goes out (ACS has no ETag to stop it), but
			// it cannot record anything.
			a.paused.Store(false)
			close(a.resumed)
			err = <-aDone
			if portal.ErrorCode(err) != portal.ECONFLICT || !errors.Is(err, portal.ErrLeaseLost) {
				t.Fatalf("A's edit after its pause: %v; want ECONFLICT, lease lost", err)
			}
			if item, _ := db.GetItem(ctx, contoso, alice); item.Version != 2 || len(item.ClientIDs) != 1 || item.ClientIDs[0] != appB {
				t.Errorf("the inventory after A's refused commit: %+v; want B's edit", item)
			}
			evs := auditOf(t, db)
			if len(evs) != head {
				t.Errorf("A's refused commit appended %d audit rows", len(evs)-head)
			}
			st := access.VerifyChain(ctx, db, nil, nil)
			seqs, n := st.OpenIntents(10)
			if n != 1 || evs[seqs[0]-1].Action != portal.ActionEdit || evs[seqs[0]-1].After == nil || len(evs[seqs[0]-1].After.ClientIDs) != 2 {
				t.Fatalf("open intents after A's refused commit: %v; want A's edit", seqs)
			}

			// The sweep settles A's intent by what ACS holds: A's late PUT.
			time.Sleep(lease) // the intent must be older than a lease
			if n, err := instanceA.SettleIntents(ctx); err != nil || n != 1 {
				t.Fatalf("SettleIntents = %d, %v", n, err)
			}
			st = access.VerifyChain(ctx, db, nil, nil)
			if _, n := st.OpenIntents(10); n != 0 || !st.Intact() {
				t.Errorf("after the sweep: %d open intents, chain %+v", n, st)
			}
			last := auditOf(t, db)[len(auditOf(t, db))-1]
			if last.Phase != portal.PhaseOutcome || last.IntentSeq != seqs[0] || last.Outcome != portal.OutcomeSuccess {
				t.Errorf("the settling row: %+v", last)
			}
			if item, _ := db.GetItem(ctx, contoso, alice); len(item.ClientIDs) != 2 || item.State != portal.StateInSync {
				t.Errorf("the inventory after the sweep: %+v; want what ACS holds (A's PUT)", item)
			}
		})
	}
}

func auditOf(t *testing.T, log portal.AuditLog) []portal.AuditEvent {
	t.Helper()
	var out []portal.AuditEvent
	if err := log.WalkAudit(context.Background(), portal.GUID{}, func(ev portal.AuditEvent) error {
		out = append(out, ev)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
