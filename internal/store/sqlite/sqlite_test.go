package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/store/sqlite"
	"github.com/privlink/privlink/internal/store/storetest"
)

// TestConformance runs the suite with the default hot-record cache and key
// filter, with tiny ones (every path of eviction and refill, and filters
// filled and rebuilt) and with none.
//
// The last run holds the applier back 20 ms before every transaction, so
// that nearly every read, in Views and writers alike, goes through
// acknowledged batches SQLite does not hold yet, laid over an older
// snapshot.
func TestConformance(t *testing.T) {
	// The last variant lists the suite's child type by parent alone, and
	// its top-level type too, whose keys do not name it after the parent's
	// (DB.SetParentListed): their records stay out of the indexes by
	// parent and by type, and every query must find them all the same.
	for _, sizes := range [][4]int{{0, 0, 0, 0}, {4, 1, 0, 0}, {-1, -1, 0, 0}, {0, 0, 20, 0}, {0, 0, 0, 1}} {
		cache, filter, delay, unlisted := sizes[0], sizes[1], time.Duration(sizes[2])*time.Millisecond, sizes[3] == 1
		t.Run(fmt.Sprintf("cache=%d,filter=%d,applyDelay=%v,unlisted=%v", cache, filter, delay, unlisted), func(t *testing.T) {
			if delay > 0 && testing.Short() {
				t.Skip("the suite takes longer with the applier held back")
			}
			opt := sqlite.WithApplyDelay(sqlite.Options{CacheRecords: cache, FilterBytes: filter}, delay)
			// paths remembers each test store's file so Reopen can open it
			// again; the suite runs its subtests sequentially.
			paths := map[store.Store]string{}
			storetest.Run(t, storetest.Backend{
				Open: func(t *testing.T) store.Store {
					path := filepath.Join(t.TempDir(), "privlink.db")
					s, err := sqlite.Open(path, opt)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { s.Close() })
					if unlisted {
						if err := s.SetParentListed(context.Background(), []string{"Microsoft.Test/things/children", "Microsoft.Test/things"}); err != nil {
							t.Fatal(err)
						}
					}
					paths[s] = path
					return s
				},
				Reopen: func(t *testing.T, s store.Store) store.Store {
					path := paths[s]
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
					s2, err := sqlite.Open(path, opt)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { s2.Close() })
					return s2
				},
			})
		})
	}
}
