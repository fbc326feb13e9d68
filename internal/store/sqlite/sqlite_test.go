package sqlite_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/store/sqlite"
	"github.com/privlink/privlink/internal/store/storetest"
)

// TestConformance runs the suite with the default hot-record cache and key
// filter, with tiny ones (every path of eviction and refill, and filters
// filled and rebuilt) and with none.
func TestConformance(t *testing.T) {
	for _, sizes := range [][2]int{{0, 0}, {4, 1}, {-1, -1}} {
		cache, filter := sizes[0], sizes[1]
		t.Run(fmt.Sprintf("cache=%d,filter=%d", cache, filter), func(t *testing.T) {
			opt := sqlite.Options{CacheRecords: cache, FilterBytes: filter}
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
