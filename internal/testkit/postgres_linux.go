package testkit

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Freeze stops every process of the server (SIGSTOP) until Thaw, as a
// network partition does: connections are still accepted by the kernel,
// but nothing answers them, and queries in flight hang. The server is
// thawed when the test ends, if it is still frozen.
func (p *Postgres) Freeze(tb testing.TB) {
	tb.Helper()
	pm := p.postmaster(tb)
	// The postmaster first, so that it starts no backend meanwhile.
	if err := syscall.Kill(pm, syscall.SIGSTOP); err != nil {
		tb.Fatalf("testkit: freeze PostgreSQL: %v", err)
	}
	tb.Cleanup(func() { p.signalAll(pm, syscall.SIGCONT) })
	p.signalAll(pm, syscall.SIGSTOP)
}

// Thaw lets a frozen server go on (SIGCONT).
func (p *Postgres) Thaw(tb testing.TB) {
	tb.Helper()
	p.signalAll(p.postmaster(tb), syscall.SIGCONT)
}

// postmaster is the server's main process id, from its postmaster.pid.
func (p *Postgres) postmaster(tb testing.TB) int {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(p.dir, "data", "postmaster.pid"))
	if err != nil {
		tb.Fatalf("testkit: PostgreSQL's process: %v", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		tb.Fatalf("testkit: PostgreSQL's postmaster.pid: %v", err)
	}
	return pid
}

// signalAll sends sig to the postmaster pm and to its children (the
// backends and the server's helper processes).
func (p *Postgres) signalAll(pm int, sig syscall.Signal) {
	_ = syscall.Kill(pm, sig)
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range procs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
		i := strings.LastIndexByte(string(b), ')')
		fields := strings.Fields(string(b)[i+1:])
		if len(fields) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == pm {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			_ = syscall.Kill(pid, sig)
		}
	}
}
