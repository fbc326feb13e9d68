package resource

import (
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
// step whose Ctx is c commits.
func (c *Ctx) notifyOnCommit() {
	if _, ok := c.Tx.(*watchedTx); ok {
		tx := c.Tx
		operation.OnCommit(c, func() { c.E.notify(tx) })
	}
}

// Changed runs the watchers with keys that another process's transaction
// wrote (store.Feed), as a commit of this engine would: state kept beside a
// store that several replicas share follows all of them.
func (e *Engine) Changed(keys []string) {
	if len(keys) == 0 {
		return
	}
	for _, fn := range e.watchers {
		fn(keys)
	}
}
