// Package operation runs ARM long-running operations durably: operations are
// records in the store with a due time, and workers (in this process or in
// several) run each one when it falls due, so that an operation in flight when
// the process died finishes after restart.
package operation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/store"
)

// Doc is an operation's state document, kept in store.Operation.Doc.
type Doc struct {
	Status     string     `json:"status"`
	StartTime  time.Time  `json:"startTime"`
	EndTime    *time.Time `json:"endTime,omitempty"`
	Error      *arm.Error `json:"error,omitempty"`
	Action     string     `json:"action,omitempty"`
	ResourceID string     `json:"resourceId,omitempty"`
	// Subscription owns the operation: only its status URLs find it.
	Subscription string `json:"subscription,omitempty"`
	Namespace    string `json:"namespace,omitempty"`
	Location     string `json:"location,omitempty"`
	Attempts     int    `json:"attempts,omitempty"`
	// StartedBy is the object id of the principal whose request started
	// the operation: it may read the status even when the operation took
	// its access away (deleting a resource group deletes the role
	// assignments in it).
	StartedBy string `json:"startedBy,omitempty"`
	// Runner and RunnerUntil: which process works on the operation
	// outside its steps, and until when its claim lasts unless renewed
	// (deployments; see deploy's step).
	Runner      string     `json:"runner,omitempty"`
	RunnerUntil *time.Time `json:"runnerUntil,omitempty"`
	// Payload is the handler's own data.
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Decode reads an operation's Doc.
func Decode(op *store.Operation) (*Doc, error) {
	d := &Doc{}
	if err := json.Unmarshal(op.Doc, d); err != nil {
		return nil, fmt.Errorf("operation %s: bad document: %w", op.ID, err)
	}
	return d, nil
}

// Location is the location of op's document (Doc.Location; "" when it
// has none), read without decoding the rest: every accepted request's
// polling URLs name it, and a whole decode was 1.5% of a create's CPU.
// ok is false when op's document cannot be read.
func Location(op *store.Operation) (loc string, ok bool) {
	if l, ok := arm.TrustedString(op.Doc, "location"); ok {
		return l, true
	}
	d, err := Decode(op)
	if err != nil {
		return "", false
	}
	return d.Location, true
}

// Encode stores d into op, keeping op.Status in step with d.Status.
func Encode(op *store.Operation, d *Doc) {
	b, err := d.MarshalJSON()
	if err != nil {
		panic(err) // Doc holds only marshalable fields
	}
	op.Doc = b
	op.Status = d.Status
}

// docJSON is Doc without its MarshalJSON method: what encoding/json
// writes for it field by field, the reference MarshalJSON keeps to.
type docJSON Doc

// MarshalJSON writes d as encoding/json writes its fields (without the
// HTML escapes; see arm.Marshal), by hand: every write of a resource
// encodes its operation's document twice, and reflection made that 2.5%
// of a durable create's CPU (2026-12-03). Documents it cannot write that
// way (a time outside years 0-9999 or in a zone 24 hours or more away, which
// encoding/json refuses, or in a zone whose offset has seconds) go
// through encoding/json, with its error.
func (d *Doc) MarshalJSON() ([]byte, error) {
	if !jsonTime(d.StartTime) || d.EndTime != nil && !jsonTime(*d.EndTime) || d.RunnerUntil != nil && !jsonTime(*d.RunnerUntil) {
		return arm.Marshal((*docJSON)(d))
	}
	// The keys, times and punctuation take under 200 bytes.
	b := make([]byte, 0, 200+len(d.Status)+len(d.Action)+len(d.ResourceID)+len(d.Subscription)+len(d.Namespace)+len(d.Location)+len(d.StartedBy)+len(d.Runner)+len(d.Payload))
	b = append(b, `{"status":`...)
	b = arm.AppendString(b, d.Status)
	b = append(b, `,"startTime":`...)
	b = appendTime(b, d.StartTime)
	if d.EndTime != nil {
		b = append(b, `,"endTime":`...)
		b = appendTime(b, *d.EndTime)
	}
	if d.Error != nil {
		e, err := arm.Marshal(d.Error)
		if err != nil {
			return nil, err
		}
		b = append(append(b, `,"error":`...), e...)
	}
	b = arm.AppendMember(b, "action", d.Action, true)
	b = arm.AppendMember(b, "resourceId", d.ResourceID, true)
	b = arm.AppendMember(b, "subscription", d.Subscription, true)
	b = arm.AppendMember(b, "namespace", d.Namespace, true)
	b = arm.AppendMember(b, "location", d.Location, true)
	if d.Attempts != 0 {
		b = strconv.AppendInt(append(b, `,"attempts":`...), int64(d.Attempts), 10)
	}
	b = arm.AppendMember(b, "startedBy", d.StartedBy, true)
	b = arm.AppendMember(b, "runner", d.Runner, true)
	if d.RunnerUntil != nil {
		b = append(b, `,"runnerUntil":`...)
		b = appendTime(b, *d.RunnerUntil)
	}
	if len(d.Payload) > 0 {
		// encoding/json compacts a RawMessage, escapes U+2028 and U+2029 in
		// it (json.Compact does not) and refuses one that is not JSON.
		p, err := arm.Marshal(d.Payload)
		if err != nil {
			return arm.Marshal((*docJSON)(d))
		}
		b = append(append(b, `,"payload":`...), p...)
	}
	return append(b, '}'), nil
}

// jsonTime reports whether encoding/json writes t as AppendFormat does:
// a year in 0-9999 and a zone offset under 24 hours (encoding/json refuses
// the others), of whole minutes.
func jsonTime(t time.Time) bool {
	y := t.Year()
	_, off := t.Zone()
	return y >= 0 && y <= 9999 && off > -24*3600 && off < 24*3600 && off%60 == 0
}

// appendTime appends t as time.Time.MarshalJSON does (RFC 3339 with
// nanoseconds, quoted), for a t that jsonTime accepts.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// Finish marks d ended with status (and err for Failed/Canceled) at now, and
// clears op's due time so no worker runs it again.
func Finish(op *store.Operation, d *Doc, status string, err *arm.Error, now time.Time) {
	d.Status, d.Error = status, err
	t := now.UTC()
	d.EndTime = &t
	op.Due, op.Ended = time.Time{}, t
	Encode(op, d)
}

// Handler runs one step of an operation inside a write transaction. It
// updates op in place: Finish it, or set a later op.Due to be called again.
// A returned error rolls the step back; the step is retried with backoff.
type Handler func(ctx context.Context, tx store.Tx, op *store.Operation, now time.Time) error

// Options configure an Engine.
type Options struct {
	Now    func() time.Time
	Logger *slog.Logger
	// Poll is how often a worker looks for due operations even when nothing
	// woke it: operations other processes scheduled, or retries (default 1s).
	Poll time.Duration
	// MaxAttempts is how many failed steps fail the operation (default 10).
	MaxAttempts int
	// Owner names this process among those sharing the store (the
	// replica's name): the lease owner of the operations it claims, and
	// what Owner(ctx) tells a handler (default "local").
	Owner string
}

// Engine schedules and runs operations.
type Engine struct {
	store    store.Store
	now      func() time.Time
	log      *slog.Logger
	poll     time.Duration
	attempts int
	handlers map[string]Handler
	wake     chan struct{}
	owner    string

	mu      sync.Mutex
	waiters map[string][]chan struct{}
}

// New returns an Engine over s.
func New(s store.Store, o Options) *Engine {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 10
	}
	if o.Owner == "" {
		o.Owner = "local"
	}
	return &Engine{
		store: s, now: o.Now, log: o.Logger, poll: o.Poll, attempts: o.MaxAttempts,
		handlers: map[string]Handler{},
		wake:     make(chan struct{}, 1),
		owner:    o.Owner,
		waiters:  map[string][]chan struct{}{},
	}
}

// Handle registers the handler for operations of kind. Call before Run.
func (e *Engine) Handle(kind string, h Handler) { e.handlers[kind] = h }

// Start writes a new running operation in tx. Call Wake after the transaction
// commits so that a worker looks at it without waiting for the next poll.
func (e *Engine) Start(tx store.Tx, op *store.Operation, d *Doc) error {
	if _, ok := e.handlers[op.Kind]; !ok {
		return fmt.Errorf("operation: no handler for kind %q", op.Kind)
	}
	d.Status = arm.StateRunning
	if d.StartTime.IsZero() {
		d.StartTime = e.now().UTC()
	}
	Encode(op, d)
	op.Version = 0
	return tx.PutOperation(op)
}

// Wake tells the worker to look for due operations now.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run works until ctx ends: it runs due operations, then sleeps until the
// next one is due, a Wake, or the poll interval.
func (e *Engine) Run(ctx context.Context) {
	for {
		if _, err := e.RunDue(ctx); err != nil && ctx.Err() == nil {
			if errors.Is(err, store.ErrUnavailable) {
				e.log.Warn("operation worker: the database is unavailable", "err", err)
			} else {
				e.log.Error("operation worker", "err", err)
			}
		}
		wait := e.poll
		var next time.Time
		var ok bool
		err := e.store.View(ctx, func(tx store.Tx) error {
			var err error
			next, ok, err = tx.NextDue()
			return err
		})
		if err == nil && ok {
			if d := next.Sub(e.now()); d < wait {
				wait = max(d, time.Millisecond)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-e.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// claimLease is how long a claimed operation is left to its claimer
// before another process may take it (a claimer that died).
const claimLease = 10 * time.Second

// RunDue runs every operation due now and reports how many steps ran. On
// a store that several processes share (store.Claimer) it first claims the
// operations in the database, so each is stepped by one free process.
func (e *Engine) RunDue(ctx context.Context) (int, error) {
	total := 0
	claimer, _ := e.store.(store.Claimer)
	for {
		var due []*store.Operation
		now := e.now()
		var err error
		if claimer != nil {
			due, err = claimer.ClaimDue(ctx, e.owner, now, now.Add(claimLease), 64)
		} else {
			err = e.store.View(ctx, func(tx store.Tx) error {
				var err error
				due, err = tx.DueOperations(now, 64)
				return err
			})
		}
		if err != nil {
			return total, err
		}
		if len(due) == 0 {
			return total, nil
		}
		ids := make([]string, len(due))
		for i, op := range due {
			ids[i] = op.ID
		}
		e.stepAll(ctx, ids)
		total += len(due)
		if len(due) < 64 {
			return total, nil
		}
	}
}

var errSkip = errors.New("operation: not due")

// errOneFailed rolls back a combined step when one of its operations fails.
var errOneFailed = errors.New("operation: a step failed")

// stepAll runs the steps of several due operations in one transaction, which
// costs the store one write instead of one per operation. If any step fails,
// the transaction is rolled back and each operation is stepped on its own, so
// that one failure neither blocks the others nor escapes its retry count.
func (e *Engine) stepAll(ctx context.Context, ids []string) {
	if len(ids) == 1 {
		e.step(ctx, ids[0])
		return
	}
	var ended []string
	ctx, hooks := withHooks(e.withOwner(ctx))
	err := e.store.Update(ctx, func(tx store.Tx) error {
		ended = ended[:0]
		hooks.fns = nil
		now := e.now()
		for _, id := range ids {
			op, err := tx.GetOperation(id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if !e.mine(op, now) {
				continue
			}
			h := e.handlers[op.Kind]
			if h == nil {
				return errOneFailed
			}
			if err := runHandler(ctx, h, tx, op, now); err != nil {
				return errOneFailed
			}
			op.LeaseOwner, op.LeaseUntil = "", time.Time{}
			if err := tx.PutOperation(op); err != nil {
				return err
			}
			if op.Status != arm.StateRunning {
				ended = append(ended, op.ID)
			}
		}
		return nil
	})
	if err == nil {
		hooks.run()
		for _, id := range ended {
			e.Ended(id)
		}
		return
	}
	if ctx.Err() != nil {
		return
	}
	for _, id := range ids {
		e.step(ctx, id)
	}
}

// step runs one operation's handler in its own transaction. The operation's
// version guards against another worker having run the same step meanwhile.
func (e *Engine) step(ctx context.Context, id string) {
	var final *store.Operation
	var herr error
	ctx, hooks := withHooks(e.withOwner(ctx))
	err := e.store.Update(ctx, func(tx store.Tx) error {
		hooks.fns = nil
		op, err := tx.GetOperation(id)
		if err != nil {
			return err
		}
		now := e.now()
		if !e.mine(op, now) {
			return errSkip
		}
		h := e.handlers[op.Kind]
		if h == nil {
			return fmt.Errorf("operation: no handler for kind %q", op.Kind)
		}
		if herr = runHandler(ctx, h, tx, op, now); herr != nil {
			return herr
		}
		op.LeaseOwner, op.LeaseUntil = "", time.Time{}
		if err := tx.PutOperation(op); err != nil {
			return err
		}
		final = op
		return nil
	})
	switch {
	case err == nil:
		hooks.run()
		if final.Status != arm.StateRunning {
			e.Ended(final.ID)
		}
		return
	case errors.Is(err, errSkip), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound):
		return
	case ctx.Err() != nil:
		return
	}
	e.log.Warn("operation step failed", "operation", id, "err", err)
	e.backoff(ctx, id, err)
}

// mine reports whether this process may step op now: it is running and
// due, and no other process holds a live claim on it.
func (e *Engine) mine(op *store.Operation, now time.Time) bool {
	if op.Status != arm.StateRunning || op.Due.IsZero() || op.Due.After(now) {
		return false
	}
	return op.LeaseOwner == "" || op.LeaseOwner == e.owner || !op.LeaseUntil.After(now)
}

// Owner is the name of the process stepping the operation whose step ctx
// is (Options.Owner), or "" outside a step: a handler that works outside
// its steps (a deployment's runner) records it to know whose work it is.
func Owner(ctx context.Context) string {
	s, _ := ctx.Value(ownerKey{}).(string)
	return s
}

type ownerKey struct{}

// Follow keeps this process's pollers and worker in step with operations
// other processes write (store.Feed): pollers of an operation that ended
// elsewhere are woken, and the worker looks for due work when another
// process started an operation (it may be the free one).
func (e *Engine) Follow(ch store.Change) {
	for _, id := range ch.Ended {
		e.Ended(id)
	}
	if ch.All {
		e.mu.Lock()
		ids := make([]string, 0, len(e.waiters))
		for id := range e.waiters {
			ids = append(ids, id)
		}
		e.mu.Unlock()
		// Wake every poller: each reads its operation again and waits
		// once more if it still runs.
		for _, id := range ids {
			e.Ended(id)
		}
	}
	if ch.Started || ch.All {
		e.Wake()
	}
}

// commitHooks collects what a step's handler asks to run after its
// transaction commits (OnCommit).
type commitHooks struct{ fns []func() }

type hooksKey struct{}

// withHooks gives a step's context a fresh hook list.
func withHooks(ctx context.Context) (context.Context, *commitHooks) {
	h := &commitHooks{}
	return context.WithValue(ctx, hooksKey{}, h), h
}

func (e *Engine) withOwner(ctx context.Context) context.Context {
	return context.WithValue(ctx, ownerKey{}, e.owner)
}

func (h *commitHooks) run() {
	for _, fn := range h.fns {
		fn()
	}
	h.fns = nil
}

// OnCommit asks that fn run once the transaction of the step whose context
// is ctx commits (it never runs if the step rolls back): for state kept
// beside the store that a step changes, as resource.Ctx.OnCommit does for
// requests. It reports false, and does nothing, outside a step.
func OnCommit(ctx context.Context, fn func()) bool {
	h, ok := ctx.Value(hooksKey{}).(*commitHooks)
	if ok {
		h.fns = append(h.fns, fn)
	}
	return ok
}

func runHandler(ctx context.Context, h Handler, tx store.Tx, op *store.Operation, now time.Time) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("operation handler panicked: %v", p)
		}
	}()
	return h(ctx, tx, op, now)
}

// backoff records a failed step: the operation is retried later, or fails
// for good after MaxAttempts.
func (e *Engine) backoff(ctx context.Context, id string, cause error) {
	var ended bool
	err := e.store.Update(ctx, func(tx store.Tx) error {
		op, err := tx.GetOperation(id)
		if err != nil {
			return err
		}
		d, err := Decode(op)
		if err != nil {
			return err
		}
		d.Attempts++
		now := e.now()
		op.LeaseOwner, op.LeaseUntil = "", time.Time{}
		if d.Attempts >= e.attempts {
			Finish(op, d, arm.StateFailed, arm.Errorf(arm.CodeInternalServerError, "The operation failed after %d attempts.", d.Attempts), now)
			ended = true
		} else {
			op.Due = now.Add(min(time.Duration(1<<d.Attempts)*100*time.Millisecond, 30*time.Second))
			Encode(op, d)
		}
		return tx.PutOperation(op)
	})
	if err != nil {
		e.log.Error("operation backoff", "operation", id, "err", err, "cause", cause)
	}
	if ended {
		e.Ended(id)
	}
}

// Get returns an operation and its document.
func (e *Engine) Get(ctx context.Context, id string) (*store.Operation, *Doc, error) {
	var op *store.Operation
	err := e.store.View(ctx, func(tx store.Tx) error {
		var err error
		op, err = tx.GetOperation(id)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	d, err := Decode(op)
	return op, d, err
}

// Await returns once operation id has ended, or after at most max, or when
// ctx ends; the caller reads the status afterwards. Status URLs use it to
// answer a poll that arrives a moment before a short operation ends.
func (e *Engine) Await(ctx context.Context, id string, max time.Duration) {
	ch := make(chan struct{})
	e.mu.Lock()
	e.waiters[id] = append(e.waiters[id], ch)
	e.mu.Unlock()
	defer e.unsubscribe(id, ch)
	op, _, err := e.Get(ctx, id)
	if err != nil || op.Status != arm.StateRunning {
		return
	}
	t := time.NewTimer(max)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
	}
}

func (e *Engine) unsubscribe(id string, ch chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ws := e.waiters[id]
	for i, w := range ws {
		if w == ch {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(e.waiters, id)
	} else {
		e.waiters[id] = ws
	}
}

// Ended wakes everyone awaiting operation id; call it after a transaction that
// ended the operation commits.
func (e *Engine) Ended(id string) {
	e.mu.Lock()
	ws := e.waiters[id]
	delete(e.waiters, id)
	e.mu.Unlock()
	for _, ch := range ws {
		close(ch)
	}
}

// DefaultRetention is how long an ended operation's record (and so its
// status URL) is kept: the Azure REST API guidelines require a service to
// keep an operation's status monitor for at least 24 hours after it
// completes (lro-status-monitor-retention), and clients poll only while an
// operation runs, so privlink keeps them exactly that long by default.
const DefaultRetention = 24 * time.Hour

// expireBatch bounds one expiry transaction, so that a sweep after a long
// stop (or of a million operations that ended together) never makes one
// huge commit that other writers wait behind.
const expireBatch = 5000

// Expire removes the records of operations that ended more than retention
// before now (by the engine's clock), in transactions of at most a few
// thousand each, and returns how many it removed. Only operation records
// go: the resources they acted on stay.
func (e *Engine) Expire(ctx context.Context, retention time.Duration) (int, error) {
	before := e.now().Add(-retention)
	total := 0
	for {
		var n int
		err := e.store.Update(ctx, func(tx store.Tx) error {
			var err error
			n, err = tx.DeleteOperationsBefore(before, expireBatch)
			return err
		})
		total += n
		if err != nil || n < expireBatch {
			return total, err
		}
	}
}

// Sweep calls Expire every interval until ctx ends; retention 0 or less
// keeps ended operations forever.
func (e *Engine) Sweep(ctx context.Context, retention, interval time.Duration) {
	if retention <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := e.Expire(ctx, retention); err != nil && ctx.Err() == nil {
				e.log.Error("operation retention", "err", err)
			} else if n > 0 {
				e.log.Debug("operation retention", "expired", n)
			}
		}
	}
}
