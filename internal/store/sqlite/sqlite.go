// Package sqlite implements store.Store on an embedded, pure-Go SQLite
// database (modernc.org/sqlite) in WAL mode with synchronous=FULL, so every
// acknowledged write is on disk.
//
// Reads are served by SQLite through indexes (by key, by parent, by type,
// by key range), so memory does not grow with what is stored: only a bounded
// cache of hot records (see cache) and SQLite's page caches stay in memory,
// and opening a database reads nothing but its schema version.
//
// Writes: one writer goroutine runs the callers' transaction functions one
// after another, each reading its own buffered writes, then those of the
// batches not yet in SQLite, then SQLite's state; a function that fails
// leaves no trace. The writes of every caller queued at that moment form one
// batch, numbered in order ("group commit"). A second goroutine, the
// persister, appends each batch to the redo log (see redo.go) and syncs it,
// and only then acknowledges its callers: one sync for the batch, which lets
// durable writes outrun the disk's sync rate, while the writer already runs
// the next batch's functions. A third, the applier, writes the acknowledged
// batches into SQLite (several at a time, in one transaction), off the
// callers' path. If an append or an apply ever fails (disk full, I/O
// error), the store stops accepting writes: what later batches computed on
// top of it cannot be trusted.
//
// Views: each View runs on a pooled connection holding an SQLite read
// transaction, which is a snapshot, with the acknowledged batches SQLite does
// not hold yet laid over it. Every batch applied carries its number (stored
// in the meta table in the same transaction), so a View knows which of the
// batches in memory its snapshot lacks; an acknowledged write is visible to
// every View that starts after it.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/privlink/privlink/internal/store"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Options tune a DB; the zero value is sensible.
type Options struct {
	// MaxBatch caps how many callers' transactions share one commit (default 512).
	MaxBatch int
	// CacheRecords bounds the cache of hot records (default 8192 records;
	// negative turns it off). A record is about a kilobyte.
	CacheRecords int
	// FilterBytes is the size of the filter of the keys that exist, which
	// spares a query for each key a create looks up before it exists
	// (default 8 MiB, made for about 4 million keys; negative turns it off).
	// See keyFilter.
	FilterBytes int

	// applyDelay holds the applier back before each transaction (tests:
	// so that Views and writers read through the batches not yet in
	// SQLite).
	applyDelay time.Duration
}

// DefaultFilterBytes is the key filter's size when Options leaves it 0.
const DefaultFilterBytes = 8 << 20

// recentOpsMax bounds the writer's memory of the operations it wrote or
// read last (two generations of half as many).
const recentOpsMax = 4096

// absentMax bounds the writer's set of keys known to be absent (about
// 100 bytes each).
const absentMax = 16384

// DefaultCacheRecords is the hot record cache's size when Options leaves it 0.
const DefaultCacheRecords = 8192

// pageCacheKiB is SQLite's page cache per connection (cache_size), in KiB:
// the readers', the writer's and the applier's alike. A larger one for the
// applier and the writer (64 MB until 2026-12-01, when every create still
// looked its new keys up in SQLite) cost more than it saved once the key
// filter took those lookups away: at the end of every commit SQLite's page
// cache walks a hash table that grows with the cache (pcache1's truncate,
// 4-6% of the CPU of a durable create with 64 MB, under 1% with 8 MB).
const pageCacheKiB = 8192

// idleReaders is how many read connections are kept between Views.
const idleReaders = 8

// walFrames is the WAL's length, in pages, past which the checkpointer makes
// writers wait for a full checkpoint that restarts it (about 80 MB of 4 KiB
// pages); the wait copies only what the last checkpoint did not.
var walFrames = 20000

// checkpointEvery is how often the checkpointer copies the WAL: often
// enough that, when a RESTART checkpoint is due, little is left to copy
// while the applier waits (a PASSIVE checkpoint with nothing to copy costs
// next to nothing). Under steady writes a RESTART comes about once a
// second whatever this is. Before the redo log, callers waited for it too:
// with 200 ms each RESTART copied about 200 ms of commits while writers
// waited (20-35 ms, the PUT p99 at 16 connections), with 25 ms it copied
// 4-13 ms worth (bench/run.sh, 2026-12-01). With the redo log, 200 ms made
// the log's syncs slower instead (each checkpoint's sync of the database
// file was larger, and the disk serves one flush at a time: a p99 of 24-30
// ms for the whole write in BenchmarkCreateLatency against 14 ms with
// 25 ms, 2026-12-02).
const checkpointEvery = 25 * time.Millisecond

// walLimit is the size the WAL file is cut back to after SQLite restarts it
// (journal_size_limit), so that a burst of writes does not leave a huge file.
// It is above the WAL's length when a RESTART is due (walFrames frames of a
// 4 KiB page and a 24-byte header each, 82 MB, plus the checkpointer's
// 25 ms of commits before it looks), so that under steady writes the file
// keeps its size. At 64 MB the commits of the last fifth of each cycle
// grew the file again, each new block allocated and journaled by its fsync
// (1.17-1.19 ms on average against 0.82-0.90 ms earlier in the cycle), and
// the commits right after a restart paid for the cut (p99 7.6 ms against
// 2.4-4.7 ms); at 96 MB they took 0.88-0.99 ms on average throughout and
// 3.1 ms at p99 right after a restart (timers in the persister, 16
// connections, 2026-12-02; docs/benchmarks.md).
const walLimit = 96 << 20

// DB is a SQLite-backed store.Store.
type DB struct {
	db     *sql.DB
	writes chan *writeReq
	// sendMu and closing keep Update from queueing once Close has begun.
	sendMu  sync.RWMutex
	closing bool
	closed  chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
	max     int

	// persistQ hands batches to the persister. It is unbuffered: the
	// writer runs the next batch while one is logged, then waits for the
	// persister to take it, and the callers that queue meanwhile make the
	// batch after it larger, rather than one more small sync.
	persistQ chan *flight
	// fmu guards flights (the batches the writer made that SQLite does not
	// hold yet, oldest first, whether acknowledged or not) and failed;
	// room is signalled when flights shrink.
	fmu     sync.Mutex
	room    *sync.Cond
	flights []*unapplied
	failed  error
	// flightWrites counts the records and operations flights write.
	flightWrites int
	// next is the number of the newest batch the writer made (writer only).
	next uint64

	// seq is the number of the newest acknowledged batch (in the redo log),
	// applied the number of the newest batch in SQLite (never more).
	seq, applied atomic.Uint64
	// redo is the log ahead of SQLite. kick wakes the applier; logged is
	// closed when the persister has logged its last batch.
	redo *redo
	// walFile is SQLite's WAL, which the applier syncs; synced is the
	// number of the newest batch SQLite held when it last did (applier
	// only).
	walFile *os.File
	synced  uint64
	kick    chan struct{}
	logged  chan struct{}
	cache   *cache
	// wr is the writer goroutine's connection for reads of committed state.
	wr *reader
	// absent holds keys the writer read and found in no record, so that a
	// key every write looks up and nobody creates (a provider's
	// registration kept at its default, say) costs one query, not one per
	// write. Only the writer goroutine touches it; the writer's own
	// Create or Replace of a key removes it (the writer is the only one
	// that writes records), and it is emptied when it reaches absentMax.
	absent map[string]struct{}
	// filter is the filter of the keys that exist (nil: none). Only the
	// writer adds to it and replaces it; Views read it too.
	filter atomic.Pointer[keyFilter]
	// unlisted is every type in unlisted_types (lower case): their lists
	// go by key range. listedOff is the types this process writes with
	// listed = 0 (SetParentListed). Both are replaced whole, never changed.
	unlisted  atomic.Pointer[map[string]bool]
	listedOff atomic.Pointer[map[string]bool]
	// filterSize is Options.FilterBytes. landed counts the batches
	// applied to SQLite (under fmu), which a new filter's loader waits on.
	filterSize int
	landed     uint64
	// applyDelay is Options.applyDelay.
	applyDelay time.Duration
	// stop ends background work (the filter's loader) at Close.
	stop context.CancelFunc
	bg   context.Context
	// recentOps holds the operations the writer wrote or read last, newest
	// version (nil: known absent), so that an operation's step reads the
	// operation its request just created without a query. Only the writer
	// touches it; the writer writes every operation, so it is never stale.
	recentOps, oldOps map[string]*store.Operation
	// idle holds read connections between Views.
	idle chan *reader
	// drain reports whether a checkpoint waits to restart the WAL: Views
	// then end their read transactions as they finish, so that no reader
	// keeps SQLite from writing the WAL from its start again (see
	// checkpointer).
	drain atomic.Bool
	// commitMu is held by the applier for each commit and by the
	// checkpointer for a RESTART checkpoint, which needs SQLite's write
	// lock: without it the checkpoint competes for that lock through
	// SQLite's busy handler, whose sleeps (1, 2, 5, 10 ms and longer) lose
	// to commits that follow each other closely, so that it waited up to
	// half a second (while the WAL kept growing) and then made the next
	// commit wait as long. Go's mutex hands it over between two commits.
	commitMu sync.Mutex
	// restarts counts RESTART checkpoints that completed (for tests).
	restarts atomic.Int64
}

var _ store.Store = (*DB)(nil)

// Open opens (creating if needed) the database file at path and brings its
// schema to the current version. It reads no records.
func Open(path string, opt Options) (*DB, error) {
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = 512
	}
	if opt.CacheRecords == 0 {
		opt.CacheRecords = DefaultCacheRecords
	}
	if opt.FilterBytes == 0 {
		opt.FilterBytes = DefaultFilterBytes
	}
	// wal_autocheckpoint=0: the applier never stops to copy the WAL back
	// into the database (which made every few hundredth commit slow); the
	// checkpointer does that on its own connection, beside it.
	// synchronous=NORMAL: a commit does not sync the WAL (checkpoints
	// do). SQLite's commits are not what makes a write durable: the redo
	// log is, and the applier syncs the WAL itself before the log reuses
	// a segment (see applier).
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)&_pragma=wal_autocheckpoint(0)" +
		fmt.Sprintf("&_pragma=cache_size(-%d)&_pragma=journal_size_limit(%d)", pageCacheKiB, walLimit)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxIdleConns(0)
	db.SetConnMaxLifetime(0)
	ctx := context.Background()
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: schema: %w", err)
	}
	var seq uint64
	if err := db.QueryRowContext(ctx, `SELECT v FROM meta WHERE k = 'seq'`).Scan(&seq); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: commit number: %w", err)
	}
	d := &DB{
		db:       db,
		writes:   make(chan *writeReq, 4096),
		persistQ: make(chan *flight),
		kick:     make(chan struct{}, 1),
		logged:   make(chan struct{}),
		closed:   make(chan struct{}),
		max:      opt.MaxBatch,
		idle:     make(chan *reader, idleReaders),

		filterSize: opt.FilterBytes,
		applyDelay: opt.applyDelay,
		recentOps:  map[string]*store.Operation{},
		oldOps:     map[string]*store.Operation{},
	}
	d.room = sync.NewCond(&d.fmu)
	if err := d.loadUnlisted(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: unlisted types: %w", err)
	}
	d.listedOff.Store(&map[string]bool{})
	d.bg, d.stop = context.WithCancel(context.Background())
	fail := func(err error) (*DB, error) {
		if d.wr != nil {
			d.wr.close()
		}
		if d.redo != nil {
			d.redo.close()
		}
		db.Close()
		if d.walFile != nil {
			d.walFile.Close()
		}
		return nil, err
	}
	d.absent = map[string]struct{}{}
	w, err := newConn(ctx, db)
	if err != nil {
		return fail(err)
	}
	w.listedOff = &d.listedOff
	// What the redo log holds beyond SQLite's commit number was
	// acknowledged before a crash: SQLite gets it before anything runs.
	var id uint64
	if err := db.QueryRowContext(ctx, `SELECT v FROM meta WHERE k = 'redo'`).Scan(&id); err != nil {
		w.close()
		return fail(fmt.Errorf("sqlite: database identity: %w", err))
	}
	// SQLite has the WAL open from its first read; this descriptor only
	// syncs it, and stays open until SQLite has closed (closing a
	// descriptor of a file drops every POSIX lock the process holds on
	// it).
	if d.walFile, err = os.OpenFile(path+"-wal", os.O_RDONLY|os.O_CREATE, 0o644); err != nil {
		w.close()
		return fail(fmt.Errorf("sqlite: WAL: %w", err))
	}
	d.redo, seq, err = openRedo(path+"-redo", id, seq, w.persist)
	if err == nil {
		// The log's segments are reused from now on, so SQLite must hold
		// durably what they held: the batches just replayed, and those a
		// crashed process had applied without a sync. The commit number
		// read above may come from a WAL nobody synced yet (SQLite syncs
		// it when its last connection closes, unless another process
		// has the database open).
		err = datasync(d.walFile)
	}
	if err != nil {
		w.close()
		return fail(fmt.Errorf("sqlite: %w", err))
	}
	d.seq.Store(seq)
	d.applied.Store(seq)
	d.next = seq
	d.cache = newCache(opt.CacheRecords, seq)
	if d.wr, err = newReader(ctx, db); err != nil {
		w.close()
		return fail(err)
	}
	cp, err := db.Conn(ctx)
	if err != nil {
		w.close()
		return fail(err)
	}
	if d.filterSize > 0 {
		// No batch has run yet: the loader need not wait for any.
		d.newFilter(0)
	}
	d.wg.Add(4)
	go d.writer()
	go d.persister()
	go d.applier(w)
	go d.checkpointer(cp)
	return d, nil
}

// SetParentListed implements store.ParentLister. It names the types (any
// casing) whose records are listed only as their parent's children or by
// key prefix: a managed private endpoint, a private endpoint connection,
// the data path's address of an endpoint. From then on their records are
// written without entries in the indexes by parent and by type, so that a
// create writes one index entry (its key's) instead of three. Any query
// still finds them, so the set is an optimisation the caller chooses, not
// a contract:
//
//   - a child type's children of a parent (two or more segments after the
//     namespace) go by the key range their keys share ({parent}/{the
//     type's last segment}/…), which holds nothing else when the type has
//     no children of its own;
//   - another type's children of a parent go by the parent's key range,
//     each key's parent checked;
//   - a list of such a type without a parent reads a key range (every
//     record in it, for a subscription) instead of the type's index.
//
// The types are remembered in the database before any record is written
// so, and stay there. Call it before the first write of those types, or
// their earlier records simply keep their index entries.
func (d *DB) SetParentListed(ctx context.Context, types []string) error {
	off := map[string]bool{}
	for _, t := range types {
		off[strings.ToLower(t)] = true
	}
	// Only the types not remembered yet are written, in one transaction:
	// the engine names thousands (its generic kinds), and a start after
	// the first writes nothing.
	known := *d.unlisted.Load()
	var missing []string
	for t := range off {
		if !known[t] {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		if err := d.rememberUnlisted(ctx, missing); err != nil {
			return fmt.Errorf("sqlite: unlisted types: %w", err)
		}
		all := make(map[string]bool, len(known)+len(missing))
		for t := range known {
			all[t] = true
		}
		for _, t := range missing {
			all[t] = true
		}
		d.unlisted.Store(&all)
	}
	d.listedOff.Store(&off)
	return nil
}

// rememberUnlisted adds types to unlisted_types, in one transaction.
func (d *DB) rememberUnlisted(ctx context.Context, types []string) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // after Commit it does nothing
	st, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO unlisted_types (ltype) VALUES (?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, t := range types {
		if _, err := st.ExecContext(ctx, t); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// loadUnlisted reads unlisted_types into d.unlisted.
func (d *DB) loadUnlisted(ctx context.Context) error {
	rows, err := d.db.QueryContext(ctx, `SELECT ltype FROM unlisted_types`)
	if err != nil {
		return err
	}
	defer rows.Close()
	m := map[string]bool{}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return err
		}
		m[t] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	d.unlisted.Store(&m)
	return nil
}

const running = "Running"

// Close stops the writer after it finishes queued work and closes the database.
func (d *DB) Close() error {
	d.once.Do(func() {
		// No Update queues after this (see Update); one blocked on a
		// full queue holds sendMu until the writer, still running,
		// takes its request.
		d.sendMu.Lock()
		d.closing = true
		d.sendMu.Unlock()
		close(d.closed)
		d.stop()
		d.wg.Wait()
		d.redo.close()
		d.wr.close()
		for {
			select {
			case rd := <-d.idle:
				rd.close()
				continue
			default:
			}
			break
		}
		// Everything is committed: fold the WAL into the database so that a
		// stopped server's data directory holds only the database (and
		// the redo log's segments, kept for reuse).
		_, _ = d.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	})
	err := d.db.Close()
	if d.walFile != nil {
		d.walFile.Close()
	}
	return err
}

// Err reports why the store refuses writes (a failed commit), or nil.
func (d *DB) Err() error {
	d.fmu.Lock()
	defer d.fmu.Unlock()
	return d.failed
}

// View runs fn on a snapshot of the committed state that includes every
// write acknowledged before View was called.
func (d *DB) View(ctx context.Context, fn func(store.Tx) error) error {
	select {
	case <-d.closed:
		return store.ErrClosed
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rd, err := d.acquire(ctx)
	if err != nil {
		return err
	}
	defer d.release(rd)
	// The acknowledged batches, then those SQLite may lack: every batch
	// after the newest applied one is still in flights (the applier
	// removes batches only after it has counted them applied), and a
	// snapshot at least that new holds every batch before them.
	acked := d.seq.Load()
	d.fmu.Lock()
	fl := d.flights
	d.fmu.Unlock()
	if !rd.pinned || rd.seq < d.applied.Load() {
		if err := rd.pin(ctx); err != nil {
			rd.broken = true
			return err
		}
	}
	return fn(&tx{d: d, rd: rd, snap: max(rd.seq, acked), layers: newestFirst(fl, rd.seq, acked)})
}

// acquire takes an idle read connection or opens another.
func (d *DB) acquire(ctx context.Context) (*reader, error) {
	select {
	case rd := <-d.idle:
		return rd, nil
	default:
		return newReader(ctx, d.db)
	}
}

// release keeps rd for the next View, or closes it when enough are kept.
func (d *DB) release(rd *reader) {
	if !rd.broken && d.drain.Load() {
		if err := rd.unpin(context.Background()); err != nil {
			rd.broken = true
		}
	}
	if rd.broken {
		rd.close()
		return
	}
	select {
	case d.idle <- rd:
	default:
		rd.close()
	}
}

type writeReq struct {
	ctx  context.Context
	fn   func(store.Tx) error
	done chan error
}

var reqPool = sync.Pool{New: func() any { return &writeReq{done: make(chan error, 1)} }}

// Update runs fn in a read-write transaction; nil means it is committed and
// synced (in the redo log; SQLite gets it right after).
func (d *DB) Update(ctx context.Context, fn func(store.Tx) error) error {
	r := reqPool.Get().(*writeReq)
	r.ctx, r.fn = ctx, fn
	// Queue only while the store is open: with closed already closed, a
	// select on both could still pick the send after the writer drained
	// its queue for the last time, and nobody would answer.
	d.sendMu.RLock()
	if d.closing {
		d.sendMu.RUnlock()
		return store.ErrClosed
	}
	select {
	case d.writes <- r:
	case <-ctx.Done():
		d.sendMu.RUnlock()
		return ctx.Err()
	}
	d.sendMu.RUnlock()
	// Once queued the request is always answered: the writer drains its queue
	// before exiting, so waiting here cannot leak.
	err := <-r.done
	r.ctx, r.fn = nil, nil
	reqPool.Put(r)
	return err
}

func (d *DB) writer() {
	defer d.wg.Done()
	defer close(d.persistQ)
	for {
		var first *writeReq
		select {
		case first = <-d.writes:
		case <-d.closed:
			for {
				select {
				case r := <-d.writes:
					r.done <- store.ErrClosed
				default:
					return
				}
			}
		}
		if f := d.filter.Load(); f != nil && f.ready.Load() && f.full() {
			// Deleted keys stay in a filter, so one fills up over time:
			// make a new one, to be loaded once the batches run so far,
			// which added their keys to this one, have committed.
			d.fmu.Lock()
			after := d.landed + uint64(len(d.flights))
			d.fmu.Unlock()
			d.newFilter(after)
		}
		batch := make([]*writeReq, 1, 64)
		batch[0] = first
	drain:
		for len(batch) < d.max {
			select {
			case r := <-d.writes:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		f := d.runBatch(batch)
		// The writer's read transaction ends with its batch: a snapshot
		// it kept while idle, or while it waits for the persister,
		// would pin the WAL, and the
		// checkpoint could never restart it. With the key filter the
		// writer reads seldom, so nothing else would end it.
		// A failure here shows again at the next read, which begins anew.
		_ = d.wr.unpin(context.Background())
		if !f.empty() {
			d.next++
			f.seq = d.next
			d.fmu.Lock()
			// Bounded memory: when SQLite falls far behind (a disk
			// that stalls), callers wait here rather than batches
			// piling up.
			for len(d.flights) > 0 && (len(d.flights) >= maxFlights || d.flightWrites >= maxFlightWrites) && d.failed == nil {
				d.room.Wait()
			}
			d.flights = append(d.flights, &unapplied{seq: f.seq, ch: f.ch})
			d.flightWrites += f.ch.size()
			d.fmu.Unlock()
		}
		d.persistQ <- f
	}
}

// newFilter puts in a new, empty key filter (the writer's from then on)
// and loads it in the background once the flights acknowledged number
// after: see keyFilter. Called by the writer, or before it starts.
func (d *DB) newFilter(after uint64) {
	f := newKeyFilter(d.filterSize)
	d.filter.Store(f)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for {
			d.fmu.Lock()
			n, failed := d.landed, d.failed
			d.fmu.Unlock()
			if n >= after || failed != nil {
				break
			}
			select {
			case <-d.bg.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		// On failure the filter stays not ready, which costs queries only.
		_ = f.load(d.bg, d.db)
	}()
}

// checkpointer copies the WAL into the database file every checkpointEvery without
// blocking the applier (PASSIVE). Once a checkpoint has copied everything
// and no reader holds a snapshot inside the WAL, SQLite's next commit writes
// the WAL from its start again, so the WAL stays bounded. That is why it
// first ends the read transactions of idle connections (the next View on
// one starts a new one). When the WAL is longer than walFrames anyway, it
// runs a RESTART checkpoint, for which Views let go of their snapshots.
func (d *DB) checkpointer(c *sql.Conn) {
	defer d.wg.Done()
	defer c.Close()
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	ctx := context.Background()
	copied := uint64(0) // the commit number the WAL was last copied whole at
	for {
		select {
		case <-d.closed:
			return
		case <-t.C:
			// Nothing committed since a checkpoint that copied the whole
			// WAL: nothing to do (an idle server stays idle).
			seq := d.applied.Load()
			if seq == copied {
				continue
			}
			d.unpinIdle(ctx)
			var busy, log, done int
			err := c.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &done)
			if err == nil && busy == 0 && done == log {
				copied = seq
			}
			if err == nil && log > walFrames {
				// Commits outran the checkpoints (under steady writes a
				// PASSIVE one never finds the WAL fully copied when the
				// next commit begins, and every page read searches a
				// longer WAL index). Copy the rest while the applier
				// waits, with Views letting go of their snapshots, so
				// that the next commit starts the WAL again.
				d.drain.Store(true)
				d.unpinIdle(ctx)
				d.commitMu.Lock()
				if c.QueryRowContext(ctx, "PRAGMA wal_checkpoint(RESTART)").Scan(&busy, &log, &done) == nil && busy == 0 {
					d.restarts.Add(1)
				}
				d.commitMu.Unlock()
				d.drain.Store(false)
			}
		}
	}
}

// unpinIdle ends the read transactions of the idle read connections.
func (d *DB) unpinIdle(ctx context.Context) {
	for range len(d.idle) {
		select {
		case rd := <-d.idle:
			if err := rd.unpin(ctx); err != nil {
				rd.broken = true
			}
			d.release(rd)
		default:
			return
		}
	}
}

// flight is a batch on its way to disk: its number (0 when it wrote
// nothing), its changes, and its callers with the results of their
// functions.
type flight struct {
	seq  uint64
	ch   *changes
	reqs []*writeReq
	errs []error
}

// unapplied is a batch SQLite does not hold yet.
type unapplied struct {
	seq uint64
	ch  *changes
}

// maxFlights and maxFlightWrites bound the batches not yet in SQLite, and
// the records and operations they write (a few kilobytes each: tens of
// megabytes in all). Under steady load SQLite is about applyEvery behind.
const (
	maxFlights      = 1024
	maxFlightWrites = 16384
)

// applyBatches is the most batches the applier writes in one transaction.
const applyBatches = 128

// applyEvery is how long the applier gathers batches, at most, before it
// writes them into SQLite in one transaction. The pages that every
// transaction writes (the index nodes above the new entries, the meta row)
// are then written once for many batches: with 10 ms a durable create
// took 10-20% less CPU than with each batch applied as soon as it was
// logged (2-3 batches a transaction; BenchmarkCreateLatency, 2026-12-02).
// Nobody waits for it: callers are answered once the redo log holds their
// batch, and reads see the batches in memory until SQLite holds them.
const applyEvery = 10 * time.Millisecond

func (f *flight) empty() bool { return f.ch.size() == 0 }

// persister logs flights in order and answers their callers. A batch's
// records go into the hot cache under its number before it is logged
// (Views with older snapshots do not use them), and the number becomes the
// newest acknowledged one after it.
func (d *DB) persister() {
	defer d.wg.Done()
	defer close(d.logged)
	for f := range d.persistQ {
		d.fmu.Lock()
		failed := d.failed
		d.fmu.Unlock()
		if failed == nil && !f.empty() {
			d.cache.apply(f.ch, f.seq)
			if err := d.redo.append(f.seq, f.ch); err != nil {
				d.cache.clear()
				failed = fmt.Errorf("sqlite: redo log: %w", err)
				d.fail(failed)
			} else {
				d.seq.Store(f.seq)
				select {
				case d.kick <- struct{}{}:
				default:
				}
			}
		}
		for i, r := range f.reqs {
			err := f.errs[i]
			if err == nil && failed != nil {
				err = failed
			}
			r.done <- err
		}
	}
}

// newestFirst returns the changes of the batches in fl numbered after
// after and up to upTo, newest first: the order a transaction's layers are
// read in, so that a read takes the latest version.
func newestFirst(fl []*unapplied, after, upTo uint64) []*changes {
	if len(fl) == 0 {
		return nil // most Views: nothing to lay over, nothing to allocate
	}
	out := make([]*changes, 0, len(fl)+1)
	for i := len(fl) - 1; i >= 0; i-- {
		if b := fl[i]; b.seq > after && b.seq <= upTo {
			out = append(out, b.ch)
		}
	}
	return out
}

// pending is how many batches SQLite does not hold yet.
func (d *DB) pending() int {
	d.fmu.Lock()
	defer d.fmu.Unlock()
	return len(d.flights)
}

// fail makes the store refuse writes from now on.
func (d *DB) fail(err error) {
	d.fmu.Lock()
	if d.failed == nil {
		d.failed = err
	}
	d.room.Broadcast()
	d.fmu.Unlock()
}

// applier writes the acknowledged batches into SQLite, up to applyBatches
// of them in one transaction, and then drops them from flights and lets
// the redo log reuse what held them. It ends once the persister has
// ended and everything it logged is applied.
func (d *DB) applier(c *conn) {
	defer d.wg.Done()
	defer c.close()
	last := false
	wait := time.NewTimer(time.Hour)
	wait.Stop()
	var prev time.Time
	for {
		if !last {
			select {
			case <-d.kick:
			case <-d.logged:
				last = true
			}
		}
		// Gather batches for up to applyEvery after the last
		// transaction began: see applyEvery.
		if dt := time.Until(prev.Add(applyEvery)); !last && dt > 0 && d.pending() < applyBatches {
			wait.Reset(dt)
			select {
			case <-wait.C:
			case <-d.logged:
				last = true
				wait.Stop()
			}
		}
		prev = time.Now()
		for {
			acked := d.seq.Load()
			d.fmu.Lock()
			failed := d.failed
			n := 0
			for n < len(d.flights) && n < applyBatches && d.flights[n].seq <= acked {
				n++
			}
			todo := d.flights[:n]
			d.fmu.Unlock()
			if n == 0 || failed != nil {
				break
			}
			if d.applyDelay > 0 {
				time.Sleep(d.applyDelay)
			}
			ch := todo[0].ch
			if n > 1 {
				ch = newChanges()
				for _, b := range todo {
					ch.merge(b.ch)
				}
			}
			seq := todo[n-1].seq
			d.commitMu.Lock()
			err := c.persist(ch, seq)
			d.commitMu.Unlock()
			if err != nil {
				// What was acknowledged stays in the log and in
				// flights (Views still see it); the next Open
				// applies it.
				d.fail(fmt.Errorf("sqlite: commit: %w", err))
				break
			}
			// A segment of the log is reused only once SQLite holds
			// its batches durably: sync the WAL when one waits for it
			// (once a segment, a few hundred batches).
			if upTo, ok := d.redo.sealedUpTo(); ok && upTo <= seq && d.synced < upTo {
				if err := datasync(d.walFile); err != nil {
					d.fail(fmt.Errorf("sqlite: sync: %w", err))
					break
				}
				d.synced = seq
			}
			d.redo.recycle(d.synced)
			d.applied.Store(seq)
			d.fmu.Lock()
			for _, b := range todo {
				d.flightWrites -= b.ch.size()
			}
			d.flights = d.flights[n:]
			d.landed += uint64(n)
			d.room.Broadcast()
			d.fmu.Unlock()
		}
		if last {
			return
		}
	}
}

// changes are buffered writes: records and operations by key (nil: deleted).
type changes struct {
	recs map[string]*store.Record
	ops  map[string]*store.Operation
	// retyped holds the keys of records written whose row in SQLite, if
	// any, may have another type: the created ones (a create may follow a
	// delete still uncommitted) and those replaced by another type. The
	// others keep their row's plen and type columns, and indexes, as
	// they are. Once set for a key in a batch, it stays.
	retyped map[string]bool
}

func newChanges() *changes {
	return &changes{recs: map[string]*store.Record{}, ops: map[string]*store.Operation{}, retyped: map[string]bool{}}
}

// size is how many records and operations c writes.
func (c *changes) size() int { return len(c.recs) + len(c.ops) }

func (c *changes) merge(o *changes) {
	for k, v := range o.recs {
		c.recs[k] = v
	}
	for k := range o.retyped {
		c.retyped[k] = true
	}
	for k, v := range o.ops {
		c.ops[k] = v
	}
}

// runBatch runs each request's function (over SQLite's state, the batches
// not yet in it, and the batch so far) and returns the
// successful ones' writes as a flight.
func (d *DB) runBatch(batch []*writeReq) *flight {
	d.fmu.Lock()
	failed := d.failed
	layers := newestFirst(d.flights, 0, math.MaxUint64)
	d.fmu.Unlock()
	f := &flight{ch: newChanges(), reqs: batch, errs: make([]error, 0, len(batch))}
	// Committed records read during this batch, absent ones as nil: a key
	// no uncommitted batch touches stays as it is in SQLite until a later
	// batch writes it, so a second read in the batch (a Get, then the
	// Create that checks again) needs no second query.
	memo := map[string]*store.Record{}
	for _, r := range batch {
		if failed != nil {
			f.errs = append(f.errs, failed)
			continue
		}
		if err := r.ctx.Err(); err != nil {
			f.errs = append(f.errs, err)
			continue
		}
		t := &tx{d: d, rd: d.wr, snap: math.MaxUint64, write: true, own: newChanges(), layers: append([]*changes{f.ch}, layers...), memo: memo}
		err := store.SafeRun("sqlite", r.fn, t)
		if err == nil {
			f.ch.merge(t.own)
			d.wrote(t.own)
		}
		f.errs = append(f.errs, err)
	}
	return f
}

// wrote notes a successful function's writes, before its batch is logged: the
// keys it wrote enter the key filter, the operations the writer's memory.
func (d *DB) wrote(ch *changes) {
	f := d.filter.Load()
	if f != nil {
		for k, r := range ch.recs {
			if r != nil {
				f.addRecord(k)
			}
		}
	}
	for id, op := range ch.ops {
		if op != nil && f != nil {
			f.addOp(id)
		}
		d.rememberOp(id, op)
	}
}

// rememberOp puts the newest version of an operation (nil: absent) in the
// writer's memory.
func (d *DB) rememberOp(id string, op *store.Operation) {
	if len(d.recentOps) >= recentOpsMax/2 {
		d.oldOps, d.recentOps = d.recentOps, make(map[string]*store.Operation, recentOpsMax/2)
	}
	d.recentOps[id] = op
}

// recentOp returns the writer's memory of an operation: ok is false when
// it has none.
func (d *DB) recentOp(id string) (op *store.Operation, ok bool) {
	if op, ok = d.recentOps[id]; ok {
		return op, true
	}
	op, ok = d.oldOps[id]
	return op, ok
}

// conn is the applier's connection with its prepared statements.
type conn struct {
	c                       *sql.Conn
	begin, commit, rollback *sql.Stmt
	setSeq                  *sql.Stmt
	// Multi-row statements by row count: one statement per chunk of a batch
	// costs far less than one per row.
	stmts map[stmtName]*sql.Stmt
	// listedOff is DB.listedOff: the types written with listed = 0.
	listedOff *atomic.Pointer[map[string]bool]
}

func newConn(ctx context.Context, db *sql.DB) (*conn, error) {
	sc, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	// A multi-row upsert keeps a statement journal (the pages it changes,
	// as they were, to undo the statement alone); in memory it costs no
	// temporary file to open, write and close on every commit.
	if _, err := sc.ExecContext(ctx, "PRAGMA temp_store = MEMORY"); err != nil {
		sc.Close()
		return nil, err
	}
	c := &conn{c: sc, stmts: map[stmtName]*sql.Stmt{}}
	prep := func(dst **sql.Stmt, q string) {
		if err != nil {
			return
		}
		*dst, err = sc.PrepareContext(ctx, q)
	}
	prep(&c.begin, "BEGIN IMMEDIATE")
	prep(&c.commit, "COMMIT")
	prep(&c.rollback, "ROLLBACK")
	prep(&c.setSeq, "UPDATE meta SET v = ? WHERE k = 'seq'")
	if err != nil {
		sc.Close()
		return nil, fmt.Errorf("sqlite: prepare: %w", err)
	}
	return c, nil
}

func (c *conn) close() { c.c.Close() }

// chunk is the most rows one statement carries (at most 10 columns each,
// well under SQLite's limit of 32766 parameters).
const chunk = 128

const (
	recCols = "(key, id, type, body, meta, version, updated, plen, ltype, listed)"
	// recSet rewrites every column; parent, which only rows written
	// before schema 4 hold, is emptied (see migration 4).
	recSet = " ON CONFLICT(key) DO UPDATE SET id=excluded.id, type=excluded.type, body=excluded.body, meta=excluded.meta, version=excluded.version, updated=excluded.updated, plen=excluded.plen, parent='', ltype=excluded.ltype, listed=excluded.listed"
	// recSetSame is for a replace of a record by one of the same type:
	// plen and ltype follow from the key and the type, so they stay, and
	// so do the two indexes on them (SQLite updates only the indexes on
	// the columns SET names); so does listed (a row of a type that became
	// unlisted after it was written stays in the indexes, which is only
	// an entry too many: its lists go by key range).
	recSetSame = " ON CONFLICT(key) DO UPDATE SET id=excluded.id, type=excluded.type, body=excluded.body, meta=excluded.meta, version=excluded.version, updated=excluded.updated"
	opCols     = "(id, kind, resource, status, doc, due, lease_owner, lease_until, version, ended)"
	opSet      = " ON CONFLICT(id) DO UPDATE SET kind=excluded.kind, resource=excluded.resource, status=excluded.status, doc=excluded.doc, due=excluded.due, lease_owner=excluded.lease_owner, lease_until=excluded.lease_until, version=excluded.version, ended=excluded.ended"
)

// stmtName names a prepared statement: its shape and row count.
type stmtName struct {
	shape string
	n     int
}

// stmt returns the prepared statement for n rows of one of the shapes.
func (c *conn) stmt(ctx context.Context, shape string, n int) (*sql.Stmt, error) {
	name := stmtName{shape, n}
	if st, ok := c.stmts[name]; ok {
		return st, nil
	}
	var q string
	switch shape {
	case "putRec":
		q = "INSERT INTO resources " + recCols + " VALUES " + placeholders(n, 10) + recSet
	case "putRecSame":
		q = "INSERT INTO resources " + recCols + " VALUES " + placeholders(n, 10) + recSetSame
	case "putOp":
		q = "INSERT INTO operations " + opCols + " VALUES " + placeholders(n, 10) + opSet
	case "delRec":
		q = "DELETE FROM resources WHERE key IN " + placeholders(1, n)
	case "delOp":
		q = "DELETE FROM operations WHERE id IN " + placeholders(1, n)
	}
	st, err := c.c.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.stmts[name] = st
	return st, nil
}

// placeholders writes n tuples of k "?" each: (?,?),(?,?).
func placeholders(n, k int) string {
	tuple := "(" + strings.Repeat("?,", k-1) + "?)"
	return strings.Repeat(tuple+",", n-1) + tuple
}

// execChunks runs shape over args, rowArgs values per row, chunk rows at a time.
func (c *conn) execChunks(ctx context.Context, shape string, args []any, rowArgs int) error {
	rows := len(args) / rowArgs
	for start := 0; start < rows; start += chunk {
		n := min(chunk, rows-start)
		st, err := c.stmt(ctx, shape, n)
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, args[start*rowArgs:(start+n)*rowArgs]...); err != nil {
			return err
		}
	}
	return nil
}

// persist writes changes, and seq as the newest commit's number, in one
// transaction; its commit syncs the WAL.
func (c *conn) persist(ch *changes, seq uint64) (err error) {
	ctx := context.Background()
	var putRecs, sameRecs, delRecs, putOps, delOps []any
	var off map[string]bool
	if c.listedOff != nil {
		off = *c.listedOff.Load()
	}
	for k, r := range ch.recs {
		if r == nil {
			delRecs = append(delRecs, k)
			continue
		}
		lt := strings.ToLower(r.Type)
		listed := 1
		if off[lt] {
			listed = 0
		}
		row := []any{k, r.ID, r.Type, r.Body, nullable(r.Meta), r.Version, r.Updated.UnixNano(), len(store.ParentKey(k)), lt, listed}
		if ch.retyped[k] {
			putRecs = append(putRecs, row...)
		} else {
			sameRecs = append(sameRecs, row...)
		}
	}
	now := time.Now().UnixNano()
	for id, op := range ch.ops {
		if op == nil {
			delOps = append(delOps, id)
			continue
		}
		var ended int64
		if op.Status != running {
			ended = unixNano(op.Ended)
			if ended == 0 {
				ended = now
			}
		}
		putOps = append(putOps, op.ID, op.Kind, op.Resource, op.Status, op.Doc, unixNano(op.Due), op.LeaseOwner, unixNano(op.LeaseUntil), op.Version, ended)
	}
	if _, err := c.begin.ExecContext(ctx); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_, _ = c.rollback.ExecContext(ctx)
		}
	}()
	if err = c.execChunks(ctx, "putRec", putRecs, 10); err != nil {
		return err
	}
	if err = c.execChunks(ctx, "putRecSame", sameRecs, 10); err != nil {
		return err
	}
	if err = c.execChunks(ctx, "delRec", delRecs, 1); err != nil {
		return err
	}
	if err = c.execChunks(ctx, "putOp", putOps, 10); err != nil {
		return err
	}
	if err = c.execChunks(ctx, "delOp", delOps, 1); err != nil {
		return err
	}
	if _, err = c.setSeq.ExecContext(ctx, int64(seq)); err != nil {
		return err
	}
	_, err = c.commit.ExecContext(ctx)
	return err
}

// tx implements store.Tx. A View's reads go to the acknowledged batches its
// connection's snapshot lacks, then to the hot cache (for entries no newer
// than the View), then to the snapshot. A write transaction sees its own
// buffered writes, then its batch's, then every batch not yet in SQLite,
// then SQLite's state.
type tx struct {
	d  *DB
	rd *reader
	// snap is the number of the newest batch the transaction sees: cache
	// entries up to it are usable. Writers see the newest (MaxUint64).
	snap  uint64
	write bool
	// own holds a writer's buffered writes (nil in a View).
	own *changes
	// layers are the changes laid over SQLite's state, newest first: for a
	// writer the batch so far, then the batches not yet in SQLite; for a
	// View the acknowledged batches its snapshot lacks.
	layers []*changes
	// memo holds the batch's reads of committed records (writers only).
	memo map[string]*store.Record
}

var errReadOnly = errors.New("sqlite: write in a read-only transaction")

// overlays are the changes laid over SQLite's state, oldest first, a
// writer's own last.
func (t *tx) overlays() []*changes {
	out := make([]*changes, 0, len(t.layers)+1)
	for i := len(t.layers) - 1; i >= 0; i-- {
		out = append(out, t.layers[i])
	}
	if t.own != nil {
		out = append(out, t.own)
	}
	return out
}

// overlaid reports whether anything is laid over SQLite's state.
func (t *tx) overlaid() bool { return t.own != nil || len(t.layers) > 0 }

func (t *tx) record(key string) (*store.Record, error) {
	if t.own != nil {
		if r, ok := t.own.recs[key]; ok {
			return r, nil
		}
	}
	for _, l := range t.layers {
		if r, ok := l.recs[key]; ok {
			return r, nil
		}
	}
	if t.write {
		if r, ok := t.memo[key]; ok {
			return r, nil
		}
		if _, ok := t.d.absent[key]; ok {
			return nil, nil
		}
	}
	if !t.d.filter.Load().mayHaveRecord(key) {
		return nil, nil
	}
	if r := t.d.cache.get(key, t.snap); r != nil {
		return r, nil
	}
	r, err := t.rd.get(key)
	if err != nil {
		return nil, err
	}
	if t.write {
		t.memo[key] = r
		if r == nil {
			if len(t.d.absent) >= absentMax {
				clear(t.d.absent)
			}
			t.d.absent[key] = struct{}{}
		}
	}
	if r == nil {
		return nil, nil
	}
	// A writer reaches here only for keys no uncommitted batch touches, so
	// what it read is the newest version.
	t.d.cache.fill(key, r, t.snap, t.write)
	return r, nil
}

func (t *tx) operation(id string) (*store.Operation, error) {
	if t.own != nil {
		if op, ok := t.own.ops[id]; ok {
			return op, nil
		}
	}
	for _, l := range t.layers {
		if op, ok := l.ops[id]; ok {
			return op, nil
		}
	}
	if t.write {
		if op, ok := t.d.recentOp(id); ok {
			return op, nil
		}
	}
	if !t.d.filter.Load().mayHaveOp(id) {
		return nil, nil
	}
	op, err := t.rd.getOp(id)
	if err == nil && t.write {
		// No uncommitted batch has it: this is its newest version.
		t.d.rememberOp(id, op)
	}
	return op, err
}

func (t *tx) Get(key string) (*store.Record, error) {
	r, err := t.record(key)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, store.ErrNotFound
	}
	cp := *r
	return &cp, nil
}

func (t *tx) Create(r *store.Record) error {
	if !t.write {
		return errReadOnly
	}
	key := r.Key()
	cur, err := t.record(key)
	if err != nil {
		return err
	}
	if cur != nil {
		return store.ErrExists
	}
	if r.Updated.IsZero() {
		r.Updated = time.Now()
	}
	r.Version = 1
	t.keep(key, r)
	t.own.retyped[key] = true
	return nil
}

func (t *tx) Replace(r *store.Record) error {
	if !t.write {
		return errReadOnly
	}
	key := r.Key()
	cur, err := t.record(key)
	if err != nil {
		return err
	}
	if cur == nil {
		return store.ErrNotFound
	}
	if r.Version != 0 && r.Version != cur.Version {
		return store.ErrConflict
	}
	if r.Updated.IsZero() {
		r.Updated = time.Now()
	}
	r.Version = cur.Version + 1
	t.keep(key, r)
	if !strings.EqualFold(r.Type, cur.Type) {
		t.own.retyped[key] = true
	}
	return nil
}

func (t *tx) Delete(key string) error {
	if !t.write {
		return errReadOnly
	}
	cur, err := t.record(key)
	if err != nil {
		return err
	}
	if cur == nil {
		return store.ErrNotFound
	}
	t.own.recs[key] = nil
	return nil
}

// keep buffers a write; the caller's record is copied so that later changes
// to it do not leak in.
func (t *tx) keep(key string, r *store.Record) {
	cp := *r
	if len(cp.Meta) == 0 {
		cp.Meta = nil
	}
	t.own.recs[key] = &cp
	if t.write {
		delete(t.d.absent, key)
	}
}

// List runs the query in SQLite; the changes SQLite does not hold yet are
// laid over the result.
func (t *tx) List(q store.Query) ([]*store.Record, error) {
	f := newFilter(q)
	f.unlisted = *t.d.unlisted.Load()
	if !t.overlaid() {
		recs, _, err := t.rd.list(f, q.Limit)
		return recs, err
	}
	overlays := t.overlays()
	// Each overlaid key in range can hide at most one row, so this many
	// more rows still fill a page.
	limit := q.Limit
	if limit > 0 {
		for _, ch := range overlays {
			for key := range ch.recs {
				if f.inRange(key) {
					limit++
				}
			}
		}
	}
	recs, keys, err := t.rd.list(f, limit)
	if err != nil {
		return nil, err
	}
	found := make(map[string]*store.Record, len(recs))
	for i, r := range recs {
		found[keys[i]] = r
	}
	for _, ch := range overlays {
		for key, r := range ch.recs {
			_, had := found[key]
			switch {
			case r == nil && had:
				delete(found, key)
			case r != nil && f.match(key, r.Type):
				if !had {
					keys = append(keys, key)
				}
				found[key] = r
			case r != nil && had:
				delete(found, key)
			}
		}
	}
	sort.Strings(keys)
	out := make([]*store.Record, 0, len(found))
	last := ""
	for _, k := range keys {
		r, ok := found[k]
		if !ok || (len(out) > 0 && last == k) {
			continue
		}
		cp := *r
		if q.KeysOnly {
			cp = store.Record{ID: k, Type: strings.ToLower(r.Type)}
		}
		out = append(out, &cp)
		last = k
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out, nil
}

func (t *tx) GetOperation(id string) (*store.Operation, error) {
	op, err := t.operation(id)
	if err != nil {
		return nil, err
	}
	if op == nil {
		return nil, store.ErrNotFound
	}
	cp := *op
	return &cp, nil
}

func (t *tx) PutOperation(op *store.Operation) error {
	if !t.write {
		return errReadOnly
	}
	cur, err := t.operation(op.ID)
	if err != nil {
		return err
	}
	switch {
	case cur == nil && op.Version != 0:
		return store.ErrNotFound
	case cur != nil && op.Version != 0 && op.Version != cur.Version:
		return store.ErrConflict
	case cur == nil:
		op.Version = 1
	default:
		op.Version = cur.Version + 1
	}
	cp := *op
	if cp.Status != running && cp.Ended.IsZero() {
		// Recorded now, as the store's contract says, so that the
		// batches laid over SQLite hold it too (the sweep reads it).
		cp.Ended = time.Now()
	}
	t.own.ops[op.ID] = &cp
	return nil
}

// overlaidOps is the newest state of each operation changed in the
// overlays (nil: deleted).
func (t *tx) overlaidOps() map[string]*store.Operation {
	m := map[string]*store.Operation{}
	for _, ch := range t.overlays() {
		for id, op := range ch.ops {
			m[id] = op
		}
	}
	return m
}

func (t *tx) DueOperations(now time.Time, limit int) ([]*store.Operation, error) {
	if limit <= 0 {
		limit = 100
	}
	if !t.overlaid() {
		return t.rd.dueOps(now, limit)
	}
	over := t.overlaidOps()
	ops, err := t.rd.dueOps(now, limit+len(over))
	if err != nil {
		return nil, err
	}
	var out []*store.Operation
	for _, op := range ops {
		if _, ok := over[op.ID]; !ok {
			out = append(out, op)
		}
	}
	for _, op := range over {
		if op != nil && op.Status == running && !op.Due.After(now) && op.LeaseUntil.Before(now) {
			cp := *op
			out = append(out, &cp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Due.Before(out[j].Due) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (t *tx) NextDue() (time.Time, bool, error) {
	if !t.overlaid() {
		return t.rd.nextDue(nil)
	}
	over := t.overlaidOps()
	next, ok, err := t.rd.nextDue(over)
	if err != nil {
		return time.Time{}, false, err
	}
	for _, op := range over {
		if op == nil || op.Status != running {
			continue
		}
		at := op.Due
		if op.LeaseUntil.After(at) {
			at = op.LeaseUntil
		}
		if !ok || at.Before(next) {
			next, ok = at, true
		}
	}
	return next, ok, nil
}

func (t *tx) DeleteOperationsBefore(before time.Time, limit int) (int, error) {
	if !t.write {
		return 0, errReadOnly
	}
	over := t.overlaidOps()
	// Each overlaid operation can hide at most one row.
	sqlLimit := limit
	if limit > 0 {
		sqlLimit += len(over)
	}
	cands, err := t.rd.endedBefore(before, sqlLimit)
	if err != nil {
		return 0, err
	}
	kept := cands[:0]
	for _, c := range cands {
		if _, ok := over[c.id]; !ok {
			kept = append(kept, c)
		}
	}
	for id, op := range over {
		if op != nil && op.Status != running && op.Ended.Before(before) {
			kept = append(kept, ended{id: id, at: op.Ended.UnixNano()})
		}
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].at < kept[j].at })
	if limit > 0 && len(kept) > limit {
		kept = kept[:limit]
	}
	for _, c := range kept {
		t.own.ops[c.id] = nil
	}
	return len(kept), nil
}

func nullable(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
