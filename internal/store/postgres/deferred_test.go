package postgres_test

import (
	"context"
	"errors"
	"fmt"
	neturl "net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/store/postgres"
)

// The writer holds back writes whose outcome its caches make certain and
// sends them with the next statement that needs an answer, the next
// savepoint or the commit. These tests count its round trips, make its
// caches wrong behind its back, and fail functions in the middle of
// batches.

// poke runs sql on the schema of url outside privlink: a change the
// writer's caches do not hear of (the commit number does not move).
func poke(t *testing.T, url, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn := connect(t, url)
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// peek reads one row of the schema of url outside privlink.
func peek(t *testing.T, url, sql string, dest ...any) error {
	t.Helper()
	ctx := context.Background()
	conn := connect(t, url)
	defer conn.Close(ctx)
	return conn.QueryRow(ctx, sql).Scan(dest...)
}

// inOneBatch runs fns as the functions of one batch of d's writer, in
// order: a first Update holds the writer while the others queue behind
// it, and the writer gathers them all into its next batch.
func inOneBatch(t *testing.T, d *postgres.DB, fns ...func(store.Tx) error) []error {
	t.Helper()
	ctx := context.Background()
	hold, holding := make(chan struct{}), make(chan struct{})
	blocker := make(chan error, 1)
	go func() {
		blocker <- d.Update(ctx, func(store.Tx) error {
			close(holding)
			<-hold
			return nil
		})
	}()
	<-holding
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.Update(ctx, fn)
		}()
		for d.Queued() < i+1 {
			time.Sleep(time.Millisecond)
		}
	}
	close(hold)
	if err := <-blocker; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	return errs
}

func thing(name, body string) *store.Record {
	return &store.Record{ID: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Test/things/" + name, Type: "Microsoft.Test/things", Body: []byte(body)}
}

func thingKey(name string) string {
	return store.Key("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Test/things/" + name)
}

func mustUpdate(t *testing.T, d store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := d.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// absent makes d's writer know that the keys are absent (a Get of each).
func absent(t *testing.T, d store.Store, keys ...string) {
	t.Helper()
	mustUpdate(t, d, func(tx store.Tx) error {
		for _, k := range keys {
			if _, err := tx.Get(k); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%s: %v, want ErrNotFound", k, err)
			}
		}
		return nil
	})
}

// TestHeldBackRoundTrips: once the writer's caches are warm, the PUT of
// an endpoint costs at most 4 round trips (begin, the read of the new
// endpoint, the create of the target's connection, commit) and its
// operation's step 2 (begin, commit), where each write took one of its
// own before; and what was held back is in the database as written.
func TestHeldBackRoundTrips(t *testing.T) {
	url := freshSchema(t, testURL(t))
	d := open(t, url)
	ctx := context.Background()
	w := seedEndpointWorld(t, d, "00000000-0000-0000-0000-00000000d001")
	create := func(name string) (put, step int64, opID string) {
		t.Helper()
		before := d.RoundTrips()
		mustUpdate(t, d, func(tx store.Tx) error {
			var err error
			opID, err = putEndpoint(tx, w, name, time.Now())
			return err
		})
		mid := d.RoundTrips()
		ops, err := d.ClaimDue(ctx, "me", time.Now(), time.Now().Add(time.Minute), 64)
		if err != nil || len(ops) != 1 || ops[0].ID != opID {
			t.Fatalf("claimed %v (%v), want the operation %s", ops, err, opID)
		}
		mustUpdate(t, d, func(tx store.Tx) error { return stepEndpoint(tx, opID, time.Now()) })
		return mid - before, d.RoundTrips() - mid, opID
	}
	create("warm")
	put, step, opID := create("e1")
	if put > 4 || step > 2 {
		t.Errorf("round trips: PUT %d, step %d; want at most 4 and 2", put, step)
	}
	err := d.View(ctx, func(tx store.Tx) error {
		r, err := tx.Get(store.Key(w.clusterID + "/managedPrivateEndpoints/e1"))
		if err != nil {
			return err
		}
		if r.Version != 2 || !strings.Contains(string(r.Body), `"provisioningState":"Succeeded"`) || r.Meta != nil {
			return fmt.Errorf("endpoint after its step: version %d, meta %q, body %.80s", r.Version, r.Meta, r.Body)
		}
		op, err := tx.GetOperation(opID)
		if err != nil {
			return err
		}
		if op.Status != "Succeeded" || op.Version != 2 || op.LeaseOwner != "" || !op.LeaseUntil.IsZero() || op.Ended.IsZero() || !op.Due.IsZero() {
			return fmt.Errorf("operation after its step: %+v", op)
		}
		pecs, err := tx.List(store.Query{Parent: w.target, KeysOnly: true})
		if err != nil {
			return err
		}
		if len(pecs) != 2 {
			return fmt.Errorf("%d connections on the target, want 2", len(pecs))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestHeldBackStaleCache changes the database behind the writer's back
// (so the commit number does not tell its caches they are stale) and
// then writes what the caches make look certain: the write must fail, the
// Update with it, nothing of its transaction may be committed, and the
// next Update must read the database as it is.
func TestHeldBackStaleCache(t *testing.T) {
	tests := []struct {
		name string
		// setup runs through the store, so that the writer's caches learn.
		setup func(t *testing.T, d store.Store)
		// change runs behind the writer's back.
		change string
		// write relies on what the caches learnt.
		write func(tx store.Tx) error
		// check reads the database afterwards.
		check func(t *testing.T, url string, d store.Store)
	}{{
		name: "replace of a record changed behind the cache",
		setup: func(t *testing.T, d store.Store) {
			mustUpdate(t, d, func(tx store.Tx) error { return tx.Create(thing("k", `"v1"`)) })
		},
		change: `UPDATE resources SET version = 7, body = '"poked"' WHERE key = '` + thingKey("k") + `'`,
		write: func(tx store.Tx) error {
			if err := rewrite(tx, "k", `"v2"`); err != nil {
				return err
			}
			// A statement that needs an answer sends the held-back
			// replace first, and hears of its failure.
			if err := tx.Create(thing("other", `{}`)); err == nil {
				return errors.New("the create after a failed held-back write succeeded")
			}
			return nil
		},
		check: func(t *testing.T, url string, d store.Store) {
			assertThing(t, d, "k", `"poked"`, 7)
			assertNoThing(t, d, "other")
		},
	}, {
		name:   "create of a key created behind the cache",
		setup:  func(t *testing.T, d store.Store) { absent(t, d, thingKey("k")) },
		change: `INSERT INTO resources (key, id, type, body, version, updated, parent, ltype) VALUES ('` + thingKey("k") + `', 'K', 'Microsoft.Test/things', '"poked"', 3, 0, 'p', 'microsoft.test/things')`,
		write:  func(tx store.Tx) error { return tx.Create(thing("k", `"mine"`)) },
		check: func(t *testing.T, url string, d store.Store) {
			assertThing(t, d, "k", `"poked"`, 3)
			err := d.Update(context.Background(), func(tx store.Tx) error { return tx.Create(thing("k", `"mine"`)) })
			if !errors.Is(err, store.ErrExists) {
				t.Errorf("create after the failure: %v, want ErrExists", err)
			}
		},
	}, {
		name: "delete of a record deleted behind the cache",
		setup: func(t *testing.T, d store.Store) {
			mustUpdate(t, d, func(tx store.Tx) error { return tx.Create(thing("k", `"v1"`)) })
		},
		change: `DELETE FROM resources WHERE key = '` + thingKey("k") + `'`,
		write: func(tx store.Tx) error {
			if err := tx.Create(thing("also", `{}`)); err != nil {
				return err
			}
			return tx.Delete(thingKey("k"))
		},
		check: func(t *testing.T, url string, d store.Store) {
			assertNoThing(t, d, "k")
			assertNoThing(t, d, "also")
		},
	}, {
		name: "update of an operation changed behind the cache",
		setup: func(t *testing.T, d store.Store) {
			mustUpdate(t, d, func(tx store.Tx) error {
				return tx.PutOperation(&store.Operation{ID: "op", Kind: "k", Resource: "r", Status: "Running", Doc: []byte(`{}`), Due: time.Now()})
			})
		},
		change: `UPDATE operations SET version = 5, doc = '"poked"' WHERE id = 'op'`,
		write: func(tx store.Tx) error {
			op, err := tx.GetOperation("op")
			if err != nil {
				return err
			}
			op.Doc = []byte(`"mine"`)
			return tx.PutOperation(op)
		},
		check: func(t *testing.T, url string, d store.Store) { assertOp(t, d, "op", `"poked"`, 5) },
	}, {
		name: "insert of an operation inserted behind the cache",
		setup: func(t *testing.T, d store.Store) {
			// Another operation with a greater id, so that the one asked
			// for is not absent for being greater than every id.
			mustUpdate(t, d, func(tx store.Tx) error {
				return tx.PutOperation(&store.Operation{ID: "zz", Kind: "k", Resource: "r", Status: "Running", Doc: []byte(`{}`), Due: time.Now()})
			})
			mustUpdate(t, d, func(tx store.Tx) error {
				if _, err := tx.GetOperation("op"); !errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("GetOperation: %v, want ErrNotFound", err)
				}
				return nil
			})
		},
		change: `INSERT INTO operations (id, kind, resource, status, doc, due, lease_owner, lease_until, version, ended) VALUES ('op', 'k', 'r', 'Running', '"poked"', 1, '', 0, 4, 0)`,
		write: func(tx store.Tx) error {
			return tx.PutOperation(&store.Operation{ID: "op", Kind: "k", Resource: "r", Status: "Running", Doc: []byte(`"mine"`), Due: time.Now()})
		},
		check: func(t *testing.T, url string, d store.Store) { assertOp(t, d, "op", `"poked"`, 4) },
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := freshSchema(t, testURL(t))
			d := open(t, url)
			tc.setup(t, d)
			poke(t, url, tc.change)
			var seq0, seq1 int64
			if err := peek(t, url, `SELECT seq FROM commits`, &seq0); err != nil {
				t.Fatal(err)
			}
			if err := d.Update(context.Background(), tc.write); err == nil {
				t.Fatal("the Update that relied on a stale cache succeeded")
			} else {
				t.Logf("the Update failed as it should: %v", err)
			}
			if err := peek(t, url, `SELECT seq FROM commits`, &seq1); err != nil {
				t.Fatal(err)
			}
			if seq1 != seq0 {
				t.Errorf("the failed Update committed (commit number %d -> %d)", seq0, seq1)
			}
			tc.check(t, url, d)
		})
	}
}

// assertThing checks thing name's body and version, in a View and in an
// Update (which reads the writer's cache).
// readBoth runs read in a View and in an Update: what a reader sees and
// what the writer's caches say must agree.
func readBoth(t *testing.T, d store.Store, read func(store.Tx) error) {
	t.Helper()
	if err := d.View(context.Background(), read); err != nil {
		t.Errorf("in a View: %v", err)
	}
	if err := d.Update(context.Background(), read); err != nil {
		t.Errorf("in an Update: %v", err)
	}
}

func assertThing(t *testing.T, d store.Store, name, body string, version int64) {
	t.Helper()
	read := func(tx store.Tx) error {
		r, err := tx.Get(thingKey(name))
		if err != nil {
			return err
		}
		if string(r.Body) != body || r.Version != version {
			return fmt.Errorf("%s: body %s version %d, want %s version %d", name, r.Body, r.Version, body, version)
		}
		return nil
	}
	readBoth(t, d, read)
}

func assertNoThing(t *testing.T, d store.Store, name string) {
	t.Helper()
	read := func(tx store.Tx) error {
		if _, err := tx.Get(thingKey(name)); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%s: %v, want ErrNotFound", name, err)
		}
		return nil
	}
	readBoth(t, d, read)
}

func assertOp(t *testing.T, d store.Store, id, doc string, version int64) {
	t.Helper()
	read := func(tx store.Tx) error {
		op, err := tx.GetOperation(id)
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		if string(op.Doc) != doc || op.Version != version {
			return fmt.Errorf("%s: doc %s version %d, want %s version %d", id, op.Doc, op.Version, doc, version)
		}
		return nil
	}
	readBoth(t, d, read)
}

// TestHeldBackAfterAnotherReplica: another store on the schema (a
// replica) commits over what the writer cached; the writer reads it anew
// and writes over it, without failing, whether or not it follows the
// commit feed.
func TestHeldBackAfterAnotherReplica(t *testing.T) {
	for _, following := range []bool{false, true} {
		t.Run(fmt.Sprintf("follow=%v", following), func(t *testing.T) {
			url := freshSchema(t, testURL(t))
			a, b := open(t, url), open(t, url)
			if following {
				follow(t, a)
			}
			mustUpdate(t, a, func(tx store.Tx) error {
				if err := tx.Create(thing("k", `"a1"`)); err != nil {
					return err
				}
				return tx.PutOperation(&store.Operation{ID: "op", Kind: "k", Resource: "r", Status: "Running", Doc: []byte(`"a1"`), Due: time.Now()})
			})
			for round := range 3 {
				// b writes both over what a cached...
				mustUpdate(t, b, func(tx store.Tx) error {
					r, err := tx.Get(thingKey("k"))
					if err != nil {
						return err
					}
					r.Body = []byte(fmt.Sprintf(`"b%d"`, round))
					if err := tx.Replace(r); err != nil {
						return err
					}
					op, err := tx.GetOperation("op")
					if err != nil {
						return err
					}
					op.Doc = r.Body
					return tx.PutOperation(op)
				})
				// ...and a reads b's and writes over them, with the
				// versions it read.
				mustUpdate(t, a, func(tx store.Tx) error {
					r, err := tx.Get(thingKey("k"))
					if err != nil {
						return err
					}
					if want := fmt.Sprintf(`"b%d"`, round); string(r.Body) != want {
						return fmt.Errorf("a reads %s, want b's %s", r.Body, want)
					}
					r.Body = []byte(fmt.Sprintf(`"a%d"`, round))
					if err := tx.Replace(r); err != nil {
						return err
					}
					op, err := tx.GetOperation("op")
					if err != nil {
						return err
					}
					if string(op.Doc) != fmt.Sprintf(`"b%d"`, round) {
						return fmt.Errorf("a reads operation %s, want b's", op.Doc)
					}
					op.Doc = r.Body
					return tx.PutOperation(op)
				})
			}
			assertThing(t, b, "k", `"a2"`, 7)
			assertOp(t, b, "op", `"a2"`, 7)
		})
	}
}

var errFail = errors.New("this function fails")

// TestHeldBackSavepoints runs functions that fail between others in one
// batch, with writes held back, sent, or both: each failing function's
// writes are rolled back, and only its own.
func TestHeldBackSavepoints(t *testing.T) {
	url := freshSchema(t, testURL(t))
	d := open(t, url)
	// The writer knows these absent, so their creates are held back.
	names := []string{"a", "b", "c", "d", "e", "g", "h"}
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = thingKey(n)
	}
	absent(t, d, keys...)
	before := d.RoundTrips()
	errs := inOneBatch(t, d,
		// 0: a held-back create.
		func(tx store.Tx) error { return tx.Create(thing("a", `"a"`)) },
		// 1: a held-back create, then it fails: nothing of it was sent.
		func(tx store.Tx) error {
			if err := tx.Create(thing("b", `"b"`)); err != nil {
				return err
			}
			return errFail
		},
		// 2: a held-back create sent with a List, another held back, then
		// it fails: its savepoint is rolled back.
		func(tx store.Tx) error {
			if err := tx.Create(thing("c", `"c"`)); err != nil {
				return err
			}
			recs, err := tx.List(store.Query{Prefix: "/subscriptions/s/resourcegroups/rg", KeysOnly: true})
			if err != nil {
				return err
			}
			if len(recs) != 2 { // a and c
				return fmt.Errorf("the List in function 2 sees %d records, want 2 (a, c)", len(recs))
			}
			if err := tx.Create(thing("d", `"d"`)); err != nil {
				return err
			}
			return errFail
		},
		// 3: a held-back replace of what function 0 created.
		func(tx store.Tx) error {
			r, err := tx.Get(thingKey("a"))
			if err != nil {
				return err
			}
			r.Body = []byte(`"a2"`)
			return tx.Replace(r)
		},
		// 4: a held-back create, then a panic.
		func(tx store.Tx) error {
			if err := tx.Create(thing("e", `"e"`)); err != nil {
				return err
			}
			panic("half way")
		},
		// 5: held-back creates of a record and an operation.
		func(tx store.Tx) error {
			if err := tx.Create(thing("g", `"g"`)); err != nil {
				return err
			}
			return tx.PutOperation(&store.Operation{ID: "op-g", Kind: "k", Resource: thingKey("g"), Status: "Running", Doc: []byte(`{}`), Due: time.Now()})
		},
		// 6: a statement that needs an answer sends what 5 held back,
		// then it fails after a held-back create.
		func(tx store.Tx) error {
			recs, err := tx.List(store.Query{Prefix: "/subscriptions/s/resourcegroups/rg", KeysOnly: true})
			if err != nil {
				return err
			}
			if len(recs) != 2 { // a and g
				return fmt.Errorf("the List in function 6 sees %d records, want 2 (a, g)", len(recs))
			}
			if err := tx.Create(thing("h", `"h"`)); err != nil {
				return err
			}
			return errFail
		},
	)
	trips := d.RoundTrips() - before
	for i, err := range errs {
		switch i {
		case 1, 2, 6:
			if !errors.Is(err, errFail) {
				t.Errorf("function %d: %v, want its own failure", i, err)
			}
		case 4:
			if err == nil || !strings.Contains(err.Error(), "panicked") {
				t.Errorf("function 4: %v, want its panic", err)
			}
		default:
			if err != nil {
				t.Errorf("function %d: %v", i, err)
			}
		}
	}
	assertThing(t, d, "a", `"a2"`, 2)
	assertThing(t, d, "g", `"g"`, 1)
	for _, n := range []string{"b", "c", "d", "e", "h"} {
		assertNoThing(t, d, n)
	}
	assertOp(t, d, "op-g", `{}`, 1)
	// The holding Update's begin and commit, and this batch's begin, two
	// Lists and commit.
	if trips > 6 {
		t.Errorf("%d round trips for the two batches, want at most 6", trips)
	}
}

// TestHeldBackBatchLost: a held-back write that finds the cache wrong in
// the middle of a batch fails every Update of the batch, those before it
// too, and the functions after it do not run.
func TestHeldBackBatchLost(t *testing.T) {
	url := freshSchema(t, testURL(t))
	d := open(t, url)
	mustUpdate(t, d, func(tx store.Tx) error { return tx.Create(thing("k", `"v1"`)) })
	absent(t, d, thingKey("a"))
	poke(t, url, `UPDATE resources SET version = 9 WHERE key = '`+thingKey("k")+`'`)
	ran := false
	errs := inOneBatch(t, d,
		func(tx store.Tx) error { return tx.Create(thing("a", `"a"`)) },
		func(tx store.Tx) error {
			r, err := tx.Get(thingKey("k"))
			if err != nil {
				return err
			}
			return tx.Replace(r)
		},
		func(tx store.Tx) error {
			// Sends the stale replace, which fails; this function ignores
			// the error, to no avail.
			_, _ = tx.List(store.Query{Prefix: "/subscriptions/s", KeysOnly: true})
			return nil
		},
		func(tx store.Tx) error {
			ran = true
			return nil
		},
	)
	for i, err := range errs {
		if err == nil {
			t.Errorf("Update %d of the lost batch succeeded", i)
		}
	}
	if ran {
		t.Error("a function after the batch was lost ran")
	}
	assertNoThing(t, d, "a")
	assertThing(t, d, "k", `"v1"`, 9)
}

// TestHeldBackLeases: the writer's cache of operations learns of this
// process's claims, a step that clears its lease clears it, and a write
// that hands back the lease it read leaves alone a lease another process
// took meanwhile (a claim moves no commit number).
func TestHeldBackLeases(t *testing.T) {
	url := freshSchema(t, testURL(t))
	a, b := open(t, url), open(t, url)
	ctx := context.Background()
	mustUpdate(t, a, func(tx store.Tx) error {
		for i, id := range []string{"x", "y"} {
			due := time.Now().Add(time.Duration(i-2) * time.Second) // x first
			if err := tx.PutOperation(&store.Operation{ID: id, Kind: "k", Resource: "r", Status: "Running", Doc: []byte(`{}`), Due: due}); err != nil {
				return err
			}
		}
		return nil
	})
	// a claims x (7 minutes), b claims y.
	until := time.Now().Add(7 * time.Minute).UTC().Truncate(time.Microsecond)
	claim := func(d *postgres.DB, owner, want string) {
		t.Helper()
		ops, err := d.ClaimDue(ctx, owner, time.Now(), until, 1)
		if err != nil || len(ops) != 1 || ops[0].ID != want {
			t.Fatalf("%s claimed %v (%v), want %s", owner, ops, err, want)
		}
	}
	claim(a, "a", "x")
	claim(b, "b", "y")
	before := a.RoundTrips()
	mustUpdate(t, a, func(tx store.Tx) error {
		x, err := tx.GetOperation("x")
		if err != nil {
			return err
		}
		if x.LeaseOwner != "a" || !x.LeaseUntil.Equal(until) {
			return fmt.Errorf("x as a's writer reads it: lease %q until %v, want a's until %v", x.LeaseOwner, x.LeaseUntil, until)
		}
		x.Doc, x.LeaseOwner, x.LeaseUntil = []byte(`"stepped"`), "", time.Time{}
		if err := tx.PutOperation(x); err != nil {
			return err
		}
		y, err := tx.GetOperation("y")
		if err != nil {
			return err
		}
		if y.LeaseOwner != "" {
			return fmt.Errorf("y as a's writer reads it: lease %q; it was not told of b's claim", y.LeaseOwner)
		}
		y.Doc = []byte(`"touched"`)
		return tx.PutOperation(y)
	})
	if trips := a.RoundTrips() - before; trips > 2 {
		t.Errorf("%d round trips for reads and writes the cache knew, want 2 (begin, commit)", trips)
	}
	var owner string
	var leaseUntil int64
	var doc []byte
	if err := peek(t, url, `SELECT lease_owner, lease_until, doc FROM operations WHERE id = 'x'`, &owner, &leaseUntil, &doc); err != nil {
		t.Fatal(err)
	}
	if owner != "" || leaseUntil != 0 || string(doc) != `"stepped"` {
		t.Errorf("x: lease %q until %d, doc %s; want no lease, doc \"stepped\"", owner, leaseUntil, doc)
	}
	if err := peek(t, url, `SELECT lease_owner, lease_until, doc FROM operations WHERE id = 'y'`, &owner, &leaseUntil, &doc); err != nil {
		t.Fatal(err)
	}
	if owner != "b" || leaseUntil != until.UnixNano() || string(doc) != `"touched"` {
		t.Errorf("y: lease %q until %d, doc %s; want b's lease kept and doc \"touched\"", owner, leaseUntil, doc)
	}
}

// TestHeldBackWritesThatCannotBeStored: a write the cache makes certain
// whose values the database would refuse (a NUL in a text column, no
// body) is sent at once, so that its error is the call's, not the batch's.
func TestHeldBackWritesThatCannotBeStored(t *testing.T) {
	url := freshSchema(t, testURL(t))
	d := open(t, url)
	absent(t, d, thingKey("n"), thingKey("ok"), thingKey("after"), thingKey("last"))
	errs := inOneBatch(t, d,
		func(tx store.Tx) error { return tx.Create(thing("ok", `{}`)) },
		func(tx store.Tx) error {
			r := thing("n", `{}`)
			r.Type = "Microsoft.Test/th\x00ings"
			if err := tx.Create(r); err == nil {
				return errors.New("a create with a NUL in its type succeeded")
			}
			return errFail
		},
		func(tx store.Tx) error {
			r := thing("n", "")
			r.Body = nil
			if err := tx.Create(r); err == nil {
				return errors.New("a create without a body succeeded")
			}
			return errFail
		},
		// A function that goes on after a failed statement, and returns
		// nil: its later writes are refused, it fails, its neighbours do
		// not.
		func(tx store.Tx) error {
			r := thing("n", `{}`)
			r.Type = "Microsoft.Test/th\x00ings"
			if err := tx.Create(r); err == nil {
				return errors.New("a create with a NUL in its type succeeded")
			}
			if err := tx.Create(thing("after", `{}`)); err == nil {
				return errors.New("a create after a failed statement succeeded")
			}
			return nil
		},
		func(tx store.Tx) error { return tx.Create(thing("last", `{}`)) },
	)
	if errs[0] != nil || !errors.Is(errs[1], errFail) || !errors.Is(errs[2], errFail) || errs[3] == nil || errs[4] != nil {
		t.Fatalf("errors %v, want nil, the functions' own twice, an error, nil", errs)
	}
	assertThing(t, d, "ok", `{}`, 1)
	assertThing(t, d, "last", `{}`, 1)
	assertNoThing(t, d, "n")
	assertNoThing(t, d, "after")
}

// TestHeldBackCommitNumberGoesBack: the database goes back to an earlier
// state, its commit number with it (restored from a backup, or a standby
// that had not received the last commits took over), behind the back of
// a writer that follows the commit feed. The writer's caches hold what
// it wrote after that state: its next Update must read, and write over,
// the records as the database has them again, not as it cached them.
func TestHeldBackCommitNumberGoesBack(t *testing.T) {
	url := freshSchema(t, testURL(t))
	d := open(t, url)
	ctx := context.Background()
	// Following the feed, the writer asks it which keys others wrote when
	// the commit number moved; without it, it empties its caches.
	follow(t, d)
	mustUpdate(t, d, func(tx store.Tx) error {
		if err := tx.Create(thing("k", `"v1"`)); err != nil {
			return err
		}
		return tx.Create(thing("gone", `"v1"`))
	})
	var backup int64
	if err := peek(t, url, `SELECT seq FROM commits`, &backup); err != nil {
		t.Fatal(err)
	}
	// After the backup: the writer replaces k and deletes gone, and its
	// cache holds k at version 2 and gone absent.
	mustUpdate(t, d, func(tx store.Tx) error {
		if err := rewrite(tx, "k", `"v2"`); err != nil {
			return err
		}
		return tx.Delete(thingKey("gone"))
	})
	// The backup is restored: k at version 1, gone back, the commit number
	// below the writer's.
	poke(t, url, `UPDATE resources SET body = '"v1"', version = 1 WHERE key = '`+thingKey("k")+`'`)
	poke(t, url, `INSERT INTO resources (key, id, type, body, version, updated, parent, ltype) VALUES ('`+thingKey("gone")+`', 'G', 'Microsoft.Test/things', '"v1"', 1, 0, 'p', 'microsoft.test/things')`)
	poke(t, url, `UPDATE commits SET seq = $1`, backup)

	// The first Update after the restore reads both.
	if err := d.Update(ctx, func(tx store.Tx) error {
		var errs []error
		switch r, err := tx.Get(thingKey("k")); {
		case err != nil:
			errs = append(errs, fmt.Errorf("k: %w", err))
		case string(r.Body) != `"v1"` || r.Version != 1:
			errs = append(errs, fmt.Errorf("k: body %s version %d, want \"v1\" version 1", r.Body, r.Version))
		}
		if _, err := tx.Get(thingKey("gone")); err != nil {
			errs = append(errs, fmt.Errorf("gone: %v, want it found", err))
		}
		return errors.Join(errs...)
	}); err != nil {
		t.Errorf("the writer reads the records as it cached them before the restore: %v", err)
	}
	// The next writes over them.
	err := d.Update(ctx, func(tx store.Tx) error {
		r, err := tx.Get(thingKey("k"))
		if err != nil {
			return err
		}
		r.Body, r.Version = []byte(`"after"`), 0
		return tx.Replace(r)
	})
	if err != nil {
		t.Errorf("replace of k after the restore: %v", err)
	}
	err = d.Update(ctx, func(tx store.Tx) error { return tx.Create(thing("gone", `"mine"`)) })
	if !errors.Is(err, store.ErrExists) {
		t.Errorf("create of gone after the restore: %v, want ErrExists", err)
	}
	assertThing(t, d, "k", `"after"`, 2)
	assertThing(t, d, "gone", `"v1"`, 1)
}

// withClientEncoding is url with the connections' client_encoding set
// to enc, in either form of connection string.
func withClientEncoding(url, enc string) string {
	switch {
	case !strings.Contains(url, "://"):
		return url + " client_encoding=" + enc
	case strings.Contains(url, "?"):
		return url + "&client_encoding=" + enc
	default:
		return url + "?client_encoding=" + enc
	}
}

// rewrite replaces the body of thing name in tx.
func rewrite(tx store.Tx, name, body string) error {
	r, err := tx.Get(thingKey(name))
	if err != nil {
		return err
	}
	r.Body = []byte(body)
	return tx.Replace(r)
}

// databaseIn makes a database of its own for one test, with the server
// encoding enc and the C locale, dropped when the test ends, and returns
// url naming it. A test is skipped where the user of url may not create
// databases.
func databaseIn(t *testing.T, url, enc string) string {
	t.Helper()
	ctx := context.Background()
	conn := connect(t, url)
	defer conn.Close(ctx)
	name := fmt.Sprintf("privlink_test_%s_%d_%d", strings.ToLower(enc), time.Now().UnixNano(), schemas.Add(1))
	_, err := conn.Exec(ctx, `CREATE DATABASE `+name+` TEMPLATE template0 ENCODING '`+enc+`' LC_COLLATE 'C' LC_CTYPE 'C'`)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42501" {
		t.Skipf("no database in %s: %v", enc, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), url)
		if err == nil {
			_, err = c.Exec(context.Background(), `DROP DATABASE `+name)
			c.Close(context.Background())
		}
		if err != nil {
			t.Logf("dropping the database %s: %v", name, err)
		}
	})
	if !strings.Contains(url, "://") {
		return url + " dbname=" + name
	}
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// TestHeldBackOperationIDsInAnotherEncoding: the writer takes an
// operation id above the greatest one (pipe.maxOp) for absent, comparing
// them as Go does, byte-wise; the server compares the bytes it stores
// (the column is COLLATE "C"). When the server converts the text it is
// sent from the connection's encoding (client_encoding) to its own, those
// are other bytes, in another order: an id Go holds above the greatest
// may be in the database.
func TestHeldBackOperationIDsInAnotherEncoding(t *testing.T) {
	for _, tc := range []struct {
		// server and client are the server's encoding and the
		// connections' client_encoding.
		server, client string
		ids            []string
		// greatest is the server's greatest of ids.
		greatest string
	}{
		// The server converts the UTF-8 privlink sends to WIN1252, where
		// "€" is 0x80, below "ÿ" (0xFF); in UTF-8, "€" (E2 82 AC) is
		// above "ÿ" (C3 BF).
		{"WIN1252", "UTF8", []string{"op-€", "op-ÿ"}, "op-ÿ"},
		// The connections in the database's encoding (pgx leaves
		// client_encoding as the server sets it, to the database's): the
		// server stores the UTF-8 bytes as they are, and orders them as
		// Go does.
		{"WIN1252", "WIN1252", []string{"op-€", "op-ÿ"}, "op-€"},
		// The server takes the UTF-8 bytes for WIN1252 and converts them
		// to UTF-8: "À" (C3 80) becomes "Ã€" (C3 83 E2 82 AC), above "à"
		// (C3 A0), which becomes "Ã" and a no-break space (C3 83 C2 A0).
		{"UTF8", "WIN1252", []string{"op-À", "op-à"}, "op-À"},
	} {
		t.Run(tc.server+"/client_encoding="+tc.client, func(t *testing.T) {
			url := withClientEncoding(databaseIn(t, testURL(t), tc.server), tc.client)
			a := open(t, url)
			mustUpdate(t, a, func(tx store.Tx) error {
				for _, id := range tc.ids {
					if err := tx.PutOperation(&store.Operation{ID: id, Kind: "k", Resource: "r", Status: "Running", Doc: []byte(`{}`), Due: time.Now()}); err != nil {
						return err
					}
				}
				return nil
			})
			var greatest string
			if err := peek(t, url, `SELECT max(id) FROM operations`, &greatest); err != nil {
				t.Fatal(err)
			}
			if greatest != tc.greatest {
				t.Fatalf("the server's greatest id is %q, want %q", greatest, tc.greatest)
			}
			// Another replica, whose writer knows nothing of them, reads
			// them and writes over them.
			b := open(t, url)
			for _, id := range tc.ids {
				assertOp(t, b, id, `{}`, 1)
			}
			mustUpdate(t, b, func(tx store.Tx) error {
				for _, id := range tc.ids {
					if err := tx.PutOperation(&store.Operation{ID: id, Kind: "k", Resource: "r", Status: "Running", Doc: []byte(`"b"`), Due: time.Now()}); err != nil {
						return err
					}
				}
				return nil
			})
			for _, id := range tc.ids {
				assertOp(t, a, id, `"b"`, 2)
			}
		})
	}
}

// TestFeedAfterTheDatabaseWentBack: after a restore the database's commit
// numbers repeat ones the feed heard before. The writer's caches and the
// follower must start again on the new numbers, not trust what was heard
// at the same numbers before: another replica's write after the restore
// is read, not the writer's cached record, and the follower is handed
// everything.
func TestFeedAfterTheDatabaseWentBack(t *testing.T) {
	url, d, backup, alls := beforeARestore(t)
	e := open(t, url)
	ctx := context.Background()
	before := alls()
	poke(t, url, `UPDATE resources SET body = '"v1"', version = 1 WHERE key = '`+thingKey("k")+`'`)
	poke(t, url, `UPDATE commits SET seq = $1`, backup)

	// The writer's first batch after the restore caches k again, at
	// version 1, and commits at backup+1: a number its feed heard before.
	mustUpdate(t, d, func(tx store.Tx) error {
		if _, err := tx.Get(thingKey("k")); err != nil {
			return err
		}
		return tx.Create(thing("other", `"x"`))
	})
	if err := d.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	// Another replica replaces k at backup+2, again a number heard before.
	mustUpdate(t, e, func(tx store.Tx) error { return rewrite(tx, "k", `"b"`) })
	if err := d.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Update(ctx, func(tx store.Tx) error {
		r, err := tx.Get(thingKey("k"))
		if err != nil {
			return err
		}
		if string(r.Body) != `"b"` || r.Version != 2 {
			return fmt.Errorf("k: body %s version %d, want \"b\" version 2", r.Body, r.Version)
		}
		return nil
	}); err != nil {
		t.Errorf("the writer reads its cache of before the other replica's write: %v", err)
	}
	if alls() == before {
		t.Errorf("the follower was not handed everything after the database went back")
	}
}

// beforeARestore opens a schema of its own with a follower on d that counts
// the changes naming everything (alls), creates k ("v1"), takes the commit
// number then (backup), and rewrites k twice ("v2", "v3"): two commits a
// restore to backup undoes.
func beforeARestore(t *testing.T) (url string, d *postgres.DB, backup int64, alls func() int) {
	t.Helper()
	url = freshSchema(t, testURL(t))
	d = open(t, url)
	ctx := context.Background()
	var mu sync.Mutex
	n := 0
	d.Follow(func(ch store.Change) {
		if ch.All {
			mu.Lock()
			n++
			mu.Unlock()
		}
	})
	if err := d.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, d, func(tx store.Tx) error { return tx.Create(thing("k", `"v1"`)) })
	if err := peek(t, url, `SELECT seq FROM commits`, &backup); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{`"v2"`, `"v3"`} {
		mustUpdate(t, d, func(tx store.Tx) error { return rewrite(tx, "k", body) })
	}
	if err := d.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	return url, d, backup, func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

// TestHeldBackTextTheServerCannotConvert: with connections in another
// encoding than the server's, the server converts what privlink sends, and
// valid UTF-8 can fail that conversion ("ā" is C4 81 in UTF-8, and 0x81
// is no character in WIN1252). Such a write is not held back: its error
// reaches the call that made it (and, in a batch of several, only that
// function's savepoint is lost), instead of failing the whole batch at a
// later statement.
func TestHeldBackTextTheServerCannotConvert(t *testing.T) {
	url := withClientEncoding(databaseIn(t, testURL(t), "UTF8"), "WIN1252")
	d := open(t, url)
	var createErr error
	err := d.Update(context.Background(), func(tx store.Tx) error {
		// Known absent: the writer could hold the create back. (The
		// type holds the text: a key the server cannot convert fails
		// the Get already.)
		if _, err := tx.Get(thingKey("k")); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("get: %v, want not found", err)
		}
		r := thing("k", `"v1"`)
		r.Type = "Microsoft.Test/thingsā"
		createErr = tx.Create(r)
		return createErr
	})
	if createErr == nil {
		t.Errorf("the create of text the server cannot convert reported no error (the Update: %v)", err)
	}
	if err == nil {
		t.Errorf("the Update committed")
	}
	mustUpdate(t, d, func(tx store.Tx) error { return tx.Create(thing("plain", `"v1"`)) })
	assertThing(t, d, "plain", `"v1"`, 1)
}

// TestBarrierAfterTheDatabaseWentBack: the database goes back, and another
// replica commits at a number this process heard before, whose notice is
// still on its way (the poke sends none). Barrier reads a number below
// one its feed heard: a proof that the database went back, so it must not
// trust the feed's numbers; it hands the follower everything and the next
// read sees the new commit. (Found as a rare flake of
// TestFeedAfterTheDatabaseWentBack: Barrier returned before the feed heard
// the first commit after the restore.)
func TestBarrierAfterTheDatabaseWentBack(t *testing.T) {
	url, d, backup, alls := beforeARestore(t)
	ctx := context.Background()
	before := alls()
	// The restore, then another replica's commit at backup+1.
	poke(t, url, `UPDATE resources SET body = '"b"', version = 2 WHERE key = '`+thingKey("k")+`'`)
	poke(t, url, `UPDATE commits SET seq = $1`, backup+1)
	if err := d.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if alls() == before {
		t.Errorf("Barrier returned before the follower was handed everything, though the database went back")
	}
	assertThing(t, d, "k", `"b"`, 2)
}

// TestWriterAfterTheDatabaseWentBack: the writer's caches are of commit
// n; the feed heard n+1 and n+2 (another key); the database goes back to
// n and another replica commits k at n+1, whose notice is still on its
// way. The number the writer reads, n+1, is above its caches' but below
// one the feed heard: the database went back, and what the feed heard of
// n+1 is of a past that is undone, so the caches cannot be trusted.
func TestWriterAfterTheDatabaseWentBack(t *testing.T) {
	url := freshSchema(t, testURL(t))
	d := open(t, url)
	e := open(t, url)
	ctx := context.Background()
	d.Follow(func(store.Change) {})
	if err := d.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, d, func(tx store.Tx) error { return tx.Create(thing("k", `"v1"`)) })
	var n int64
	if err := peek(t, url, `SELECT seq FROM commits`, &n); err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, e, func(tx store.Tx) error { return tx.Create(thing("other", `"x"`)) })
	mustUpdate(t, e, func(tx store.Tx) error { return rewrite(tx, "other", `"y"`) })
	if err := d.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	poke(t, url, `DELETE FROM resources WHERE key = '`+thingKey("other")+`'`)
	poke(t, url, `UPDATE resources SET body = '"r"', version = 2 WHERE key = '`+thingKey("k")+`'`)
	poke(t, url, `UPDATE commits SET seq = $1`, n+1)
	assertThing(t, d, "k", `"r"`, 2)
}
