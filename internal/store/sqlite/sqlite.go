// Package sqlite implements store.Store on an embedded, pure-Go SQLite
// database (modernc.org/sqlite) in WAL mode with synchronous=FULL, so every
// acknowledged write is on disk.
//
// A DB owns its file (privlink locks the data directory), which allows a
// simple and fast shape: the committed state lives in memory (a map and a
// B-tree ordered by key), all reads are served from it, and SQLite is where
// writes become durable. One writer goroutine runs the callers' transaction
// functions one after another against the in-memory state, buffering their
// writes; a function that fails leaves no trace. The writes of every caller
// queued at that moment then go to SQLite in one transaction with one fsync
// ("group commit"), and only after that commit are they applied to memory
// and acknowledged. That lets durable writes outrun the disk's fsync rate.
//
// The commit of one batch runs on a second goroutine (the persister) while
// the writer already runs the next batch's functions on top of it, so that
// SQLite's work and the callers' work use both cores. A batch's callers are
// answered only once every batch before it, and it, are durable. If a commit
// ever fails (disk full, I/O error), the store stops accepting writes: what
// later batches computed on top of it cannot be trusted.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/btree"
	"github.com/privlink/privlink/internal/store"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Options tune a DB; the zero value is sensible.
type Options struct {
	// MaxBatch caps how many callers' transactions share one commit (default 512).
	MaxBatch int
}

// DB is a SQLite-backed store.Store.
type DB struct {
	db     *sql.DB
	writes chan *writeReq
	closed chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
	max    int

	persistQ chan *flight
	// fmu guards flights (batches handed to the persister and not yet
	// applied, oldest first) and failed.
	fmu     sync.Mutex
	flights []*changes
	failed  error

	// mu guards the committed state below. Views hold it shared for their
	// whole run, which makes each View one consistent snapshot; the
	// persister holds it exclusively only to apply a committed batch.
	mu      sync.RWMutex
	recs    map[string]*store.Record
	order   *btree.BTreeG[string]
	ops     map[string]*store.Operation
	running map[string]bool
	// endedAt is when each ended operation was written as ended.
	endedAt map[string]time.Time
}

var _ store.Store = (*DB)(nil)

// Rowid tables, not WITHOUT ROWID: documents are around a kilobyte, and new
// rows appended at the end of the rowid tree touch far fewer pages per commit
// than rows spread through a key-ordered tree (SQLite advises WITHOUT ROWID
// only for rows much smaller than a page).
const schema = `
CREATE TABLE IF NOT EXISTS resources (
	key        TEXT PRIMARY KEY,
	id         TEXT NOT NULL,
	type       TEXT NOT NULL,
	body       BLOB NOT NULL,
	meta       BLOB,
	version    INTEGER NOT NULL,
	updated    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS operations (
	id          TEXT PRIMARY KEY,
	kind        TEXT NOT NULL,
	resource    TEXT NOT NULL,
	status      TEXT NOT NULL,
	doc         BLOB NOT NULL,
	due         INTEGER NOT NULL,
	lease_owner TEXT NOT NULL,
	lease_until INTEGER NOT NULL,
	version     INTEGER NOT NULL,
	ended       INTEGER NOT NULL
);
PRAGMA user_version = 1;
`

// Open opens (creating if needed) the database file at path and loads it.
func Open(path string, opt Options) (*DB, error) {
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = 512
	}
	// wal_autocheckpoint=0: the persister never stops to copy the WAL back
	// into the database (which made every few hundredth commit slow); the
	// checkpointer does that on its own connection, beside it.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=wal_autocheckpoint(0)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	// Two connections: the persister's and the checkpointer's.
	db.SetMaxOpenConns(2)
	db.SetConnMaxLifetime(0)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: schema: %w", err)
	}
	d := &DB{
		db:       db,
		writes:   make(chan *writeReq, 4096),
		persistQ: make(chan *flight, 2),
		closed:   make(chan struct{}),
		max:      opt.MaxBatch,
		recs:     map[string]*store.Record{},
		order:    btree.NewG(32, func(a, b string) bool { return a < b }),
		ops:      map[string]*store.Operation{},
		running:  map[string]bool{},
		endedAt:  map[string]time.Time{},
	}
	if err := d.load(ctx); err != nil {
		db.Close()
		return nil, err
	}
	w, err := newConn(ctx, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	cp, err := db.Conn(ctx)
	if err != nil {
		w.close()
		db.Close()
		return nil, err
	}
	d.wg.Add(3)
	go d.writer()
	go d.persister(w)
	go d.checkpointer(cp)
	return d, nil
}

// load reads the whole database into memory.
func (d *DB) load(ctx context.Context) error {
	rows, err := d.db.QueryContext(ctx, "SELECT key, id, type, body, meta, version, updated FROM resources")
	if err != nil {
		return fmt.Errorf("sqlite: load: %w", err)
	}
	for rows.Next() {
		var key string
		var updated int64
		r := &store.Record{}
		if err := rows.Scan(&key, &r.ID, &r.Type, &r.Body, &r.Meta, &r.Version, &updated); err != nil {
			rows.Close()
			return fmt.Errorf("sqlite: load: %w", err)
		}
		r.Updated = time.Unix(0, updated).UTC()
		d.recs[key] = r
		d.order.ReplaceOrInsert(key)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = d.db.QueryContext(ctx, "SELECT id, kind, resource, status, doc, due, lease_owner, lease_until, version, ended FROM operations")
	if err != nil {
		return fmt.Errorf("sqlite: load: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		op := &store.Operation{}
		var due, lease, ended int64
		if err := rows.Scan(&op.ID, &op.Kind, &op.Resource, &op.Status, &op.Doc, &due, &op.LeaseOwner, &lease, &op.Version, &ended); err != nil {
			return fmt.Errorf("sqlite: load: %w", err)
		}
		op.Due, op.LeaseUntil = fromNano(due), fromNano(lease)
		d.ops[op.ID] = op
		if op.Status == running {
			d.running[op.ID] = true
		} else {
			d.endedAt[op.ID] = fromNano(ended)
		}
	}
	return rows.Err()
}

const running = "Running"

// Close stops the writer after it finishes queued work and closes the database.
func (d *DB) Close() error {
	d.once.Do(func() {
		close(d.closed)
		d.wg.Wait()
	})
	return d.db.Close()
}

// Err reports why the store refuses writes (a failed commit), or nil.
func (d *DB) Err() error {
	d.fmu.Lock()
	defer d.fmu.Unlock()
	return d.failed
}

// View runs fn on a consistent snapshot of the committed state.
func (d *DB) View(ctx context.Context, fn func(store.Tx) error) error {
	select {
	case <-d.closed:
		return store.ErrClosed
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	return fn(&tx{d: d})
}

type writeReq struct {
	ctx  context.Context
	fn   func(store.Tx) error
	done chan error
}

var reqPool = sync.Pool{New: func() any { return &writeReq{done: make(chan error, 1)} }}

// Update runs fn in a read-write transaction; nil means it is committed and synced.
func (d *DB) Update(ctx context.Context, fn func(store.Tx) error) error {
	r := reqPool.Get().(*writeReq)
	r.ctx, r.fn = ctx, fn
	select {
	case d.writes <- r:
	case <-d.closed:
		return store.ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
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
		if !f.empty() {
			d.fmu.Lock()
			d.flights = append(d.flights, f.ch)
			d.fmu.Unlock()
		}
		d.persistQ <- f
	}
}

// checkpointer copies the WAL into the database file every second without
// blocking the persister (PASSIVE). Once a checkpoint has copied everything,
// SQLite's next commit writes the WAL from its start again, so the WAL stays
// bounded.
func (d *DB) checkpointer(c *sql.Conn) {
	defer d.wg.Done()
	defer c.Close()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	ctx := context.Background()
	for {
		select {
		case <-d.closed:
			return
		case <-t.C:
			_, _ = c.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}

// flight is a batch on its way to disk: its changes, and its callers with
// the results of their functions.
type flight struct {
	ch   *changes
	reqs []*writeReq
	errs []error
}

func (f *flight) empty() bool { return len(f.ch.recs) == 0 && len(f.ch.ops) == 0 }

// persister commits flights in order, applies them to memory, and answers
// their callers.
func (d *DB) persister(c *conn) {
	defer d.wg.Done()
	defer c.close()
	for f := range d.persistQ {
		d.fmu.Lock()
		failed := d.failed
		d.fmu.Unlock()
		if failed == nil && !f.empty() {
			if err := c.persist(f.ch); err != nil {
				failed = fmt.Errorf("sqlite: commit: %w", err)
				d.fmu.Lock()
				d.failed = failed
				d.fmu.Unlock()
			} else {
				d.apply(f.ch)
			}
		}
		if !f.empty() {
			d.fmu.Lock()
			d.flights = d.flights[1:]
			d.fmu.Unlock()
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

// changes are buffered writes: records and operations by key (nil: deleted).
type changes struct {
	recs map[string]*store.Record
	ops  map[string]*store.Operation
}

func newChanges() *changes {
	return &changes{recs: map[string]*store.Record{}, ops: map[string]*store.Operation{}}
}

func (c *changes) merge(o *changes) {
	for k, v := range o.recs {
		c.recs[k] = v
	}
	for k, v := range o.ops {
		c.ops[k] = v
	}
}

// runBatch runs each request's function against memory (the committed state,
// the flights still being committed, and the batch so far) and returns the
// successful ones' writes as a flight.
func (d *DB) runBatch(batch []*writeReq) *flight {
	d.fmu.Lock()
	failed := d.failed
	// Newest first: a read takes the latest version.
	layers := make([]*changes, 0, len(d.flights)+1)
	for i := len(d.flights) - 1; i >= 0; i-- {
		layers = append(layers, d.flights[i])
	}
	d.fmu.Unlock()
	f := &flight{ch: newChanges(), reqs: batch, errs: make([]error, 0, len(batch))}
	for _, r := range batch {
		if failed != nil {
			f.errs = append(f.errs, failed)
			continue
		}
		if err := r.ctx.Err(); err != nil {
			f.errs = append(f.errs, err)
			continue
		}
		t := &tx{d: d, write: true, own: newChanges(), layers: append([]*changes{f.ch}, layers...)}
		err := safeRun(r.fn, t)
		if err == nil {
			f.ch.merge(t.own)
		}
		f.errs = append(f.errs, err)
	}
	return f
}

// apply makes committed changes visible to readers.
func (d *DB) apply(ch *changes) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, v := range ch.recs {
		if v == nil {
			delete(d.recs, k)
			d.order.Delete(k)
			continue
		}
		if _, ok := d.recs[k]; !ok {
			d.order.ReplaceOrInsert(k)
		}
		d.recs[k] = v
	}
	now := time.Now()
	for id, op := range ch.ops {
		if op == nil {
			delete(d.ops, id)
			delete(d.running, id)
			delete(d.endedAt, id)
			continue
		}
		d.ops[id] = op
		if op.Status == running {
			d.running[id] = true
		} else {
			delete(d.running, id)
			if _, ok := d.endedAt[id]; !ok {
				d.endedAt[id] = now
			}
		}
	}
}

// safeRun turns a panic in a caller's function into its error, so that one
// bad request cannot take the writer (and every other caller) down with it.
func safeRun(fn func(store.Tx) error, t store.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sqlite: transaction function panicked: %v", p)
		}
	}()
	return fn(t)
}

// conn is the persister's connection with its prepared statements.
type conn struct {
	c                       *sql.Conn
	begin, commit, rollback *sql.Stmt
	// Multi-row statements by row count: one statement per chunk of a batch
	// costs far less than one per row.
	stmts map[string]*sql.Stmt
}

func newConn(ctx context.Context, db *sql.DB) (*conn, error) {
	sc, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	c := &conn{c: sc, stmts: map[string]*sql.Stmt{}}
	prep := func(dst **sql.Stmt, q string) {
		if err != nil {
			return
		}
		*dst, err = sc.PrepareContext(ctx, q)
	}
	prep(&c.begin, "BEGIN IMMEDIATE")
	prep(&c.commit, "COMMIT")
	prep(&c.rollback, "ROLLBACK")
	if err != nil {
		sc.Close()
		return nil, fmt.Errorf("sqlite: prepare: %w", err)
	}
	return c, nil
}

func (c *conn) close() { c.c.Close() }

// chunk is the most rows one statement carries (10 columns each, well under
// SQLite's limit of 32766 parameters).
const chunk = 128

const (
	recCols = "(key, id, type, body, meta, version, updated)"
	recSet  = " ON CONFLICT(key) DO UPDATE SET id=excluded.id, type=excluded.type, body=excluded.body, meta=excluded.meta, version=excluded.version, updated=excluded.updated"
	opCols  = "(id, kind, resource, status, doc, due, lease_owner, lease_until, version, ended)"
	opSet   = " ON CONFLICT(id) DO UPDATE SET kind=excluded.kind, resource=excluded.resource, status=excluded.status, doc=excluded.doc, due=excluded.due, lease_owner=excluded.lease_owner, lease_until=excluded.lease_until, version=excluded.version, ended=excluded.ended"
)

// stmt returns the prepared statement for n rows of one of the four shapes.
func (c *conn) stmt(ctx context.Context, shape string, n int) (*sql.Stmt, error) {
	name := fmt.Sprintf("%s/%d", shape, n)
	if st, ok := c.stmts[name]; ok {
		return st, nil
	}
	var q string
	switch shape {
	case "putRec":
		q = "INSERT INTO resources " + recCols + " VALUES " + placeholders(n, 7) + recSet
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

// persist writes changes in one transaction; its commit syncs the WAL.
func (c *conn) persist(ch *changes) (err error) {
	ctx := context.Background()
	var putRecs, delRecs, putOps, delOps []any
	for k, r := range ch.recs {
		if r == nil {
			delRecs = append(delRecs, k)
			continue
		}
		putRecs = append(putRecs, k, r.ID, r.Type, r.Body, nullable(r.Meta), r.Version, r.Updated.UnixNano())
	}
	now := time.Now().UnixNano()
	for id, op := range ch.ops {
		if op == nil {
			delOps = append(delOps, id)
			continue
		}
		var ended int64
		if op.Status != running {
			ended = now
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
	if err = c.execChunks(ctx, "putRec", putRecs, 7); err != nil {
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
	_, err = c.commit.ExecContext(ctx)
	return err
}

// tx implements store.Tx over the in-memory state. A write transaction sees
// its own buffered writes, then its batch's, then the committed state.
type tx struct {
	d     *DB
	write bool
	own   *changes
	// layers are the uncommitted changes under own, newest first: the
	// batch so far, then the flights being committed.
	layers []*changes
}

// committedRecord reads the committed state; the writer takes the read lock
// because the persister applies batches concurrently (a View already holds it).
func (t *tx) committedRecord(key string) *store.Record {
	if !t.write {
		return t.d.recs[key]
	}
	t.d.mu.RLock()
	defer t.d.mu.RUnlock()
	return t.d.recs[key]
}

var errReadOnly = errors.New("sqlite: write in a read-only transaction")

func (t *tx) record(key string) *store.Record {
	if t.write {
		if r, ok := t.own.recs[key]; ok {
			return r
		}
		for _, l := range t.layers {
			if r, ok := l.recs[key]; ok {
				return r
			}
		}
	}
	return t.committedRecord(key)
}

func (t *tx) operation(id string) *store.Operation {
	if t.write {
		if op, ok := t.own.ops[id]; ok {
			return op
		}
		for _, l := range t.layers {
			if op, ok := l.ops[id]; ok {
				return op
			}
		}
		t.d.mu.RLock()
		defer t.d.mu.RUnlock()
	}
	return t.d.ops[id]
}

func (t *tx) Get(key string) (*store.Record, error) {
	r := t.record(key)
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
	if t.record(key) != nil {
		return store.ErrExists
	}
	if r.Updated.IsZero() {
		r.Updated = time.Now()
	}
	r.Version = 1
	t.keep(key, r)
	return nil
}

func (t *tx) Replace(r *store.Record) error {
	if !t.write {
		return errReadOnly
	}
	key := r.Key()
	cur := t.record(key)
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
	return nil
}

func (t *tx) Delete(key string) error {
	if !t.write {
		return errReadOnly
	}
	if t.record(key) == nil {
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
}

// List scans the committed keys in the query's range, then overlays the
// transaction's buffered writes.
func (t *tx) List(q store.Query) ([]*store.Record, error) {
	parentFilter := q.Parent != "" || (q.Prefix == "" && q.Subscription == "" && q.Type == "")
	parent := strings.ToLower(q.Parent)
	lo, hi := "", ""
	narrow := func(p string) {
		if l := p + "/"; l > lo {
			lo = l
		}
		if h := p + "0"; hi == "" || h < hi {
			hi = h
		}
	}
	if q.Prefix != "" {
		narrow(strings.ToLower(q.Prefix))
	}
	if parentFilter && parent != "" {
		narrow(parent)
	}
	if q.Subscription != "" {
		narrow("/subscriptions/" + strings.ToLower(q.Subscription))
	}
	match := func(key string, r *store.Record) bool {
		if key < lo || (hi != "" && key >= hi) || (q.After != "" && key <= q.After) {
			return false
		}
		if parentFilter && store.ParentKey(key) != parent {
			return false
		}
		return q.Type == "" || strings.EqualFold(r.Type, q.Type)
	}
	if t.write {
		t.d.mu.RLock()
		defer t.d.mu.RUnlock()
	}
	found := map[string]*store.Record{}
	var keys []string
	visit := func(key string) bool {
		if r := t.d.recs[key]; match(key, r) {
			found[key] = r
			keys = append(keys, key)
		}
		return true
	}
	start := lo
	if q.After != "" && q.After >= start {
		start = q.After + "\x00"
	}
	if hi == "" {
		t.d.order.AscendGreaterOrEqual(start, visit)
	} else if start < hi {
		t.d.order.AscendRange(start, hi, visit)
	}
	if t.write {
		// Oldest first, so that newer changes win.
		overlays := make([]*changes, 0, len(t.layers)+1)
		for i := len(t.layers) - 1; i >= 0; i-- {
			overlays = append(overlays, t.layers[i])
		}
		for _, ch := range append(overlays, t.own) {
			for key, r := range ch.recs {
				_, had := found[key]
				switch {
				case r == nil && had:
					delete(found, key)
				case r != nil && match(key, r):
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
	}
	out := make([]*store.Record, 0, len(found))
	for _, k := range keys {
		r, ok := found[k]
		if !ok {
			continue
		}
		if len(out) > 0 && out[len(out)-1].Key() == k {
			continue
		}
		cp := *r
		out = append(out, &cp)
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out, nil
}

func (t *tx) GetOperation(id string) (*store.Operation, error) {
	op := t.operation(id)
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
	cur := t.operation(op.ID)
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
	t.own.ops[op.ID] = &cp
	return nil
}

// runningOps returns the running operations this transaction sees.
func (t *tx) runningOps() []*store.Operation {
	var out []*store.Operation
	seen := map[string]bool{}
	if t.write {
		t.d.mu.RLock()
		defer t.d.mu.RUnlock()
		for _, ch := range append([]*changes{t.own}, t.layers...) {
			for id, op := range ch.ops {
				if seen[id] {
					continue
				}
				seen[id] = true
				if op != nil && op.Status == running {
					out = append(out, op)
				}
			}
		}
	}
	for id := range t.d.running {
		if !seen[id] {
			out = append(out, t.d.ops[id])
		}
	}
	return out
}

func (t *tx) DueOperations(now time.Time, limit int) ([]*store.Operation, error) {
	if limit <= 0 {
		limit = 100
	}
	var out []*store.Operation
	for _, op := range t.runningOps() {
		if !op.Due.After(now) && op.LeaseUntil.Before(now) {
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
	var next time.Time
	ok := false
	for _, op := range t.runningOps() {
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

func (t *tx) DeleteOperationsBefore(before time.Time) (int, error) {
	if !t.write {
		return 0, errReadOnly
	}
	// Ended operations carry their end in their document only; the store
	// knows when it last wrote them, which is when they ended.
	n := 0
	for id, op := range t.d.ops {
		if op.Status == running || t.operation(id) == nil {
			continue
		}
		if e := t.d.endedAt[id]; !e.IsZero() && e.Before(before) {
			t.own.ops[id] = nil
			n++
		}
	}
	return n, nil
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
