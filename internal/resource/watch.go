package resource

import (
	"context"
	"sync"

	"github.com/privlink/privlink/internal/operation"
	"github.com/privlink/privlink/internal/store"
)

// Watch registers fn to run after every transaction of the engine that
// wrote records and committed (requests, Update, and the steps of its
// asynchronous operations), with the keys of the records written, in no
// particular order. State kept beside the store (the data path's DNS
// answers and open connections) follows the store through it, instead of
// polling. fn runs on the committing goroutine before the request is
// answered, so that a change takes effect before its caller hears of it:
// it must be quick, must not hold on to keys, and may read the store but
// must not write through the engine. Watch is for start-up wiring; it is
// not safe to call while requests are served.
func (e *Engine) Watch(fn func(keys []string)) { e.watchers = append(e.watchers, fn) }

// watchedTx records the keys a transaction writes, for the watchers.
type watchedTx struct {
	store.Tx
	keys map[string]struct{}
	// hooked reports whether the watchers are due to run after the commit
	// of an operation step's transaction (notifyOnCommit).
	hooked bool
}

// stepWatch is the watched transaction of the operation steps being run:
// the steps the operation engine runs in one transaction (up to 64 at once)
// share it, so that after the commit the watchers run once for all of their
// keys, not once per step (for the data path, one refresh of the new
// endpoints instead of one each, each storing its address on its own).
type stepWatch struct {
	sync.Mutex
	ctx context.Context
	tx  store.Tx
	w   *watchedTx
}

// stepTx is watchTx for an operation step run in tx with the step
// context ctx: the steps run in one transaction with one context share
// the watched transaction. (Transactions are told apart by identity:
// every backend's Tx is a pointer.)
func (e *Engine) stepTx(ctx context.Context, tx store.Tx) store.Tx {
	if len(e.watchers) == 0 {
		return tx
	}
	s := &e.steps
	s.Lock()
	defer s.Unlock()
	if s.w != nil && s.tx == tx && s.ctx == ctx {
		return s.w
	}
	w := &watchedTx{Tx: tx, keys: map[string]struct{}{}}
	s.ctx, s.tx, s.w = ctx, tx, w
	return w
}

func (e *Engine) watchTx(tx store.Tx) store.Tx {
	if len(e.watchers) == 0 {
		return tx
	}
	return &watchedTx{Tx: tx, keys: map[string]struct{}{}}
}

func (t *watchedTx) Create(r *store.Record) error {
	err := t.Tx.Create(r)
	if err == nil {
		t.keys[r.Key()] = struct{}{}
	}
	return err
}

func (t *watchedTx) Replace(r *store.Record) error {
	err := t.Tx.Replace(r)
	if err == nil {
		t.keys[r.Key()] = struct{}{}
	}
	return err
}

func (t *watchedTx) Delete(key string) error {
	err := t.Tx.Delete(key)
	if err == nil {
		t.keys[key] = struct{}{}
	}
	return err
}

// notify runs the watchers with the keys tx wrote, if any.
func (e *Engine) notify(tx store.Tx) {
	w, ok := tx.(*watchedTx)
	if !ok || len(w.keys) == 0 {
		return
	}
	keys := make([]string, 0, len(w.keys))
	for k := range w.keys {
		keys = append(keys, k)
	}
	for _, fn := range e.watchers {
		fn(keys)
	}
}

// notifyOnCommit asks the operation engine to run the watchers once the
// step whose Ctx is c commits, with the keys of every step of its
// transaction (once: the first step of the transaction asks).
func (c *Ctx) notifyOnCommit() {
	w, ok := c.Tx.(*watchedTx)
	if !ok || w.hooked {
		return
	}
	w.hooked = true
	e := c.E
	operation.OnCommit(c, func() {
		e.steps.Lock()
		if e.steps.w == w {
			e.steps.ctx, e.steps.tx, e.steps.w = nil, nil, nil
		}
		e.steps.Unlock()
		e.notify(w)
	})
}
