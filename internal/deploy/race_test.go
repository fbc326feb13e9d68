//go:build race

package deploy_test

// raceEnabled reports whether the race detector is on.
const raceEnabled = true
