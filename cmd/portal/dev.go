package main

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"

	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/entra"
	"github.com/teamsphone/portal/internal/graph"
	"github.com/teamsphone/portal/internal/jobs"
	"github.com/teamsphone/portal/internal/portal"
)

// devAccessKey is the dev emulator's HMAC key. It is a constant on purpose:
// the emulator's state outlives restarts, and so must the key that reaches it.
var devAccessKey = []byte("teams-phone-portal-dev-access-key-not-a-secret")

const devClientSecret = "dev-client-secret-not-a-secret"

// runDev runs the whole portal on loopback with no Azure account: SQLite in
// a data folder, the ACS emulator and the dev identity provider in-process.
// Sign-in goes through the same MSAL code path as production.
func runDev(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f, err := parseDevFlags(args, stderr)
	if err != nil {
		return err
	}
	stopProfiling, err := startProfiling(f.cpuProfile, f.memProfile)
	if err != nil {
		return err
	}
	defer stopProfiling()

	ln, err := listenLoopback(f.addr, f.allowRemote)
	if err != nil {
		return err
	}
	defer ln.Close()
	var mln net.Listener
	if f.metricsAddr != "" {
		if mln, err = listenLoopback(f.metricsAddr, f.allowRemote); err != nil {
			return fmt.Errorf("-metrics-addr: %w", err)
		}
		defer mln.Close()
	}
	base := "http://" + ln.Addr().String()

	if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	// Opened first, closed last: everything below logs to it until it stops.
	logFile, logPath, err := openDevLog(f.dataDir)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	defer logFile.Close()
	// The console shows the banner first: what is logged while the portal
	// starts is held until the banner is out (or until dev mode gives up).
	console := &heldWriter{w: stderr}
	defer console.Release()
	logger := devLogger(logFile, console, f.verbose)
	checkpoints, err := devCheckpointKey(f.auditKey)
	if err != nil {
		return err
	}
	db, err := f.database.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	acsEmu, err := startDevACS(f, logger)
	if err != nil {
		return err
	}
	defer acsEmu.stop()
	idp, err := devidp.Start(devidp.Config{
		ClientSecret:           devClientSecret,
		RedirectURIs:           []string{base + "/auth/callback"},
		PostLogoutRedirectURIs: []string{base + "/"},
	})
	if err != nil {
		return fmt.Errorf("dev identity provider: %w", err)
	}
	defer idp.Close()
	graphEmu, graphURL, stopGraph, err := startDevGraph(idp, f.graphWithhold, logger)
	if err != nil {
		return fmt.Errorf("graph emulator: %w", err)
	}
	defer stopGraph()
	graphEmu.SetRates(f.graphFaults)
	auth, err := devAuthenticator(idp, base, db)
	if err != nil {
		return err
	}

	p, err := assemble(adapters{
		Listener: ln, MetricsListener: mln, Store: db, ACS: acs.Options{Endpoint: acsEmu.url, AccessKey: acsEmu.key},
		Auth: auth, Directory: graph.New(graphURL, nil), Logger: logger,
		BaseURL: base, SignOutOrigin: idp.BrowserBase(), ACSResourceID: devACSResourceID,
		KnownApps: devKnownApps, TenantNames: devTenantNames(), ProbeTenant: devidp.ContosoTenant,
		ReconcileEvery: f.reconcileEvery, ExpiryGrace: f.expiryGrace, FreshSignIn: f.freshSignIn, RequireJustification: f.requireWhy, DevMode: true,
		Checkpoints: checkpoints,
	})
	if err != nil {
		return err
	}
	if acsEmu.emu != nil { // not a shared ACS
		if err := seedDev(ctx, db, acsEmu.emu, acsEmu.url, p.Access); err != nil {
			return fmt.Errorf("dev seed: %w", err)
		}
		acsEmu.emu.SetRates(f.acsFaults) // after the seed, which must not fail
	}
	printDevBanner(stdout, devBanner{Base: base, ACS: acsEmu, Metrics: mln, GraphURL: graphURL,
		DataDir: f.dataDir, Database: f.database, AuditKey: f.auditKey, LogPath: logPath, Verbose: f.verbose})
	console.Release()
	return p.Run(ctx)
}

// devAuditKeyFile is where dev mode keeps its checkpoint signing key, in
// its data folder; `portal audit verify -data` looks for it there.
const devAuditKeyFile = "audit-signing-key.pem"

// devCheckpointKey reads the checkpoint signing key at path, making one
// (readable by its owner only) if there is none: dev mode signs its
// audit log as production does, with nothing to set up.
func devCheckpointKey(path string) (checkpointSettings, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		key, err := portal.NewCheckpointKey()
		if err != nil {
			return checkpointSettings{}, err
		}
		// Written whole beside it, then linked into place: another dev
		// instance sharing the key, starting at once, reads a whole key,
		// its own or this one.
		f, err := os.CreateTemp(filepath.Dir(path), ".audit-key-*")
		if err != nil {
			return checkpointSettings{}, fmt.Errorf("-audit-key: %w", err)
		}
		defer os.Remove(f.Name())
		_, err = f.Write(key)
		if err = errors.Join(err, f.Chmod(0o600), f.Close()); err == nil {
			err = os.Link(f.Name(), path)
		}
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return checkpointSettings{}, fmt.Errorf("-audit-key: %w", err)
		}
	}
	c, err := readCheckpointKey(path)
	if err != nil {
		return c, fmt.Errorf("-audit-key: %w", err)
	}
	c.Policy = portal.CheckpointPolicy{Rows: jobs.DefaultCheckpointRows, Every: jobs.DefaultCheckpointEvery}
	return c, nil
}

// devFlags are portal dev's settings, each checked as it is read.
type devFlags struct {
	addr, metricsAddr, dataDir, cpuProfile, memProfile string
	auditKey                                           string // the checkpoint signing key's file; made if missing
	allowRemote, requireWhy                            bool
	verbose                                            bool // every log line on the console, not only what needs a look
	reconcileEvery, expiryGrace, freshSignIn           time.Duration
	database                                           database              // SQLite in dataDir unless -database
	acsConnection                                      *acs.ConnectionString // nil: the in-process emulator
	acsFaults, graphFaults                             acsemu.Rates
	graphWithhold                                      []string
}

// parseDevFlags reads portal dev's flags. Like parseFlags, it returns
// flag.ErrHelp for -h and errUsage for flags that do not parse; a value
// that parses but makes no sense is an error naming its flag.
func parseDevFlags(args []string, stderr io.Writer) (devFlags, error) {
	var f devFlags
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen address (loopback unless -allow-remote)")
	fs.StringVar(&f.dataDir, "data", "data", "folder for the SQLite database and the emulator's state")
	fs.BoolVar(&f.allowRemote, "allow-remote", false, "allow a non-loopback listen address (the dev IdP signs anyone in!)")
	fs.BoolVar(&f.verbose, "v", false, "show every log line on the console (each request, the emulators' calls), not only warnings and failed or slow requests; all go to portal.log in -data anyway")
	fs.BoolVar(&f.requireWhy, "require-justification", false, "refuse changes without a justification")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile to this file until the portal stops (for load tests)")
	fs.StringVar(&f.memProfile, "memprofile", "", "write a heap profile to this file when the portal stops (for load tests)")
	fs.DurationVar(&f.reconcileEvery, "reconcile-every", time.Hour, "how often to compare the whole inventory with ACS (0: only on demand)")
	fs.DurationVar(&f.expiryGrace, "expiry-grace", 0, "how long ended time-boxed access stays before it is revoked")
	fs.DurationVar(&f.freshSignIn, "fresh-signin-max-age", defaultFreshSignIn, "how recent a sign-in revoking a resource account or applying a bulk plan that revokes asks for")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus /metrics on this address too, e.g. 127.0.0.1:9090")
	fs.StringVar(&f.auditKey, "audit-key", "", "the Ed25519 key (PEM) that signs the audit log's checkpoints; made if missing (default: audit-signing-key.pem in -data; dev instances sharing a -database share it)")
	databaseURL := fs.String("database", "", "a database instead of SQLite in -data: postgres://… (several dev instances may share it)")
	acsConnection := fs.String("acs-connection-string", "", "an ACS (emulator) to use instead of the in-process one: endpoint=…;accesskey=… (no demo data then)")
	graphFaults := fs.String("graph-faults", "", `faults the Graph emulator injects, in -acs-faults' syntax (change them while it runs: PUT to <graph emulator>/_emulator/faults)`)
	graphWithhold := fs.String("graph-withhold", "", `delegated Graph permissions the dev tenants have not consented to, comma-separated: users, resourceAccounts, apps, profiles (User.Read.All), grants (DelegatedPermissionGrant.Read.All); change them while it runs: PUT to <graph emulator>/_emulator/tenants/{tenant}/withheldPermissions`)
	acsFaults := fs.String("acs-faults", "", `faults the ACS emulator injects, e.g. "429=0.2,retry-after=1,503=0.05,latency=20ms" (change them while it runs: PUT the same text to <emulator>/_emulator/faults)`)
	if err := parseFlags(fs, args, stderr); err != nil {
		return f, err
	}
	var err error
	f.database = database{SQLitePath: filepath.Join(f.dataDir, "portal.db")}
	if f.auditKey == "" {
		f.auditKey = filepath.Join(f.dataDir, devAuditKeyFile)
	}
	if *databaseURL != "" {
		if f.database, err = parseDatabase(*databaseURL); err != nil {
			return f, fmt.Errorf("-database: %w", err)
		}
		f.database.MigrationURL = f.database.PostgresURL // one role in dev: it migrates too
	}
	if err := checkFreshSignIn(f.freshSignIn); err != nil {
		return f, fmt.Errorf("-fresh-signin-max-age: %w", err)
	}
	if *acsConnection != "" {
		cs, err := acs.ParseConnectionString(*acsConnection)
		if err != nil {
			return f, fmt.Errorf("-acs-connection-string: %s", portal.ErrorMessage(err))
		}
		f.acsConnection = &cs
	}
	if f.acsFaults, err = acsemu.ParseRates(*acsFaults); err != nil {
		return f, fmt.Errorf("-acs-faults: %w", err)
	}
	if f.graphFaults, err = acsemu.ParseRates(*graphFaults); err != nil {
		return f, fmt.Errorf("-graph-faults: %w", err)
	}
	if f.graphWithhold, err = parseWithheld(*graphWithhold); err != nil {
		return f, fmt.Errorf("-graph-withhold: %w", err)
	}
	return f, nil
}

// startProfiling writes a CPU profile to cpuPath from now until stop, and
// a heap profile to memPath at stop ("" for neither).
func startProfiling(cpuPath, memPath string) (stop func(), err error) {
	stopCPU := func() {}
	if cpuPath != "" {
		f, err := os.Create(cpuPath)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
		stopCPU = func() {
			pprof.StopCPUProfile()
			f.Close()
		}
	}
	return func() {
		stopCPU()
		if memPath == "" {
			return
		}
		if f, err := os.Create(memPath); err == nil {
			runtime.GC()
			pprof.WriteHeapProfile(f)
			f.Close()
		}
	}, nil
}

// devACS is the ACS dev mode talks to: the in-process emulator, or one
// several dev instances share (then emu is nil).
type devACS struct {
	emu  *acsemu.Emulator
	url  string // without a trailing slash
	key  []byte
	stop func()
}

// startDevACS serves the ACS emulator on its own loopback port, with its
// state in the data folder so that restarting dev mode is like restarting
// the portal alone: ACS does not forget. With -acs-connection-string it
// starts nothing and uses that ACS.
func startDevACS(f devFlags, logger *slog.Logger) (devACS, error) {
	if cs := f.acsConnection; cs != nil {
		return devACS{url: strings.TrimRight(cs.Endpoint, "/"), key: cs.AccessKey, stop: func() {}}, nil
	}
	emu, err := acsemu.New(acsemu.Config{AccessKey: devAccessKey, StatePath: filepath.Join(f.dataDir, "acs-emulator.json"), Logger: logger})
	if err != nil {
		return devACS{}, fmt.Errorf("ACS emulator: %w", err)
	}
	// Faults can be changed while dev mode runs, to watch a bulk job or a
	// reconcile ride out throttling: curl -X PUT -d '429=0.2,retry-after=1'.
	url, stop, err := serveLoopback(withFaultSwitch(emu, emu.SetRates), emu.Close)
	if err != nil {
		return devACS{}, fmt.Errorf("ACS emulator: %w", err)
	}
	return devACS{emu: emu, url: url, key: devAccessKey, stop: stop}, nil
}

// devAuthenticator signs people in through the dev identity provider with
// the same MSAL code path as production, Graph tokens included.
func devAuthenticator(idp *devidp.IdP, base string, caches portal.TokenCacheStore) (*entra.Authenticator, error) {
	cred, err := confidential.NewCredFromSecret(devClientSecret)
	if err != nil {
		return nil, err
	}
	sealer, err := entra.NewSealer(devTokenCacheKey)
	if err != nil {
		return nil, err
	}
	return entra.New(entra.Config{
		Authority:      idp.Authority("organizations"),
		ClientID:       devidp.ClientID,
		Credential:     cred,
		RedirectURL:    base + "/auth/callback",
		AllowedTenants: []portal.GUID{devidp.ContosoTenant, devidp.FabrikamTenant},
		HTTPClient:     idp.HTTPClient(),
		DevIdP:         true,
		Graph:          &entra.GraphConfig{Scopes: graphScopes, Caches: caches, Sealer: sealer},
	})
}

// devTenantNames names the dev personas' tenants.
func devTenantNames() map[portal.GUID]string {
	names := map[portal.GUID]string{}
	for _, p := range devidp.Personas() {
		names[p.TenantID] = p.TenantName
	}
	return names
}

// devBanner is what dev mode's banner tells: where the portal, its
// emulators and its data are.
type devBanner struct {
	Base     string
	ACS      devACS
	Metrics  net.Listener // nil: no /metrics
	GraphURL string
	DataDir  string
	Database database
	AuditKey string // the checkpoint signing key's file
	LogPath  string
	Verbose  bool
}

// printDevBanner tells where everything is and who to sign in as. Tests
// read it, and it comes only once the portal is ready to answer, before
// any log line. Scripts and tests match its first line and its "ACS
// emulator:", "Graph emulator:" and "metrics:" lines: keep their shape.
func printDevBanner(w io.Writer, b devBanner) {
	var s strings.Builder
	fmt.Fprintf(&s, "Teams Phone Access Portal (dev) at %s\n\n", b.Base)
	fmt.Fprintf(&s, "  Sign in as (no password: pick one on the sign-in page, or open %s/auth/login?login_hint=admin@contoso.test):\n", b.Base)
	personas := devidp.Personas()
	var widths [3]int
	rows := make([][4]string, len(personas))
	for i, p := range personas {
		role, can := personaCan(p)
		rows[i] = [4]string{p.LoginHint, p.TenantName, role, can}
		for c := range widths {
			widths[c] = max(widths[c], len(rows[i][c]))
		}
	}
	for _, r := range rows {
		fmt.Fprintf(&s, "    %-*s  %-*s  %-*s  %s\n", widths[0], r[0], widths[1], r[1], widths[2], r[2], r[3])
	}

	dataDir := b.DataDir
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	own := b.Database.SQLitePath != "" && filepath.Clean(b.Database.SQLitePath) == filepath.Join(b.DataDir, "portal.db")
	fmt.Fprintf(&s, "\n  data: %s", dataDir)
	if own && b.ACS.emu != nil {
		s.WriteString(" (delete it to start again from the demo data)")
	}
	s.WriteString("\n")
	if own {
		s.WriteString("    portal.db: the inventory, the audit log, sessions (SQLite)\n")
	} else {
		fmt.Fprintf(&s, "    database: %s\n", maskURL(cmp.Or(b.Database.PostgresURL, "sqlite:"+b.Database.SQLitePath)))
	}
	if b.ACS.emu != nil {
		s.WriteString("    acs-emulator.json*: what the ACS emulator holds\n")
	}
	key := b.AuditKey // elsewhere with -audit-key
	if filepath.Clean(key) == filepath.Join(b.DataDir, devAuditKeyFile) {
		key = devAuditKeyFile
	}
	fmt.Fprintf(&s, "    %s: signs the audit log's checkpoints\n", key)
	if b.Verbose {
		fmt.Fprintf(&s, "    %s: every log line, as JSON; all of them show here too (-v)\n", filepath.Base(b.LogPath))
	} else {
		fmt.Fprintf(&s, "    %s: every log line, as JSON; here only warnings and failed or slow requests (-v: all)\n", filepath.Base(b.LogPath))
	}

	s.WriteString("\n")
	fmt.Fprintf(&s, "  ACS emulator: PORTAL_ACS_CONNECTION_STRING=endpoint=%s/;accesskey=%s\n", b.ACS.url, base64.StdEncoding.EncodeToString(b.ACS.key))
	fmt.Fprintf(&s, "  Graph emulator: %s (names, the people finder, resource accounts)\n", b.GraphURL)
	if b.Metrics != nil {
		fmt.Fprintf(&s, "  metrics: http://%s/metrics\n", b.Metrics.Addr())
	}
	s.WriteString("  Their faults (PUT <emulator>/_emulator/faults) and the Graph emulator's state routes:\n")
	s.WriteString("  README, \"The ACS emulator\" and \"The Graph emulator\".\n\n")
	io.WriteString(w, s.String())
}

// roleCan says in a word, then a few more, what each role may do in the
// portal.
var roleCan = map[portal.Role][2]string{
	portal.RoleAdmin:    {"everything", ": users, resource accounts, bulk plans, the audit log"},
	portal.RoleHelpdesk: {"user assignments", "; resource accounts read-only, no audit log"},
	portal.RoleAuditor:  {"reads everything", " and exports it; changes nothing"},
}

// personaCan is a persona's role and what it may do, for the banner; one
// outside Contoso says that tenants never see each other's data.
func personaCan(p devidp.Persona) (role, can string) {
	roles := portal.RolesFromClaim(p.Roles)
	if len(roles) == 0 {
		return "no role", "sees the no-access page"
	}
	var labels, cans []string
	for _, r := range roles {
		labels = append(labels, r.Label())
		if p.TenantID == devidp.ContosoTenant {
			cans = append(cans, roleCan[r][0]+roleCan[r][1])
		} else {
			cans = append(cans, roleCan[r][0]+", in "+p.TenantName+" only (tenants never see each other's data)")
		}
	}
	return strings.Join(labels, "+"), strings.Join(cans, "; ")
}

// withFaultSwitch serves an emulator, and PUT /_emulator/faults beside it
// to change its faults while it runs (the -faults syntax).
func withFaultSwitch(emu http.Handler, set func(acsemu.Rates)) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", emu)
	mux.HandleFunc("PUT /_emulator/faults", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
		rates, err := acsemu.ParseRates(string(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		set(rates)
		fmt.Fprintf(w, "faults now: %+v\n", rates)
	})
	return mux
}

// serveLoopback serves h on a free loopback port until stop. Shutting down
// starts closing (an emulator's Close, which releases hanging requests so
// the shutdown need not wait them out); stop then calls it again, which
// waits for it to finish (it may be compacting a state file).
func serveLoopback(h http.Handler, closing func()) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	srv.RegisterOnShutdown(closing)
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		closing()
	}, nil
}
