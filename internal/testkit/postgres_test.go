package testkit_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/privlink/privlink/internal/testkit"
)

// TestStartPostgres starts a throwaway server, stops it (connections
// refused) and starts it again (a table made before the stop is there).
func TestStartPostgres(t *testing.T) {
	testkit.SkipUnlessSlow(t, "the throwaway PostgreSQL server")
	pg := testkit.StartPostgres(t)
	url := testkit.FreshSchema(t, pg.URL, "testkit")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	exec := func(sql string) error {
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE TABLE kept (n int)"); err != nil {
		t.Fatal(err)
	}
	pg.Stop(t)
	if err := exec("SELECT 1"); err == nil {
		t.Fatal("a query succeeded while the server was stopped")
	}
	pg.Start(t)
	if err := exec("SELECT count(*) FROM kept"); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
}

// TestFreezePostgres freezes a throwaway server: a query waits (until its
// own timeout) instead of failing, and succeeds after the thaw.
func TestFreezePostgres(t *testing.T) {
	testkit.SkipUnlessSlow(t, "the throwaway PostgreSQL server")
	pg := testkit.StartPostgres(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	pg.Freeze(t)
	qctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	start := time.Now()
	_, err = c.Exec(qctx, "SELECT 1")
	cancel()
	if err == nil || time.Since(start) < 400*time.Millisecond {
		t.Fatalf("a query on a frozen server returned after %v: %v", time.Since(start), err)
	}
	pg.Thaw(t)
	c2, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		t.Fatalf("after the thaw: %v", err)
	}
	defer c2.Close(ctx)
	if _, err := c2.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatalf("after the thaw: %v", err)
	}
}
