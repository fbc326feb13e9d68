package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/store"
)

func TestKeyFilter(t *testing.T) {
	f := newKeyFilter(64 << 10) // 512 Kibit: made for 32,768 keys
	f.ready.Store(true)
	n := int(f.capacity)
	for i := range n {
		f.addRecord(fmt.Sprintf("/subscriptions/s/things/t%d", i))
		f.addOp(fmt.Sprintf("op%d", i))
	}
	for i := range n {
		if !f.mayHaveRecord(fmt.Sprintf("/subscriptions/s/things/t%d", i)) || !f.mayHaveOp(fmt.Sprintf("op%d", i)) {
			t.Fatalf("key %d added but reported absent", i)
		}
	}
	// Twice the keys it is made for (records and operations): false
	// positives stay rare.
	fp := 0
	for i := range n {
		if f.mayHaveRecord(fmt.Sprintf("/subscriptions/s/things/u%d", i)) {
			fp++
		}
	}
	if rate := float64(fp) / float64(n); rate > 0.05 {
		t.Errorf("false positive rate %.3f at twice the capacity", rate)
	}
	if !f.full() {
		t.Errorf("full() = false after %d adds, capacity %d", f.adds.Load(), f.capacity)
	}
	// Not ready: everything may exist.
	g := newKeyFilter(1)
	if !g.mayHaveRecord("/x") || !g.mayHaveOp("x") {
		t.Error("a filter not loaded yet ruled a key out")
	}
	var none *keyFilter
	if !none.mayHaveRecord("/x") {
		t.Error("no filter ruled a key out")
	}
}

// awaitFilter waits for the store's current filter to be loaded.
func awaitFilter(t *testing.T, d *DB) *keyFilter {
	t.Helper()
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(5 * time.Millisecond) {
		if f := d.filter.Load(); f != nil && f.ready.Load() {
			return f
		}
	}
	t.Fatal("the key filter was not loaded within 10 s")
	return nil
}

// TestFilterLoadedOnOpen: a store opened on existing data loads its keys
// into the filter, after which keys that exist are found and most that do
// not are ruled out without a query.
func TestFilterLoadedOnOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "privlink.db")
	d, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id := func(i int) string { return fmt.Sprintf("/subscriptions/s/providers/Microsoft.Test/things/t%d", i) }
	if err := d.Update(ctx, func(tx store.Tx) error {
		for i := range 500 {
			if err := tx.Create(&store.Record{ID: id(i), Type: "Microsoft.Test/things", Body: []byte(`{}`)}); err != nil {
				return err
			}
			if err := tx.PutOperation(&store.Operation{ID: fmt.Sprint("op", i), Kind: "k", Status: "Running", Doc: []byte(`{}`)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	// Loaded in chunks of 7: boundaries inside both tables.
	old := loadChunk
	loadChunk = 7
	defer func() { loadChunk = old }()
	if d, err = Open(path, Options{}); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	f := awaitFilter(t, d)
	ruledOut := 0
	for i := range 1000 {
		exists := i < 500
		if f.mayHaveRecord(store.Key(id(i))) != exists && exists {
			t.Fatalf("record %d exists but the filter rules it out", i)
		}
		if !f.mayHaveRecord(store.Key(id(i))) {
			ruledOut++
		}
		for _, read := range []func(context.Context, func(store.Tx) error) error{d.View, d.Update} {
			err := read(ctx, func(tx store.Tx) error {
				_, err := tx.Get(store.Key(id(i)))
				_, errOp := tx.GetOperation(fmt.Sprint("op", i))
				if exists && (err != nil || errOp != nil) || !exists && (!errors.Is(err, store.ErrNotFound) || !errors.Is(errOp, store.ErrNotFound)) {
					t.Errorf("key %d (exists: %v): Get %v, GetOperation %v", i, exists, err, errOp)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if ruledOut < 490 {
		t.Errorf("the filter ruled out %d of 500 absent keys", ruledOut)
	}
}

// TestFilterRebuilt: with a filter made for few keys, writers that create
// and delete many keep filling it; it is replaced by a new one, loaded
// while writes go on, and no read in a write or a View ever misses a
// record or an operation that exists.
func TestFilterRebuilt(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "privlink.db"), Options{FilterBytes: 1, CacheRecords: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	first := awaitFilter(t, d)
	ctx := context.Background()
	id := func(w, i int) string {
		return fmt.Sprintf("/subscriptions/s/providers/Microsoft.Test/things/w%dt%d", w, i)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 600 {
				key, op := store.Key(id(w, i)), fmt.Sprintf("op%d.%d", w, i)
				err := d.Update(ctx, func(tx store.Tx) error {
					if _, err := tx.Get(key); !errors.Is(err, store.ErrNotFound) {
						return fmt.Errorf("new key %s: Get %v", key, err)
					}
					if err := tx.Create(&store.Record{ID: id(w, i), Type: "Microsoft.Test/things", Body: []byte(`{}`)}); err != nil {
						return err
					}
					return tx.PutOperation(&store.Operation{ID: op, Kind: "k", Status: "Running", Doc: []byte(`{}`)})
				})
				if err != nil {
					t.Error(err)
					return
				}
				// Read back in a View and in a write; every other one is
				// then deleted.
				check := func(tx store.Tx) error {
					if _, err := tx.Get(key); err != nil {
						return fmt.Errorf("%s written, then Get: %v", key, err)
					}
					if _, err := tx.GetOperation(op); err != nil {
						return fmt.Errorf("%s written, then GetOperation: %v", op, err)
					}
					return nil
				}
				if err := d.View(ctx, check); err != nil {
					t.Error(err)
					return
				}
				if err := d.Update(ctx, func(tx store.Tx) error {
					if err := check(tx); err != nil || i%2 == 1 {
						return err
					}
					return tx.Delete(key)
				}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if f := awaitFilter(t, d); f == first {
		t.Fatalf("the filter (made for %d keys) was never replaced after %d adds", first.capacity, first.adds.Load())
	}
	err = d.View(ctx, func(tx store.Tx) error {
		for w := range 8 {
			for i := range 600 {
				_, err := tx.Get(store.Key(id(w, i)))
				if want := i%2 == 1; (err == nil) != want {
					t.Errorf("%s: Get %v, want it to exist: %v", id(w, i), err, want)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
