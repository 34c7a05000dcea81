package main

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
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
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address (loopback unless -allow-remote)")
	dataDir := fs.String("data", "data", "folder for the SQLite database and the emulator's state")
	allowRemote := fs.Bool("allow-remote", false, "allow a non-loopback listen address (the dev IdP signs anyone in!)")
	requireWhy := fs.Bool("require-justification", false, "refuse changes without a justification")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file until the portal stops (for load tests)")
	memProfile := fs.String("memprofile", "", "write a heap profile to this file when the portal stops (for load tests)")
	reconcileEvery := fs.Duration("reconcile-every", time.Hour, "how often to compare the whole inventory with ACS (0: only on demand)")
	expiryGrace := fs.Duration("expiry-grace", 0, "how long ended time-boxed access stays before it is revoked")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus /metrics on this address too, e.g. 127.0.0.1:9090")
	databaseURL := fs.String("database", "", "a database instead of SQLite in -data: postgres://… (several dev instances may share it)")
	acsConnection := fs.String("acs-connection-string", "", "an ACS (emulator) to use instead of the in-process one: endpoint=…;accesskey=… (no demo data then)")
	graphFaults := fs.String("graph-faults", "", `faults the Graph emulator injects, in -acs-faults' syntax (change them while it runs: PUT to <graph emulator>/_emulator/faults)`)
	graphWithhold := fs.String("graph-withhold", "", `delegated Graph permissions the dev tenants have not consented to, comma-separated: users, resourceAccounts, apps`)
	acsFaults := fs.String("acs-faults", "", `faults the ACS emulator injects, e.g. "429=0.2,retry-after=1,503=0.05,latency=20ms" (change them while it runs: PUT the same text to <emulator>/_emulator/faults)`)
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	if *memProfile != "" {
		defer func() {
			if f, err := os.Create(*memProfile); err == nil {
				runtime.GC()
				pprof.WriteHeapProfile(f)
				f.Close()
			}
		}()
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	ln, err := listenLoopback(*addr, *allowRemote)
	if err != nil {
		return err
	}
	defer ln.Close()
	var mln net.Listener
	if *metricsAddr != "" {
		if mln, err = listenLoopback(*metricsAddr, *allowRemote); err != nil {
			return fmt.Errorf("-metrics-addr: %w", err)
		}
		defer mln.Close()
	}
	base := "http://" + ln.Addr().String()

	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	d := database{SQLitePath: filepath.Join(*dataDir, "portal.db")}
	if *databaseURL != "" {
		if d, err = parseDatabase(*databaseURL); err != nil {
			return fmt.Errorf("-database: %w", err)
		}
		d.MigrationURL = d.PostgresURL // one role in dev: it migrates too
	}
	db, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()

	rates, err := acsemu.ParseRates(*acsFaults)
	if err != nil {
		return fmt.Errorf("-acs-faults: %w", err)
	}
	// The in-process emulator, or one ACS several dev instances share.
	var emu *acsemu.Emulator
	emuURL, acsKey := "", devAccessKey
	if *acsConnection != "" {
		cs, err := acs.ParseConnectionString(*acsConnection)
		if err != nil {
			return fmt.Errorf("-acs-connection-string: %s", portal.ErrorMessage(err))
		}
		emuURL, acsKey = strings.TrimRight(cs.Endpoint, "/"), cs.AccessKey
	} else {
		var stopEmu func()
		if emu, emuURL, stopEmu, err = startDevEmulator(filepath.Join(*dataDir, "acs-emulator.json"), logger); err != nil {
			return err
		}
		defer stopEmu()
	}
	idp, err := devidp.Start(devidp.Config{
		ClientSecret:           devClientSecret,
		RedirectURIs:           []string{base + "/auth/callback"},
		PostLogoutRedirectURIs: []string{base + "/"},
	})
	if err != nil {
		return fmt.Errorf("dev identity provider: %w", err)
	}
	defer idp.Close()

	cred, err := confidential.NewCredFromSecret(devClientSecret)
	if err != nil {
		return err
	}
	tenants := map[portal.GUID]string{}
	for _, p := range devidp.Personas() {
		tenants[p.TenantID] = p.TenantName
	}
	graphRates, err := acsemu.ParseRates(*graphFaults)
	if err != nil {
		return fmt.Errorf("-graph-faults: %w", err)
	}
	withheld, err := parseWithheld(*graphWithhold)
	if err != nil {
		return fmt.Errorf("-graph-withhold: %w", err)
	}
	graphEmu, graphURL, stopGraph, err := startDevGraph(idp, withheld, logger)
	if err != nil {
		return fmt.Errorf("graph emulator: %w", err)
	}
	defer stopGraph()
	graphEmu.SetRates(graphRates)
	sealer, err := entra.NewSealer(devTokenCacheKey)
	if err != nil {
		return err
	}
	auth, err := entra.New(entra.Config{
		Authority:      idp.Authority("organizations"),
		ClientID:       devidp.ClientID,
		Credential:     cred,
		RedirectURL:    base + "/auth/callback",
		AllowedTenants: []portal.GUID{devidp.ContosoTenant, devidp.FabrikamTenant},
		HTTPClient:     idp.HTTPClient(),
		DevIdP:         true,
		Graph:          &entra.GraphConfig{Scopes: graphScopes, Caches: db, Sealer: sealer},
	})
	if err != nil {
		return err
	}
	p, err := assemble(adapters{
		Listener:             ln,
		MetricsListener:      mln,
		Store:                db,
		ACS:                  acs.Options{Endpoint: emuURL, AccessKey: acsKey},
		Auth:                 auth,
		Directory:            graph.New(graphURL, nil),
		Logger:               logger,
		BaseURL:              base,
		SignOutOrigin:        idp.BrowserBase(),
		KnownApps:            devKnownApps,
		TenantNames:          tenants,
		ACSResourceID:        devACSResourceID,
		RequireJustification: *requireWhy,
		ReconcileEvery:       *reconcileEvery,
		ExpiryGrace:          *expiryGrace,
		DevMode:              true,
	})
	if err != nil {
		return err
	}
	if emu != nil {
		if err := seedDev(ctx, db, emu, emuURL, p.Access); err != nil {
			return fmt.Errorf("dev seed: %w", err)
		}
		emu.SetRates(rates) // after the seed, which must not fail
	}
	fmt.Fprintf(stdout, "Teams Phone Access Portal (dev) at %s\n", base)
	fmt.Fprintf(stdout, "  sign in as: admin@contoso.test, helpdesk@contoso.test, auditor@contoso.test, norole@contoso.test, admin@fabrikam.test\n")
	fmt.Fprintf(stdout, "  ACS emulator: PORTAL_ACS_CONNECTION_STRING=endpoint=%s/;accesskey=%s\n", emuURL, base64.StdEncoding.EncodeToString(acsKey))
	if emu != nil {
		fmt.Fprintf(stdout, "  ACS emulator faults: curl -X PUT -d '429=0.2,retry-after=1,503=0.05,latency=20ms' %s/_emulator/faults\n", emuURL)
	}
	if mln != nil {
		fmt.Fprintf(stdout, "  metrics: http://%s/metrics\n", mln.Addr())
	}
	fmt.Fprintf(stdout, "  Graph emulator: %s (names, the people finder, resource accounts)\n", graphURL)
	fmt.Fprintf(stdout, "  Graph emulator faults: curl -X PUT -d '429=1,retry-after=30' %s/_emulator/faults\n", graphURL)
	fmt.Fprintf(stdout, "  data: %s\n", *dataDir)
	return p.Run(ctx)
}

// startDevEmulator serves the ACS emulator on its own loopback port, with its
// state in the data folder so that restarting dev mode is like restarting the
// portal alone: ACS does not forget.
func startDevEmulator(statePath string, logger *slog.Logger) (*acsemu.Emulator, string, func(), error) {
	emu, err := acsemu.New(acsemu.Config{AccessKey: devAccessKey, StatePath: statePath, Logger: logger})
	if err != nil {
		return nil, "", nil, fmt.Errorf("ACS emulator: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", emu)
	// Faults can be changed while dev mode runs, to watch a bulk job or a
	// reconcile ride out throttling: curl -X PUT -d '429=0.2,retry-after=1'.
	mux.HandleFunc("PUT /_emulator/faults", faultsHandler(emu.SetRates))
	url, stop, err := serveLoopback(mux, emu.Close)
	if err != nil {
		return nil, "", nil, fmt.Errorf("ACS emulator: %w", err)
	}
	return emu, url, stop, nil
}

// faultsHandler sets an emulator's faults from a PUT body in -acs-faults'
// syntax.
func faultsHandler(set func(acsemu.Rates)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
		rates, err := acsemu.ParseRates(string(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		set(rates)
		fmt.Fprintf(w, "faults now: %+v\n", rates)
	}
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
