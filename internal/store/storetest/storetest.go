// Package storetest is the conformance suite every store.Store backend must pass.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/store"
)

// Backend opens stores for the suite. Open returns a fresh, empty store;
// Reopen closes s and opens the same underlying data again (to prove durability).
type Backend struct {
	Open   func(t *testing.T) store.Store
	Reopen func(t *testing.T, s store.Store) store.Store
}

// Run runs the whole suite against b.
func Run(t *testing.T, b Backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, Backend)
	}{
		{"CreateGetReplaceDelete", testCRUD},
		{"CaseInsensitiveKeys", testCase},
		{"VersionConflict", testVersion},
		{"List", testList},
		{"RollbackOnError", testRollback},
		{"RollbackOnPanic", testPanic},
		{"ReadOnlyView", testReadOnly},
		{"SerializableIncrements", testIncrements},
		{"BatchIsolation", testBatchIsolation},
		{"Operations", testOperations},
		{"Durability", testDurability},
		{"CanceledContext", testCanceled},
		{"ListSeesOwnWrites", testListOwnWrites},
		{"ViewIsASnapshot", testSnapshot},
		{"PagingOverUncommittedDeletes", testPagingOverDeletes},
		{"PagingThroughManyRecords", testPagingMany},
		{"ReadAfterAcknowledgedWrite", testReadAfterWrite},
		{"DeleteOperationsBeforeLimit", testDeleteOperationsLimit},
		{"OperationEndedTime", testOperationEnded},
		{"ListKeysOnly", testKeysOnly},
		{"AbsentThenCreated", testAbsentThenCreated},
		{"TypeChanges", testTypeChanges},
		{"LongKeys", testLongKeys},
		{"UpdateRacingClose", testUpdateRacingClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, b) })
	}
}

var ctx = context.Background()

func rec(id, body string) *store.Record {
	return &store.Record{ID: id, Type: "Microsoft.Test/things", Body: []byte(body)}
}

func mustUpdate(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(ctx, fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func get(t *testing.T, s store.Store, key string) (*store.Record, error) {
	t.Helper()
	var r *store.Record
	err := s.View(ctx, func(tx store.Tx) error {
		var err error
		r, err = tx.Get(key)
		return err
	})
	return r, err
}

const sub = "/subscriptions/00000000-0000-0000-0000-000000000001"

func testCRUD(t *testing.T, b Backend) {
	s := b.Open(t)
	id := sub + "/resourceGroups/rg/providers/Microsoft.Test/things/a"
	mustUpdate(t, s, func(tx store.Tx) error {
		r := rec(id, `{"v":1}`)
		r.Meta = []byte(`{"m":1}`)
		if err := tx.Create(r); err != nil {
			return err
		}
		if r.Version != 1 {
			return fmt.Errorf("version after create = %d, want 1", r.Version)
		}
		return nil
	})
	r, err := get(t, s, store.Key(id))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(r.Body), `{"v":1}`; got != want {
		t.Fatalf("body = %s, want %s", got, want)
	}
	if got, want := string(r.Meta), `{"m":1}`; got != want {
		t.Fatalf("meta = %s, want %s", got, want)
	}
	if r.ID != id || r.Type != "Microsoft.Test/things" || r.Version != 1 || r.Updated.IsZero() {
		t.Fatalf("record = %+v", r)
	}
	err = s.Update(ctx, func(tx store.Tx) error { return tx.Create(rec(id, `{}`)) })
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("second Create: err = %v, want ErrExists", err)
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		r := rec(id, `{"v":2}`)
		if err := tx.Replace(r); err != nil {
			return err
		}
		if r.Version != 2 {
			return fmt.Errorf("version after replace = %d, want 2", r.Version)
		}
		return nil
	})
	r, _ = get(t, s, r.Key())
	if got, want := string(r.Body), `{"v":2}`; got != want {
		t.Fatalf("body after replace = %s, want %s", got, want)
	}
	if r.Meta != nil {
		t.Fatalf("meta after replace without meta = %q, want nil", r.Meta)
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Delete(r.Key()) })
	if _, err := get(t, s, r.Key()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after delete: err = %v, want ErrNotFound", err)
	}
	err = s.Update(ctx, func(tx store.Tx) error { return tx.Delete(r.Key()) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second Delete: err = %v, want ErrNotFound", err)
	}
	err = s.Update(ctx, func(tx store.Tx) error { return tx.Replace(rec(id, `{}`)) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Replace of missing: err = %v, want ErrNotFound", err)
	}
}

func testCase(t *testing.T, b Backend) {
	s := b.Open(t)
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.Create(rec(sub+"/resourceGroups/RG/providers/Microsoft.Test/things/MixedCase", `{}`))
	})
	r, err := get(t, s, store.Key(sub+"/resourcegroups/rg/providers/microsoft.test/THINGS/mixedcase"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.ID, sub+"/resourceGroups/RG/providers/Microsoft.Test/things/MixedCase"; got != want {
		t.Fatalf("ID = %q, want original casing %q", got, want)
	}
	err = s.Update(ctx, func(tx store.Tx) error {
		return tx.Create(rec(sub+"/RESOURCEGROUPS/rg/providers/microsoft.test/things/MIXEDCASE", `{}`))
	})
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("Create differing only in case: err = %v, want ErrExists", err)
	}
}

func testVersion(t *testing.T, b Backend) {
	s := b.Open(t)
	id := sub + "/resourceGroups/rg/providers/Microsoft.Test/things/v"
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Create(rec(id, `1`)) })
	err := s.Update(ctx, func(tx store.Tx) error {
		r := rec(id, `2`)
		r.Version = 7
		return tx.Replace(r)
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Replace with stale version: err = %v, want ErrConflict", err)
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		r := rec(id, `3`)
		r.Version = 1
		return tx.Replace(r)
	})
	r, _ := get(t, s, store.Key(id))
	if string(r.Body) != "3" || r.Version != 2 {
		t.Fatalf("after versioned replace: body %s version %d", r.Body, r.Version)
	}
}

func testList(t *testing.T, b Backend) {
	s := b.Open(t)
	rg := sub + "/resourceGroups/rg"
	ids := []string{
		rg,
		rg + "/providers/Microsoft.Test/things/a",
		rg + "/providers/Microsoft.Test/things/b",
		rg + "/providers/Microsoft.Test/things/a/children/x",
		rg + "/providers/Microsoft.Other/stuff/c",
		sub + "/resourceGroups/rg2/providers/Microsoft.Test/things/d",
		sub + "/resourceGroups/rg-2/providers/Microsoft.Test/things/e",
		"/subscriptions/other/resourceGroups/rg/providers/Microsoft.Test/things/f",
	}
	types := []string{"Microsoft.Resources/resourceGroups", "Microsoft.Test/things", "Microsoft.Test/things", "Microsoft.Test/things/children", "Microsoft.Other/stuff", "Microsoft.Test/things", "Microsoft.Test/things", "Microsoft.Test/things"}
	mustUpdate(t, s, func(tx store.Tx) error {
		for i, id := range ids {
			if err := tx.Create(&store.Record{ID: id, Type: types[i], Body: []byte(`{}`)}); err != nil {
				return err
			}
		}
		return nil
	})
	list := func(q store.Query) []string {
		t.Helper()
		var out []string
		err := s.View(ctx, func(tx store.Tx) error {
			rs, err := tx.List(q)
			for _, r := range rs {
				out = append(out, r.ID)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	tests := []struct {
		name string
		q    store.Query
		want []string
	}{
		{"parent", store.Query{Parent: store.Key(rg)}, []string{ids[4], ids[1], ids[2]}},
		{"parent and type", store.Query{Parent: store.Key(rg), Type: "microsoft.test/THINGS"}, []string{ids[1], ids[2]}},
		{"child parent", store.Query{Parent: store.Key(ids[1])}, []string{ids[3]}},
		{"child parent and type", store.Query{Parent: store.Key(ids[1]), Type: "Microsoft.Test/things/children"}, []string{ids[3]}},
		{"child parent and type, keys only", store.Query{Parent: store.Key(ids[1]), Type: "Microsoft.Test/things/children", KeysOnly: true}, []string{store.Key(ids[3])}},
		{"child type in a subscription", store.Query{Subscription: "00000000-0000-0000-0000-000000000001", Type: "microsoft.test/things/children"}, []string{ids[3]}},
		{"child type everywhere", store.Query{Type: "microsoft.test/things/children"}, []string{ids[3]}},
		{"prefix excludes sibling names", store.Query{Prefix: store.Key(rg)}, []string{ids[4], ids[1], ids[3], ids[2]}},
		{"subscription and type", store.Query{Subscription: "00000000-0000-0000-0000-000000000001", Type: "Microsoft.Test/things"}, []string{ids[6], ids[1], ids[2], ids[5]}},
		{"paging", store.Query{Subscription: "00000000-0000-0000-0000-000000000001", Type: "Microsoft.Test/things", Limit: 2}, []string{ids[6], ids[1]}},
		{"paging after", store.Query{Subscription: "00000000-0000-0000-0000-000000000001", Type: "Microsoft.Test/things", After: store.Key(ids[1])}, []string{ids[2], ids[5]}},
		{"subscription roots", store.Query{Parent: store.Key(sub)}, []string{rg}},
		// After outside the range: below it takes everything in it, above
		// it nothing.
		{"prefix, after below it", store.Query{Prefix: store.Key(rg), After: store.Key(sub)}, []string{ids[4], ids[1], ids[3], ids[2]}},
		{"prefix, after above it", store.Query{Prefix: store.Key(rg), After: store.Key(rg) + "0"}, nil},
		{"prefix, after inside it", store.Query{Prefix: store.Key(rg), After: store.Key(ids[1]), Limit: 1}, []string{ids[3]}},
		{"types in a scope", store.Query{Prefix: store.Key(rg), Types: []string{"microsoft.other/stuff", "microsoft.test/things/children"}}, []string{ids[4], ids[3]}},
		{"types, paged", store.Query{Prefix: store.Key(sub), Types: []string{"microsoft.test/things", "microsoft.resources/resourcegroups"}, After: store.Key(ids[1]), Limit: 2}, []string{ids[2], ids[5]}},
		{"no types", store.Query{Prefix: store.Key(rg), Types: []string{}}, nil},
		// As many types as Azure has tracked ones, most of them stored nowhere.
		{"a thousand types, paged", store.Query{Prefix: store.Key(sub), Types: manyTypes("microsoft.test/things", "microsoft.other/stuff"), After: store.Key(ids[4]), Limit: 2}, []string{ids[1], ids[2]}},
	}
	runAll := func(prefix string) {
		for _, tc := range tests {
			t.Run(prefix+tc.name, func(t *testing.T) {
				got := list(tc.q)
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Fatalf("List(%+v)\n got %v\nwant %v", tc.q, got, tc.want)
				}
			})
		}
	}
	runAll("")
	// Again once every record is in the database itself: a store that
	// answers recent writes from memory (sqlite's batches not yet
	// applied) may not have run its own queries above.
	if b.Reopen != nil {
		s = b.Reopen(t, s)
		runAll("reopened/")
	}
}

func testRollback(t *testing.T, b Backend) {
	s := b.Open(t)
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Create(rec(sub+"/resourceGroups/rg/providers/Microsoft.Test/things/r", `{}`)); err != nil {
			return err
		}
		if err := tx.PutOperation(&store.Operation{ID: "op-r", Kind: "k", Status: "Running", Doc: []byte(`{}`), Due: time.Now()}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if _, err := get(t, s, store.Key(sub+"/resourceGroups/rg/providers/Microsoft.Test/things/r")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("record survived a failed transaction: %v", err)
	}
	err = s.View(ctx, func(tx store.Tx) error { _, err := tx.GetOperation("op-r"); return err })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("operation survived a failed transaction: %v", err)
	}
}

func testPanic(t *testing.T, b Backend) {
	s := b.Open(t)
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Create(rec(sub+"/resourceGroups/rg/providers/Microsoft.Test/things/p", `{}`)); err != nil {
			return err
		}
		panic("half way")
	})
	if err == nil {
		t.Fatal("Update with a panicking function returned nil")
	}
	if _, err := get(t, s, store.Key(sub+"/resourceGroups/rg/providers/Microsoft.Test/things/p")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("record survived a panicking transaction: %v", err)
	}
	// The store still works.
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.Create(rec(sub+"/resourceGroups/rg/providers/Microsoft.Test/things/q", `{}`))
	})
}

func testReadOnly(t *testing.T, b Backend) {
	s := b.Open(t)
	err := s.View(ctx, func(tx store.Tx) error {
		return tx.Create(rec(sub+"/resourceGroups/rg/providers/Microsoft.Test/things/ro", `{}`))
	})
	if err == nil {
		t.Fatal("Create inside View succeeded")
	}
	if _, err := get(t, s, store.Key(sub+"/resourceGroups/rg/providers/Microsoft.Test/things/ro")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("View wrote a record: %v", err)
	}
}

// testIncrements proves Update is serializable: concurrent read-modify-write
// cycles on one record lose no increment.
func testIncrements(t *testing.T, b Backend) {
	s := b.Open(t)
	id := sub + "/resourceGroups/rg/providers/Microsoft.Test/things/counter"
	key := store.Key(id)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Create(rec(id, "0")) })
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Update(ctx, func(tx store.Tx) error {
				r, err := tx.Get(key)
				if err != nil {
					return err
				}
				v, _ := strconv.Atoi(string(r.Body))
				r.Body = []byte(strconv.Itoa(v + 1))
				return tx.Replace(r)
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	r, err := get(t, s, key)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(r.Body), strconv.Itoa(n); got != want {
		t.Fatalf("counter = %s, want %s", got, want)
	}
}

// testBatchIsolation runs failing and succeeding writers side by side: each
// failure must undo only its own writes.
func testBatchIsolation(t *testing.T, b Backend) {
	s := b.Open(t)
	const n = 100
	var wg sync.WaitGroup
	results := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.Update(ctx, func(tx store.Tx) error {
				if err := tx.Create(rec(fmt.Sprintf("%s/resourceGroups/rg/providers/Microsoft.Test/things/i%03d", sub, i), `{}`)); err != nil {
					return err
				}
				if i%3 == 0 {
					return fmt.Errorf("fail %d", i)
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i := range n {
		_, err := get(t, s, store.Key(fmt.Sprintf("%s/resourceGroups/rg/providers/Microsoft.Test/things/i%03d", sub, i)))
		switch {
		case i%3 == 0 && results[i] == nil:
			t.Fatalf("writer %d should have failed", i)
		case i%3 == 0 && !errors.Is(err, store.ErrNotFound):
			t.Fatalf("writer %d failed but its record exists (err %v)", i, err)
		case i%3 != 0 && (results[i] != nil || err != nil):
			t.Fatalf("writer %d: update err %v, get err %v", i, results[i], err)
		}
	}
}

func testOperations(t *testing.T, b Backend) {
	s := b.Open(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	mustUpdate(t, s, func(tx store.Tx) error {
		for i, d := range []time.Duration{-2 * time.Second, -time.Second, time.Hour} {
			op := &store.Operation{ID: fmt.Sprintf("op%d", i), Kind: "k", Resource: "/r", Status: "Running", Doc: []byte(`{"n":` + strconv.Itoa(i) + `}`), Due: now.Add(d)}
			if err := tx.PutOperation(op); err != nil {
				return err
			}
			if op.Version != 1 {
				return fmt.Errorf("new op version %d", op.Version)
			}
		}
		return tx.PutOperation(&store.Operation{ID: "done", Kind: "k", Resource: "/r", Status: "Succeeded", Doc: []byte(`{}`)})
	})
	var due []*store.Operation
	mustUpdate(t, s, func(tx store.Tx) error {
		var err error
		due, err = tx.DueOperations(now, 10)
		if err != nil {
			return err
		}
		// Lease the first one.
		due[0].LeaseOwner, due[0].LeaseUntil = "w1", now.Add(time.Minute)
		return tx.PutOperation(due[0])
	})
	if len(due) != 2 || due[0].ID != "op0" || due[1].ID != "op1" {
		t.Fatalf("due = %v, want op0, op1", opIDs(due))
	}
	if !due[0].Due.Equal(now.Add(-2*time.Second)) || string(due[0].Doc) != `{"n":0}` {
		t.Fatalf("op0 round trip: due %v doc %s", due[0].Due, due[0].Doc)
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		due, err := tx.DueOperations(now, 10)
		if err != nil {
			return err
		}
		if len(due) != 1 || due[0].ID != "op1" {
			return fmt.Errorf("after lease, due = %v, want op1", opIDs(due))
		}
		// A stale version must not overwrite.
		stale := *due[0]
		stale.Version = 99
		if err := tx.PutOperation(&stale); !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("stale PutOperation err = %v, want ErrConflict", err)
		}
		due[0].Status, due[0].Due = "Succeeded", time.Time{}
		return tx.PutOperation(due[0])
	})
	err := s.View(ctx, func(tx store.Tx) error {
		op, err := tx.GetOperation("op1")
		if err != nil {
			return err
		}
		if op.Status != "Succeeded" || op.Version != 2 {
			return fmt.Errorf("op1 = %+v", op)
		}
		next, ok, err := tx.NextDue()
		if err != nil {
			return err
		}
		// op0 is leased until now+1m, op2 due at now+1h.
		if !ok || !next.Equal(now.Add(time.Minute)) {
			return fmt.Errorf("NextDue = %v %v, want %v", next, ok, now.Add(time.Minute))
		}
		if _, err := tx.GetOperation("nope"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("GetOperation(nope) err = %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		n, err := tx.DeleteOperationsBefore(time.Now().Add(time.Hour), 0)
		if err != nil {
			return err
		}
		if n != 2 {
			return fmt.Errorf("DeleteOperationsBefore removed %d, want 2 (done, op1)", n)
		}
		_, err = tx.GetOperation("op0")
		return err
	})
}

func opIDs(ops []*store.Operation) []string {
	var out []string
	for _, o := range ops {
		out = append(out, o.ID)
	}
	return out
}

func testDurability(t *testing.T, b Backend) {
	s := b.Open(t)
	id := sub + "/resourceGroups/rg/providers/Microsoft.Test/things/durable"
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Create(rec(id, `{"kept":true}`)); err != nil {
			return err
		}
		return tx.PutOperation(&store.Operation{ID: "durable-op", Kind: "k", Resource: "/r", Status: "Running", Doc: []byte(`{}`), Due: time.Now()})
	})
	s = b.Reopen(t, s)
	r, err := get(t, s, store.Key(id))
	if err != nil {
		t.Fatalf("after reopen: %v", err)
	}
	if string(r.Body) != `{"kept":true}` {
		t.Fatalf("after reopen body = %s", r.Body)
	}
	if err := s.View(ctx, func(tx store.Tx) error { _, err := tx.GetOperation("durable-op"); return err }); err != nil {
		t.Fatalf("operation after reopen: %v", err)
	}
}

func testCanceled(t *testing.T, b Backend) {
	s := b.Open(t)
	c, cancel := context.WithCancel(ctx)
	cancel()
	ran := false
	err := s.Update(c, func(tx store.Tx) error {
		ran = true
		return tx.Create(rec(sub+"/resourceGroups/rg/providers/Microsoft.Test/things/c", `{}`))
	})
	if err == nil {
		t.Fatal("Update with a canceled context succeeded")
	}
	if ran {
		if _, gerr := get(t, s, store.Key(sub+"/resourceGroups/rg/providers/Microsoft.Test/things/c")); !errors.Is(gerr, store.ErrNotFound) {
			t.Fatal("canceled Update left a record behind")
		}
	}
}

// testListOwnWrites: inside one Update, List reflects the transaction's own
// creates, replaces and deletes, in key order, with paging.
func testListOwnWrites(t *testing.T, b Backend) {
	s := b.Open(t)
	rg := sub + "/resourceGroups/rg"
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, n := range []string{"b", "d"} {
			if err := tx.Create(rec(rg+"/providers/Microsoft.Test/things/"+n, `"old"`)); err != nil {
				return err
			}
		}
		return nil
	})
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Create(rec(rg+"/providers/Microsoft.Test/things/a", `"new"`)); err != nil {
			return err
		}
		if err := tx.Create(rec(rg+"/providers/Microsoft.Test/things/c", `"new"`)); err != nil {
			return err
		}
		if err := tx.Delete(store.Key(rg + "/providers/Microsoft.Test/things/d")); err != nil {
			return err
		}
		if err := tx.Replace(rec(rg+"/providers/Microsoft.Test/things/b", `"changed"`)); err != nil {
			return err
		}
		rs, err := tx.List(store.Query{Parent: store.Key(rg), Type: "Microsoft.Test/things"})
		if err != nil {
			return err
		}
		var got []string
		for _, r := range rs {
			got = append(got, r.ID[len(r.ID)-1:]+"="+string(r.Body))
		}
		if want := []string{`a="new"`, `b="changed"`, `c="new"`}; fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("list in the writing transaction = %v, want %v", got, want)
		}
		page, err := tx.List(store.Query{Parent: store.Key(rg), After: store.Key(rg + "/providers/Microsoft.Test/things/a"), Limit: 1})
		if err != nil {
			return err
		}
		if len(page) != 1 || page[0].ID != rg+"/providers/Microsoft.Test/things/b" {
			return fmt.Errorf("paged List = %v, want b", page)
		}
		return nil
	})
}

// testSnapshot: a View sees one state even if an Update commits meanwhile.
func testSnapshot(t *testing.T, b Backend) {
	s := b.Open(t)
	a, z := sub+"/resourceGroups/rg/providers/Microsoft.Test/things/a", sub+"/resourceGroups/rg/providers/Microsoft.Test/things/z"
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Create(rec(a, "1")) })
	started, proceed := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.View(ctx, func(tx store.Tx) error {
			r1, err := tx.Get(store.Key(a))
			if err != nil {
				return err
			}
			close(started)
			// Give a concurrent Update every chance to commit before the second read.
			select {
			case <-proceed:
			case <-time.After(200 * time.Millisecond):
			}
			r2, err := tx.Get(store.Key(a))
			if err != nil {
				return err
			}
			_, zerr := tx.Get(store.Key(z))
			if string(r1.Body) != string(r2.Body) || !errors.Is(zerr, store.ErrNotFound) {
				return fmt.Errorf("the View saw a change mid-way: %s then %s, z err %v", r1.Body, r2.Body, zerr)
			}
			return nil
		})
	}()
	<-started
	upd := make(chan error, 1)
	go func() {
		upd <- s.Update(ctx, func(tx store.Tx) error {
			if err := tx.Replace(rec(a, "2")); err != nil {
				return err
			}
			return tx.Create(rec(z, "1"))
		})
	}()
	var uerr error
	committed := false
	select {
	case uerr = <-upd:
		committed = true
	case <-time.After(50 * time.Millisecond):
		// The backend makes the writer wait for the reader: also a snapshot.
	}
	close(proceed)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !committed {
		uerr = <-upd
	}
	if uerr != nil {
		t.Fatal(uerr)
	}
}

// testPagingOverDeletes: a page asked for inside a writing transaction is
// full even when the transaction deleted the records that would have led it.
func testPagingOverDeletes(t *testing.T, b Backend) {
	s := b.Open(t)
	rg := sub + "/resourceGroups/rg"
	name := func(i int) string { return fmt.Sprintf("%s/providers/Microsoft.Test/things/t%02d", rg, i) }
	mustUpdate(t, s, func(tx store.Tx) error {
		for i := range 30 {
			if err := tx.Create(rec(name(i), `{}`)); err != nil {
				return err
			}
		}
		return nil
	})
	mustUpdate(t, s, func(tx store.Tx) error {
		for i := range 10 {
			if err := tx.Delete(store.Key(name(i))); err != nil {
				return err
			}
		}
		page, err := tx.List(store.Query{Parent: store.Key(rg), Type: "Microsoft.Test/things", Limit: 5})
		if err != nil {
			return err
		}
		var got []string
		for _, r := range page {
			got = append(got, r.ID)
		}
		if want := []string{name(10), name(11), name(12), name(13), name(14)}; fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("page after deletes = %v, want %v", got, want)
		}
		return nil
	})
}

// testPagingMany walks every page of a list with After and Limit, in a View,
// and finds each record once, in key order.
func testPagingMany(t *testing.T, b Backend) {
	s := b.Open(t)
	const n = 1000
	rg := sub + "/resourceGroups/rg"
	mustUpdate(t, s, func(tx store.Tx) error {
		for i := range n {
			if err := tx.Create(rec(fmt.Sprintf("%s/providers/Microsoft.Test/things/t%04d", rg, i), `{}`)); err != nil {
				return err
			}
			// Another type under the same parent, which the query skips.
			if err := tx.Create(&store.Record{ID: fmt.Sprintf("%s/providers/Microsoft.Other/stuff/s%04d", rg, i), Type: "Microsoft.Other/stuff", Body: []byte(`{}`)}); err != nil {
				return err
			}
		}
		return nil
	})
	seen, after, pages := 0, "", 0
	for {
		var page []*store.Record
		err := s.View(ctx, func(tx store.Tx) error {
			var err error
			page, err = tx.List(store.Query{Subscription: "00000000-0000-0000-0000-000000000001", Type: "Microsoft.Test/things", After: after, Limit: 100})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		pages++
		for _, r := range page {
			if want := fmt.Sprintf("%s/providers/Microsoft.Test/things/t%04d", rg, seen); r.ID != want {
				t.Fatalf("record %d = %s, want %s", seen, r.ID, want)
			}
			seen++
		}
		after = page[len(page)-1].Key()
	}
	if seen != n || pages != n/100 {
		t.Fatalf("paged through %d records in %d pages, want %d in %d", seen, pages, n, n/100)
	}
}

// testReadAfterWrite: once Update returns, every View started afterwards
// sees the write, from any goroutine.
func testReadAfterWrite(t *testing.T, b Backend) {
	s := b.Open(t)
	id := sub + "/resourceGroups/rg/providers/Microsoft.Test/things/raw"
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Create(rec(id, "0")) })
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				body := fmt.Sprintf("%d", w*1000+i)
				var wrote int64
				if err := s.Update(ctx, func(tx store.Tx) error {
					r, err := tx.Get(store.Key(id))
					if err != nil {
						return err
					}
					r.Body = []byte(body)
					err = tx.Replace(r)
					wrote = r.Version
					return err
				}); err != nil {
					errs <- err
					return
				}
				var got []byte
				var version int64
				if err := s.View(ctx, func(tx store.Tx) error {
					r, err := tx.Get(store.Key(id))
					if err == nil {
						got, version = r.Body, r.Version
					}
					return err
				}); err != nil {
					errs <- err
					return
				}
				// Another writer may have written since, never an older version.
				if version < wrote || (version == wrote && string(got) != body) {
					errs <- fmt.Errorf("read after write saw %s (version %d), want %s (version %d) or newer", got, version, body, wrote)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	r, err := get(t, s, store.Key(id))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Version, int64(1+8*50); got != want {
		t.Fatalf("final version = %d, want %d", got, want)
	}
}

// testDeleteOperationsLimit: the sweep removes at most limit operations per
// call, oldest first, and never a running one.
func testDeleteOperationsLimit(t *testing.T, b Backend) {
	s := b.Open(t)
	for i := range 5 {
		mustUpdate(t, s, func(tx store.Tx) error {
			return tx.PutOperation(&store.Operation{ID: fmt.Sprintf("ended%d", i), Kind: "k", Resource: "/r", Status: "Succeeded", Doc: []byte(`{}`)})
		})
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.PutOperation(&store.Operation{ID: "run", Kind: "k", Resource: "/r", Status: "Running", Doc: []byte(`{}`), Due: time.Now().Add(time.Hour)})
	})
	later := time.Now().Add(time.Hour)
	for _, want := range []int{2, 2, 1, 0} {
		mustUpdate(t, s, func(tx store.Tx) error {
			n, err := tx.DeleteOperationsBefore(later, 2)
			if err == nil && n != want {
				err = fmt.Errorf("DeleteOperationsBefore(limit 2) = %d, want %d", n, want)
			}
			return err
		})
	}
	err := s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.GetOperation("ended0"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("ended0 after the sweeps: %v", err)
		}
		_, err := tx.GetOperation("run")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testOperationEnded: an operation's Ended round-trips, and the sweep goes
// by it, not by when the record was written.
func testOperationEnded(t *testing.T, b Backend) {
	s := b.Open(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	mustUpdate(t, s, func(tx store.Tx) error {
		for id, ended := range map[string]time.Time{"two-days": now.Add(-48 * time.Hour), "an-hour": now.Add(-time.Hour)} {
			if err := tx.PutOperation(&store.Operation{ID: id, Kind: "k", Resource: "/r", Status: "Succeeded", Doc: []byte(`{}`), Ended: ended}); err != nil {
				return err
			}
		}
		return nil
	})
	err := s.View(ctx, func(tx store.Tx) error {
		op, err := tx.GetOperation("two-days")
		if err != nil {
			return err
		}
		if !op.Ended.Equal(now.Add(-48 * time.Hour)) {
			return fmt.Errorf("ended = %v, want %v", op.Ended, now.Add(-48*time.Hour))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		n, err := tx.DeleteOperationsBefore(now.Add(-24*time.Hour), 0)
		if err == nil && n != 1 {
			err = fmt.Errorf("DeleteOperationsBefore(a day ago) = %d, want 1", n)
		}
		return err
	})
	err = s.View(ctx, func(tx store.Tx) error { _, err := tx.GetOperation("an-hour"); return err })
	if err != nil {
		t.Fatal(err)
	}
}

// manyTypes is a thousand lower-case types that no test stores, with
// these ones among them.
func manyTypes(these ...string) []string {
	out := make([]string, 0, 1000+len(these))
	for i := range 1000 {
		out = append(out, fmt.Sprintf("microsoft.absent%03d/things", i))
		if i == 500 {
			out = append(out, these...)
		}
	}
	return out
}

// testKeysOnly: a KeysOnly list names the records without their documents,
// in a View and in a writing transaction (over its own writes).
func testKeysOnly(t *testing.T, b Backend) {
	s := b.Open(t)
	rg := sub + "/resourceGroups/rg"
	mustUpdate(t, s, func(tx store.Tx) error {
		r := rec(rg+"/providers/Microsoft.Test/things/a", `{"big":true}`)
		r.Meta = []byte(`{"m":1}`)
		return tx.Create(r)
	})
	check := func(tx store.Tx, want int) error {
		rs, err := tx.List(store.Query{Prefix: store.Key(rg), KeysOnly: true})
		if err != nil {
			return err
		}
		if len(rs) != want {
			return fmt.Errorf("KeysOnly list has %d records, want %d", len(rs), want)
		}
		for _, r := range rs {
			if r.Body != nil || r.Meta != nil || r.ID != store.Key(r.ID) || !strings.HasPrefix(r.ID, store.Key(rg)+"/") || r.Type != "microsoft.test/things" {
				return fmt.Errorf("KeysOnly record = %+v", r)
			}
		}
		return nil
	}
	if err := s.View(ctx, func(tx store.Tx) error { return check(tx, 1) }); err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Create(rec(rg+"/providers/Microsoft.Test/things/b", `{}`)); err != nil {
			return err
		}
		return check(tx, 2)
	})
}

// testAbsentThenCreated: a key read while absent, in one write and then in
// others, is seen once created, gone once deleted, and seen when created
// again; also when a rolled-back write created it in between. (A backend
// may remember absent keys to spare queries: this is what it must not
// get wrong.)
func testAbsentThenCreated(t *testing.T, b Backend) {
	s := b.Open(t)
	const key = "/subscriptions/s/providers/microsoft.test/things/ghost"
	absent := func(what string) {
		t.Helper()
		mustUpdate(t, s, func(tx store.Tx) error {
			if _, err := tx.Get(key); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: Get in a write = %v, want ErrNotFound", what, err)
			}
			return nil
		})
		if _, err := get(t, s, key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: Get in a view = %v, want ErrNotFound", what, err)
		}
	}
	present := func(what, body string) {
		t.Helper()
		mustUpdate(t, s, func(tx store.Tx) error {
			r, err := tx.Get(key)
			if err != nil || string(r.Body) != body {
				t.Errorf("%s: Get in a write = %v, %v; want the record %s", what, r, err, body)
			}
			return nil
		})
	}
	absent("at first")
	absent("again")
	// A write that creates it and fails: still absent.
	errNo := errors.New("no")
	if err := s.Update(context.Background(), func(tx store.Tx) error {
		if err := tx.Create(rec(key, `{"n":0}`)); err != nil {
			return err
		}
		return errNo
	}); !errors.Is(err, errNo) {
		t.Fatalf("the failing write: %v", err)
	}
	absent("after a rolled-back create")
	mustUpdate(t, s, func(tx store.Tx) error {
		if _, err := tx.Get(key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get before Create in one write = %v", err)
		}
		if err := tx.Create(rec(key, `{"n":1}`)); err != nil {
			return err
		}
		if r, err := tx.Get(key); err != nil || string(r.Body) != `{"n":1}` {
			t.Errorf("Get after Create in one write = %v, %v", r, err)
		}
		return nil
	})
	present("after the create", `{"n":1}`)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Delete(key) })
	absent("after the delete")
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Create(rec(key, `{"n":2}`)) })
	present("created again", `{"n":2}`)
}

// testTypeChanges: a key deleted and created again with another type (in
// one transaction, or in transactions that may share a commit), or
// replaced by a record of another type, is listed under its new type only.
func testTypeChanges(t *testing.T, b Backend) {
	s := b.Open(t)
	const id = sub + "/resourceGroups/rg/providers/Microsoft.Test/things/shifty"
	typed := func(typ string) *store.Record {
		return &store.Record{ID: id, Type: typ, Body: []byte(`{}`)}
	}
	listed := func(what, want string) {
		t.Helper()
		for _, typ := range []string{"Microsoft.Test/things", "Microsoft.Test/others", "Microsoft.Test/thirds"} {
			err := s.View(ctx, func(tx store.Tx) error {
				recs, err := tx.List(store.Query{Type: typ, Subscription: strings.TrimPrefix(sub, "/subscriptions/")})
				if err != nil {
					return err
				}
				if got := len(recs) == 1; got != (typ == want) {
					t.Errorf("%s: %d records listed as %s, want it listed as %s only", what, len(recs), typ, want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Create(typed("Microsoft.Test/things")) })
	listed("created", "Microsoft.Test/things")
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Delete(store.Key(id)); err != nil {
			return err
		}
		return tx.Create(typed("Microsoft.Test/others"))
	})
	listed("deleted and created again in one transaction", "Microsoft.Test/others")
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Replace(typed("Microsoft.Test/thirds")) })
	listed("replaced by another type", "Microsoft.Test/thirds")
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Delete(store.Key(id)); err != nil {
			return err
		}
		if err := tx.Create(typed("Microsoft.Test/things")); err != nil {
			return err
		}
		return tx.Replace(typed("Microsoft.Test/things"))
	})
	listed("deleted, created again and replaced in one transaction", "Microsoft.Test/things")
	// A delete, a create and a replace of the same type by concurrent
	// writers, each queued once the one before it runs, so that each runs
	// over the writes of the others not yet committed.
	for round := range 20 {
		typ := []string{"Microsoft.Test/others", "Microsoft.Test/things"}[round%2]
		steps := []func(tx store.Tx) error{
			func(tx store.Tx) error { return tx.Delete(store.Key(id)) },
			func(tx store.Tx) error { return tx.Create(typed(typ)) },
			func(tx store.Tx) error { return tx.Replace(typed(typ)) },
		}
		var wg sync.WaitGroup
		errs := make([]error, len(steps))
		started := make(chan struct{})
		close(started)
		for i, step := range steps {
			prev, next := started, make(chan struct{})
			var once sync.Once
			started = next
			<-prev
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.Update(ctx, func(tx store.Tx) error {
					once.Do(func() { close(next) })
					return step(tx)
				})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d step %d: %v", round, i, err)
			}
		}
		listed(fmt.Sprintf("round %d", round), typ)
	}
}

// testLongKeys: a record whose id is longer than the backend can index
// (PostgreSQL's B-tree entries hold about 2,700 bytes; SQLite has no such
// bound) is either stored or refused with ErrTooLarge by the call that
// writes it, first read as absent (as the resource engine does) or not;
// the writes batched with it are unaffected either way. The ids are random
// letters, which compression cannot shrink below the bound.
func testLongKeys(t *testing.T, b Backend) {
	s := b.Open(t)
	rng := rand.New(rand.NewPCG(1, 2))
	long := func(n int) string {
		var sb strings.Builder
		for range n {
			sb.WriteByte(byte('a' + rng.IntN(26)))
		}
		return sub + "/resourceGroups/rg/providers/Microsoft.Test/things/" + sb.String()
	}
	const n = 40
	var wg sync.WaitGroup
	results := make([]error, n)
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%s/resourceGroups/rg/providers/Microsoft.Test/things/ok%03d", sub, i)
		if i%4 == 0 {
			ids[i] = long(4000 + i)
		}
	}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.Update(ctx, func(tx store.Tx) error {
				if i%8 == 0 {
					if _, err := tx.Get(store.Key(ids[i])); !errors.Is(err, store.ErrNotFound) {
						return fmt.Errorf("get before create: %v", err)
					}
				}
				return tx.Create(rec(ids[i], `{}`))
			})
		}()
	}
	wg.Wait()
	for i := range n {
		_, err := get(t, s, store.Key(ids[i]))
		switch {
		case i%4 == 0 && results[i] != nil && !errors.Is(results[i], store.ErrTooLarge):
			t.Errorf("create of a %d-byte id: %v, want success or ErrTooLarge", len(ids[i]), results[i])
		case i%4 == 0 && results[i] != nil && !errors.Is(err, store.ErrNotFound):
			t.Errorf("create of a %d-byte id failed, yet a read finds it: %v", len(ids[i]), err)
		case i%4 == 0 && results[i] == nil && err != nil:
			t.Errorf("create of a %d-byte id succeeded, yet a read fails: %v", len(ids[i]), err)
		case i%4 != 0 && (results[i] != nil || err != nil):
			t.Errorf("writer %d, batched beside long ids: update %v, read %v", i, results[i], err)
		}
	}
}

// testUpdateRacingClose: Updates that start while Close runs are
// answered at once, each committed or refused with ErrClosed. A write
// queued after the writer's last drain used to wait forever (sqlite) or
// give up after the queue's timeout with ErrUnavailable (postgres).
func testUpdateRacingClose(t *testing.T, b Backend) {
	if testing.Short() {
		t.Skip("opens and closes a store many times")
	}
	const writers = 8
	for round := range 15 {
		s := b.Open(t)
		done := make(chan error, writers)
		for w := range writers {
			go func() {
				for i := 0; ; i++ {
					err := s.Update(ctx, func(tx store.Tx) error {
						return tx.Create(rec(fmt.Sprintf("%s/resourceGroups/g%d-%d", sub, w, i), `{}`))
					})
					if err != nil {
						done <- err
						return
					}
				}
			}()
		}
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		start := time.Now()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		for range writers {
			select {
			case err := <-done:
				if !errors.Is(err, store.ErrClosed) {
					t.Fatalf("round %d: Update during Close, %v after Close began: %v", round, time.Since(start), err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("round %d: an Update started during Close never returned", round)
			}
		}
	}
}
