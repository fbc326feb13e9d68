package sqlite

import (
	"sync"

	"github.com/privlink/privlink/internal/store"
)

// cache holds a bounded number of hot committed records, so that the few
// records nearly every request reads (the subscription, the group, the
// cluster, the target) are served without a query, and keep handing out the
// same Body bytes, which the resource engine's decode cache recognises.
//
// Each entry is tagged with the commit sequence number from which it is
// valid. The persister puts a batch's records in before committing it (under
// the batch's number), so an entry is always the newest version of its
// record, committed or about to be; a View pinned at snapshot S uses an entry
// only if its number is at most S, and reads SQLite otherwise. Records read
// from SQLite enter only when nothing newer can exist (see fill).
//
// Two generations approximate LRU at the cost of two map lookups: a hit in
// the old generation moves to the new one, and when the new one is full the
// old one is dropped.
type cache struct {
	mu       sync.Mutex
	max      int
	cur, old map[string]entry
	// pre is the number of the newest batch put in (committed or not).
	pre uint64
}

type entry struct {
	rec  *store.Record
	from uint64
}

func newCache(max int, seq uint64) *cache {
	return &cache{max: max, cur: map[string]entry{}, old: map[string]entry{}, pre: seq}
}

// get returns the cached record for key if a reader at snapshot snap may
// use it.
func (c *cache) get(key string, snap uint64) *store.Record {
	if c.max <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cur[key]
	if !ok {
		if e, ok = c.old[key]; !ok {
			return nil
		}
		delete(c.old, key)
		c.insert(key, e)
	}
	if e.from > snap {
		return nil
	}
	return e.rec
}

func (c *cache) insert(key string, e entry) {
	if len(c.cur) >= c.max/2+1 {
		c.old, c.cur = c.cur, make(map[string]entry, c.max/2+1)
	}
	c.cur[key] = e
}

// apply puts a batch's writes in under number seq, before the batch commits.
func (c *cache) apply(ch *changes, seq uint64) {
	if c.max <= 0 {
		c.mu.Lock()
		c.pre = seq
		c.mu.Unlock()
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pre = seq
	for k, r := range ch.recs {
		delete(c.old, k)
		if r == nil {
			delete(c.cur, k)
			continue
		}
		// What was just written is read again soon (the operation that
		// completes a create reads the new record); records every request
		// reads stay, because each read moves them to the new generation.
		c.insert(k, entry{rec: r, from: seq})
	}
}

// fill adds a record read from SQLite at snapshot snap. It is safe only if
// no version newer than that snapshot exists anywhere: when snap is the
// newest batch put in (a View), or when the reader knows the key has no
// uncommitted write (the writer, which passes latest=true).
func (c *cache) fill(key string, r *store.Record, snap uint64, latest bool) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !latest && snap != c.pre {
		return
	}
	if _, ok := c.cur[key]; ok {
		return
	}
	c.insert(key, entry{rec: r, from: c.pre})
}

// clear drops everything (after a failed commit, whose writes were put in).
func (c *cache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur, c.old = map[string]entry{}, map[string]entry{}
}
