package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/store/sqlite"
	"github.com/privlink/privlink/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) store.Store {
			path := filepath.Join(t.TempDir(), "privlink.db")
			s, err := sqlite.Open(path, sqlite.Options{})
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
			s2, err := sqlite.Open(path, sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s2.Close() })
			return s2
		},
	})
}

// paths remembers each test store's file so Reopen can open it again; the
// suite runs its subtests sequentially.
var paths = map[store.Store]string{}
