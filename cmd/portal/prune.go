package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/teamsphone/portal/web"
)

// pruneSessions removes dead sessions every interval until ctx ends, so the
// sessions table holds only sessions someone could still use.
func pruneSessions(ctx context.Context, srv *web.Server, every time.Duration, logger *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := srv.PruneSessions(ctx)
			if err != nil {
				logger.Warn("session pruning failed", "err", err)
			} else if n > 0 {
				logger.Info("sessions pruned", "event", "sessions.pruned", "count", n)
			}
		}
	}
}
