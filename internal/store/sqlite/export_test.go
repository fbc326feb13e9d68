package sqlite

import "time"

// WithApplyDelay returns opt with the applier held back d before every
// transaction, for tests outside the package: reads then go through the
// acknowledged batches SQLite does not hold yet.
func WithApplyDelay(opt Options, d time.Duration) Options {
	opt.applyDelay = d
	return opt
}
