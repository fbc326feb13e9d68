package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/store"
)

// TestWALStaysBounded writes without pause while Views run all the time
// (each holding a snapshot, which keeps a PASSIVE checkpoint from ever
// letting SQLite restart the WAL) and checks that the WAL is restarted
// anyway, each time it grows past the threshold, instead of growing with
// everything written.
func TestWALStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes for a few seconds")
	}
	old := walFrames
	walFrames = 200
	defer func() { walFrames = old }()
	db, err := Open(filepath.Join(t.TempDir(), "privlink.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var n atomic.Int64
	body := make([]byte, 2000)
	for range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Test/things/t%d", n.Add(1))
				if err := db.Update(ctx, func(tx store.Tx) error {
					return tx.Create(&store.Record{ID: id, Type: "Microsoft.Test/things", Body: body})
				}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				// Each View holds its snapshot a moment, so that some
				// snapshot is open nearly all the time.
				_ = db.View(ctx, func(tx store.Tx) error {
					_, err := tx.List(store.Query{Prefix: "/subscriptions/s", Limit: 1})
					time.Sleep(time.Millisecond)
					return err
				})
			}
		}()
	}
	time.Sleep(4 * time.Second)
	close(stop)
	wg.Wait()
	written := int(n.Load())
	t.Logf("%d records written, %d RESTART checkpoints", written, db.restarts.Load())
	if written < 4*walFrames {
		t.Skipf("only %d records written: too few to tell", written)
	}
	// A RESTART checkpoint that is not busy has copied the whole WAL and
	// seen every reader leave it: the next commit writes the WAL from its
	// start. Without them the WAL only grows (tens of thousands of pages
	// here) while Views keep snapshots open.
	if got := db.restarts.Load(); got < 1 {
		t.Fatalf("no RESTART checkpoint in 4 s of writes past the threshold")
	}
}
