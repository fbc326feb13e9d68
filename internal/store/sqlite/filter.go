package sqlite

import (
	"context"
	"database/sql"
	"hash/maphash"
	"sync/atomic"
	"time"
)

// keyFilter is a Bloom filter of the record keys and operation ids that
// exist, so that looking up one that does not (the keys a create checks
// first: the new resource's, its connection's, its operation's) costs no
// query. Its size is fixed when the store opens (Options.FilterBytes), so
// memory does not grow with what is stored; with more keys than it was
// sized for it answers "maybe" more often, which costs only the query it
// would have saved. It never answers "absent" for a key that exists:
//
//   - bits are only ever set, never cleared (a deleted key stays "maybe");
//   - the writer, the only one that creates records and operations, adds
//     each key a successful transaction function writes, before the batch
//     commits, from the moment the filter is made;
//   - a loader adds every key committed, reading once the batches the
//     writer ran before the filter was made have committed, and only then
//     marks the filter ready. Until then it is not consulted.
//
// So once ready, every key committed before the loader read its range was
// loaded, and every key written in a batch run since the filter was made
// was added by the writer: a key whose bits are not all set exists in no
// snapshot, committed or not.
type keyFilter struct {
	words []atomic.Uint64
	mask  uint64 // bits - 1 (a power of two)
	recs  maphash.Seed
	ops   maphash.Seed
	ready atomic.Bool
	// adds counts keys added; past capacity the writer builds a new filter.
	adds     atomic.Int64
	capacity int64
}

// filterHashes is how many bits a key sets (k). With 16 bits per key at
// capacity that is a false positive rate of about 0.15%.
const filterHashes = 5

// bitsPerKey sizes capacity: the number of keys the filter is made for.
const bitsPerKey = 16

// newKeyFilter makes an empty filter of about size bytes (rounded down to a
// power of two, at least 4 KiB), not ready.
func newKeyFilter(size int) *keyFilter {
	bits := uint64(1) << 15
	for bits*2/8 <= uint64(size) {
		bits *= 2
	}
	return &keyFilter{
		words:    make([]atomic.Uint64, bits/64),
		mask:     bits - 1,
		recs:     maphash.MakeSeed(),
		ops:      maphash.MakeSeed(),
		capacity: int64(bits / bitsPerKey),
	}
}

// positions yields the key's k bit positions (double hashing on one 64-bit hash).
func (f *keyFilter) positions(h uint64, fn func(pos uint64) bool) bool {
	h1, h2 := h, (h>>33|h<<31)|1
	for i := uint64(0); i < filterHashes; i++ {
		if !fn((h1 + i*h2) & f.mask) {
			return false
		}
	}
	return true
}

func (f *keyFilter) add(h uint64) {
	f.positions(h, func(pos uint64) bool {
		f.words[pos/64].Or(1 << (pos % 64))
		return true
	})
	f.adds.Add(1)
}

func (f *keyFilter) has(h uint64) bool {
	return f.positions(h, func(pos uint64) bool {
		return f.words[pos/64].Load()&(1<<(pos%64)) != 0
	})
}

func (f *keyFilter) addRecord(key string) { f.add(maphash.String(f.recs, key)) }
func (f *keyFilter) addOp(id string)      { f.add(maphash.String(f.ops, id)) }

// mayHaveRecord reports whether a record with key may exist: false only
// when it certainly does not.
func (f *keyFilter) mayHaveRecord(key string) bool {
	return f == nil || !f.ready.Load() || f.has(maphash.String(f.recs, key))
}

// mayHaveOp reports whether an operation with id may exist.
func (f *keyFilter) mayHaveOp(id string) bool {
	return f == nil || !f.ready.Load() || f.has(maphash.String(f.ops, id))
}

// full reports whether more keys were added than the filter was made for.
func (f *keyFilter) full() bool { return f.adds.Load() > f.capacity }

// loadChunk is how many keys load reads per query (a variable for tests).
var loadChunk = 2000

// load adds every record key and operation id of db, read on a connection
// of its own, then marks f ready. It runs beside the writer, which adds
// what it writes meanwhile, and must start only once the batches run
// before f was made have committed (see keyFilter): then any snapshot
// holds every key f needs from it. So it reads in chunks, each in a short
// read transaction of its own, rather than holding one snapshot (which
// would keep a checkpoint from restarting the WAL) for the whole scan. ctx
// ends it early (f then stays not ready).
//
// It rests after each chunk three times as long as the chunk took (a
// quarter of a core; ready about 14 s after the start at three million
// keys): the filter only saves absent-key queries, and at full speed its
// scan (3.5 s of CPU) took a core from the requests of a just-started
// server (a cluster's endpoint list, p99 32-40 ms in its first seconds
// against 8 ms after, on two cores at a million endpoints; 16-17 ms
// resting as long as each chunk took, 13-15 ms resting three times as
// long).
func (f *keyFilter) load(ctx context.Context, db *sql.DB) error {
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, q := range []struct {
		sel  string
		seed maphash.Seed
	}{
		// Both read only an index of the keys (the primary keys').
		{`SELECT key FROM resources WHERE key > ? ORDER BY key LIMIT ?`, f.recs},
		{`SELECT id FROM operations WHERE id > ? ORDER BY id LIMIT ?`, f.ops},
	} {
		after := ""
		for {
			start := time.Now()
			n, last, err := f.loadFrom(ctx, c, q.sel, q.seed, after)
			if err != nil {
				return err
			}
			if n < loadChunk {
				break
			}
			after = last
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(3 * time.Since(start)):
			}
		}
	}
	f.ready.Store(true)
	return nil
}

// loadFrom adds up to loadChunk keys after after; it returns how many and
// the last.
func (f *keyFilter) loadFrom(ctx context.Context, c *sql.Conn, sel string, seed maphash.Seed, after string) (int, string, error) {
	rows, err := c.QueryContext(ctx, sel, after, loadChunk)
	if err != nil {
		return 0, "", err
	}
	defer rows.Close()
	n, last := 0, ""
	var b sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&b); err != nil {
			return 0, "", err
		}
		f.add(maphash.Bytes(seed, b))
		if n++; n == loadChunk {
			// b is valid only until the next call to Next.
			last = string(b)
		}
	}
	return n, last, rows.Err()
}
