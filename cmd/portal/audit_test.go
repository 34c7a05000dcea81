package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/sqlite"
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
