// Package sqlite implements store.Store on an embedded, pure-Go SQLite
// database (modernc.org/sqlite) in WAL mode with synchronous=FULL, so every
// acknowledged write is on disk. Writes from concurrent callers are grouped
// into one transaction and one fsync ("group commit"), each caller isolated by
// a savepoint, which is what lets durable PUTs outrun the disk's fsync rate.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/privlink/privlink/internal/store"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Options tune a DB; the zero value is sensible.
type Options struct {
	// Readers is the number of read connections (default: 2×GOMAXPROCS, at least 4).
	Readers int
	// MaxBatch caps how many callers' transactions share one commit (default 256).
	MaxBatch int
}

// DB is a SQLite-backed store.Store.
type DB struct {
	db      *sql.DB
	readers chan *conn
	writes  chan *writeReq
	done    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
	max     int
	closed  chan struct{}
}

var _ store.Store = (*DB)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS resources (
	key        TEXT PRIMARY KEY,
	parent     TEXT NOT NULL,
	sub        TEXT NOT NULL,
	type_key   TEXT NOT NULL,
	id         TEXT NOT NULL,
	type       TEXT NOT NULL,
	body       BLOB NOT NULL,
	meta       BLOB,
	version    INTEGER NOT NULL,
	updated    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS resources_parent ON resources(parent, key);
CREATE INDEX IF NOT EXISTS resources_sub_type ON resources(sub, type_key, key);
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
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS operations_running ON operations(status, due);
PRAGMA user_version = 1;
`

// Open opens (creating if needed) the database file at path.
func Open(path string, opt Options) (*DB, error) {
	if opt.Readers <= 0 {
		opt.Readers = max(4, 2*runtime.GOMAXPROCS(0))
	}
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = 256
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(off)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(opt.Readers + 1)
	db.SetMaxIdleConns(opt.Readers + 1)
	db.SetConnMaxLifetime(0)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: schema: %w", err)
	}
	d := &DB{
		db:      db,
		readers: make(chan *conn, opt.Readers),
		writes:  make(chan *writeReq, 4096),
		done:    make(chan struct{}),
		closed:  make(chan struct{}),
		max:     opt.MaxBatch,
	}
	for range opt.Readers {
		c, err := newConn(ctx, db)
		if err != nil {
			d.closeConns()
			db.Close()
			return nil, err
		}
		d.readers <- c
	}
	w, err := newConn(ctx, db)
	if err != nil {
		d.closeConns()
		db.Close()
		return nil, err
	}
	d.wg.Add(1)
	go d.writer(w)
	return d, nil
}

func (d *DB) closeConns() {
	for {
		select {
		case c := <-d.readers:
			c.close()
		default:
			return
		}
	}
}

// Close stops the writer after it finishes queued work and closes the database.
func (d *DB) Close() error {
	d.once.Do(func() {
		close(d.closed)
		d.wg.Wait()
		d.closeConns()
	})
	return d.db.Close()
}

// View runs fn in a read-only snapshot.
func (d *DB) View(ctx context.Context, fn func(store.Tx) error) error {
	var c *conn
	select {
	case c = <-d.readers:
	case <-d.closed:
		return store.ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { d.readers <- c }()
	if _, err := c.beginRead.ExecContext(ctx); err != nil {
		return err
	}
	err := fn(&tx{c: c, ctx: ctx})
	if _, cerr := c.commit.ExecContext(ctx); cerr != nil && err == nil {
		err = cerr
	}
	return err
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

func (d *DB) writer(c *conn) {
	defer d.wg.Done()
	defer c.close()
	batch := make([]*writeReq, 0, d.max)
	errs := make([]error, 0, d.max)
	for {
		var first *writeReq
		select {
		case first = <-d.writes:
		case <-d.closed:
			// Answer whatever is still queued, then stop.
			for {
				select {
				case r := <-d.writes:
					r.done <- store.ErrClosed
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
	drain:
		for len(batch) < d.max {
			select {
			case r := <-d.writes:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		errs = d.runBatch(c, batch, errs[:0])
		for i, r := range batch {
			r.done <- errs[i]
		}
	}
}

// runBatch runs every request of the batch in one transaction, each inside its
// own savepoint so that one failure rolls back only its own writes.
func (d *DB) runBatch(c *conn, batch []*writeReq, errs []error) []error {
	ctx := context.Background()
	if _, err := c.begin.ExecContext(ctx); err != nil {
		for range batch {
			errs = append(errs, fmt.Errorf("sqlite: begin: %w", err))
		}
		return errs
	}
	ok := 0
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := c.savepoint.ExecContext(ctx); err != nil {
			errs = append(errs, err)
			continue
		}
		t := &tx{c: c, ctx: ctx, write: true}
		err := safeRun(r.fn, t)
		if err != nil {
			if _, rerr := c.rollbackTo.ExecContext(ctx); rerr != nil {
				err = errors.Join(err, rerr)
			}
		} else {
			ok++
		}
		if _, rerr := c.release.ExecContext(ctx); rerr != nil && err == nil {
			err = rerr
		}
		errs = append(errs, err)
	}
	if _, err := c.commit.ExecContext(ctx); err != nil {
		_, _ = c.rollback.ExecContext(ctx)
		for i := range errs {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("sqlite: commit: %w", err)
			}
		}
	}
	return errs
}

// safeRun turns a panic in a caller's function into its error, so that one bad
// request cannot take the writer (and every other caller) down with it.
func safeRun(fn func(store.Tx) error, t store.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sqlite: transaction function panicked: %v", p)
		}
	}()
	return fn(t)
}

// conn is one connection with its prepared statements.
type conn struct {
	c                                                  *sql.Conn
	begin, beginRead, commit, rollback                 *sql.Stmt
	savepoint, release, rollbackTo                     *sql.Stmt
	get, insert, replace, replaceAny, del              *sql.Stmt
	getOp, putOp, insertOp, dueOps, nextDue, deleteOld *sql.Stmt
}

func newConn(ctx context.Context, db *sql.DB) (*conn, error) {
	sc, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	c := &conn{c: sc}
	prep := func(dst **sql.Stmt, q string) {
		if err != nil {
			return
		}
		*dst, err = sc.PrepareContext(ctx, q)
	}
	prep(&c.begin, "BEGIN IMMEDIATE")
	prep(&c.beginRead, "BEGIN")
	prep(&c.commit, "COMMIT")
	prep(&c.rollback, "ROLLBACK")
	prep(&c.savepoint, "SAVEPOINT req")
	prep(&c.release, "RELEASE req")
	prep(&c.rollbackTo, "ROLLBACK TO req")
	prep(&c.get, "SELECT id, type, body, meta, version, updated FROM resources WHERE key = ?")
	prep(&c.insert, "INSERT INTO resources (key, parent, sub, type_key, id, type, body, meta, version, updated) VALUES (?,?,?,?,?,?,?,?,1,?) ON CONFLICT(key) DO NOTHING")
	prep(&c.replace, "UPDATE resources SET id=?, type=?, type_key=?, body=?, meta=?, version=version+1, updated=? WHERE key=? AND version=? RETURNING version")
	prep(&c.replaceAny, "UPDATE resources SET id=?, type=?, type_key=?, body=?, meta=?, version=version+1, updated=? WHERE key=? RETURNING version")
	prep(&c.del, "DELETE FROM resources WHERE key = ?")
	prep(&c.getOp, "SELECT id, kind, resource, status, doc, due, lease_owner, lease_until, version FROM operations WHERE id = ?")
	prep(&c.insertOp, "INSERT INTO operations (id, kind, resource, status, doc, due, lease_owner, lease_until, version, ended) VALUES (?,?,?,?,?,?,?,?,1,?) ON CONFLICT(id) DO NOTHING")
	prep(&c.putOp, "UPDATE operations SET kind=?, resource=?, status=?, doc=?, due=?, lease_owner=?, lease_until=?, version=version+1, ended=? WHERE id=? AND (?=0 OR version=?) RETURNING version")
	prep(&c.dueOps, "SELECT id, kind, resource, status, doc, due, lease_owner, lease_until, version FROM operations WHERE status='Running' AND due <= ? AND lease_until < ? ORDER BY due LIMIT ?")
	prep(&c.nextDue, "SELECT MIN(MAX(due, lease_until)) FROM operations WHERE status='Running'")
	prep(&c.deleteOld, "DELETE FROM operations WHERE status <> 'Running' AND ended > 0 AND ended < ?")
	if err != nil {
		sc.Close()
		return nil, fmt.Errorf("sqlite: prepare: %w", err)
	}
	return c, nil
}

func (c *conn) close() { c.c.Close() }

// tx implements store.Tx on one connection.
type tx struct {
	c     *conn
	ctx   context.Context
	write bool
}

func (t *tx) mustWrite() error {
	if !t.write {
		return errors.New("sqlite: write in a read-only transaction")
	}
	return nil
}

func (t *tx) Get(key string) (*store.Record, error) {
	r := &store.Record{}
	var meta []byte
	var updated int64
	err := t.c.get.QueryRowContext(t.ctx, key).Scan(&r.ID, &r.Type, &r.Body, &meta, &r.Version, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	r.Meta = meta
	r.Updated = time.Unix(0, updated).UTC()
	return r, nil
}

func (t *tx) Create(r *store.Record) error {
	if err := t.mustWrite(); err != nil {
		return err
	}
	key := r.Key()
	if r.Updated.IsZero() {
		r.Updated = time.Now()
	}
	res, err := t.c.insert.ExecContext(t.ctx, key, store.ParentKey(key), store.SubscriptionKey(key), strings.ToLower(r.Type), r.ID, r.Type, r.Body, nullable(r.Meta), r.Updated.UnixNano())
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrExists
	}
	r.Version = 1
	return nil
}

func (t *tx) Replace(r *store.Record) error {
	if err := t.mustWrite(); err != nil {
		return err
	}
	key := r.Key()
	if r.Updated.IsZero() {
		r.Updated = time.Now()
	}
	var row *sql.Row
	if r.Version != 0 {
		row = t.c.replace.QueryRowContext(t.ctx, r.ID, r.Type, strings.ToLower(r.Type), r.Body, nullable(r.Meta), r.Updated.UnixNano(), key, r.Version)
	} else {
		row = t.c.replaceAny.QueryRowContext(t.ctx, r.ID, r.Type, strings.ToLower(r.Type), r.Body, nullable(r.Meta), r.Updated.UnixNano(), key)
	}
	var v int64
	err := row.Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		if _, gerr := t.Get(key); gerr != nil {
			return gerr
		}
		return store.ErrConflict
	}
	if err != nil {
		return err
	}
	r.Version = v
	return nil
}

func (t *tx) Delete(key string) error {
	if err := t.mustWrite(); err != nil {
		return err
	}
	res, err := t.c.del.ExecContext(t.ctx, key)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (t *tx) List(q store.Query) ([]*store.Record, error) {
	var where []string
	var args []any
	if q.Parent != "" || (q.Prefix == "" && q.Subscription == "" && q.Type == "") {
		where = append(where, "parent = ?")
		args = append(args, strings.ToLower(q.Parent))
	}
	if q.Prefix != "" {
		// Descendants: keys in [prefix+"/", prefix+"0"), '0' being the byte after '/'.
		p := strings.ToLower(q.Prefix)
		where = append(where, "key >= ? AND key < ?")
		args = append(args, p+"/", p+"0")
	}
	if q.Subscription != "" {
		where = append(where, "sub = ?")
		args = append(args, strings.ToLower(q.Subscription))
	}
	if q.Type != "" {
		where = append(where, "type_key = ?")
		args = append(args, strings.ToLower(q.Type))
	}
	if q.After != "" {
		where = append(where, "key > ?")
		args = append(args, q.After)
	}
	query := "SELECT id, type, body, meta, version, updated FROM resources WHERE " + strings.Join(where, " AND ") + " ORDER BY key"
	if q.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	rows, err := t.c.c.QueryContext(t.ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Record
	for rows.Next() {
		r := &store.Record{}
		var meta []byte
		var updated int64
		if err := rows.Scan(&r.ID, &r.Type, &r.Body, &meta, &r.Version, &updated); err != nil {
			return nil, err
		}
		r.Meta = meta
		r.Updated = time.Unix(0, updated).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

func scanOp(sc interface{ Scan(...any) error }) (*store.Operation, error) {
	op := &store.Operation{}
	var due, lease int64
	if err := sc.Scan(&op.ID, &op.Kind, &op.Resource, &op.Status, &op.Doc, &due, &op.LeaseOwner, &lease, &op.Version); err != nil {
		return nil, err
	}
	if due != 0 {
		op.Due = time.Unix(0, due).UTC()
	}
	if lease != 0 {
		op.LeaseUntil = time.Unix(0, lease).UTC()
	}
	return op, nil
}

func (t *tx) GetOperation(id string) (*store.Operation, error) {
	op, err := scanOp(t.c.getOp.QueryRowContext(t.ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return op, err
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func (t *tx) PutOperation(op *store.Operation) error {
	if err := t.mustWrite(); err != nil {
		return err
	}
	var ended int64
	if op.Status != "Running" {
		ended = time.Now().UnixNano()
	}
	var v int64
	err := t.c.putOp.QueryRowContext(t.ctx, op.Kind, op.Resource, op.Status, op.Doc, unixNano(op.Due), op.LeaseOwner, unixNano(op.LeaseUntil), ended, op.ID, op.Version, op.Version).Scan(&v)
	if err == nil {
		op.Version = v
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if op.Version != 0 {
		if _, err := t.GetOperation(op.ID); err != nil {
			return err
		}
		return store.ErrConflict
	}
	res, err := t.c.insertOp.ExecContext(t.ctx, op.ID, op.Kind, op.Resource, op.Status, op.Doc, unixNano(op.Due), op.LeaseOwner, unixNano(op.LeaseUntil), ended)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrConflict
	}
	op.Version = 1
	return nil
}

func (t *tx) DueOperations(now time.Time, limit int) ([]*store.Operation, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := t.c.dueOps.QueryContext(t.ctx, now.UnixNano(), now.UnixNano(), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Operation
	for rows.Next() {
		op, err := scanOp(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, op)
	}
	return out, rows.Err()
}

func (t *tx) NextDue() (time.Time, bool, error) {
	var due sql.NullInt64
	if err := t.c.nextDue.QueryRowContext(t.ctx).Scan(&due); err != nil {
		return time.Time{}, false, err
	}
	if !due.Valid {
		return time.Time{}, false, nil
	}
	return time.Unix(0, due.Int64).UTC(), true, nil
}

func (t *tx) DeleteOperationsBefore(before time.Time) (int, error) {
	if err := t.mustWrite(); err != nil {
		return 0, err
	}
	res, err := t.c.deleteOld.ExecContext(t.ctx, before.UnixNano())
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

func nullable(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}
