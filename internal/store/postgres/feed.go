package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/privlink/privlink/internal/store"
)

// maxPayload keeps a notification under PostgreSQL's 8,000-byte payload
// limit; a bigger change is announced as "everything" (store.Change.All).
const maxPayload = 7000

// notice is a notification's payload after the commit number and "|".
type notice struct {
	From    string   `json:"p"`
	Keys    []string `json:"k,omitempty"`
	Ended   []string `json:"e,omitempty"`
	Started bool     `json:"s,omitempty"`
	All     bool     `json:"a,omitempty"`
}

// announcement is the notice of what t wrote, as a notification's payload
// after the commit number (announceSQL's $1).
func (d *DB) announcement(t *ptx) string {
	n := notice{From: d.id, Started: t.started}
	seen := map[string]bool{}
	for _, k := range t.keys {
		if !seen[k] {
			seen[k] = true
			n.Keys = append(n.Keys, k)
		}
	}
	n.Ended = t.ended
	b, _ := json.Marshal(n)
	if len(b) > maxPayload {
		b, _ = json.Marshal(notice{From: d.id, All: true})
	}
	return string(b)
}

// announceSQL numbers a transaction's commit and queues its notification
// ($1 the announcement, $2 the channel), which PostgreSQL delivers to every
// listener when (and only if) the transaction commits, in commit order.
// Writers hold the write lock, so commit numbers follow commit order too.
const announceSQL = `WITH c AS (UPDATE commits SET seq = seq + 1 RETURNING seq)
	SELECT c.seq, pg_notify($2, c.seq::text || '|' || $1) FROM c`

// feed follows the other processes' commits for Follow and Barrier. A
// receiver goroutine reads notifications as fast as they come and merges
// them into pending; an applier goroutine hands what is pending to the
// follower as one change: under a stream of commits the follower works
// once per burst, not once per commit, so it keeps up.
type feed struct {
	mu      sync.Mutex
	applied int64         // the last commit number whose change was handled
	up      bool          // listening now
	moved   chan struct{} // closed (and replaced) when applied or up changes

	pending store.Change    // merged changes not yet handed over
	keys    map[string]bool // pending.Keys, as a set
	has     bool            // pending holds a change to hand over
	heard   int64           // the newest commit number the receiver heard
	wake    chan struct{}   // the applier has work (capacity 1)

	// written is what the last commits wrote, by commit number, for the
	// writer's cache (invalidate): contiguous numbers, at most
	// maxWritten of them; a gap starts it again.
	written []heardCommit
	// epoch counts the restarts of the record (restart): a new
	// connection, whose LISTEN missed what was committed before it, or a
	// commit number below one heard, the database having gone back. The
	// writer keeps its caches only across batches of one epoch, whatever
	// the commit numbers say: after a failover or a restore they may
	// equal, or pass, the numbers its caches were valid at, for other
	// commits.
	epoch uint64
}

// heardCommit is one commit the receiver heard: the keys another process
// wrote (none for this process's own), or all when it cannot say.
type heardCommit struct {
	seq  int64
	keys []string
	all  bool
}

// maxWritten bounds feed.written.
const maxWritten = 4096

// invalidate drops from cache the keys other processes wrote in the
// commits after from up to to, as the receiver heard them, waiting a
// moment for it to hear them all. It reports false when it cannot say
// (a gap, a change that named nothing, or the receiver is behind): the
// caller then empties the cache.
//
// The caches were filled in epoch: a restart since then (see feed.epoch)
// also reports false.
func (f *feed) invalidate(cache map[string]*store.Record, from, to int64, epoch uint64) bool {
	deadline := time.Now().Add(200 * time.Millisecond)
	for {
		f.mu.Lock()
		heard, up, moved := f.heard, f.up, f.moved
		if heard >= to && up {
			break
		}
		f.mu.Unlock()
		wait := time.Until(deadline)
		if wait <= 0 || !up {
			return false
		}
		t := time.NewTimer(wait)
		select {
		case <-moved:
		case <-t.C:
		}
		t.Stop()
	}
	defer f.mu.Unlock()
	if f.epoch != epoch || len(f.written) == 0 || f.written[0].seq > from+1 {
		return false
	}
	for _, c := range f.written {
		if c.seq <= from {
			continue
		}
		if c.seq > to {
			break
		}
		if c.all {
			return false
		}
		for _, k := range c.keys {
			delete(cache, k)
		}
	}
	return true
}

// maxPendingKeys bounds pending: past it the change becomes "everything".
const maxPendingKeys = 10000

func (f *feed) broadcast() {
	close(f.moved)
	f.moved = make(chan struct{})
}

// heardChange merges a change (nil: only a commit number, this process's
// own commit) heard at commit number seq into pending.
func (f *feed) heardChange(ch *store.Change, seq int64) {
	f.mu.Lock()
	switch {
	case ch != nil && ch.All:
		// Everything before seq is unknown: start the record again.
		f.written = append(f.written[:0], heardCommit{seq: seq, all: true})
	case len(f.written) > 0 && f.written[len(f.written)-1].seq+1 != seq:
		f.written = append(f.written[:0], heardCommit{seq: seq, all: true})
	default:
		c := heardCommit{seq: seq}
		if ch != nil {
			c.keys = ch.Keys
		}
		if len(f.written) >= maxWritten {
			f.written = append(f.written[:0], f.written[len(f.written)-maxWritten/2:]...)
		}
		f.written = append(f.written, c)
	}
	if seq > f.heard {
		f.heard = seq
	}
	if ch != nil {
		f.has = true
		switch {
		case ch.All || f.pending.All || len(f.keys)+len(ch.Keys) > maxPendingKeys:
			f.pending = store.Change{All: true}
			clear(f.keys)
		default:
			for _, k := range ch.Keys {
				if !f.keys[k] {
					f.keys[k] = true
					f.pending.Keys = append(f.pending.Keys, k)
				}
			}
			f.pending.Ended = append(f.pending.Ended, ch.Ended...)
			f.pending.Started = f.pending.Started || ch.Started
		}
	}
	f.broadcast()
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// currentEpoch is f.epoch, read under f.mu.
func (f *feed) currentEpoch() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.epoch
}

// restart starts the record again at commit number seq, which the
// receiver heard first: on a new connection, or when a number came that
// is not above the last one heard. Commit numbers grow by one with every
// commit under the write lock and PostgreSQL delivers notifications in
// commit order, so a number not above the last means the database went
// back (restored from a backup, or a standby that lacked the last
// commits took over) and what was heard above it may be undone. The
// follower is handed everything (Change.All); heard and applied go back
// to seq, so that Barrier waits for that hand-over rather than trusting
// numbers of the database's past; the epoch tells the writer its caches
// are stale.
func (f *feed) restart(seq int64) {
	f.mu.Lock()
	f.restartLocked(seq)
}

// restartLocked is restart with f.mu held; it unlocks f.mu.
func (f *feed) restartLocked(seq int64) {
	f.epoch++
	f.heard = seq
	f.applied = min(f.applied, seq-1)
	f.mu.Unlock()
	// The rest is hearing "everything" at seq: the record starts again
	// there and the follower is woken with it.
	f.heardChange(&store.Change{All: true}, seq)
}

// position is the newest commit number the receiver heard and the epoch,
// read together: taken before a read of the commit number, it lets the
// reader tell whether the database went back (wentBack).
func (f *feed) position() (heard int64, epoch uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.heard, f.epoch
}

// wentBack checks seq, a commit number read from the database, against
// heard and epoch, the position taken before the read began. The receiver
// hears a commit only after it is visible, so a number read below one
// heard before means the database went back, and the numbers heard above
// seq belong to a past that is undone. The receiver itself finds that out
// only when the first notice after the restore reaches it (listenOnce);
// until then its numbers would let Barrier return at once and the
// writer's caches pass as valid. So the record starts again at seq now,
// unless the receiver did so since the position was taken (and said so).
// It reports whether it started the record again.
func (f *feed) wentBack(seq, heard int64, epoch uint64) bool {
	if seq >= heard {
		return false
	}
	f.mu.Lock()
	if f.epoch != epoch {
		f.mu.Unlock()
		return false
	}
	f.restartLocked(seq)
	return true
}

// checkWentBack is f.wentBack, logged when it started the record again.
func (d *DB) checkWentBack(f *feed, seq, heard int64, epoch uint64) {
	if f.wentBack(seq, heard, epoch) {
		d.wentBackWarning(seq, heard)
	}
}

func (f *feed) setUp(up bool) {
	f.mu.Lock()
	f.up = up
	f.broadcast()
	f.mu.Unlock()
}

// apply hands pending changes to fn until done closes.
func (f *feed) apply(fn func(store.Change), done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-f.wake:
		}
		f.mu.Lock()
		ch, has, seq := f.pending, f.has, f.heard
		f.pending, f.has = store.Change{}, false
		clear(f.keys)
		f.mu.Unlock()
		if has {
			fn(ch)
		}
		f.mu.Lock()
		if seq > f.applied {
			f.applied = seq
		}
		f.broadcast()
		f.mu.Unlock()
	}
}

// Follow implements store.Feed: a goroutine LISTENs on a connection of its
// own and another hands every other process's commit to fn; after a lost
// connection it connects again (every 200 ms to 2 s) and starts with
// Change{All: true}, since notifications sent meanwhile are lost.
func (d *DB) Follow(fn func(store.Change)) {
	d.feedOnce.Do(func() {
		f := &feed{moved: make(chan struct{}), keys: map[string]bool{}, wake: make(chan struct{}, 1)}
		d.feed.Store(f)
		d.wg.Add(2)
		go d.listen(f)
		go func() { defer d.wg.Done(); f.apply(fn, d.closed) }()
	})
}

func (d *DB) listen(f *feed) {
	defer d.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-d.closed; cancel() }()
	wait := 200 * time.Millisecond
	for ctx.Err() == nil {
		err := d.listenOnce(ctx, f)
		f.setUp(false)
		if ctx.Err() != nil {
			return
		}
		d.log("commit feed lost its connection; reconnecting", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, 2*time.Second)
	}
}

func (d *DB) listenOnce(ctx context.Context, f *feed) error {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, err := pgx.ConnectConfig(cctx, d.cfg.ConnConfig.Copy())
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `LISTEN `+d.space.channel); err != nil {
		return err
	}
	var seq int64
	if err := conn.QueryRow(ctx, `SELECT seq FROM commits`).Scan(&seq); err != nil {
		return err
	}
	// What was committed before LISTEN took effect is not named: all of it.
	f.restart(seq)
	f.setUp(true)
	// live: a notice above seq came. Notices of commits between LISTEN
	// and the read of seq come first, at or below it, and are no news;
	// after a live one, a number at or below the last means the database
	// went back (restart).
	live := false
	for {
		nt, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		num, body, ok := strings.Cut(nt.Payload, "|")
		s, perr := strconv.ParseInt(num, 10, 64)
		var n notice
		if !ok || perr != nil || json.Unmarshal([]byte(body), &n) != nil {
			f.heardChange(&store.Change{All: true}, seq)
			continue
		}
		if s <= seq && !live {
			continue
		}
		if s <= seq {
			d.wentBackWarning(s, seq)
			seq = s
			f.restart(s)
			continue
		}
		live = true
		seq = s
		if n.From == d.id {
			f.heardChange(nil, s)
		} else {
			f.heardChange(&store.Change{Keys: n.Keys, Ended: n.Ended, Started: n.Started, All: n.All}, s)
		}
	}
}

// wentBackWarning logs that the database went back: commit number seq was
// heard or read after heard.
func (d *DB) wentBackWarning(seq, heard int64) {
	d.logger.Warn("postgres: the database went back (a restore or a failover): a commit number came that is not above one heard before; the caches start again", "seq", seq, "after", heard)
}

// Barrier implements store.Feed: it reads the newest commit number and
// waits until the feed has handled it. Without Follow it returns at once.
func (d *DB) Barrier(ctx context.Context) error {
	f := d.feed.Load()
	if f == nil {
		return nil
	}
	var seq int64
	heard, epoch := f.position()
	qctx, cancel := context.WithTimeout(ctx, barrierWait)
	err := d.pool.QueryRow(qctx, `SELECT seq FROM commits`).Scan(&seq)
	cancel()
	if err != nil {
		if ctx.Err() == nil && qctx.Err() != nil {
			return fmt.Errorf("%w: the database did not answer within %s", store.ErrUnavailable, barrierWait)
		}
		return classify(err)
	}
	d.checkWentBack(f, seq, heard, epoch)
	// Bounded: a feed that is down (reconnecting) or behind for longer
	// makes the request fail with ErrUnavailable (a 503 the client
	// retries) rather than hang.
	t := time.NewTimer(barrierWait)
	defer t.Stop()
	for {
		f.mu.Lock()
		done, up, moved := f.applied >= seq, f.up, f.moved
		f.mu.Unlock()
		if done && up {
			return nil
		}
		select {
		case <-moved:
		case <-t.C:
			if !up {
				return fmt.Errorf("%w: the commit feed is not connected", store.ErrUnavailable)
			}
			return fmt.Errorf("%w: the commit feed is behind", store.ErrUnavailable)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// barrierWait bounds how long a request waits for the commit feed.
const barrierWait = 3 * time.Second

// ClaimDue implements store.Claimer with FOR UPDATE SKIP LOCKED: two
// workers claiming at once take different operations. It runs outside the
// write lock and leaves Version alone.
func (d *DB) ClaimDue(ctx context.Context, owner string, now, until time.Time, limit int) ([]*store.Operation, error) {
	if d.isClosed() {
		return nil, store.ErrClosed
	}
	if limit <= 0 {
		limit = 100
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, viewTimeout)
	defer cancel()
	rows, err := d.pool.Query(ctx, `UPDATE operations SET lease_owner = $1, lease_until = $2
		WHERE id IN (SELECT id FROM operations WHERE status = 'Running' AND due <= $3 AND lease_until < $3
			ORDER BY due LIMIT $4 FOR UPDATE SKIP LOCKED)
		RETURNING `+opCols, owner, until.UnixNano(), now.UnixNano(), limit)
	if err != nil {
		return nil, timedOut(parent, ctx, classify(err))
	}
	ops, err := collectOps(rows)
	if err == nil {
		// The writer's cache of operations learns of the leases (the
		// claims' rows are the caller's: it keeps copies).
		kept := make([]*store.Operation, len(ops))
		for i, op := range ops {
			c := *op
			kept[i] = &c
		}
		d.noteClaims(kept)
	}
	return ops, timedOut(parent, ctx, classify(err))
}

// Lead implements store.Elector with a session advisory lock held on a
// connection of its own: PostgreSQL releases it when that session ends,
// so a process that dies (or loses the database) leaves the leadership to
// another within about a second.
func (d *DB) Lead(ctx context.Context, name string) (context.Context, func(), error) {
	key := lockKey(d.space.name, "lead:"+name)
	for {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		conn, err := d.tryLead(ctx, key)
		if err == nil && conn != nil {
			lost, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			// One goroutine owns conn, from the pings to the unlock and
			// the close: a pgx.Conn serves one caller at a time, and a
			// release from the caller's goroutine while a ping was under
			// way used both at once (a data race the race detector saw).
			go func() {
				defer close(done)
				defer func() {
					c, stop := context.WithTimeout(context.Background(), 2*time.Second)
					_, _ = conn.Exec(c, `SELECT pg_advisory_unlock($1)`, key)
					stop()
					conn.Close(context.Background())
				}()
				defer cancel()
				// Ping the session: a broken connection means the lock is gone.
				t := time.NewTicker(d.leadPing)
				defer t.Stop()
				for {
					select {
					case <-lost.Done():
						return
					case <-d.closed:
						return
					case <-t.C:
						// Not bound to lost: a ping that a release
						// interrupted would leave the connection broken,
						// the unlock unsent, and the lock held until the
						// server noticed the session gone.
						c, stop := context.WithTimeout(context.Background(), 3*time.Second)
						_, err := conn.Exec(c, `SELECT 1`)
						stop()
						if err != nil && lost.Err() == nil {
							d.log("lost the leadership's connection", err)
							return
						}
					}
				}
			}()
			// release ends the leadership and returns once the lock is
			// given back, so that another process can take it at once.
			release := func() { cancel(); <-done }
			return lost, release, nil
		}
		select {
		case <-ctx.Done():
		case <-d.closed:
			return nil, nil, store.ErrClosed
		case <-time.After(time.Second):
		}
	}
}

// tryLead connects and tries the lock once: a connection holding it, or nil.
func (d *DB) tryLead(ctx context.Context, key int64) (*pgx.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, d.cfg.ConnConfig.Copy())
	if err != nil {
		return nil, err
	}
	var got bool
	if err := conn.QueryRow(cctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err != nil || !got {
		conn.Close(context.Background())
		return nil, err
	}
	return conn, nil
}

// classify wraps the errors that mean the database cannot be reached (a
// refused or broken connection, a server shutting down or starting) in
// store.ErrUnavailable, and returns others as they are.
func classify(err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	// A caller that went away (its request's context canceled) is not a
	// database fault; a bound of this package's running out is turned into
	// ErrUnavailable by timedOut, which knows which context ended.
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return err
	}
	if unreachable(err) {
		return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	}
	return err
}

func unreachable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P01-57P03: admin shutdown,
		// crash shutdown, cannot connect now; 53300: too many connections.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03" || pe.Code == "53300"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return true
	case pgconn.Timeout(err):
		return true
	}
	s := err.Error()
	return strings.Contains(s, "conn closed") || strings.Contains(s, "connection refused") || strings.Contains(s, "broken pipe") || strings.Contains(s, "connection reset")
}
