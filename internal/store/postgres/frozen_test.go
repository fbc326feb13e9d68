package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/store/postgres"
	"github.com/privlink/privlink/internal/testkit"
)

// A View whose function has read what it needs does not wait for a
// database that stops answering before the transaction ends: its read is
// answered, and the end of its read-only transaction is given up. Before,
// that end waited without bound, and a GET that had its answer hung until
// the database came back (TestPostgresOutage's frozen case caught one
// after 15 s). The server is thawed only once the View has returned, so a
// View that waits for it never returns before the thaw.
func TestViewDoesNotWaitForAFrozenDatabaseToEnd(t *testing.T) {
	testkit.SkipUnlessSlow(t, "freezing a PostgreSQL server")
	pg := testkit.StartPostgres(t)
	ctx := context.Background()
	db, err := postgres.Open(ctx, testkit.FreshSchema(t, pg.URL, "privlink_frozen"), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// One connection in the pool, so that the View below is on it.
	if err := db.View(ctx, func(tx store.Tx) error { _, err := tx.Get("/absent"); return err }); err != store.ErrNotFound {
		t.Fatalf("first view: %v", err)
	}
	read, frozen := make(chan struct{}), make(chan struct{})
	returned := make(chan error, 1)
	go func() {
		returned <- db.View(ctx, func(tx store.Tx) error {
			_, err := tx.Get("/absent")
			close(read)
			<-frozen // the database stops answering once the read is done
			return err
		})
	}()
	<-read
	pg.Freeze(t)
	close(frozen)
	var err2 error
	select {
	case err2 = <-returned:
	case <-time.After(time.Minute):
		pg.Thaw(t)
		t.Fatal("the View still waited for the frozen database a minute later")
	}
	pg.Thaw(t)
	if err2 != store.ErrNotFound {
		t.Errorf("the View's own answer was lost: %v", err2)
	}
}
