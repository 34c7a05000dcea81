package portal

import "context"

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
