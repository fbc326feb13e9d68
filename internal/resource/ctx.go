package resource

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/operation"
	"github.com/privlink/privlink/internal/store"
)

// Ctx is what rules get: the request's transaction and helpers to read and
// write other resources in it.
type Ctx struct {
	context.Context
	E   *Engine
	Tx  store.Tx
	Req *Request
	Now time.Time
	// Principal is the caller; nil inside operation steps.
	Principal *arm.Principal

	// ended lists operations this transaction finished, to notify waiters after commit.
	ended   []string
	started bool
	// committed runs after the transaction commits (OnCommit).
	committed []func()
	// partial: the request may read only part of the collection it lists
	// (Readable).
	partial bool
	// removing is the key of the resource whose removal (Remove) is under
	// way, with everything below it ("" when none).
	removing string
}

// RemovedWithAncestor reports whether d is being removed because a
// resource above it is (a cascade), rather than by itself: for a
// BeforeDelete rule that says why (a private endpoint connection removed
// by its owner, or gone with its target).
func (c *Ctx) RemovedWithAncestor(d *Doc) bool {
	k := d.ID.Key()
	return c.removing != "" && len(k) > len(c.removing) && strings.HasPrefix(k, c.removing+"/")
}

// OnCommit runs fn once the transaction has committed (never if it rolls
// back), before the request is answered: for state kept beside the store,
// such as access control's index of role assignments, which must change
// with what was committed and take effect on the caller's next request.
func (c *Ctx) OnCommit(fn func()) { c.committed = append(c.committed, fn) }

// forwardHooks hands the OnCommit functions of an operation step's Ctx to
// the operation engine, which commits the step.
func (c *Ctx) forwardHooks() {
	for _, fn := range c.committed {
		operation.OnCommit(c, fn)
	}
	c.committed = nil
}

// Readable reports whether the caller may read d, for rules that list
// resources of any type (a group's resources): false only when the caller
// may not read the whole collection and may not read d itself.
func (c *Ctx) Readable(d *Doc) bool {
	if !c.partial || c.Req == nil {
		return true
	}
	return c.E.AuthorizeKind(c, d.Kind, c.Req, "read", d.ID) == nil
}

// Load reads a resource; the error is store.ErrNotFound when it is absent.
func (c *Ctx) Load(id arm.ResourceID) (*Doc, error) {
	if k := c.E.kinds[id.TypeKey()]; k != nil && k.Get != nil {
		return k.Get(c, id)
	}
	return c.LoadKey(id.Key())
}

// LoadKey reads a stored resource by key.
func (c *Ctx) LoadKey(key string) (*Doc, error) {
	r, err := c.Tx.Get(key)
	if err != nil {
		return nil, err
	}
	return c.E.decode(r)
}

// Save writes d back (creating it when it was never stored).
func (c *Ctx) Save(d *Doc) error {
	r := d.record()
	var err error
	if d.stored {
		err = c.Tx.Replace(r)
	} else {
		r.Updated = c.Now
		err = c.Tx.Create(r)
	}
	if err != nil {
		return err
	}
	d.version, d.stored = r.Version, true
	// A store that keeps records in memory will hand these same bytes back;
	// remember the decoded form so that the next load does not parse them.
	c.E.decoded.put(r, d.clone())
	return nil
}

// Children lists the stored children of parent of the given type (all types when typ is "").
func (c *Ctx) Children(parent arm.ResourceID, typ string) ([]*Doc, error) {
	recs, err := c.Tx.List(store.Query{Parent: parent.Key(), Type: typ})
	if err != nil {
		return nil, err
	}
	return c.decodeAll(recs)
}

func (c *Ctx) decodeAll(recs []*store.Record) ([]*Doc, error) {
	out := make([]*Doc, 0, len(recs))
	for _, r := range recs {
		d, err := c.E.decode(r)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// NewDoc starts a document of kind k for id, with the envelope set.
func (c *Ctx) NewDoc(k *Kind, id arm.ResourceID) *Doc {
	d := &Doc{Kind: k, ID: id, Obj: &arm.Object{}}
	d.Obj.SetValue("id", k.servedID(id))
	d.Obj.SetValue("name", k.servedName(id))
	d.Obj.SetValue("type", k.wireType())
	return d
}

// Remove deletes d and everything below it, children first, running each
// one's BeforeDelete rule and ending operations in flight on them.
func (c *Ctx) Remove(d *Doc) error {
	recs, err := c.Tx.List(store.Query{Prefix: d.ID.Key()})
	if err != nil {
		return err
	}
	docs, err := c.decodeAll(recs)
	if err != nil {
		return err
	}
	// Deepest first, so that a child's rule still sees its parent.
	sort.SliceStable(docs, func(i, j int) bool {
		return strings.Count(docs[i].ID.Key(), "/") > strings.Count(docs[j].ID.Key(), "/")
	})
	if c.removing == "" {
		c.removing = d.ID.Key()
		defer func() { c.removing = "" }()
	}
	for _, x := range append(docs, d) {
		if err := c.removeOne(x); err != nil {
			return err
		}
	}
	return nil
}

func (c *Ctx) removeOne(d *Doc) error {
	// A rule run earlier in this cascade may already have removed it.
	cur, err := c.LoadKey(d.ID.Key())
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur.Kind.BeforeDelete != nil {
		if err := cur.Kind.BeforeDelete(c, cur); err != nil {
			return err
		}
	}
	if cur.Meta.Op != "" {
		if err := c.E.endOperation(c, cur.Meta.Op, arm.StateCanceled, arm.Errorf("Canceled", "The operation was canceled because the resource was deleted.")); err != nil {
			return err
		}
	}
	if err := c.Tx.Delete(cur.ID.Key()); err != nil && !IsNotFound(err) {
		return err
	}
	return nil
}

// Kind returns the registered kind of a type, or nil.
func (c *Ctx) Kind(typ string) *Kind { return c.E.kinds[arm.KeyOf(typ)] }
