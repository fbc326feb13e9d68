package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/store/postgres"
)

func open(t testing.TB, url string) *postgres.DB {
	t.Helper()
	d, err := postgres.Open(context.Background(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// follow makes d follow the commit feed (handing its changes to nobody)
// and waits until it listens: its writer then drops from its cache only
// the keys others wrote, as the feed heard them.
func follow(t testing.TB, d *postgres.DB) {
	t.Helper()
	d.Follow(func(store.Change) {})
	if err := d.Barrier(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func rec(name, body string) *store.Record {
	return &store.Record{ID: "/subscriptions/s/resourceGroups/" + name, Type: "Microsoft.Resources/resourceGroups", Body: []byte(body)}
}

var errNo = errors.New("no")

// TestBatchIsolation runs many Updates at once, so that the writer groups
// them into batches: a function that fails after writing leaves nothing,
// its neighbours in the batch keep what they wrote.
func TestBatchIsolation(t *testing.T) {
	d := open(t, freshSchema(t, testURL(t)))
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 200)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.Update(ctx, func(tx store.Tx) error {
				if err := tx.Create(rec(fmt.Sprintf("g%03d", i), `{}`)); err != nil {
					return err
				}
				if i%2 == 0 {
					return errNo
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if want := i%2 == 0; errors.Is(err, errNo) != want || (!want && err != nil) {
			t.Fatalf("Update %d: %v", i, err)
		}
	}
	err := d.View(ctx, func(tx store.Tx) error {
		recs, err := tx.List(store.Query{Parent: "/subscriptions/s"})
		if err != nil {
			return err
		}
		if len(recs) != 100 {
			return fmt.Errorf("%d groups, want the 100 whose functions succeeded", len(recs))
		}
		for _, r := range recs {
			var n int
			fmt.Sscanf(r.ID, "/subscriptions/s/resourceGroups/g%03d", &n)
			if n%2 == 0 {
				return fmt.Errorf("%s exists, but its function failed", r.ID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReplicasFollowEachOther: two stores on one schema (two replicas).
// A write at one reaches the other's feed, the other's Barrier waits for
// it, the writer's cache of the first never hides the second's write, and
// due operations are claimed by one of them only.
func TestReplicasFollowEachOther(t *testing.T) {
	url := freshSchema(t, testURL(t))
	a, b := open(t, url), open(t, url)
	ctx := context.Background()
	var mu sync.Mutex
	var seen []string
	b.Follow(func(ch store.Change) {
		mu.Lock()
		seen = append(seen, ch.Keys...)
		mu.Unlock()
	})
	// a follows too, so that its writer's cache drops only the keys b
	// writes (what the feed heard) instead of everything.
	follow(t, a)
	// Listening now: what a commits from here on is named, not covered by
	// the feed's first "everything".
	if err := b.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Update(ctx, func(tx store.Tx) error { return tx.Create(rec("shared", `{"v":1}`)) }); err != nil {
		t.Fatal(err)
	}
	if err := b.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := slices.Contains(seen, "/subscriptions/s/resourcegroups/shared")
	mu.Unlock()
	if !got {
		t.Fatalf("after Barrier, b's feed has seen %v, not a's write", seen)
	}

	// a's writer caches the record; b replaces it; a must read b's.
	if err := a.Update(ctx, func(tx store.Tx) error { _, err := tx.Get("/subscriptions/s/resourcegroups/shared"); return err }); err != nil {
		t.Fatal(err)
	}
	if err := b.Update(ctx, func(tx store.Tx) error {
		r, err := tx.Get("/subscriptions/s/resourcegroups/shared")
		if err != nil {
			return err
		}
		r.Body = []byte(`{"v":2}`)
		return tx.Replace(r)
	}); err != nil {
		t.Fatal(err)
	}
	if err := a.Update(ctx, func(tx store.Tx) error {
		r, err := tx.Get("/subscriptions/s/resourcegroups/shared")
		if err != nil {
			return err
		}
		if string(r.Body) != `{"v":2}` || r.Version != 2 {
			return fmt.Errorf("a reads %s version %d after b's replace, want {\"v\":2} version 2", r.Body, r.Version)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// Claims: 100 due operations, two claimers at once, each taken once.
	now := time.Now()
	if err := a.Update(ctx, func(tx store.Tx) error {
		for i := range 100 {
			op := &store.Operation{ID: fmt.Sprintf("op%03d", i), Kind: "k", Resource: "r", Status: "Running", Doc: []byte(`{}`), Due: now.Add(-time.Second)}
			if err := tx.PutOperation(op); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	claimed := map[string]string{}
	var cmu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range []struct {
		name string
		db   *postgres.DB
	}{{"a", a}, {"b", b}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ops, err := c.db.ClaimDue(ctx, c.name, time.Now(), time.Now().Add(time.Minute), 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(ops) == 0 {
					return
				}
				cmu.Lock()
				for _, op := range ops {
					if prev, ok := claimed[op.ID]; ok {
						t.Errorf("%s claimed by %s and %s", op.ID, prev, c.name)
					}
					claimed[op.ID] = c.name
				}
				cmu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(claimed) != 100 {
		t.Fatalf("%d operations claimed, want 100", len(claimed))
	}
}

// TestSchemasApart: two privlinks in two schemas of one database do not
// share the write lock, the feed or the leadership.
func TestSchemasApart(t *testing.T) {
	base := testURL(t)
	x, y := open(t, freshSchema(t, base)), open(t, freshSchema(t, base))
	ctx := context.Background()
	var mu sync.Mutex
	var seen []string
	y.Follow(func(ch store.Change) {
		mu.Lock()
		seen = append(seen, ch.Keys...)
		mu.Unlock()
	})
	if err := y.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if err := x.Update(ctx, func(tx store.Tx) error { return tx.Create(rec("elsewhere", `{}`)) }); err != nil {
		t.Fatal(err)
	}
	if err := y.Update(ctx, func(tx store.Tx) error { return tx.Create(rec("here", `{}`)) }); err != nil {
		t.Fatal(err)
	}
	if err := y.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if slices.Contains(seen, "/subscriptions/s/resourcegroups/elsewhere") {
		t.Fatalf("y's feed heard x's commit: %v", seen)
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, rx, err := x.Lead(lctx, "dataplane")
	if err != nil {
		t.Fatal(err)
	}
	defer rx()
	_, ry, err := y.Lead(lctx, "dataplane")
	if err != nil {
		t.Fatalf("y could not lead while x leads in another schema: %v", err)
	}
	ry()
}

// TestReleaseWhilePinging releases the leadership again and again while
// its session is being pinged every millisecond: the connection has one
// user at a time (the race detector saw a release's unlock run beside a
// ping), and after release another process can take the lock.
func TestReleaseWhilePinging(t *testing.T) {
	url := freshSchema(t, testURL(t))
	a, b := open(t, url), open(t, url)
	a.SetLeadPing(time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 20 {
		lost, release, err := a.Lead(ctx, "dataplane")
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(i%4) * time.Millisecond)
		release()
		if lost.Err() == nil {
			t.Fatal("release returned and the leadership's context has not ended")
		}
		// Lead tries at once and then once a second: the lock given
		// back is taken at the first or second try (bounded loosely: a
		// connection takes a while on a loaded machine).
		bctx, bcancel := context.WithTimeout(ctx, 2*time.Second)
		_, rb, err := b.Lead(bctx, "dataplane")
		bcancel()
		if err != nil {
			t.Fatalf("round %d: b could not lead after a released it: %v", i, err)
		}
		rb()
	}
}
