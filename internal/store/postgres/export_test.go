package postgres

// RoundTrips is how many round trips the writer has made to the database
// so far (DB.trips), for tests and benchmarks to count per Update.
func (d *DB) RoundTrips() int64 { return d.trips.Load() }
