package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/teamsphone/portal/internal/acsemu"
)

// runEmulator serves the ACS emulator alone until ctx ends, for trying the
// API by hand and for integration tests of other tools.
func runEmulator(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address (loopback unless -allow-remote)")
	accessKey := fs.String("access-key", "", "base64 HMAC access key to accept (default: a random one, printed)")
	faults := fs.String("faults", "", `random faults, e.g. "429=0.2,retry-after=1,5xx=0.05,latency=20ms,hang=0.01,reset=0.01"`)
	state := fs.String("state", "", "JSON file that keeps the emulator's assignments across restarts (default: memory only)")
	deleteMissing := fs.Int("delete-missing", 404, "status for DELETE of an absent assignment: 404 or 204")
	bearer := fs.String("bearer-token", "", "a static bearer token to accept besides HMAC (for testing Entra auth)")
	allowRemote := fs.Bool("allow-remote", false, "allow a non-loopback listen address")
	usersWithout := fs.String("users-without-client-ids", "refuse", "a user assignment PUT with no clientIds: refuse (400, as the service does) or accept (as the specification allows)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}

	key, err := emulatorKey(*accessKey)
	if err != nil {
		return err
	}
	rates, err := acsemu.ParseRates(*faults)
	if err != nil {
		return fmt.Errorf("-faults: %w", err)
	}
	if *deleteMissing != 404 && *deleteMissing != 204 {
		return errors.New("-delete-missing must be 404 or 204")
	}
	if *usersWithout != "refuse" && *usersWithout != "accept" {
		return errors.New("-users-without-client-ids must be refuse or accept")
	}
	cfg := acsemu.Config{
		AccessKey:             key,
		DeleteMissingStatus:   *deleteMissing,
		UsersWithoutClientIDs: *usersWithout == "accept",
		StatePath:             *state,
		Logger:                slog.New(slog.NewJSONHandler(stderr, nil)),
	}
	if *bearer != "" {
		cfg.VerifyBearer = acsemu.StaticTokens(*bearer)
	}
	emu, err := acsemu.New(cfg)
	if err != nil {
		return err
	}
	defer emu.Close()
	emu.SetRates(rates)

	ln, err := listenLoopback(*addr, *allowRemote)
	if err != nil {
		return err
	}
	srv := &http.Server{
		// The same runtime fault switch as portal dev's emulator.
		Handler:           withFaultSwitch(emu, emu.SetRates),
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	// Release hanging requests (injected faults) as soon as shutdown starts,
	// instead of letting them hold it to its deadline.
	srv.RegisterOnShutdown(emu.Close)
	fmt.Fprintf(stdout, "PORTAL_ACS_CONNECTION_STRING=endpoint=http://%s/;accesskey=%s\n", ln.Addr(), base64.StdEncoding.EncodeToString(key))
	fmt.Fprintf(stderr, "change faults while it runs: curl -X PUT -d '429=0.2,retry-after=1' http://%s/_emulator/faults\n", ln.Addr())
	return serveUntilDone(ctx, srv, ln)
}

func emulatorKey(s string) ([]byte, error) {
	if s == "" {
		key := make([]byte, 32)
		rand.Read(key)
		return key, nil
	}
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(key) == 0 {
		return nil, errors.New("-access-key must be base64")
	}
	return key, nil
}

// listenLoopback binds addr at once, so a bad or busy address fails before
// anything is printed, and refuses a non-loopback address unless allowed:
// dev tools must not become reachable from the network by accident.
func listenLoopback(addr string, allowRemote bool) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	if !allowRemote {
		ip := net.ParseIP(host)
		if !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("listen address %q is not loopback; pass -allow-remote to expose it", addr)
		}
	}
	return net.Listen("tcp", addr)
}

// serveUntilDone serves on ln until ctx ends, then shuts down, giving
// in-flight requests a bounded time to finish.
func serveUntilDone(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
