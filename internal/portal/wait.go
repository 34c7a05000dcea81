package portal

import (
	"context"
	"fmt"
	"time"
)

// WaitText writes a wait as people read it: "20 s", "2 min 5 s", "1 h 30 min".
func WaitText(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(max(d/time.Second, 1)))
	case d < time.Hour:
		if s := int(d % time.Minute / time.Second); s != 0 {
			return fmt.Sprintf("%d min %d s", int(d/time.Minute), s)
		}
		return fmt.Sprintf("%d min", int(d/time.Minute))
	}
	if m := int(d % time.Hour / time.Minute); m != 0 {
		return fmt.Sprintf("%d h %d min", int(d/time.Hour), m)
	}
	return fmt.Sprintf("%d h", int(d/time.Hour))
}

// UntilText writes when a wait of length wait ends, at until, in UTC to
// the second ("07:15:20 UTC"), with the date when the wait may cross
// midnight ("2026-12-08 07:15:20 UTC").
func UntilText(until time.Time, wait time.Duration) string {
	layout := "15:04:05 UTC"
	if wait >= 12*time.Hour {
		layout = "2006-01-02 15:04:05 UTC"
	}
	return until.UTC().Format(layout)
}

type waitAskedKey struct{}

// WhenAskedToWait returns ctx carrying heard, which an adapter calls (see
// AskedToWait) each time the service it calls for ctx asks to be left
// alone for a while — a Retry-After — even when the adapter waits it out
// itself. A bulk job pauses all its rows on it, and says so on its page,
// instead of learning of the wait only when a row's call fails.
func WhenAskedToWait(ctx context.Context, heard func(wait time.Duration)) context.Context {
	return context.WithValue(ctx, waitAskedKey{}, heard)
}

// AskedToWait tells ctx's listener (WhenAskedToWait), if any, that the
// service asked for wait. It must not block: it is called on the call's
// path.
func AskedToWait(ctx context.Context, wait time.Duration) {
	if heard, ok := ctx.Value(waitAskedKey{}).(func(time.Duration)); ok && wait > 0 {
		heard(wait)
	}
}
