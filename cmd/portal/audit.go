package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
)

// errChainBroken makes `portal audit verify` exit 1 after it has said why.
var errChainBroken = errors.New("the audit log is broken or was tampered with")

// auditUsage is how `portal audit verify` is called.
const auditUsage = "Usage: portal audit verify [-data DIR | -database URL] [-public-key FILE]... [-expect-head SEQ:HASH]"

// runAudit runs the audit tools: `portal audit verify`.
func runAudit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, auditUsage)
		return errUsage
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	dataDir := fs.String("data", "", "the data folder of `portal dev` (its portal.db, and the key it signs checkpoints with)")
	dbURL := fs.String("database", "", "the database, as PORTAL_DATABASE_URL (sqlite:PATH or postgres://…); default: $PORTAL_DATABASE_URL")
	var keyFiles []string
	fs.Func("public-key", "a PEM file of the Ed25519 key checkpoints are signed with (public, or the private key file); repeat for earlier keys. Default: $PORTAL_AUDIT_SIGNING_KEY_FILE, or the dev key in -data", func(v string) error {
		keyFiles = append(keyFiles, v)
		return nil
	})
	var expect *portal.AuditHead
	fs.Func("expect-head", "SEQ:HASH of a head held outside the database (the JSON log's audit.checkpoint lines, a monitoring system): the log must hold that row with that hash", func(v string) error {
		h, err := portal.ParseAuditHead(v)
		if err != nil {
			return errors.New(portal.ErrorMessage(err))
		}
		expect = &h
		return nil
	})
	if err := parseFlags(fs, args[1:], stderr); err != nil {
		return err
	}
	d, err := auditDatabase(*dataDir, *dbURL, getenv("PORTAL_DATABASE_URL"))
	if err != nil {
		fmt.Fprintln(stderr, "portal audit verify:", err)
		return errUsage
	}
	keys, keysFrom, err := verifyKeys(keyFiles, *dataDir, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "portal audit verify:", err)
		return errUsage
	}
	// Never create an empty database where the operator mistyped a path:
	// an empty chain would "verify". (PostgreSQL is only read: Open does
	// not migrate.)
	if d.SQLitePath != "" {
		if _, err := os.Stat(d.SQLitePath); err != nil {
			return fmt.Errorf("no database at %s", d.SQLitePath)
		}
	}
	db, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	st := access.VerifyChain(ctx, db, keys, expect)
	if st.Err != nil {
		return fmt.Errorf("reading the audit log: %w", st.Err)
	}
	reportChain(stdout, st, keysFrom)
	if !st.Intact() {
		return errChainBroken
	}
	return nil
}

// verifyKeys reads the keys checkpoints are checked with: the files given,
// else the serving key's file, else dev mode's key in its data folder; and
// says where they came from. None found is no error: verify says that the
// signatures went unchecked.
func verifyKeys(files []string, dataDir string, getenv func(string) string) (portal.CheckpointKeys, string, error) {
	from := "-public-key"
	if len(files) == 0 {
		switch dev := filepath.Join(dataDir, devAuditKeyFile); {
		case getenv("PORTAL_AUDIT_SIGNING_KEY_FILE") != "":
			files, from = []string{getenv("PORTAL_AUDIT_SIGNING_KEY_FILE")}, "PORTAL_AUDIT_SIGNING_KEY_FILE"
		case dataDir != "" && fileExists(dev):
			files, from = []string{dev}, dev
		default:
			return nil, "", nil
		}
	}
	keys := portal.CheckpointKeys{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, "", fmt.Errorf("%s: cannot read %s", from, f)
		}
		k, err := portal.ParseCheckpointKeys(b)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %s: %s", from, f, portal.ErrorMessage(err))
		}
		maps.Copy(keys, k)
	}
	return keys, from, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// reportChain writes what verify found: the chain, each problem, how far
// checkpoints anchor the log, and the intents no outcome cites.
func reportChain(w io.Writer, st access.ChainStatus, keysFrom string) {
	switch {
	case !st.ChainCheck.Intact():
		fmt.Fprintf(w, "audit chain BROKEN at row %d: %s\n", st.BrokenSeq, st.Problem)
		fmt.Fprintf(w, "rows before it (%d) verify; nothing from row %d on can be trusted\n", st.BrokenSeq-1, st.BrokenSeq)
	case len(st.Problems) > 0:
		fmt.Fprintf(w, "audit chain follows row to row (%d rows, head row %d, hash %s), but the log was TAMPERED with:\n", st.Rows, st.HeadSeq, st.HeadHash)
	default:
		fmt.Fprintf(w, "audit chain intact: %d rows, head row %d, hash %s\n", st.Rows, st.HeadSeq, st.HeadHash)
	}
	for _, p := range st.Problems {
		fmt.Fprintf(w, "  - %s\n", p)
	}
	switch {
	case st.Keys == nil && st.Checkpoints > 0:
		fmt.Fprintf(w, "checkpoint signatures NOT checked (no key: give -public-key): the %s checkpoints prove nothing, anyone with the database can write one\n", portal.Count(st.Checkpoints))
	case st.Keys != nil:
		fmt.Fprintf(w, "checkpoint signatures checked with key %s (from %s)\n", st.Keys.IDs(), keysFrom)
	}
	switch {
	case st.Anchor.Number > 0:
		fmt.Fprintf(w, "anchored: checkpoint %d, signed %s, fixes every row up to row %s\n", st.Anchor.Number, st.Anchor.Time.Format(portal.AuditTimeFormat), portal.Count(st.Anchor.Seq))
	case st.Checkpoints == 0:
		fmt.Fprintln(w, "no checkpoints: nothing outside the database vouches for this log (rows removed from its end, or a log re-hashed, would not show)")
	}
	if st.Unanchored > 0 {
		// Not a problem: the newest rows always wait for the next checkpoint.
		fmt.Fprintf(w, "unanchored: %s no checkpoint covers yet, the first written %s (not a problem: the newest rows wait for the next checkpoint)\n",
			portal.Rows(st.Unanchored), st.UnanchoredSince.Format(portal.AuditTimeFormat))
	}
	if st.Expect != nil && len(st.Problems) == 0 && st.ChainCheck.Intact() {
		fmt.Fprintf(w, "the head held outside, row %s, is in the log with its hash\n", portal.Count(st.Expect.Seq))
	}
	if seqs, n := st.OpenIntents(20); n > 0 {
		// Not a broken chain: a change may be in flight right now. One left
		// open for good is a change whose end was never recorded.
		fmt.Fprintf(w, "%d intent row(s) without an outcome (a change in flight, or one an instance never finished): rows %s",
			n, strings.Trim(fmt.Sprint(seqs), "[]"))
		if n > len(seqs) {
			fmt.Fprintf(w, " and %d more", n-len(seqs))
		}
		fmt.Fprintln(w)
	}
}

func auditDatabase(dataDir, dbURL, envURL string) (database, error) {
	switch {
	case dataDir != "" && dbURL != "":
		return database{}, errors.New("give -data or -database, not both")
	case dataDir != "":
		return database{SQLitePath: filepath.Join(dataDir, "portal.db")}, nil
	case dbURL == "":
		dbURL = envURL
	}
	if dbURL == "" {
		return database{}, errors.New("say which database: -data DIR or -database sqlite:PATH or postgres://… (or set PORTAL_DATABASE_URL)")
	}
	return parseDatabase(dbURL)
}
