// Package testclock is for tests only: a clock that a test sets and moves,
// injected where code takes a Now func, so that expiry, leases and pauses
// are tested without waiting. Production code must not import it.
package testclock

import (
	"sync"
	"time"
)

// Clock is a time source safe for concurrent use; it stands still until
// Set or Add moves it.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a Clock showing t.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now is the time the clock shows.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Add moves the clock on by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
