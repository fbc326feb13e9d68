package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/privlink/privlink/internal/store"
)

// reader is one connection that serves reads, with its prepared statements.
// A View's reader holds a read transaction (pinned), which is its snapshot;
// the writer's reader runs each statement on its own, on the newest commit.
type reader struct {
	c     *sql.Conn
	stmts map[string]*sql.Stmt
	// pinned reports whether a read transaction is open, whose commit
	// number is seq.
	pinned bool
	seq    uint64
	// broken reports whether a statement failed in a way that leaves the
	// connection's state unknown: it is closed, not reused.
	broken bool
}

func newReader(ctx context.Context, db *sql.DB) (*reader, error) {
	c, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	return &reader{c: c, stmts: map[string]*sql.Stmt{}}, nil
}

// close ends the read transaction, if any, and the connection.
func (r *reader) close() {
	if !r.broken {
		_ = r.unpin(context.Background())
	}
	for _, st := range r.stmts {
		st.Close()
	}
	r.c.Close()
}

// stmt returns q prepared on this connection.
func (r *reader) stmt(q string) (*sql.Stmt, error) {
	if st, ok := r.stmts[q]; ok {
		return st, nil
	}
	st, err := r.c.PrepareContext(context.Background(), q)
	if err != nil {
		return nil, err
	}
	r.stmts[q] = st
	return st, nil
}

func (r *reader) exec(ctx context.Context, q string) error {
	st, err := r.stmt(q)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx)
	return err
}

// pin starts a new read transaction on the newest commit; SQLite takes the
// snapshot at its first read, which is the commit number's.
func (r *reader) pin(ctx context.Context) error {
	if err := r.unpin(ctx); err != nil {
		return err
	}
	if err := r.exec(ctx, "BEGIN"); err != nil {
		return err
	}
	st, err := r.stmt(`SELECT v FROM meta WHERE k = 'seq'`)
	if err != nil {
		return err
	}
	var seq int64
	if err := st.QueryRowContext(ctx).Scan(&seq); err != nil {
		_ = r.exec(ctx, "ROLLBACK")
		return err
	}
	r.pinned, r.seq = true, uint64(seq)
	return nil
}

// unpin ends the read transaction, if any.
func (r *reader) unpin(ctx context.Context) error {
	if !r.pinned {
		return nil
	}
	r.pinned = false
	return r.exec(ctx, "COMMIT")
}

const (
	recSelect = `SELECT key, id, type, body, meta, version, updated FROM resources`
	// keysSelect reads only what the resources_type and resources_parent
	// indexes hold.
	keysSelect = `SELECT key, key, ltype, NULL, NULL, 0, 0 FROM resources`
)

func scanRecord(s interface{ Scan(...any) error }) (string, *store.Record, error) {
	var key string
	var updated int64
	rec := &store.Record{}
	if err := s.Scan(&key, &rec.ID, &rec.Type, &rec.Body, &rec.Meta, &rec.Version, &updated); err != nil {
		return "", nil, err
	}
	if len(rec.Meta) == 0 {
		rec.Meta = nil
	}
	if len(rec.Body) == 0 {
		rec.Body = nil
	}
	if updated != 0 {
		rec.Updated = time.Unix(0, updated).UTC()
	}
	return key, rec, nil
}

// get returns the record with key, or nil.
func (r *reader) get(key string) (*store.Record, error) {
	st, err := r.stmt(recSelect + ` WHERE key = ?`)
	if err != nil {
		return nil, err
	}
	_, rec, err := scanRecord(st.QueryRow(key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return rec, err
}

// filter is a store.Query as conditions: in SQL for the database, in Go for
// a writer's uncommitted records.
type filter struct {
	parent             bool
	parentKey          string
	lo, hi, after, typ string
	keysOnly           bool
	// types is Query.Types as a set (nil: any).
	types    map[string]bool
	typeList []string
	// unlisted holds the types whose records may be out of
	// resources_parent and resources_type (DB.SetParentListed): a query
	// for one of them goes by key range instead.
	unlisted map[string]bool
}

func newFilter(q store.Query) filter {
	f := filter{
		parent:    q.Parent != "" || (q.Prefix == "" && q.Subscription == "" && q.Type == ""),
		parentKey: strings.ToLower(q.Parent),
		after:     q.After,
		typ:       strings.ToLower(q.Type),
		keysOnly:  q.KeysOnly,
		typeList:  q.Types,
	}
	if q.Types != nil {
		f.types = make(map[string]bool, len(q.Types))
		for _, t := range q.Types {
			f.types[t] = true
		}
	}
	narrow := func(p string) {
		if l := p + "/"; l > f.lo {
			f.lo = l
		}
		// '0' follows '/': keys below p are exactly those in [p/, p0).
		if h := p + "0"; f.hi == "" || h < f.hi {
			f.hi = h
		}
	}
	if q.Prefix != "" {
		narrow(strings.ToLower(q.Prefix))
	}
	if f.parent && f.parentKey != "" {
		narrow(f.parentKey)
	}
	if q.Subscription != "" {
		narrow("/subscriptions/" + strings.ToLower(q.Subscription))
	}
	return f
}

// inRange reports whether key lies in the filter's key range (a superset
// of the matches).
func (f filter) inRange(key string) bool {
	return key >= f.lo && (f.hi == "" || key < f.hi) && (f.after == "" || key > f.after)
}

// match reports whether the record with key and typ matches.
func (f filter) match(key, typ string) bool {
	if !f.inRange(key) {
		return false
	}
	if f.parent && store.ParentKey(key) != f.parentKey {
		return false
	}
	if f.types != nil && !f.types[strings.ToLower(typ)] {
		return false
	}
	return f.typ == "" || strings.EqualFold(typ, f.typ)
}

// sql is the WHERE clause and its arguments, after an index hint where
// SQLite's choice would read more than the matches; it follows
// "FROM resources".
func (f filter) sql() (string, []any) {
	var conds []string
	var args []any
	add := func(c string, a any) { conds = append(conds, c); args = append(args, a) }
	// listed is the condition of the partial indexes resources_parent and
	// resources_type (schema 6): a query names it to use them, which is
	// right for every type but the unlisted ones, whose records may lack
	// it.
	listed := func() { conds = append(conds, "listed = 1") }
	unlisted := f.typ != "" && f.unlisted[f.typ]
	lo, hi := f.lo, f.hi
	hint := ""
	switch {
	case f.parent && f.parentKey == "":
		// Top-level records (subscriptions): few, read by plen. No record
		// of an unlisted type, a child type, is top-level.
		add(parentLen+" = ?", 0)
		listed()
	case f.parent && unlisted && strings.Count(f.typ, "/") >= 2:
		// Children of an unlisted child type: every one's key is
		// {parent}/{the type's last segment}/{name}, a range of the key's
		// own index that holds them and their descendants only.
		seg := f.typ[strings.LastIndexByte(f.typ, '/')+1:]
		if l := f.parentKey + "/" + seg + "/"; l > lo {
			lo = l
		}
		if h := f.parentKey + "/" + seg + "0"; hi == "" || h < hi {
			hi = h
		}
		add("+"+parentLen+" = ?", len(f.parentKey))
	case f.parent && f.typ != "" && !unlisted:
		// The parent is the key's first plen bytes, and the key range
		// [parent/, parent0) that newFilter set says which ones: so
		// resources_parent holds a parent's children of a type in one
		// range. SQLite would rather take resources_type's range of the
		// type under the parent, which holds the deeper ones too (every
		// resource group's deployments under a subscription).
		hint = " INDEXED BY resources_parent"
		add(parentLen+" = ?", len(f.parentKey))
		listed()
	case f.parent:
		// Children of every type (privlink sends no such query), or of
		// an unlisted type that is no child type (its keys need not name
		// it): the key range, with the parent's length checked on each
		// row ("+" keeps SQLite from reading every key whose parent is as
		// long from resources_parent).
		add("+"+parentLen+" = ?", len(f.parentKey))
	}
	switch {
	case unlisted:
		// "+": not by resources_type, which may lack them.
		add("+ltype = ?", f.typ)
	case f.typ != "":
		add("ltype = ?", f.typ)
		if !f.parent {
			listed() // one type everywhere or in a range: resources_type
		}
	}
	// One lower bound, the higher of lo and after: given both, SQLite
	// seeks by one of them (it took lo) and tests the other on every row,
	// so each page of a paged list read again every key before it in the
	// range (the data path's loadIndex, 256 skips through 25,000 address
	// records, spent 0.8 s of a start on that at a million endpoints).
	switch {
	case f.after != "" && f.after >= lo:
		add("key > ?", f.after)
	case lo != "":
		add("key >= ?", lo)
	}
	if hi != "" {
		add("key < ?", hi)
	}
	if len(conds) == 0 {
		return hint, nil
	}
	return hint + " WHERE " + strings.Join(conds, " AND "), args
}

// list returns the matching records in key order, at most limit (0: all),
// with their keys.
//
// A filter with a set of types (Query.Types: a scope's tracked resources)
// reads each type's key range from resources_type, at most limit each,
// and merges them: that visits only records of those types, however many
// others (endpoints, connections) the scope holds. The set is large (every
// tracked type Azure has: 905 in the catalog), so only the types stored
// at all are read (presentTypes): a few.
func (r *reader) list(f filter, limit int) ([]*store.Record, []string, error) {
	if f.types == nil {
		return r.list1(f, limit)
	}
	present, err := r.presentTypes()
	if err != nil {
		return nil, nil, err
	}
	// The unlisted types of the set are not in resources_type (their
	// records may be stored all the same): each is read by key range.
	for t := range f.unlisted {
		if f.types[t] && !slices.Contains(present, t) {
			present = append(present, t)
		}
	}
	type hit struct {
		key string
		rec *store.Record
	}
	var hits []hit
	one := f
	one.types, one.typeList = nil, nil
	for _, t := range present {
		if !f.types[t] || (f.typ != "" && t != f.typ) {
			continue
		}
		one.typ = t
		rs, ks, err := r.list1(one, limit)
		if err != nil {
			return nil, nil, err
		}
		for i, k := range ks {
			hits = append(hits, hit{k, rs[i]})
		}
	}
	sort.Slice(hits, func(a, b int) bool { return hits[a].key < hits[b].key })
	if limit > 0 && len(hits) > limit {
		hits = hits[:limit]
	}
	recs, keys := make([]*store.Record, len(hits)), make([]string, len(hits))
	for i, h := range hits {
		recs[i], keys[i] = h.rec, h.key
	}
	return recs, keys, nil
}

const presentTypesSQL = `WITH RECURSIVE t(l) AS (
	SELECT (SELECT min(ltype) FROM resources WHERE listed = 1)
	UNION ALL
	SELECT (SELECT min(ltype) FROM resources WHERE listed = 1 AND ltype > t.l) FROM t WHERE t.l IS NOT NULL
) SELECT l FROM t WHERE l IS NOT NULL`

// presentTypes returns the distinct lower-case types of the stored
// records in resources_type (all but the unlisted types'), in order: one
// index seek per type (a loose scan of resources_type), however many
// records there are.
func (r *reader) presentTypes() ([]string, error) {
	st, err := r.stmt(presentTypesSQL)
	if err != nil {
		return nil, err
	}
	return queryStrings(st)
}

// queryStrings runs st, whose rows are one text column, and returns them.
func queryStrings(st *sql.Stmt, args ...any) ([]string, error) {
	rows, err := st.Query(args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// list1 is list for a filter with at most one type: one query.
func (r *reader) list1(f filter, limit int) ([]*store.Record, []string, error) {
	where, args := f.sql()
	sel := recSelect
	if f.keysOnly {
		sel = keysSelect
	}
	st, err := r.stmt(sel + where + ` ORDER BY key LIMIT ?`)
	if err != nil {
		return nil, nil, err
	}
	if limit <= 0 {
		limit = -1
	}
	rows, err := st.Query(append(args, limit)...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var recs []*store.Record
	var keys []string
	for rows.Next() {
		key, rec, err := scanRecord(rows)
		if err != nil {
			return nil, nil, err
		}
		recs, keys = append(recs, rec), append(keys, key)
	}
	return recs, keys, rows.Err()
}

const opSelect = `SELECT id, kind, resource, status, doc, due, lease_owner, lease_until, version, ended FROM operations`

func scanOp(s interface{ Scan(...any) error }) (*store.Operation, error) {
	op := &store.Operation{}
	var due, lease, ended int64
	if err := s.Scan(&op.ID, &op.Kind, &op.Resource, &op.Status, &op.Doc, &due, &op.LeaseOwner, &lease, &op.Version, &ended); err != nil {
		return nil, err
	}
	op.Due, op.LeaseUntil, op.Ended = fromNano(due), fromNano(lease), fromNano(ended)
	return op, nil
}

// getOp returns the operation with id, or nil.
func (r *reader) getOp(id string) (*store.Operation, error) {
	st, err := r.stmt(opSelect + ` WHERE id = ?`)
	if err != nil {
		return nil, err
	}
	op, err := scanOp(st.QueryRow(id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return op, err
}

// dueOps returns running operations due at now with a free lease, oldest
// first (the partial index on due keeps this proportional to what is due).
func (r *reader) dueOps(now time.Time, limit int) ([]*store.Operation, error) {
	st, err := r.stmt(opSelect + ` WHERE status = 'Running' AND due <= ? AND lease_until < ? ORDER BY due LIMIT ?`)
	if err != nil {
		return nil, err
	}
	n := now.UnixNano()
	rows, err := st.Query(n, n, limit)
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

// nextDue returns when the next running operation falls due (its due time
// or, if later, the end of its lease), ignoring the operations in skip.
func (r *reader) nextDue(skip map[string]*store.Operation) (time.Time, bool, error) {
	st, err := r.stmt(`SELECT id, max(due, lease_until) AS at FROM operations WHERE status = 'Running' ORDER BY at LIMIT ?`)
	if err != nil {
		return time.Time{}, false, err
	}
	rows, err := st.Query(len(skip) + 1)
	if err != nil {
		return time.Time{}, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var at int64
		if err := rows.Scan(&id, &at); err != nil {
			return time.Time{}, false, err
		}
		if _, ok := skip[id]; !ok {
			return fromNano(at), true, nil
		}
	}
	return time.Time{}, false, rows.Err()
}

// ended is an operation that ended, and when (Unix ns).
type ended struct {
	id string
	at int64
}

// endedBefore returns the operations that ended before t, oldest first, at
// most limit (0: all).
func (r *reader) endedBefore(t time.Time, limit int) ([]ended, error) {
	st, err := r.stmt(`SELECT id, ended FROM operations WHERE status <> 'Running' AND ended < ? ORDER BY ended LIMIT ?`)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = -1
	}
	rows, err := st.Query(t.UnixNano(), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ended
	for rows.Next() {
		var e ended
		if err := rows.Scan(&e.id, &e.at); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
