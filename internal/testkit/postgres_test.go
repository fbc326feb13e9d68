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
