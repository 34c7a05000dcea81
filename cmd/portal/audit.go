package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/teamsphone/portal/internal/access"
)

// errChainBroken makes `portal audit verify` exit 1 after it has said why.
var errChainBroken = errors.New("the audit chain is broken")

// runAudit runs the audit tools: `portal audit verify`.
func runAudit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, "Usage: portal audit verify [-data DIR | -database URL]")
		return errUsage
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	dataDir := fs.String("data", "", "the data folder of `portal dev` (its portal.db)")
	dbURL := fs.String("database", "", "the database, as PORTAL_DATABASE_URL (sqlite:PATH or postgres://…); default: $PORTAL_DATABASE_URL")
	if err := parseFlags(fs, args[1:], stderr); err != nil {
		return err
	}
	d, err := auditDatabase(*dataDir, *dbURL, getenv("PORTAL_DATABASE_URL"))
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
	st := access.VerifyChain(ctx, db)
	switch {
	case st.Err != nil:
		return fmt.Errorf("reading the audit log: %w", st.Err)
	case !st.Intact():
		fmt.Fprintf(stdout, "audit chain BROKEN at row %d: %s\n", st.BrokenSeq, st.Problem)
		fmt.Fprintf(stdout, "rows before it (%d) verify; nothing from row %d on can be trusted\n", st.BrokenSeq-1, st.BrokenSeq)
		return errChainBroken
	}
	fmt.Fprintf(stdout, "audit chain intact: %d rows, head row %d, hash %s\n", st.Rows, st.HeadSeq, st.HeadHash)
	if seqs, n := st.OpenIntents(20); n > 0 {
		// Not a broken chain: a change may be in flight right now. One left
		// open for good is a change whose end was never recorded.
		fmt.Fprintf(stdout, "%d intent row(s) without an outcome (a change in flight, or one an instance never finished): rows %s",
			n, strings.Trim(fmt.Sprint(seqs), "[]"))
		if n > len(seqs) {
			fmt.Fprintf(stdout, " and %d more", n-len(seqs))
		}
		fmt.Fprintln(stdout)
	}
	return nil
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
