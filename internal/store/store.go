// Package store defines how privlink keeps state: resources and long-running
// operations behind a transactional interface that every backend (sqlite,
// postgres) implements and that storetest checks.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Typed errors. Backends wrap nothing else in them; the resource engine maps
// them to ARM errors in one place.
var (
	// ErrNotFound: the record does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrExists: Create found a record with the same key.
	ErrExists = errors.New("store: already exists")
	// ErrConflict: a Replace or Delete found a different Version than expected.
	ErrConflict = errors.New("store: version conflict")
	// ErrClosed: the store is closed.
	ErrClosed = errors.New("store: closed")
	// ErrTooLarge: the backend cannot store the record's key, as the
	// call that wrote it learns (PostgreSQL indexes keys of up to about
	// 2,700 bytes; SQLite has no such bound).
	ErrTooLarge = errors.New("store: key too large for the database")
)

// Record is one stored resource: its served document and privlink's private
// state beside it.
type Record struct {
	// ID is the resource id with the casing it was created with.
	ID string
	// Type is the resource type in its canonical casing, e.g. "Microsoft.Kusto/clusters".
	Type string
	// Body is the resource document exactly as a GET returns it.
	Body []byte
	// Meta is privlink's own state for the resource, never served (may be nil).
	Meta []byte
	// Version increases on every write; Replace and Delete may demand it.
	Version int64
	// Updated is when the record was last written.
	Updated time.Time
}

// Key is the case-insensitive identity of a record.
func (r *Record) Key() string { return Key(r.ID) }

// Key turns a resource id into its case-insensitive key.
func Key(id string) string { return strings.ToLower(id) }

// ParentKey is the key of the id one level up (the part before the last
// type/name pair), which List filters on.
func ParentKey(key string) string {
	i := strings.LastIndexByte(key, '/')
	if i <= 0 {
		return ""
	}
	j := strings.LastIndexByte(key[:i], '/')
	if j < 0 {
		return ""
	}
	p := key[:j]
	// /subscriptions/s/resourcegroups/rg/providers/ns/t/n → the group, not ".../providers/ns".
	if k := strings.LastIndexByte(p, '/'); k >= 0 && p[k+1:] != "" {
		if kk := strings.LastIndexByte(p[:k], '/'); kk >= 0 && p[kk+1:k] == "providers" {
			return p[:kk]
		}
	}
	return p
}

// SubscriptionKey is the lower-cased subscription id in key, or "".
func SubscriptionKey(key string) string {
	rest, ok := strings.CutPrefix(key, "/subscriptions/")
	if !ok {
		return ""
	}
	s, _, _ := strings.Cut(rest, "/")
	return s
}

// Query selects records for List. Empty fields match everything; results are
// ordered by key.
type Query struct {
	// Parent: only records whose ParentKey equals this (lower-case key).
	Parent string
	// Prefix: only records whose key starts with Prefix+"/" (descendants).
	Prefix string
	// Type: only records of this type (compared case-insensitively).
	Type string
	// Types: only records of one of these types, in lower case (a filter
	// the backend applies in its query, e.g. the tracked types).
	Types []string
	// Subscription: only records in this subscription (case-insensitive).
	Subscription string
	// After: only keys greater than this, for paging.
	After string
	// Limit: at most this many (0 = no limit).
	Limit int
	// KeysOnly sets only ID, to the record's key (lower case), and Type, in
	// lower case: for scans that pick a few records by type before loading
	// them, which a backend can serve from an index without reading any
	// document.
	KeysOnly bool
}

// Operation is a durable long-running operation: what it does, to what, and
// when it is next due. Workers claim due operations with a lease so that
// several processes can share them.
type Operation struct {
	ID string
	// Kind names the handler that runs it (e.g. "resource.provision").
	Kind string
	// Resource is the key of the resource it acts on.
	Resource string
	// Status is Running until the operation ends: Succeeded, Failed or Canceled.
	Status string
	// Doc is the operation's state document (status, times, error, payload).
	Doc []byte
	// Due is when a worker should next run it; zero once it has ended.
	Due time.Time
	// LeaseOwner and LeaseUntil record which worker holds it.
	LeaseOwner string
	LeaseUntil time.Time
	// Ended is when the operation ended (by the clock of whoever ended it);
	// zero while it runs. A backend given an ended operation without it
	// records the time of the write instead. Retention counts from it.
	Ended   time.Time
	Version int64
}

// Store is a transactional store. Update's function runs at most once per
// call in a read-write transaction that is durable when Update returns nil;
// backends may group several callers' transactions into one commit, each
// isolated by a savepoint, so the function must not block on other Updates.
type Store interface {
	View(ctx context.Context, fn func(Tx) error) error
	Update(ctx context.Context, fn func(Tx) error) error
	Close() error
}

// Tx is one transaction's view of the store.
type Tx interface {
	// Get returns the record with the given key, or ErrNotFound.
	Get(key string) (*Record, error)
	// Create inserts r (Version is set to 1), or returns ErrExists.
	Create(r *Record) error
	// Replace overwrites the record with r's key. If r.Version is non-zero it
	// must match the stored version, else ErrConflict; ErrNotFound if absent.
	// On success r.Version is the new version.
	Replace(r *Record) error
	// Delete removes the record with key; ErrNotFound if absent.
	Delete(key string) error
	// List returns the records matching q in key order.
	List(q Query) ([]*Record, error)

	// GetOperation returns an operation by id, or ErrNotFound.
	GetOperation(id string) (*Operation, error)
	// PutOperation inserts or replaces an operation. If op.Version is
	// non-zero it must match the stored one, else ErrConflict. On success
	// op.Version is the new version.
	PutOperation(op *Operation) error
	// DueOperations returns running operations due at or before now whose
	// lease is free (LeaseUntil before now), oldest first, at most limit.
	DueOperations(now time.Time, limit int) ([]*Operation, error)
	// NextDue returns the earliest Due among running operations; ok is false when none.
	NextDue() (due time.Time, ok bool, err error)
	// DeleteOperationsBefore removes ended operations whose Ended is before
	// t, oldest first, at most limit of
	// them (0: all), and returns how many. The limit keeps one sweep's
	// transaction small however many operations expired at once.
	DeleteOperationsBefore(t time.Time, limit int) (int, error)
}

// SafeRun runs a transaction's function and turns a panic in it into its
// error (named after backend, "sqlite: transaction function panicked: …"),
// so that one bad request cannot take a backend's writer, and every other
// caller with it, down; the transaction is then rolled back like any
// failed one.
func SafeRun(backend string, fn func(Tx) error, t Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: transaction function panicked: %v", backend, p)
		}
	}()
	return fn(t)
}

// ErrUnavailable wraps a backend's failure to reach its database (a
// PostgreSQL server that is down or unreachable): the request may succeed
// if tried again later, so the API answers 503 with Retry-After
// (ServiceUnavailable) instead of an internal error.
var ErrUnavailable = errors.New("store: database unavailable")

// Change is what one transaction committed by another process wrote, as a
// Feed reports it.
type Change struct {
	// Keys are the records the transaction created, replaced or deleted.
	Keys []string
	// Ended are the operations it ended (Status no longer Running).
	Ended []string
	// Started is true when it wrote an operation that is still running: a
	// worker may have something to do.
	Started bool
	// All is true when the feed cannot say what changed (it lost its
	// connection for a while, or the change was too large to name): treat
	// every record and operation as possibly changed.
	All bool
}

// Feed is implemented by stores that several processes share (postgres):
// what one process keeps beside the store (the access-control index, the
// data path, pollers waiting for an operation) follows the others' writes
// through it.
type Feed interface {
	// Follow calls fn for every transaction committed by another process,
	// one call at a time and in commit order, until the store closes. It
	// starts with a Change{All: true} (what was committed before the call
	// is not named). Call it once, at start-up.
	Follow(fn func(Change))
	// Barrier returns once fn has returned for every transaction committed
	// by any process before Barrier was called, so that state kept beside
	// the store is as fresh as the store itself for the caller's request
	// (no stale read after a write acknowledged elsewhere). It fails with
	// ErrUnavailable when the database cannot be reached, or with ctx's
	// error.
	Barrier(ctx context.Context) error
}

// Claimer is implemented by stores that several processes share: ClaimDue
// leases up to limit running operations due at or before now, whose lease
// is free, to owner until until, and returns them, skipping operations
// another process is claiming at that moment; so each due operation is
// taken by one free worker. A lease is advisory (a step still checks the
// operation in its own transaction) and does not change an operation's
// Version.
type Claimer interface {
	ClaimDue(ctx context.Context, owner string, now, until time.Time, limit int) ([]*Operation, error)
}

// ParentLister is implemented by stores that can keep the records of some
// types out of their indexes by parent and by type (sqlite): types names
// the types (any casing) whose records are only ever listed as their
// parent's children (resource.Engine.ParentListedTypes) or by key prefix
// (the data path's addresses). Every query still finds them; only the way
// a store reads them changes. It is called once, at start, before anything
// is written.
type ParentLister interface {
	SetParentListed(ctx context.Context, types []string) error
}

// Elector is implemented by stores that several processes share: Lead
// blocks until this process holds the leadership named name (at most one
// process at a time does), and returns a context that ends when it loses
// it (its database connection failed) or ctx ends; release ends it on
// purpose. The data path, whose addresses exist once per machine, runs
// only where Lead returned.
type Elector interface {
	Lead(ctx context.Context, name string) (lost context.Context, release func(), err error)
}
