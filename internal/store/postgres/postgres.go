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
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"hash/fnv"
	"io"
	"log/slog"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
	pool  *pgxpool.Pool
	cfg   *pgxpool.Config
	space space
	// id tells this process's notifications from the others' (store.Feed).
	id       string
	logger   *slog.Logger
	feed     atomic.Pointer[feed]
	feedOnce sync.Once
	wg       sync.WaitGroup
	// queue feeds the writer goroutine, which runs this process's Updates
	// in batches (one transaction, one write lock, one commit each), so
	// that waiting writers hold no connection and share a commit.
	queue chan *write
	// cache holds records the writer read or wrote (nil: known absent),
	// and ops the running operations it read or wrote (nil: known
	// absent), valid while the database's commit number is cacheSeq:
	// only the writer goroutine touches them (see runBatch). They let it
	// answer reads without a round trip and hold back writes whose
	// outcome they make certain (pipe).
	cache    map[string]*store.Record
	ops      map[string]*store.Operation
	cacheSeq int64
	// cacheEpoch is the commit feed's epoch (feed.epoch) the caches were
	// filled in, when the process follows it.
	cacheEpoch uint64
	// claims are the leases ClaimDue took for this process since the
	// writer's last batch, for the writer to note in ops (takeClaims);
	// claimsLost: there were too many to keep.
	claimsMu   sync.Mutex
	claims     []*store.Operation
	claimsLost bool
	// trips counts the writer's round trips to the database (a statement
	// or a pipeline sent and its answer awaited): the writer holds the
	// database-wide write lock across them, so they bound every replica's
	// write throughput. Tests and benchmarks read it.
	trips atomic.Int64
	// sending counts the Updates between their closed check and their
	// send to queue (see Update and drain).
	sending atomic.Int64
	// leadPing is how often a held leadership's session is pinged (1 s;
	// tests shorten it).
	leadPing time.Duration
	closed   chan struct{}
	once     sync.Once
}

var _ store.Store = (*DB)(nil)

// Advisory locks and notification channels are the database's, not a
// schema's, while privlink's tables are in the schema the URL's
// search_path picks: so every lock key and the channel are made from the
// schema's name (space), and privlinks in two schemas of one database
// neither wait for each other's writes nor hear each other's commits.
type space struct {
	name    string
	write   int64  // the write lock
	migrate int64  // the migration lock
	channel string // the commit feed's LISTEN/NOTIFY channel
}

func newSpace(name string) space {
	return space{name: name, write: lockKey(name, "write"), migrate: lockKey(name, "migrate"),
		channel: fmt.Sprintf("privlink_%x", uint64(lockKey(name, "channel"))>>16)}
}

// lockKey is the advisory lock key for what in the space named name.
func lockKey(name, what string) int64 {
	h := fnv.New64a()
	io.WriteString(h, "privlink:"+name+":"+what)
	return int64(h.Sum64())
}

// spaceOf names the database and schema the pool's connections use.
func spaceOf(ctx context.Context, pool *pgxpool.Pool) (space, error) {
	var name string
	err := pool.QueryRow(ctx, `SELECT current_database() || '.' || coalesce(current_schema(), '')`).Scan(&name)
	return newSpace(name), err
}

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
	sp, err := spaceOf(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", classify(err))
	}
	if err := migrate(ctx, pool, sp); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: schema: %w", classify(err))
	}
	d := &DB{pool: pool, cfg: cfg, space: sp, id: uuid.NewString(), logger: opt.Logger, leadPing: time.Second, closed: make(chan struct{}), queue: make(chan *write, 4096),
		cache: map[string]*store.Record{}, ops: map[string]*store.Operation{}, cacheSeq: -1}
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
	// Bounded, so that a database that stops answering (frozen, cut off
	// by the network) makes the request fail with ErrUnavailable rather
	// than hang.
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, viewTimeout)
	defer cancel()
	tx, err := d.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("postgres: %w", timedOut(parent, ctx, classify(err)))
	}
	defer endView(tx)
	return timedOut(parent, ctx, broken(tx.Conn(), store.SafeRun("postgres", fn, &ptx{ctx: ctx, tx: tx})))
}

// endView ends a View's read-only transaction, bounded as the writer's
// rollback is: a database that stops answering after the View's reads
// (frozen, cut off) must not hold back an answer already read. Unbounded,
// a GET that had its answer waited until the database came back
// (TestViewDoesNotWaitForAFrozenDatabaseToEnd). A connection whose
// transaction could not be ended is closed, and the pool drops it.
func endView(tx pgx.Tx) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		tx.Conn().Close(ctx)
	}
}

// timedOut turns err into ErrUnavailable when bounded (a context this
// package derived from parent to bound a database call) ran out while
// parent did not: the database did not answer in time.
func timedOut(parent, bounded context.Context, err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) || parent.Err() != nil || bounded.Err() == nil {
		return err
	}
	return fmt.Errorf("%w: the database did not answer in time (%v)", store.ErrUnavailable, err)
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
	// sending counts this caller until its write is queued or refused:
	// the writer's last drain waits for it, so that a write queued as
	// Close began (a select picks at random among ready cases) is
	// answered ErrClosed at once rather than ErrUnavailable after
	// queueWait. A lock would not do: a caller blocked on a full queue
	// behind a frozen database would hold Close for as long.
	d.sending.Add(1)
	if d.isClosed() {
		d.sending.Add(-1)
		return store.ErrClosed
	}
	select {
	case d.queue <- w:
		d.sending.Add(-1)
	case <-d.closed:
		d.sending.Add(-1)
		return store.ErrClosed
	}
	// A write the writer has not started within queueWait (the database
	// stopped answering, so the batches before it hang until their
	// timeout) is given up: the caller hears ErrUnavailable at once and
	// the writer skips it. Once started, its answer is awaited even if
	// ctx ends meanwhile: the function may still commit, and the caller
	// must not be told otherwise.
	t := time.NewTimer(queueWait)
	defer t.Stop()
	select {
	case err := <-w.done:
		return err
	case <-t.C:
		if w.state.CompareAndSwap(queued, abandoned) {
			return fmt.Errorf("%w: the database did not take the write within %s", store.ErrUnavailable, queueWait)
		}
	}
	return <-w.done
}

// queueWait bounds how long a write waits for the writer to start it.
const queueWait = 5 * time.Second

// A write's state: the writer starts it, or its caller abandons it first.
const (
	queued int32 = iota
	started
	abandoned
)

// write is one queued Update.
type write struct {
	ctx   context.Context
	fn    func(store.Tx) error
	done  chan error
	state atomic.Int32
}

// maxCache bounds the writer's cache (records); past it the cache is
// emptied at the next batch.
const maxCache = 16384

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

// drain fails the Updates still queued when the store closes, and those
// that callers are still queueing: a caller that counts itself in sending
// after the last check below sees the store closed and queues nothing.
func (d *DB) drain() {
	for {
		select {
		case w := <-d.queue:
			w.done <- store.ErrClosed
		default:
			if d.sending.Load() == 0 {
				// Queued by a caller that left sending before the
				// check, and not taken above.
				for len(d.queue) > 0 {
					(<-d.queue).done <- store.ErrClosed
				}
				return
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
}

// batchTimeout bounds one batch's transaction: the statements run under
// the writer's context, not a caller's (a caller that goes away must not
// break the connection under the others), so a stuck database is cut off
// here.
const batchTimeout = 5 * time.Second

// viewTimeout bounds one View.
const viewTimeout = 10 * time.Second

// runBatch runs the functions of batch in one transaction and answers
// each caller.
func (d *DB) runBatch(batch []*write) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	errs := make([]error, len(batch))
	failAll := func(err error) {
		err = timedOut(context.Background(), ctx, err)
		for _, w := range batch {
			w.done <- err
		}
	}
	pc, err := d.pool.Acquire(ctx)
	if err != nil {
		failAll(fmt.Errorf("postgres: %w", classify(err)))
		return
	}
	conn := pc.Conn()
	open := false // a transaction is open on conn
	defer func() {
		if open {
			rctx, stop := context.WithTimeout(context.Background(), 2*time.Second)
			d.trips.Add(1)
			if _, err := conn.Exec(rctx, `ROLLBACK`); err != nil {
				conn.Close(rctx) // the pool drops a closed connection
			}
			stop()
		}
		pc.Release()
	}()
	// One round trip: the transaction, the write lock, and the commit
	// number and greatest operation id read after the lock (each
	// statement of the pipeline takes its snapshot when it runs), so no
	// write can slip in between.
	//
	// The writer's caches are valid if nobody committed since this
	// process's last batch: the commit number says so. If others did, the
	// keys they wrote are dropped from the records' cache, as the commit
	// feed heard them (a gap in what it heard empties it), and the
	// operations' cache is emptied (the feed does not name every
	// operation written).
	var seq int64
	var maxOp *string
	f := d.feed.Load()
	var heard int64
	var epoch uint64
	if f != nil {
		heard, epoch = f.position()
	}
	b := &pgx.Batch{}
	b.Queue(`BEGIN ISOLATION LEVEL READ COMMITTED`)
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, d.space.write)
	b.Queue(`SELECT seq, (SELECT max(id) FROM operations) FROM commits`)
	open = true
	d.trips.Add(1)
	br := conn.SendBatch(ctx, b)
	_, err = br.Exec()
	if err == nil {
		_, err = br.Exec()
	}
	if err == nil {
		err = br.QueryRow().Scan(&seq, &maxOp)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		failAll(fmt.Errorf("postgres: beginning a write: %w", classify(err)))
		return
	}
	if f != nil {
		// A number below one this process committed, or one its feed heard
		// before the read, means the database went back: the feed starts
		// again (a new epoch) at once, not when its first notice after the
		// restore comes.
		d.checkWentBack(f, seq, max(heard, d.cacheSeq), epoch)
		epoch = f.currentEpoch()
	}
	switch {
	case len(d.cache) > maxCache || len(d.ops) > maxCache || d.cacheSeq < 0, seq < d.cacheSeq, epoch != d.cacheEpoch:
		// A commit number below the caches' means the database went back
		// (restored from a backup, or a standby that lacked the last
		// commits took over): what the caches learnt since may be undone,
		// and the feed, which names the commits after cacheSeq, cannot say.
		// A new epoch of the feed means the same, or a gap in what it
		// heard, whatever the numbers say (see feed.epoch).
		clear(d.cache)
		clear(d.ops)
	case seq != d.cacheSeq:
		if f == nil || !f.invalidate(d.cache, d.cacheSeq, seq, epoch) {
			clear(d.cache)
		}
		clear(d.ops)
	}
	d.takeClaims()
	d.cacheSeq = -1 // until this batch ends well
	d.cacheEpoch = epoch
	p := newPipe(ctx, conn, &d.trips)
	if maxOp != nil {
		p.maxOp = *maxOp
	}
	all := &ptx{ctx: ctx, write: true}
	ok := 0
	single := len(batch) == 1
	for i, w := range batch {
		if !w.state.CompareAndSwap(queued, started) {
			errs[i] = store.ErrUnavailable // its caller has gone: nobody reads this
			continue
		}
		if p.err != nil {
			errs[i] = p.err // the batch is lost: run nothing more
			continue
		}
		if err := w.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		t := &ptx{ctx: ctx, p: p, write: true, cache: d.cache, ops: d.ops, fn: i, savepoint: !single}
		err := store.SafeRun("postgres", w.fn, t)
		if err == nil && p.err == nil && conn.PgConn().TxStatus() == 'E' {
			// A statement of it failed, and it returned nil all the same:
			// its writes after the failure were refused.
			err = errWentOn
		}
		if err != nil {
			errs[i] = broken(conn, err)
			// Its writes are rolled back: forget what the caches learnt of them.
			for _, k := range t.keys {
				delete(d.cache, k)
			}
			for _, id := range t.opIDs {
				delete(d.ops, id)
			}
			if single || p.err != nil {
				break
			}
			// What it held back is dropped unsent; if nothing of it was
			// sent, there is nothing to undo either.
			unsent := p.drop(i)
			switch {
			case !t.taken || unsent:
			case conn.PgConn().TxStatus() == 'E':
				// A statement of it failed: until the rollback, the
				// server would refuse even to prepare the statements
				// after it in a pipeline (pgx prepares new ones first).
				d.trips.Add(1)
				if _, err := conn.Exec(ctx, `ROLLBACK TO SAVEPOINT w`); err != nil {
					p.err = fmt.Errorf("postgres: rolling back a failed function's savepoint: %w", classify(err))
				}
			default:
				p.hold(held{sql: `ROLLBACK TO SAVEPOINT w`, owner: -1, what: "rolling back a failed function's savepoint"})
			}
			continue
		}
		if p.err != nil {
			// It went on after the batch was lost (and returned nil).
			errs[i] = p.err
			break
		}
		ok++
		all.keys = append(all.keys, t.keys...)
		all.ended = append(all.ended, t.ended...)
		all.started = all.started || t.started
	}
	switch {
	case p.err != nil:
		// A held-back write failed: the transaction is aborted, and
		// every Update of the batch fails; what the caches promised was
		// wrong somewhere, so they are emptied (cacheSeq stays -1).
		for i := range errs {
			if errs[i] == nil {
				errs[i] = p.err
			}
		}
	case ok > 0:
		// One round trip: what is held back, the announcement (if
		// anything was written) and the commit.
		announce := len(all.keys) > 0 || len(all.ended) > 0 || all.started
		tail := make([]query, 0, 2)
		if announce {
			tail = append(tail, query{announceSQL, []any{d.announcement(all), d.space.channel}})
		}
		tail = append(tail, query{`COMMIT`, nil})
		br, err := p.send(tail...)
		if err == nil {
			if announce {
				if err = br.QueryRow().Scan(&seq, nil); err != nil {
					err = fmt.Errorf("postgres: announcing the commit: %w", classify(err))
				}
			}
			if err == nil {
				var tag pgconn.CommandTag
				// A COMMIT of a transaction that failed is a ROLLBACK.
				if tag, err = br.Exec(); err == nil && tag.String() != "COMMIT" {
					err = fmt.Errorf("postgres: commit: the transaction was rolled back (%s)", tag)
				} else if err != nil {
					err = fmt.Errorf("postgres: commit: %w", classify(err))
				}
			}
			if cerr := br.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("postgres: commit: %w", classify(cerr))
			}
		}
		if err != nil {
			for i := range errs {
				if errs[i] == nil {
					errs[i] = err
				}
			}
		} else {
			open = false
			d.cacheSeq = seq
		}
	default:
		// Everything rolled back (what is held back is dropped unsent):
		// the caches hold only what was read.
		d.cacheSeq = seq
	}
	if d.cacheSeq < 0 {
		clear(d.cache)
		clear(d.ops)
	}
	for i, w := range batch {
		w.done <- timedOut(context.Background(), ctx, errs[i])
	}
}

// noteClaims keeps the leases ClaimDue took, for the writer.
func (d *DB) noteClaims(ops []*store.Operation) {
	d.claimsMu.Lock()
	defer d.claimsMu.Unlock()
	if len(d.claims)+len(ops) > maxCache {
		d.claims, d.claimsLost = nil, true
		return
	}
	d.claims = append(d.claims, ops...)
}

// takeClaims notes in the writer's cache of operations the leases that
// ClaimDue took since the last batch: a claim changes an operation's
// lease but neither its version nor the commit number, so the cache would
// not know of it. A claim of another version than the cached one drops
// the entry instead (the lease of the cached version is not known), as
// does a claim of one the cache holds absent.
func (d *DB) takeClaims() {
	d.claimsMu.Lock()
	claims, lost := d.claims, d.claimsLost
	d.claims, d.claimsLost = nil, false
	d.claimsMu.Unlock()
	if lost {
		clear(d.ops)
		return
	}
	for _, c := range claims {
		switch old, ok := d.ops[c.ID]; {
		case !ok:
		case old != nil && old.Version == c.Version:
			old.LeaseOwner, old.LeaseUntil = c.LeaseOwner, c.LeaseUntil
		default:
			delete(d.ops, c.ID)
		}
	}
}

const running = "Running"

var errReadOnly = errors.New("postgres: write in a read-only transaction")

// errWentOn fails a function that returned nil after one of its
// statements failed (PostgreSQL refuses the rest of the transaction, or
// of its savepoint, after a failure).
var errWentOn = errors.New("postgres: the transaction function went on after a statement failed")

// ptx implements store.Tx over one PostgreSQL transaction.
type ptx struct {
	ctx context.Context
	// tx runs a View's statements; p a write's (the writer's pipe).
	tx    querier
	p     *pipe
	write bool
	// cache and ops are the writer's caches (write transactions only; nil
	// in Views): records by key and running operations by id (nil: known
	// absent).
	cache map[string]*store.Record
	ops   map[string]*store.Operation
	// fn is the function's index in its batch (what it holds back is
	// tagged with it).
	fn int
	// savepoint: a savepoint must be taken before the function's first
	// statement (a function of a batch); it is held back with that
	// statement, and sent with it or before it. taken: it was queued.
	savepoint, taken bool
	// What a write transaction wrote, for its notification (store.Feed).
	keys    []string
	ended   []string
	started bool
	// opIDs are the operations whose entry in the writer's cache this
	// function set, dropped if it fails.
	opIDs []string
}

// The statements of a ptx go through queryRow, exec and query. In a write
// they are sent by the writer's pipe, after what it holds back and, for
// the first statement of a function of a batch, its savepoint: a function
// of a batch costs no round trip of its own, and held-back writes none.

// first queues the function's savepoint ahead of its first statement.
func (t *ptx) first() {
	if t.savepoint {
		t.savepoint, t.taken = false, true
		t.p.hold(held{sql: `SAVEPOINT w`, owner: t.fn, what: "a savepoint", kind: heldSavepoint})
	}
}

// later holds back a checked write (see checked) of the function's. Its
// byte slices are copied: they are read when it is sent, after the call
// returned to a caller free to reuse them.
func (t *ptx) later(sql, what string, args ...any) {
	for i, a := range args {
		if b, ok := a.([]byte); ok {
			args[i] = bytes.Clone(b)
		}
	}
	t.first()
	t.p.hold(held{sql: sql, args: args, owner: t.fn, what: what, kind: heldChecked})
}

// usable fails a write's statement, sent or held back, once a statement
// of the transaction failed: PostgreSQL would refuse it, and a held-back
// write that fails loses the whole batch rather than this function.
func (t *ptx) usable() error {
	if t.p != nil && t.p.err == nil && t.p.conn.PgConn().TxStatus() == 'E' {
		return errWentOn
	}
	return nil
}

func (t *ptx) send(sql string, args []any) (pgx.BatchResults, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	t.first()
	return t.p.send(query{sql, args})
}

func (t *ptx) queryRow(sql string, args ...any) pgx.Row {
	if t.p == nil {
		return t.tx.QueryRow(t.ctx, sql, args...)
	}
	br, err := t.send(sql, args)
	if err != nil {
		return errRow{err}
	}
	return &batchRow{br: br, row: br.QueryRow()}
}

func (t *ptx) exec(sql string, args ...any) (pgconn.CommandTag, error) {
	if t.p == nil {
		return t.tx.Exec(t.ctx, sql, args...)
	}
	br, err := t.send(sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

func (t *ptx) query(sql string, args ...any) (pgx.Rows, error) {
	if t.p == nil {
		return t.tx.Query(t.ctx, sql, args...)
	}
	br, err := t.send(sql, args)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return nil, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

// errRow is a row whose statement failed to be sent.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// batchRow scans a pipelined statement's row and ends its batch.
type batchRow struct {
	br  pgx.BatchResults
	row pgx.Row
}

func (r *batchRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

// batchRows ends its batch when closed.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
}

func (r *batchRows) Close() {
	r.Rows.Close()
	r.br.Close()
}

// querier runs a View's statements: its pgx.Tx.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// broken turns a transaction function's error into ErrUnavailable when the
// transaction's connection failed under it (the function saw some driver
// error and returned it as it was).
func broken(conn *pgx.Conn, err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	if conn.IsClosed() || unreachable(err) {
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
	if t.cache != nil {
		if r, ok := t.cache[key]; ok {
			if r == nil {
				return nil, store.ErrNotFound
			}
			c := *r
			return &c, nil
		}
	}
	r, err := scanRecord(t.queryRow(`SELECT `+recCols+` FROM resources WHERE key = $1`, key))
	if errors.Is(err, pgx.ErrNoRows) {
		t.remember(key, nil)
		return nil, store.ErrNotFound
	}
	if err == nil {
		t.remember(key, r)
	}
	return r, err
}

// remember keeps a copy of r (nil: absent) in the writer's cache. Callers
// own the records they are given, so the cache keeps its own copy; the
// bytes are shared, and nobody changes a record's bytes in place.
func (t *ptx) remember(key string, r *store.Record) {
	if t.cache == nil {
		return
	}
	if r == nil {
		t.cache[key] = nil
		return
	}
	c := *r
	// As scanRecord would read it back.
	if len(c.Meta) == 0 {
		c.Meta = nil
	}
	if len(c.Body) == 0 {
		c.Body = nil
	}
	if !c.Updated.IsZero() {
		c.Updated = time.Unix(0, c.Updated.UnixNano()).UTC()
	}
	t.cache[key] = &c
}

func nullable(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// The statements of the record writes. The held-back forms (checked) write
// the version the writer's cache promised, and fail unless they write one
// row.
const (
	createSQL = `INSERT INTO resources (key, id, type, body, meta, version, updated, parent, ltype)
		VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8) ON CONFLICT (key) DO NOTHING`
	replaceSQL = `UPDATE resources SET id = $2, type = $3, body = $4, meta = $5, version = version + 1, updated = $6, ltype = $7
		WHERE key = $1 AND ($8 = 0 OR version = $8) RETURNING version`
	replaceAtSQL = `UPDATE resources SET id = $2, type = $3, body = $4, meta = $5, version = version + 1, updated = $6, ltype = $7
		WHERE key = $1 AND version = $8`
	deleteSQL   = `DELETE FROM resources WHERE key = $1`
	deleteAtSQL = `DELETE FROM resources WHERE key = $1 AND version = $2`
)

var (
	createHeldSQL  = checked(createSQL)
	replaceHeldSQL = checked(replaceAtSQL)
	deleteHeldSQL  = checked(deleteAtSQL)
)

// cached returns the writer's cache entry for key: ok is false when the
// writer knows nothing of it, r nil when it knows it is absent.
func (t *ptx) cached(key string) (r *store.Record, ok bool) {
	if t.cache == nil {
		return nil, false
	}
	r, ok = t.cache[key]
	return r, ok
}

// holdable reports whether a write of r may be held back for its own
// sake (the cache must also make its outcome certain): the columns it
// writes cannot make it fail.
func (t *ptx) holdable(r *store.Record) bool {
	return t.p != nil && r.Body != nil && len(r.ID) <= maxHeldKey && t.p.plain(r.ID, r.Type)
}

// maxHeldKey bounds the ids of the writes held back. A B-tree entry holds
// at most about 2,700 bytes (a third of a page), and resources_parent's
// entries hold the parent's key and the key: a longer id may not be
// indexable (ErrTooLarge), which must fail the call that wrote it, not its
// whole batch at a later statement. Real ARM ids are far shorter.
const maxHeldKey = 1000

// tooLarge marks PostgreSQL's "index row size exceeds maximum" (SQLSTATE
// 54000, program_limit_exceeded) as store.ErrTooLarge: the key, not the
// database, is at fault.
func tooLarge(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "54000" {
		return fmt.Errorf("%w: %v", store.ErrTooLarge, err)
	}
	return err
}

func (t *ptx) Create(r *store.Record) error {
	if !t.write {
		return errReadOnly
	}
	if err := t.usable(); err != nil {
		return err
	}
	if r.Updated.IsZero() {
		r.Updated = time.Now()
	}
	key := r.Key()
	args := []any{key, r.ID, r.Type, r.Body, nullable(r.Meta), r.Updated.UnixNano(), store.ParentKey(key), strings.ToLower(r.Type)}
	if old, known := t.cached(key); known && old == nil && t.holdable(r) {
		// Known absent: it will be created.
		t.later(createHeldSQL, "creating", args...)
	} else {
		tag, err := t.exec(createSQL, args...)
		if err != nil {
			return tooLarge(err)
		}
		if tag.RowsAffected() == 0 {
			return store.ErrExists
		}
	}
	r.Version = 1
	t.keys = append(t.keys, key)
	t.remember(key, r)
	return nil
}

func (t *ptx) Replace(r *store.Record) error {
	if !t.write {
		return errReadOnly
	}
	if err := t.usable(); err != nil {
		return err
	}
	key := r.Key()
	if r.Updated.IsZero() {
		r.Updated = time.Now()
	}
	args := []any{key, r.ID, r.Type, r.Body, nullable(r.Meta), r.Updated.UnixNano(), strings.ToLower(r.Type), r.Version}
	var next int64
	if old, _ := t.cached(key); old != nil && (r.Version == 0 || r.Version == old.Version) && t.holdable(r) {
		// Cached at the version it demands: it will be replaced.
		args[7] = old.Version
		t.later(replaceHeldSQL, "replacing", args...)
		next = old.Version + 1
	} else {
		// One round trip: the version check is in the UPDATE; only a miss
		// asks which of not-found and conflict it was.
		err := t.queryRow(replaceSQL, args...).Scan(&next)
		if errors.Is(err, pgx.ErrNoRows) {
			var cur int64
			if err := t.queryRow(`SELECT version FROM resources WHERE key = $1`, key).Scan(&cur); err != nil {
				if errors.Is(err, pgx.ErrNoRows) {
					return store.ErrNotFound
				}
				return err
			}
			return store.ErrConflict
		}
		if err != nil {
			return err
		}
	}
	r.Version = next
	t.keys = append(t.keys, key)
	t.remember(key, r)
	return nil
}

func (t *ptx) Delete(key string) error {
	if !t.write {
		return errReadOnly
	}
	if err := t.usable(); err != nil {
		return err
	}
	if old, _ := t.cached(key); old != nil && t.p != nil {
		// Cached: it will be deleted.
		t.later(deleteHeldSQL, "deleting", key, old.Version)
	} else {
		tag, err := t.exec(deleteSQL, key)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
	}
	t.keys = append(t.keys, key)
	t.remember(key, nil)
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
	rows, err := t.query(sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*store.Record, error) { return scanRecord(r) })
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

// GetOperation reads an operation. In a write, a running one may come
// from the writer's cache, with the lease this process last knew of: a
// claim by another process (ClaimDue) moves no commit number, and leases
// are advisory (the version decides which step is applied).
func (t *ptx) GetOperation(id string) (*store.Operation, error) {
	if t.ops != nil {
		if op, ok := t.ops[id]; ok {
			if op == nil {
				return nil, store.ErrNotFound
			}
			c := *op
			return &c, nil
		}
	}
	if t.p != nil && id > t.p.maxOp && t.p.ordered(id) {
		return nil, store.ErrNotFound // see pipe.maxOp
	}
	op, err := scanOp(t.queryRow(`SELECT `+opCols+` FROM operations WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		t.rememberOp(id, nil)
		return nil, store.ErrNotFound
	}
	if err == nil && op.Status == running {
		t.rememberOp(id, op)
	}
	return op, err
}

// rememberOp keeps a copy of op (nil: absent) in the writer's cache of
// operations, as a read would return it. Only running operations are
// kept: an ended one may be removed (DeleteOperationsBefore) by another
// process without a commit number of its own.
func (t *ptx) rememberOp(id string, op *store.Operation) {
	if t.ops == nil {
		return
	}
	t.opIDs = append(t.opIDs, id)
	switch {
	case op == nil:
		t.ops[id] = nil
	case op.Status != running:
		delete(t.ops, id)
	default:
		c := *op
		c.Due, c.LeaseUntil, c.Ended = fromNano(unixNano(c.Due)), fromNano(unixNano(c.LeaseUntil)), time.Time{}
		t.ops[id] = &c
	}
}

// The statements of PutOperation ($1 to $10 as opCols, $9 the version the
// caller demands). The held-back forms write the version the writer's
// cache knows; insertOpSQL's $9 is the end, and putOpKeepLeaseSQL, which
// leaves the lease alone, has the version and the end as $7 and $8.
const (
	upsertOpSQL = `INSERT INTO operations (` + opCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $10)
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, resource = excluded.resource, status = excluded.status, doc = excluded.doc,
		due = excluded.due, lease_owner = excluded.lease_owner, lease_until = excluded.lease_until, version = operations.version + 1, ended = excluded.ended
		RETURNING version, $9::bigint`
	insertOpSQL = `INSERT INTO operations (` + opCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9) ON CONFLICT (id) DO NOTHING`
	updateOpSQL = `UPDATE operations SET kind = $2, resource = $3, status = $4, doc = $5, due = $6, lease_owner = $7,
		lease_until = $8, version = version + 1, ended = $10 WHERE id = $1 AND version = $9`
	putOpKeepLeaseSQL = `UPDATE operations SET kind = $2, resource = $3, status = $4, doc = $5, due = $6,
		version = version + 1, ended = $8 WHERE id = $1 AND version = $7`
)

var (
	insertOpHeldSQL       = checked(insertOpSQL)
	updateOpHeldSQL       = checked(updateOpSQL)
	putOpKeepLeaseHeldSQL = checked(putOpKeepLeaseSQL)
)

func (t *ptx) PutOperation(op *store.Operation) error {
	if !t.write {
		return errReadOnly
	}
	if err := t.usable(); err != nil {
		return err
	}
	var ended int64
	if op.Status != running {
		ended = unixNano(op.Ended)
		if ended == 0 {
			ended = time.Now().UnixNano()
		}
	}
	args := []any{op.ID, op.Kind, op.Resource, op.Status, op.Doc, unixNano(op.Due), op.LeaseOwner, unixNano(op.LeaseUntil), op.Version, ended}
	var next int64
	old, known := t.ops[op.ID] // t.ops is nil in Views: never known
	if !known && t.p != nil && op.ID > t.p.maxOp && t.p.ordered(op.ID) {
		known = true // absent: see pipe.maxOp
	}
	holdable := known && t.p != nil && op.Doc != nil && t.p.plain(op.ID, op.Kind, op.Resource, op.Status, op.LeaseOwner)
	switch {
	case holdable && old == nil && op.Version == 0:
		// Known absent: it will be inserted.
		t.later(insertOpHeldSQL, "inserting operation", append(args[:8:8], ended)...)
		next = 1
		t.p.maxOp = max(t.p.maxOp, op.ID)
	case holdable && old != nil && (op.Version == 0 || op.Version == old.Version):
		// Its version is known: it will be updated. A lease the caller
		// hands back as it was read is left as the database has it, which
		// a claim (ClaimDue, outside the write lock, with no commit
		// number) may have changed since the cache learnt it.
		if op.LeaseOwner == old.LeaseOwner && unixNano(op.LeaseUntil) == unixNano(old.LeaseUntil) {
			t.later(putOpKeepLeaseHeldSQL, "updating operation", op.ID, op.Kind, op.Resource, op.Status, op.Doc, unixNano(op.Due), old.Version, ended)
		} else {
			args[8] = old.Version
			t.later(updateOpHeldSQL, "updating operation", args...)
		}
		next = old.Version + 1
	case op.Version == 0:
		// Insert or replace, in one round trip.
		if err := t.queryRow(upsertOpSQL, args...).Scan(&next, nil); err != nil {
			return err
		}
		if t.p != nil {
			t.p.maxOp = max(t.p.maxOp, op.ID)
		}
	default:
		// The version check is in the UPDATE; only a miss asks why.
		err := t.queryRow(updateOpSQL+` RETURNING version`, args...).Scan(&next)
		if errors.Is(err, pgx.ErrNoRows) {
			var cur int64
			if err := t.queryRow(`SELECT version FROM operations WHERE id = $1`, op.ID).Scan(&cur); err != nil {
				if errors.Is(err, pgx.ErrNoRows) {
					return store.ErrNotFound
				}
				return err
			}
			return store.ErrConflict
		}
		if err != nil {
			return err
		}
	}
	op.Version = next
	if op.Status == running {
		t.started = true
	} else {
		t.ended = append(t.ended, op.ID)
	}
	t.rememberOp(op.ID, op)
	return nil
}

func (t *ptx) DueOperations(now time.Time, limit int) ([]*store.Operation, error) {
	if limit <= 0 {
		limit = 100
	}
	n := now.UnixNano()
	rows, err := t.query(`SELECT `+opCols+` FROM operations WHERE status = 'Running' AND due <= $1 AND lease_until < $1 ORDER BY due LIMIT $2`, n, limit)
	if err != nil {
		return nil, err
	}
	return collectOps(rows)
}

// collectOps reads every operation of rows and closes them.
func collectOps(rows pgx.Rows) ([]*store.Operation, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*store.Operation, error) { return scanOp(r) })
}

func (t *ptx) NextDue() (time.Time, bool, error) {
	var at *int64
	if err := t.queryRow(`SELECT min(greatest(due, lease_until)) FROM operations WHERE status = 'Running'`).Scan(&at); err != nil {
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
	tag, err := t.exec(sql+`)`, args...)
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
