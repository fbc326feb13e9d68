package providers_test

import (
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"

	"github.com/privlink/privlink/internal/catalog"
	"github.com/privlink/privlink/internal/operation"
	"github.com/privlink/privlink/internal/providers"
	"github.com/privlink/privlink/internal/resource"
	"github.com/privlink/privlink/internal/store/sqlite"
)

// Every served kind accepts the api-versions the catalog lists for its type
// (or, for a type it does not list, for the nearest listed parent), and
// lists its versions oldest first, as the engine's messages and the
// provider listing expect.
func TestKindsAcceptTheCatalog(t *testing.T) {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "privlink.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := resource.New(db, operation.New(db, operation.Options{Logger: logger}), resource.Config{Logger: logger})
	providers.Register(e, nil)
	kinds := 0
	for _, n := range e.Namespaces() {
		for _, k := range e.Kinds(n.Name) {
			kinds++
			if !slices.IsSorted(k.APIVersions) || len(slices.Compact(slices.Clone(k.APIVersions))) != len(k.APIVersions) {
				t.Errorf("%s: api-versions %v are not sorted oldest first without repeats", k.Type, k.APIVersions)
			}
			for _, v := range catalog.Accept(k.Type) {
				if !slices.Contains(k.APIVersions, v) {
					t.Errorf("%s does not accept %s, which the catalog lists", k.Type, v)
				}
			}
		}
	}
	if kinds < 20 {
		t.Fatalf("only %d kinds registered", kinds)
	}
}

// Every type of the catalog has a kind, and rules registered after the
// generic kinds (the deployments engine registers after the providers)
// replace the generic one of their type.
func TestEveryCatalogTypeServed(t *testing.T) {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "privlink.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := resource.New(db, operation.New(db, operation.Options{Logger: logger}), resource.Config{Logger: logger})
	providers.Register(e, nil)
	for _, typ := range catalog.All() {
		if e.Kind(typ) == nil {
			t.Errorf("%s has no kind", typ)
		}
	}
	if k := e.Kind("Microsoft.Network/privateEndpoints"); k == nil || k.Generic {
		t.Error("private endpoints are served generically, without their rules")
	}
	own := &resource.Kind{Type: "Microsoft.Network/virtualNetworks", APIVersions: []string{"2024-05-01"}}
	e.Register(own)
	if e.Kind("Microsoft.Network/virtualNetworks") != own {
		t.Fatal("a later kind did not replace the generic one")
	}
	n := 0
	for _, k := range e.Kinds("Microsoft.Network") {
		if k.Type == own.Type {
			n++
		}
	}
	if n != 1 {
		t.Errorf("Kinds lists virtualNetworks %d times", n)
	}
}
