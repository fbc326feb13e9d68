package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/store/postgres"
	"github.com/privlink/privlink/internal/store/storetest"
)

// testURL is the database the tests use, from PRIVLINK_TEST_POSTGRES (a
// postgres:// URL or key=value DSN the tests may create schemas in). .ci/run
// starts a PostgreSQL server for the run and sets it.
func testURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("PRIVLINK_TEST_POSTGRES")
	if u == "" {
		t.Skip("PRIVLINK_TEST_POSTGRES is not set: no PostgreSQL server to test against (.ci/run starts one)")
	}
	return u
}

var schemas atomic.Int64

// connect opens a connection to url outside privlink, or fails the test.
func connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// freshSchema makes an empty schema for one test and returns url with its
// search_path set to it (pgx passes unknown URL parameters to the server).
func freshSchema(t testing.TB, url string) string {
	t.Helper()
	ctx := context.Background()
	conn := connect(t, url)
	defer conn.Close(ctx)
	name := fmt.Sprintf("privlink_test_%d_%d", time.Now().UnixNano(), schemas.Add(1))
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), url)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE")
			c.Close(context.Background())
		}
	})
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	if !strings.Contains(url, "://") {
		return url + " search_path=" + name
	}
	return url + sep + "search_path=" + name
}

func TestConformance(t *testing.T) {
	url := testURL(t)
	urls := map[store.Store]string{}
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) store.Store {
			u := freshSchema(t, url)
			s, err := postgres.Open(context.Background(), u, postgres.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			urls[s] = u
			return s
		},
		Reopen: func(t *testing.T, s store.Store) store.Store {
			u := urls[s]
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2, err := postgres.Open(context.Background(), u, postgres.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s2.Close() })
			return s2
		},
	})
}

// TestMigrationIsIdempotent: a second Open (another replica starting) finds
// the schema current and changes nothing.
func TestMigrationIsIdempotent(t *testing.T) {
	u := freshSchema(t, testURL(t))
	ctx := context.Background()
	a, err := postgres.Open(ctx, u, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Update(ctx, func(tx store.Tx) error {
		return tx.Create(&store.Record{ID: "/subscriptions/s/resourceGroups/rg", Type: "Microsoft.Resources/resourceGroups", Body: []byte(`{}`)})
	}); err != nil {
		t.Fatal(err)
	}
	b, err := postgres.Open(ctx, u, postgres.Options{})
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	defer b.Close()
	if err := b.View(ctx, func(tx store.Tx) error { _, err := tx.Get("/subscriptions/s/resourcegroups/rg"); return err }); err != nil {
		t.Fatalf("the second store does not see the first's write: %v", err)
	}
}
