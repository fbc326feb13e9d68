package sqlite

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/store"
)

// TestAcknowledgedWritesSurviveACrashBeforeSQLite stops the applier (its
// commit lock held), acknowledges writes that only the redo log holds,
// takes a copy of the data files as a crash would leave them, and opens the
// copy: every acknowledged write is there, and later ones continue from it.
func TestAcknowledgedWritesSurviveACrashBeforeSQLite(t *testing.T) {
	dir := t.TempDir()
	db := openIn(t, dir)
	ctx := context.Background()
	id := func(i int) string {
		return fmt.Sprintf("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Test/things/t%d", i)
	}
	put := func(s store.Store, i int) {
		t.Helper()
		err := s.Update(ctx, func(tx store.Tx) error {
			if err := tx.Create(&store.Record{ID: id(i), Type: "Microsoft.Test/things", Body: []byte(fmt.Sprintf(`{"n":%d}`, i))}); err != nil {
				return err
			}
			return tx.PutOperation(&store.Operation{ID: fmt.Sprintf("op%d", i), Kind: "k", Resource: store.Key(id(i)), Status: "Succeeded", Doc: []byte(`{}`)})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		put(db, i)
	}
	// Wait until SQLite holds those, then hold the applier.
	for db.applied.Load() != db.seq.Load() {
		time.Sleep(time.Millisecond)
	}
	db.commitMu.Lock()
	for i := 10; i < 300; i++ {
		put(db, i)
	}
	// A delete and a replace that only the log holds too.
	if err := db.Update(ctx, func(tx store.Tx) error {
		if err := tx.Delete(store.Key(id(3))); err != nil {
			return err
		}
		return tx.Replace(&store.Record{ID: id(4), Type: "Microsoft.Test/things", Body: []byte(`{"n":"four"}`)})
	}); err != nil {
		t.Fatal(err)
	}
	if got, want := db.applied.Load(), db.seq.Load(); got >= want {
		t.Fatalf("applied %d, acknowledged %d: the applier was not held", got, want)
	}
	crash := t.TempDir()
	copyTree(t, dir, crash)
	db2 := reopenCopy(t, db, crash)
	err := db2.View(ctx, func(tx store.Tx) error {
		for i := range 300 {
			r, err := tx.Get(store.Key(id(i)))
			switch {
			case i == 3:
				if !errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("t3 after its delete: %v", err)
				}
				continue
			case err != nil:
				return fmt.Errorf("t%d: %w", i, err)
			case i == 4 && (string(r.Body) != `{"n":"four"}` || r.Version != 2):
				return fmt.Errorf("t4 = %s version %d, want the replacement", r.Body, r.Version)
			case i != 4 && string(r.Body) != fmt.Sprintf(`{"n":%d}`, i):
				return fmt.Errorf("t%d = %s", i, r.Body)
			}
			op, err := tx.GetOperation(fmt.Sprintf("op%d", i))
			if err != nil {
				return fmt.Errorf("op%d: %w", i, err)
			}
			if op.Ended.IsZero() {
				return fmt.Errorf("op%d has no end time", i)
			}
		}
		recs, err := tx.List(store.Query{Type: "Microsoft.Test/things"})
		if err != nil {
			return err
		}
		if len(recs) != 299 {
			return fmt.Errorf("list has %d records, want 299", len(recs))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Recovery put everything in SQLite: nothing is laid over it.
	if db2.applied.Load() != db2.seq.Load() {
		t.Fatalf("after recovery applied %d, acknowledged %d", db2.applied.Load(), db2.seq.Load())
	}
	put(db2, 300)
	if err := db2.View(ctx, func(tx store.Tx) error { _, err := tx.Get(store.Key(id(300))); return err }); err != nil {
		t.Fatal(err)
	}
}

// reopenCopy lets db's applier go (the caller held its commit lock), closes
// it, and opens the database in dir, closed when the test ends.
func reopenCopy(t *testing.T, db *DB, dir string) *DB {
	t.Helper()
	db.commitMu.Unlock()
	db.Close()
	db2 := openIn(t, dir)
	t.Cleanup(func() { db2.Close() })
	return db2
}

// openIn opens the store at dir/privlink.db, closed when the test ends (if
// the test has not closed it).
func openIn(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(filepath.Join(dir, "privlink.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// copyTree copies the regular files under src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if e.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestViewsSeeAcknowledgedWritesBeforeSQLite holds the applier and checks
// that every kind of read in a View started after an Update sees it.
func TestViewsSeeAcknowledgedWritesBeforeSQLite(t *testing.T) {
	db := openIn(t, t.TempDir())
	ctx := context.Background()
	const id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Test/things/a"
	if err := db.Update(ctx, func(tx store.Tx) error {
		return tx.Create(&store.Record{ID: id, Type: "Microsoft.Test/things", Body: []byte(`{"v":1}`)})
	}); err != nil {
		t.Fatal(err)
	}
	// A View pins a snapshot with the record.
	if err := db.View(ctx, func(tx store.Tx) error { _, err := tx.Get(store.Key(id)); return err }); err != nil {
		t.Fatal(err)
	}
	db.commitMu.Lock()
	defer db.commitMu.Unlock()
	due := time.Now().Add(-time.Second)
	if err := db.Update(ctx, func(tx store.Tx) error {
		if err := tx.Replace(&store.Record{ID: id, Type: "Microsoft.Test/things", Body: []byte(`{"v":2}`)}); err != nil {
			return err
		}
		if err := tx.Create(&store.Record{ID: id + "2", Type: "Microsoft.Test/things", Body: []byte(`{"v":1}`)}); err != nil {
			return err
		}
		return tx.PutOperation(&store.Operation{ID: "op", Kind: "k", Resource: store.Key(id), Status: "Running", Doc: []byte(`{}`), Due: due})
	}); err != nil {
		t.Fatal(err)
	}
	err := db.View(ctx, func(tx store.Tx) error {
		r, err := tx.Get(store.Key(id))
		if err != nil || string(r.Body) != `{"v":2}` {
			return fmt.Errorf("Get = %v, %v; want the replacement", r, err)
		}
		recs, err := tx.List(store.Query{Parent: store.ParentKey(store.Key(id)), Limit: 10})
		if err != nil || len(recs) != 2 || string(recs[0].Body) != `{"v":2}` {
			return fmt.Errorf("List = %d records, %v", len(recs), err)
		}
		if _, err := tx.GetOperation("op"); err != nil {
			return fmt.Errorf("GetOperation: %w", err)
		}
		ops, err := tx.DueOperations(time.Now(), 10)
		if err != nil || len(ops) != 1 {
			return fmt.Errorf("DueOperations = %d, %v", len(ops), err)
		}
		next, ok, err := tx.NextDue()
		if err != nil || !ok || !next.Equal(due) {
			return fmt.Errorf("NextDue = %v %v %v", next, ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if db.applied.Load() == db.seq.Load() {
		t.Fatal("SQLite holds the write: the View did not read it from the log's batches")
	}
}

// TestBatchEncodingRoundTrips: what the redo log holds decodes to what was
// written, for every shape of record and operation.
func TestBatchEncodingRoundTrips(t *testing.T) {
	at := time.Unix(1700000000, 123456789).UTC()
	ch := newChanges()
	ch.recs["/a"] = &store.Record{ID: "/A", Type: "T/x", Body: []byte(`{"x":1}`), Meta: []byte(`{"m":1}`), Version: 3, Updated: at}
	ch.recs["/b"] = &store.Record{ID: "/b", Type: "T/y", Body: []byte{}, Version: 1, Updated: at}
	ch.recs["/c"] = nil
	ch.retyped["/a"] = true
	ch.ops["o1"] = &store.Operation{ID: "o1", Kind: "k", Resource: "/a", Status: "Running", Doc: []byte(`{}`), Due: at, LeaseOwner: "w", LeaseUntil: at.Add(time.Second), Version: 2}
	ch.ops["o2"] = &store.Operation{ID: "o2", Kind: "k", Resource: "/a", Status: "Failed", Doc: []byte(`{"e":1}`), Ended: at, Version: 5}
	ch.ops["o3"] = nil
	got, err := decodeChanges(encodeChanges(nil, ch))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, ch) {
		t.Fatalf("decoded %+v\nwant %+v", got, ch)
	}
	// Every cut of a batch is refused, never mistaken for a shorter one.
	b := encodeChanges(nil, ch)
	for i := range len(b) {
		if _, err := decodeChanges(b[:i]); err == nil {
			t.Fatalf("a batch cut at %d of %d bytes decoded", i, len(b))
		}
	}
}

// TestScanStopsAtWhatDoesNotFollow: a segment's records are read up to a
// torn or damaged one, or one that does not follow (what a reused segment
// held before).
func TestScanStopsAtWhatDoesNotFollow(t *testing.T) {
	const id = 77
	recOf := func(db, seq uint64, payload string) []byte {
		b := make([]byte, redoHeader, redoHeader+len(payload))
		b = append(b, payload...)
		binary.LittleEndian.PutUint32(b, uint32(len(b)-8))
		binary.LittleEndian.PutUint64(b[8:], db)
		binary.LittleEndian.PutUint64(b[16:], seq)
		binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(b[8:], crcTable))
		return b
	}
	rec := func(seq uint64, payload string) []byte { return recOf(id, seq, payload) }
	seqs := func(data []byte) string {
		var s []string
		for _, r := range scanRecords(data, id) {
			s = append(s, fmt.Sprintf("%d:%s", r.seq, r.payload))
		}
		return strings.Join(s, ",")
	}
	join := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	damaged := rec(8, "z")
	damaged[len(damaged)-1] ^= 1
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"whole", join(rec(7, "a"), rec(8, "b")), "7:a,8:b"},
		{"zeros after", join(rec(7, "a"), make([]byte, 64)), "7:a"},
		{"torn", join(rec(7, "a"), rec(8, "bbbb")[:27]), "7:a"},
		{"damaged", join(rec(7, "a"), damaged), "7:a"},
		{"older after", join(rec(7, "a"), rec(3, "old"), rec(4, "old")), "7:a"},
		{"another database's", join(recOf(78, 1, "x"), recOf(78, 2, "y")), ""},
		{"another database's after", join(rec(7, "a"), recOf(78, 8, "y")), "7:a"},
		{"empty", make([]byte, 64), ""},
	} {
		if got := seqs(c.data); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestRedoSegmentsAreReused writes what many segments hold and checks that
// the log keeps a bounded number of files, and that a reopened store holds
// everything.
func TestRedoSegmentsAreReused(t *testing.T) {
	if testing.Short() {
		t.Skip("writes several segments")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "privlink.db")
	db := openIn(t, dir)
	ctx := context.Background()
	body := []byte(`{"pad":"` + strings.Repeat("x", 64<<10) + `"}`)
	const perRound = 6 * redoSegment / (64 << 10)
	n := 0
	for round := range 3 {
		for range perRound {
			if err := db.Update(ctx, func(tx store.Tx) error {
				return tx.Create(&store.Record{ID: fmt.Sprintf("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Test/things/t%d", n), Type: "Microsoft.Test/things", Body: body})
			}); err != nil {
				t.Fatal(err)
			}
			n++
		}
		// Once SQLite holds everything, the log keeps the segment being
		// written and at most redoSpares others (and one the preparer
		// may be filling at that moment), whatever was written.
		for db.applied.Load() != db.seq.Load() {
			time.Sleep(time.Millisecond)
		}
		files, err := filepath.Glob(filepath.Join(path+"-redo", "*.redo"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) > redoSpares+2 {
			t.Fatalf("round %d: %d segment files after six segments' worth each round", round, len(files))
		}
	}
	db.Close()
	db2 := openIn(t, dir)
	if err := db2.View(ctx, func(tx store.Tx) error {
		recs, err := tx.List(store.Query{Type: "Microsoft.Test/things", KeysOnly: true})
		if err == nil && len(recs) != n {
			err = fmt.Errorf("%d records, want %d", len(recs), n)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestRedoLogOfAnotherDatabaseIsNotReplayed: a log directory left beside a
// new database (the old database file deleted, its log kept) holds records
// of another identity, which the new database ignores.
func TestRedoLogOfAnotherDatabaseIsNotReplayed(t *testing.T) {
	dir := t.TempDir()
	db := openIn(t, dir)
	ctx := context.Background()
	db.commitMu.Lock()
	if err := db.Update(ctx, func(tx store.Tx) error {
		return tx.Create(&store.Record{ID: "/subscriptions/s/resourceGroups/rg", Type: "Microsoft.Resources/resourceGroups", Body: []byte(`{}`)})
	}); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	copyTree(t, filepath.Join(dir, "privlink.db-redo"), filepath.Join(other, "privlink.db-redo"))
	db2 := reopenCopy(t, db, other)
	err := db2.View(ctx, func(tx store.Tx) error {
		recs, err := tx.List(store.Query{})
		if err == nil && len(recs) != 0 {
			err = fmt.Errorf("the new database holds %d records of the old one's log", len(recs))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
