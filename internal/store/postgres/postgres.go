// Package postgres implements store.Store on PostgreSQL (github.com/jackc/pgx/v5),
// so that several privlink processes can share one database.
//
// Isolation: an Update is one PostgreSQL transaction that first takes a
// transaction-scoped advisory lock shared by every process on the database,
// so writers run one at a time, each seeing everything committed before it
// (serializable without retries, which store.Store forbids: a function runs
// at most once). A process lets only one of its Updates wait for that lock,
// so waiting writers do not hold the pool's connections that Views need. A
// View is a read-only REPEATABLE READ transaction: one snapshot, taken after
// every write acknowledged before it began.
//
// The schema is created and migrated on Open under an advisory lock, with the
// applied version in schema_version, as in the sqlite backend.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"log/slog"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/privlink/privlink/internal/store"
)

// Options tune a DB; the zero value is sensible.
type Options struct {
	// MaxConns bounds the connection pool (default 16).
	MaxConns int32
	// Logger reports the commit feed's and leadership's connection
	// troubles (default: discarded).
	Logger *slog.Logger
}

// DB is a PostgreSQL-backed store.Store.
type DB struct {
	pool *pgxpool.Pool
	cfg  *pgxpool.Config
	// id tells this process's notifications from the others' (store.Feed).
	id       string
	logger   *slog.Logger
	feed     *feed
	feedOnce sync.Once
	wg       sync.WaitGroup
	// queue feeds the writer goroutine, which runs this process's Updates
	// in batches (one transaction, one write lock, one commit each), so
	// that waiting writers hold no connection and share a commit.
	queue  chan *write
	closed chan struct{}
	once   sync.Once
}

var _ store.Store = (*DB)(nil)

// Advisory lock keys (arbitrary, fixed): one for writers, one for migrations.
const (
	writeLock   int64 = 0x70726976_6c6e6b01
	migrateLock int64 = 0x70726976_6c6e6b02
)

// Open connects to the database at url (a postgres:// URL or key=value DSN),
// creates or migrates the schema, and returns the store.
func Open(ctx context.Context, url string, opt Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	cfg.MaxConns = opt.MaxConns
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 16
	}
	// A server that is down must make requests fail fast (503), not hang:
	// the default has no connect timeout.
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > 5*time.Second {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: schema: %w", classify(err))
	}
	d := &DB{pool: pool, cfg: cfg, id: uuid.NewString(), logger: opt.Logger, closed: make(chan struct{}), queue: make(chan *write, 4096)}
	d.wg.Add(1)
	go d.writer()
	return d, nil
}

// Close closes the pool; later calls return store.ErrClosed.
func (d *DB) Close() error {
	d.once.Do(func() {
		close(d.closed)
		d.wg.Wait()
		d.pool.Close()
	})
	return nil
}

func (d *DB) log(msg string, err error) { d.logger.Warn("postgres: "+msg, "err", err) }

func (d *DB) isClosed() bool {
	select {
	case <-d.closed:
		return true
	default:
		return false
	}
}

// View runs fn in a read-only snapshot.
func (d *DB) View(ctx context.Context, fn func(store.Tx) error) error {
	if d.isClosed() {
		return store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	tx, err := d.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("postgres: %w", classify(err))
	}
	defer tx.Rollback(context.Background())
	return broken(tx, store.SafeRun("postgres", fn, &ptx{ctx: ctx, tx: tx}))
}

// Update runs fn in a read-write transaction; nil means it is committed.
// This process's writer goroutine runs queued Updates in batches: one
// PostgreSQL transaction under the database-wide write lock, each function
// behind a savepoint of its own (a failed one is rolled back alone), one
// commit for all. Writers across processes still run one at a time, each
// seeing everything committed before it.
func (d *DB) Update(ctx context.Context, fn func(store.Tx) error) error {
	if d.isClosed() {
		return store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	w := &write{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case d.queue <- w:
	case <-d.closed:
		return store.ErrClosed
	}
	// Wait for the answer even if ctx ends meanwhile: a function the
	// writer has started may still commit, and the caller must not be
	// told otherwise.
	return <-w.done
}

// write is one queued Update.
type write struct {
	ctx  context.Context
	fn   func(store.Tx) error
	done chan error
}

// maxBatch bounds the functions in one transaction: each savepoint that
// writes is a subtransaction, and past 64 of them PostgreSQL's snapshots
// of the transaction overflow into slower lookups for every session.
const maxBatch = 32

// writer runs queued Updates until the store closes.
func (d *DB) writer() {
	defer d.wg.Done()
	batch := make([]*write, 0, maxBatch)
	for {
		batch = batch[:0]
		select {
		case w := <-d.queue:
			batch = append(batch, w)
		case <-d.closed:
			d.drain()
			return
		}
	gather:
		for len(batch) < maxBatch {
			select {
			case w := <-d.queue:
				batch = append(batch, w)
			default:
				break gather
			}
		}
		d.runBatch(batch)
	}
}

// drain fails the Updates still queued when the store closes.
func (d *DB) drain() {
	for {
		select {
		case w := <-d.queue:
			w.done <- store.ErrClosed
		default:
			return
		}
	}
}

// batchTimeout bounds one batch's transaction: the statements run under
// the writer's context, not a caller's (a caller that goes away must not
// break the connection under the others), so a stuck database is cut off
// here.
const batchTimeout = 30 * time.Second

// runBatch runs the functions of batch in one transaction and answers
// each caller.
func (d *DB) runBatch(batch []*write) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	errs := make([]error, len(batch))
	failAll := func(err error) {
		for _, w := range batch {
			w.done <- err
		}
	}
	tx, err := d.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		failAll(fmt.Errorf("postgres: %w", classify(err)))
		return
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, writeLock); err != nil {
		failAll(fmt.Errorf("postgres: write lock: %w", classify(err)))
		return
	}
	all := &ptx{ctx: ctx, tx: tx, write: true}
	ok := 0
	single := len(batch) == 1
	for i, w := range batch {
		if err := w.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if !single {
			if _, err := tx.Exec(ctx, `SAVEPOINT w`); err != nil {
				failAll(fmt.Errorf("postgres: %w", classify(err)))
				return
			}
		}
		t := &ptx{ctx: ctx, tx: tx, write: true}
		if err := store.SafeRun("postgres", w.fn, t); err != nil {
			errs[i] = broken(tx, err)
			if single {
				break
			}
			if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT w`); err != nil {
				failAll(fmt.Errorf("postgres: %w", classify(err)))
				return
			}
			continue
		}
		ok++
		all.keys = append(all.keys, t.keys...)
		all.ended = append(all.ended, t.ended...)
		all.started = all.started || t.started
	}
	if ok > 0 {
		var cerr error
		if len(all.keys) > 0 || len(all.ended) > 0 || all.started {
			if err := d.announce(ctx, all); err != nil {
				cerr = fmt.Errorf("postgres: announcing the commit: %w", classify(err))
			}
		}
		if cerr == nil {
			if err := tx.Commit(ctx); err != nil {
				cerr = fmt.Errorf("postgres: commit: %w", classify(err))
			}
		}
		if cerr != nil {
			for i := range errs {
				if errs[i] == nil {
					errs[i] = cerr
				}
			}
		}
	}
	for i, w := range batch {
		w.done <- errs[i]
	}
}

const running = "Running"

var errReadOnly = errors.New("postgres: write in a read-only transaction")

// ptx implements store.Tx over one PostgreSQL transaction.
type ptx struct {
	ctx   context.Context
	tx    pgx.Tx
	write bool
	// What a write transaction wrote, for its notification (store.Feed).
	keys    []string
	ended   []string
	started bool
}

// broken turns a transaction function's error into ErrUnavailable when the
// transaction's connection failed under it (the function saw some driver
// error and returned it as it was).
func broken(tx pgx.Tx, err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	if tx.Conn().IsClosed() || unreachable(err) {
		return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	}
	return err
}

const recCols = `key, id, type, body, meta, version, updated`

func scanRecord(row pgx.Row) (*store.Record, error) {
	var key string
	var updated int64
	r := &store.Record{}
	if err := row.Scan(&key, &r.ID, &r.Type, &r.Body, &r.Meta, &r.Version, &updated); err != nil {
		return nil, err
	}
	if len(r.Meta) == 0 {
		r.Meta = nil
	}
	if len(r.Body) == 0 {
		r.Body = nil
	}
	if updated != 0 {
		r.Updated = time.Unix(0, updated).UTC()
	}
	return r, nil
}

func (t *ptx) Get(key string) (*store.Record, error) {
	r, err := scanRecord(t.tx.QueryRow(t.ctx, `SELECT `+recCols+` FROM resources WHERE key = $1`, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return r, err
}

func nullable(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func (t *ptx) Create(r *store.Record) error {
	if !t.write {
		return errReadOnly
	}
	if r.Updated.IsZero() {
		r.Updated = time.Now()
	}
	key := r.Key()
	tag, err := t.tx.Exec(t.ctx, `INSERT INTO resources (key, id, type, body, meta, version, updated, parent, ltype)
		VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8) ON CONFLICT (key) DO NOTHING`,
		key, r.ID, r.Type, r.Body, nullable(r.Meta), r.Updated.UnixNano(), store.ParentKey(key), strings.ToLower(r.Type))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrExists
	}
	r.Version = 1
	t.keys = append(t.keys, key)
	return nil
}

func (t *ptx) Replace(r *store.Record) error {
	if !t.write {
		return errReadOnly
	}
	key := r.Key()
	var cur int64
	if err := t.tx.QueryRow(t.ctx, `SELECT version FROM resources WHERE key = $1`, key).Scan(&cur); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		return err
	}
	if r.Version != 0 && r.Version != cur {
		return store.ErrConflict
	}
	if r.Updated.IsZero() {
		r.Updated = time.Now()
	}
	if _, err := t.tx.Exec(t.ctx, `UPDATE resources SET id = $2, type = $3, body = $4, meta = $5, version = $6, updated = $7, ltype = $8 WHERE key = $1`,
		key, r.ID, r.Type, r.Body, nullable(r.Meta), cur+1, r.Updated.UnixNano(), strings.ToLower(r.Type)); err != nil {
		return err
	}
	r.Version = cur + 1
	t.keys = append(t.keys, key)
	return nil
}

func (t *ptx) Delete(key string) error {
	if !t.write {
		return errReadOnly
	}
	tag, err := t.tx.Exec(t.ctx, `DELETE FROM resources WHERE key = $1`, key)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	t.keys = append(t.keys, key)
	return nil
}

// where turns q into a WHERE clause (keys compare byte-wise: the columns
// are COLLATE "C", as Go compares strings) and its arguments.
func where(q store.Query) (string, []any) {
	parent := q.Parent != "" || (q.Prefix == "" && q.Subscription == "" && q.Type == "")
	parentKey := strings.ToLower(q.Parent)
	lo, hi := "", ""
	narrow := func(p string) {
		if l := p + "/"; l > lo {
			lo = l
		}
		// '0' follows '/': keys below p are exactly those in [p/, p0).
		if h := p + "0"; hi == "" || h < hi {
			hi = h
		}
	}
	if q.Prefix != "" {
		narrow(strings.ToLower(q.Prefix))
	}
	if parent && parentKey != "" {
		narrow(parentKey)
	}
	if q.Subscription != "" {
		narrow("/subscriptions/" + strings.ToLower(q.Subscription))
	}
	var conds []string
	var args []any
	add := func(c string, a any) {
		args = append(args, a)
		conds = append(conds, fmt.Sprintf(c, len(args)))
	}
	if parent {
		add("parent = $%d", parentKey)
	}
	if q.Type != "" {
		add("ltype = $%d", strings.ToLower(q.Type))
	}
	if lo != "" {
		add("key >= $%d", lo)
	}
	if hi != "" {
		add("key < $%d", hi)
	}
	if q.After != "" {
		add("key > $%d", q.After)
	}
	if q.Types != nil {
		add("ltype = ANY($%d)", q.Types)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func (t *ptx) List(q store.Query) ([]*store.Record, error) {
	cols := recCols
	if q.KeysOnly {
		cols = `key, key, ltype, NULL, NULL, 0::bigint, 0::bigint`
	}
	w, args := where(q)
	sql := `SELECT ` + cols + ` FROM resources` + w + ` ORDER BY key`
	if q.Limit > 0 {
		args = append(args, q.Limit)
		sql += fmt.Sprintf(" LIMIT $%d", len(args))
	}
	rows, err := t.tx.Query(t.ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

const opCols = `id, kind, resource, status, doc, due, lease_owner, lease_until, version, ended`

func scanOp(row pgx.Row) (*store.Operation, error) {
	op := &store.Operation{}
	var due, lease, ended int64
	if err := row.Scan(&op.ID, &op.Kind, &op.Resource, &op.Status, &op.Doc, &due, &op.LeaseOwner, &lease, &op.Version, &ended); err != nil {
		return nil, err
	}
	op.Due, op.LeaseUntil, op.Ended = fromNano(due), fromNano(lease), fromNano(ended)
	return op, nil
}

func (t *ptx) GetOperation(id string) (*store.Operation, error) {
	op, err := scanOp(t.tx.QueryRow(t.ctx, `SELECT `+opCols+` FROM operations WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return op, err
}

func (t *ptx) PutOperation(op *store.Operation) error {
	if !t.write {
		return errReadOnly
	}
	var cur int64
	err := t.tx.QueryRow(t.ctx, `SELECT version FROM operations WHERE id = $1`, op.ID).Scan(&cur)
	exists := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	switch {
	case !exists && op.Version != 0:
		return store.ErrNotFound
	case exists && op.Version != 0 && op.Version != cur:
		return store.ErrConflict
	}
	var ended int64
	if op.Status != running {
		ended = unixNano(op.Ended)
		if ended == 0 {
			ended = time.Now().UnixNano()
		}
	}
	if _, err := t.tx.Exec(t.ctx, `INSERT INTO operations (`+opCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, resource = excluded.resource, status = excluded.status, doc = excluded.doc,
		due = excluded.due, lease_owner = excluded.lease_owner, lease_until = excluded.lease_until, version = excluded.version, ended = excluded.ended`,
		op.ID, op.Kind, op.Resource, op.Status, op.Doc, unixNano(op.Due), op.LeaseOwner, unixNano(op.LeaseUntil), cur+1, ended); err != nil {
		return err
	}
	op.Version = cur + 1
	if op.Status == running {
		t.started = true
	} else {
		t.ended = append(t.ended, op.ID)
	}
	return nil
}

func (t *ptx) DueOperations(now time.Time, limit int) ([]*store.Operation, error) {
	if limit <= 0 {
		limit = 100
	}
	n := now.UnixNano()
	rows, err := t.tx.Query(t.ctx, `SELECT `+opCols+` FROM operations WHERE status = 'Running' AND due <= $1 AND lease_until < $1 ORDER BY due LIMIT $2`, n, limit)
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

func (t *ptx) NextDue() (time.Time, bool, error) {
	var at *int64
	if err := t.tx.QueryRow(t.ctx, `SELECT min(greatest(due, lease_until)) FROM operations WHERE status = 'Running'`).Scan(&at); err != nil {
		return time.Time{}, false, err
	}
	if at == nil {
		return time.Time{}, false, nil
	}
	return fromNano(*at), true, nil
}

func (t *ptx) DeleteOperationsBefore(before time.Time, limit int) (int, error) {
	if !t.write {
		return 0, errReadOnly
	}
	sql := `DELETE FROM operations WHERE id IN (SELECT id FROM operations WHERE status <> 'Running' AND ended < $1 ORDER BY ended`
	args := []any{before.UnixNano()}
	if limit > 0 {
		sql += ` LIMIT $2`
		args = append(args, limit)
	}
	tag, err := t.tx.Exec(t.ctx, sql+`)`, args...)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
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
