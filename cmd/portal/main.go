// Command portal is the Teams Phone Access Portal: one binary with
// subcommands for the portal itself, its ACS emulator and its tools.
//
// It is the only main package and the one place that wires the adapters
// together. main only hands the process's context, arguments, environment
// and streams to run, which tests call in-process. Settings come from flags
// and the environment into one config per command, checked before anything
// starts and passed down explicitly: no package-level configuration here,
// and no other package reads the portal's settings from the environment.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise
// the module version from the build info is used.
var version = ""

func main() {
	collectSooner(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		err = nil
	}
	if err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "portal:", err)
		}
		os.Exit(exitCode(err))
	}
}

// collectSooner has the garbage collector run when the heap has grown by
// half since the last collection, not doubled (Go's default, GOGC=100),
// unless GOGC is set. Most of a busy instance's memory is the list index,
// in slices without pointers, which a collection marks at almost no cost:
// at 200,000 assignments (TestScale) this took the peak from 382 to
// 277 MB with no more CPU per request.
func collectSooner(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
}

// errUsage marks bad flags or arguments whose message has already been printed.
var errUsage = errors.New("usage")

func exitCode(err error) int {
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

const usage = `Usage: portal <command> [flags]

Commands:
  dev        run the portal with a local identity provider and ACS emulator (no Azure needed)
  serve      run the portal for real, configured from PORTAL_* environment variables
  emulator   run the ACS access-assignment emulator alone
  audit      audit verify [-data DIR | -database URL] [-public-key FILE] [-expect-head SEQ:HASH]: check the audit log against its signed checkpoints
  migrate    apply the database migrations (PostgreSQL: as PORTAL_DATABASE_MIGRATION_URL's role) before a new version starts
  config     config check: print the effective settings of portal serve, secrets masked, and every problem
  healthcheck  ask a running portal for /healthz (the container's health probe; exit 0 when up)
  version    print the portal's version
  help       show this text

Run "portal <command> -h" for a command's flags.
`

// run is the whole program; main only adds the process's context, arguments,
// environment and streams, so tests can run any command in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "dev":
		return runDev(ctx, rest, getenv, stdout, stderr)
	case "serve":
		return runServe(ctx, rest, getenv, stdout, stderr)
	case "emulator":
		return runEmulator(ctx, rest, getenv, stdout, stderr)
	case "audit":
		return runAudit(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, getenv, stdout, stderr)
	case "config":
		return runConfig(ctx, rest, getenv, stdout, stderr)
	case "healthcheck":
		return runHealthcheck(ctx, rest, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "portal", buildVersion())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "portal: unknown command %q\n\n%s", cmd, usage)
	return errUsage
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		if v != "" {
			return v
		}
	}
	return "(devel)"
}

// parseFlags parses a subcommand's flags, printing errors and -h output to
// stderr. It returns flag.ErrHelp for -h (exit 0) and errUsage for bad flags
// (exit 2), so the caller just returns what it gets.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "portal %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return errUsage
	}
	return nil
}
