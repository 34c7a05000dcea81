package portal

import (
	"context"
	"errors"
)

type backgroundKey struct{}

// Background marks ctx as work no person is waiting on, such as the rows of
// a bulk job. An adapter that bounds its calls to a service (the ACS
// client) serves a person's own change before any queued background call,
// so that a running job never makes someone wait behind its backlog.
func Background(ctx context.Context) context.Context {
	return context.WithValue(ctx, backgroundKey{}, true)
}

// IsBackground reports whether ctx was marked by Background.
func IsBackground(ctx context.Context) bool {
	b, _ := ctx.Value(backgroundKey{}).(bool)
	return b
}

type stopWaitingKey struct{}

// BackgroundUntil is Background, and more: a call of ctx still waiting for
// its turn when stop closes gives up unsent, while one already sent
// finishes. A bulk job that ACS pauses, or a person cancels, thus sends
// nothing more, not even the calls an adapter was holding back in its
// queue.
func BackgroundUntil(ctx context.Context, stop <-chan struct{}) context.Context {
	return context.WithValue(Background(ctx), stopWaitingKey{}, stop)
}

// StopWaiting is the stop channel ctx got from BackgroundUntil; nil, which
// never closes, when it has none.
func StopWaiting(ctx context.Context) <-chan struct{} {
	stop, _ := ctx.Value(stopWaitingKey{}).(<-chan struct{})
	return stop
}

// StoppedWaiting reports whether ctx's work has stopped waiting (its stop
// channel from BackgroundUntil is closed): a change made with it begins
// nothing more, since none of its calls would be sent.
func StoppedWaiting(ctx context.Context) bool {
	select {
	case <-StopWaiting(ctx):
		return true
	default:
		return false
	}
}

// ErrNotSent is in the chain of every NotSent error: nothing was sent, so
// nothing changed, and no GET is needed to say so.
var ErrNotSent = errors.New("not sent: the work it belonged to stopped waiting")

// NotSent is the error of a call, or of a change's try, given up before
// anything was sent because its work stopped waiting (BackgroundUntil).
func NotSent(err error) error {
	return Wrap(errors.Join(ErrNotSent, err), EUNAVAILABLE, "Not sent to ACS: the work it belonged to was paused or stopped first; nothing was changed.")
}
