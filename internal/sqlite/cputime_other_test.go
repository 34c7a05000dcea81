//go:build !unix

package sqlite_test

import "time"

// cpuTime and sysTime are unknown here: the benchmark reports wall time only.
func cpuTime() time.Duration { return 0 }

func sysTime() time.Duration { return 0 }
