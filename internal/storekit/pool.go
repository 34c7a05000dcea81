package storekit

import "runtime"

// DefaultMaxConns is a store's connection pool size when its settings name
// none: four connections per core (GOMAXPROCS), at least 4 and at most 32.
// A request that finds them all in use waits for one. More buys little on
// SQLite, whose pure-Go driver keeps a core busy per connection at work;
// PostgreSQL's connections also wait on the network, hence more than one
// per core, and each is a server process, hence the ceiling.
func DefaultMaxConns() int {
	return min(max(4*runtime.GOMAXPROCS(0), 4), 32)
}
