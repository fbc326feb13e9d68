package testkit

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresEnv names the PostgreSQL server the tests of the PostgreSQL
// store use (a postgres:// URL; .ci/run starts one and sets it).
const PostgresEnv = "PRIVLINK_TEST_POSTGRES"

// PostgresURL returns the URL PRIVLINK_TEST_POSTGRES names; without one the
// test is skipped, or fails when the slow suites are on (see Need).
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(PostgresEnv)
	Need(tb, strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://"),
		PostgresEnv+" is not set to a postgres:// URL: no PostgreSQL server to test against",
		"bash .ci/run starts one and sets it")
	return u
}

var schemaSeq atomic.Int64

// FreshSchema creates a new schema named after prefix on the server at
// base (a postgres:// URL), dropped with everything in it when the test
// ends, and returns base with search_path set to it: a store URL of its
// own for privlink serve --store.
func FreshSchema(tb testing.TB, base, prefix string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("testkit: connect to PostgreSQL: %v", err)
	}
	defer conn.Close(context.Background())
	schema := fmt.Sprintf("%s_%d_%d", prefix, time.Now().UnixNano(), schemaSeq.Add(1))
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("testkit: create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, base); err == nil {
			_, _ = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(ctx)
		}
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

// Postgres is a throwaway PostgreSQL server of the test's own, which the
// test may stop and start again (to play an outage): a cluster made with
// initdb in a temporary directory, listening on a unix socket there only.
type Postgres struct {
	// URL is the server's postgres:// URL (user postgres, database postgres).
	URL string
	bin string // directory of initdb, pg_ctl, postgres
	dir string // the socket's directory; the cluster is in dir/data
}

// PostgresBin is the directory of PostgreSQL's server programs (initdb,
// pg_ctl): the one of initdb on PATH, else the newest Debian package's
// (/usr/lib/postgresql/N/bin); "" when there is none.
func PostgresBin() string {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(found, func(i, j int) bool { return pgVersion(found[i]) < pgVersion(found[j]) })
	if len(found) == 0 {
		return ""
	}
	return filepath.Dir(found[len(found)-1])
}

func pgVersion(initdb string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return n
}

// StartPostgres starts a throwaway PostgreSQL server, stopped and removed
// when the test ends. It needs PostgreSQL's server programs (Debian's
// package postgresql; .ci/run installs it); as root, the server runs as
// the package's postgres user, since PostgreSQL refuses to run as root.
func StartPostgres(tb testing.TB) *Postgres {
	tb.Helper()
	bin := PostgresBin()
	Need(tb, bin != "", "PostgreSQL's initdb is not installed", "apt-get install postgresql (bash .ci/run does)")
	// Not t.TempDir: the server's user must reach it, and a unix socket's
	// path must stay short (about 100 bytes).
	dir, err := os.MkdirTemp("", "privlink-pg-")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Postgres{bin: bin, dir: dir, URL: "postgres://postgres@/postgres?host=" + url.QueryEscape(dir)}
	tb.Cleanup(func() {
		_ = p.run("pg_ctl", "-D", filepath.Join(dir, "data"), "-m", "immediate", "stop")
		_ = os.RemoveAll(dir)
	})
	if os.Getuid() == 0 {
		u, err := user.Lookup("postgres")
		Need(tb, err == nil, "no postgres user to run PostgreSQL as (it refuses to run as root)", "apt-get install postgresql makes one")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			tb.Fatal(err)
		}
	}
	if err := p.run("initdb", "-D", filepath.Join(dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync"); err != nil {
		tb.Fatalf("testkit: initdb: %v", err)
	}
	p.Start(tb)
	return p
}

// Start starts the server (again) and waits until it accepts connections.
func (p *Postgres) Start(tb testing.TB) {
	tb.Helper()
	opts := fmt.Sprintf("-k %s -c listen_addresses= -c fsync=off -c max_connections=300", p.dir)
	if err := p.run("pg_ctl", "-D", filepath.Join(p.dir, "data"), "-o", opts, "-l", filepath.Join(p.dir, "log"), "-w", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "log"))
		tb.Fatalf("testkit: start PostgreSQL: %v\n%s", err, log)
	}
}

// Stop stops the server at once (pg_ctl stop -m immediate: every
// connection is cut, as when its machine goes away).
func (p *Postgres) Stop(tb testing.TB) {
	tb.Helper()
	if err := p.run("pg_ctl", "-D", filepath.Join(p.dir, "data"), "-m", "immediate", "-w", "stop"); err != nil {
		tb.Fatalf("testkit: stop PostgreSQL: %v", err)
	}
}

// run runs one of PostgreSQL's programs, as the postgres user when this
// process is root.
func (p *Postgres) run(prog string, args ...string) error {
	argv := append([]string{filepath.Join(p.bin, prog)}, args...)
	var cmd *exec.Cmd
	if os.Getuid() == 0 {
		quoted := make([]string, len(argv))
		for i, a := range argv {
			quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		cmd = exec.Command("su", "postgres", "-s", "/bin/sh", "-c", strings.Join(quoted, " "))
	} else {
		cmd = exec.Command(argv[0], argv[1:]...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return nil
}
