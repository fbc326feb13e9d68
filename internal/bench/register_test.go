package bench

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/privlink/privlink/internal/operation"
	"github.com/privlink/privlink/internal/providers"
	"github.com/privlink/privlink/internal/resource"
	"github.com/privlink/privlink/internal/store/sqlite"
)

// BenchmarkRegister measures what every start-up pays to wire the kinds:
// privlink's own and a generic kind for each other type of the catalog
// (about 3,400).
func BenchmarkRegister(b *testing.B) {
	db, err := sqlite.Open(filepath.Join(b.TempDir(), "privlink.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	b.ReportAllocs()
	for b.Loop() {
		e := resource.New(db, operation.New(db, operation.Options{Logger: logger}), resource.Config{Logger: logger})
		providers.Register(e, nil)
	}
}
