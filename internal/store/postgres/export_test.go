package postgres

import "time"

// RoundTrips is how many round trips the writer has made to the database
// so far (DB.trips), for tests and benchmarks to count per Update.
func (d *DB) RoundTrips() int64 { return d.trips.Load() }

// Queued is how many Updates wait for the writer to start them.
func (d *DB) Queued() int { return len(d.queue) }

// SetLeadPing sets how often a held leadership's session is pinged.
func (d *DB) SetLeadPing(every time.Duration) { d.leadPing = every }
