package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/store/sqlite"
)

// BenchmarkUpdate is durable single-record creates from 64 concurrent
// writers: the group commit at work.
func BenchmarkUpdate(b *testing.B) {
	s, err := sqlite.Open(filepath.Join(b.TempDir(), "b.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Test/things/t%d", n.Add(1))
			err := s.Update(context.Background(), func(tx store.Tx) error {
				if _, err := tx.Get(store.Key(id)); err == nil {
					return fmt.Errorf("exists")
				}
				return tx.Create(&store.Record{ID: id, Type: "Microsoft.Test/things", Body: []byte(`{"properties":{"a":1}}`)})
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkGet is a single-record read in a View.
func BenchmarkGet(b *testing.B) {
	s, err := sqlite.Open(filepath.Join(b.TempDir(), "b.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	id := "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Test/things/t"
	if err := s.Update(context.Background(), func(tx store.Tx) error {
		return tx.Create(&store.Record{ID: id, Type: "Microsoft.Test/things", Body: []byte(`{"properties":{"a":1}}`)})
	}); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.View(context.Background(), func(tx store.Tx) error { _, err := tx.Get(store.Key(id)); return err }); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
