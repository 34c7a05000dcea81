package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/pgtest"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/postgres"
	"github.com/teamsphone/portal/internal/sqlite"
	"github.com/teamsphone/portal/internal/storetest"
)

func TestAuditVerify(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	tenant := portal.MustParseGUID("1c361ff7-fb44-4685-bb78-1bad6ce5bef3")
	for i := range 5 {
		if _, err := db.AppendAudit(ctx, portal.AuditEvent{Time: time.Now(), TenantID: tenant, Action: portal.ActionSignIn,
			Phase: portal.PhaseEvent, Outcome: portal.OutcomeSuccess, Justification: strings.Repeat("x", i)}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	verify := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, append([]string{"audit", "verify"}, args...), func(string) string { return "" }, &out, &errOut)
		return out.String() + errOut.String(), err
	}
	if out, err := verify("-data", dir); err != nil || !strings.Contains(out, "intact: 5 rows") {
		t.Fatalf("intact chain: %v\n%s", err, out)
	}
	if out, err := verify("-database", "sqlite:"+filepath.Join(dir, "portal.db")); err != nil {
		t.Fatalf("-database: %v\n%s", err, out)
	}
	if _, err := verify("-data", filepath.Join(dir, "nowhere")); err == nil {
		t.Error("a missing database verified")
	}
	if _, err := verify(); !errors.Is(err, errUsage) {
		t.Errorf("no database named: %v", err)
	}

	// An intent no outcome cites is reported (issue 14: a change whose end
	// was never recorded), without calling the chain broken.
	db, err = sqlite.Open(ctx, filepath.Join(dir, "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	var intents []int64
	for range 2 {
		seq, err := db.AppendAudit(ctx, portal.AuditEvent{Time: time.Now(), TenantID: tenant, Action: portal.ActionGrant, Phase: portal.PhaseIntent})
		if err != nil {
			t.Fatal(err)
		}
		intents = append(intents, seq.Seq)
	}
	if _, err := db.AppendAudit(ctx, portal.AuditEvent{Time: time.Now(), TenantID: tenant, Action: portal.ActionGrant, Phase: portal.PhaseOutcome,
		IntentSeq: intents[0], Outcome: portal.OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	want := fmt.Sprintf("1 intent row(s) without an outcome (a change in flight, or one an instance never finished): rows %d\n", intents[1])
	if out, err := verify("-data", dir); err != nil || !strings.Contains(out, "intact: 8 rows") || !strings.Contains(out, want) {
		t.Fatalf("an open intent: %v\n%s", err, out)
	}

	// Behind the portal's back: drop the guard triggers and rewrite row 3.
	raw, err := sql.Open("sqlite", filepath.Join(dir, "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{
		`DROP TRIGGER audit_log_no_update`,
		`UPDATE audit_log SET justification = 'nothing to see' WHERE seq = 3`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	out, err := verify("-data", dir)
	if !errors.Is(err, errChainBroken) || exitCode(err) != 1 || !strings.Contains(out, "BROKEN at row 3") {
		t.Fatalf("tampered chain: %v\n%s", err, out)
	}
}

// A row deleted behind the portal's back is found too.
func TestAuditVerifyFindsADeletedRow(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if _, err := db.AppendAudit(ctx, portal.AuditEvent{Time: time.Now(), Action: portal.ActionSignIn, Phase: portal.PhaseEvent}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	raw, err := sql.Open("sqlite", filepath.Join(dir, "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{`DROP TRIGGER audit_log_no_delete`, `DELETE FROM audit_log WHERE seq = 2`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var out bytes.Buffer
	err = run(ctx, []string{"audit", "verify", "-data", dir}, func(string) string { return "" }, &out, &out)
	if !errors.Is(err, errChainBroken) || !strings.Contains(out.String(), "BROKEN at row 3") {
		t.Fatalf("deleted row: %v\n%s", err, out.String())
	}
}

// Verify against signed checkpoints and a head held outside: rows removed
// from the end are named, an unknown key is refused, and rows after the
// newest checkpoint are counted, not called a problem (issue 14). Each
// tamper case is found on both stores by the stores' own tests
// (TestAuditAnchorTampering); here, what verify prints and how it exits.
func TestAuditVerifyCheckpoints(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "portal.db")
		testAuditVerifyCheckpoints(t, []string{"-data", dir}, filepath.Join(dir, devAuditKeyFile),
			func(t *testing.T) storetest.AnchoredLog {
				db, err := sqlite.Open(context.Background(), path)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			}, func(t *testing.T, stmt string) {
				raw, err := sql.Open("sqlite", path)
				if err != nil {
					t.Fatal(err)
				}
				defer raw.Close()
				if _, err := raw.Exec(`DROP TRIGGER audit_log_no_delete; ` + stmt); err != nil {
					t.Fatal(err)
				}
			})
	})
	t.Run("postgres", func(t *testing.T) {
		schema := pgtest.FreshSchema(t)
		key := filepath.Join(t.TempDir(), "key.pem")
		testAuditVerifyCheckpoints(t, []string{"-database", schema}, key,
			func(t *testing.T) storetest.AnchoredLog {
				db, err := postgres.MigrateAndOpen(context.Background(), schema, schema, nil)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			}, func(t *testing.T, stmt string) {
				if err := pgtest.Exec(t, schema, `ALTER TABLE audit_log DISABLE TRIGGER USER; `+stmt); err != nil {
					t.Fatal(err)
				}
			})
	})
}

func testAuditVerifyCheckpoints(t *testing.T, where []string, keyFile string, open func(t *testing.T) storetest.AnchoredLog, tamper func(t *testing.T, sql string)) {
	ctx := context.Background()
	settings, err := devCheckpointKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the key file: %v, %v (want mode 0600)", fi, err)
	}
	log := open(t)
	storetest.AppendRows(t, log, 6)
	storetest.Sign(t, log, settings.Signer, portal.CheckpointPolicy{Rows: 1, Every: time.Hour}, storetest.T0)
	storetest.AppendRows(t, log, 2)
	var rows []portal.AuditEvent
	log.WalkAudit(ctx, portal.GUID{}, func(e portal.AuditEvent) error { rows = append(rows, e); return nil })

	pubFile := filepath.Join(t.TempDir(), "public.pem")
	os.WriteFile(pubFile, settings.Signer.PublicPEM(), 0o644)
	verify := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append(append([]string{"audit", "verify"}, where...), args...), func(string) string { return "" }, &out, &out)
		return out.String(), err
	}
	keyArg := []string{"-public-key", pubFile}
	if where[0] == "-data" {
		keyArg = nil // found in the data folder
	} else if out, err := verify(); err != nil || !strings.Contains(out, "checkpoint signatures NOT checked (no key: give -public-key)") {
		t.Errorf("no key: %v\n%s", err, out)
	}
	out, err := verify(keyArg...)
	for _, want := range []string{"audit chain intact: 8 rows", "checkpoint signatures checked with key " + settings.Signer.KeyID(),
		"anchored: checkpoint 1, signed ", "fixes every row up to row 6", "unanchored: 2 rows no checkpoint covers yet"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("anchored log: %v, want %q in:\n%s", err, want, out)
		}
	}
	head6 := portal.AuditHead{Seq: 6, Hash: rows[5].Hash}.String()
	if out, err := verify(append(keyArg, "-expect-head", head6)...); err != nil || !strings.Contains(out, "the head held outside, row 6, is in the log with its hash") {
		t.Errorf("-expect-head %s: %v\n%s", head6, err, out)
	}
	nine := "9:" + rows[7].Hash
	if out, err := verify(append(keyArg, "-expect-head", nine)...); !errors.Is(err, errChainBroken) || exitCode(err) != 1 ||
		!strings.Contains(out, "the head held outside is row 9 hash "+rows[7].Hash+"; the log ends at row 8: 1 row missing") {
		t.Errorf("-expect-head beyond the log: %v\n%s", err, out)
	}
	if _, err := verify("-expect-head", "6"); !errors.Is(err, errUsage) {
		t.Errorf("a malformed head: %v", err)
	}
	other := filepath.Join(t.TempDir(), "other.pem")
	if _, err := devCheckpointKey(other); err != nil {
		t.Fatal(err)
	}
	if out, err := verify("-public-key", other); !errors.Is(err, errChainBroken) || !strings.Contains(out, "checkpoint 1 (row 6) was signed by key "+settings.Signer.KeyID()+", which is not one of the keys given") {
		t.Errorf("another key: %v\n%s", err, out)
	}

	// Rows removed from the end, below the checkpoint: the chain that is
	// left follows row to row, and only the checkpoint shows what is gone.
	tamper(t, `DELETE FROM audit_log WHERE seq > 4`)
	out, err = verify(keyArg...)
	if !errors.Is(err, errChainBroken) || exitCode(err) != 1 ||
		!strings.Contains(out, "checkpoint 1 signed head row 6 hash "+rows[5].Hash+"; the log ends at row 4: 2 rows missing") {
		t.Errorf("truncated log: %v\n%s", err, out)
	}
}
