//go:build !linux

package testkit

import "testing"

// Freeze needs Linux (it finds the server's processes in /proc): the test is skipped.
func (p *Postgres) Freeze(tb testing.TB) { tb.Skip("testkit: Postgres.Freeze needs Linux") }

// Thaw lets a frozen server go on.
func (p *Postgres) Thaw(tb testing.TB) {}
