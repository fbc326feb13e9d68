package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// pipe is the writer's connection while it runs a batch. It holds back
// (defers) the writes whose outcome the writer already knows from its
// caches (a Create of a key known absent, a Replace or Delete of a key
// cached at the version it has, a PutOperation of an operation whose
// version it knows or whose id is above every id, see maxOp), and the
// batch's own SAVEPOINT and ROLLBACK TO SAVEPOINT statements, and
// sends them pipelined ahead of the next statement whose answer a caller
// waits for, or ahead of the commit: the writer holds the database-wide
// write lock across its round trips, so every round trip saved is
// throughput for every replica.
//
// A held-back write cannot tell its caller anything when it runs, so each
// one checks its own outcome in the database (checked) and fails, and
// with it the transaction, if the cache that promised that outcome was
// wrong: the batch is then lost (pipe.err), every Update in it fails, and
// nothing it wrote is committed.
type pipe struct {
	conn  *pgx.Conn
	ctx   context.Context
	trips *atomic.Int64
	queue []held
	// err is set once a held-back statement failed: the transaction is
	// aborted and the whole batch fails.
	err error
	// unicode reports whether the server takes any UTF-8 text without a
	// NUL (server_encoding UTF8 or SQL_ASCII) that it does not convert
	// (raw), see plain.
	unicode bool
	// raw reports whether the server stores text as the bytes this
	// process sends, converting nothing: client_encoding is the server's,
	// or either is SQL_ASCII. See ordered.
	raw bool
	// maxOp is the greatest operation id in the database (byte-wise, as
	// the column's collation compares), read at the start of the batch
	// under the write lock and raised by the batch's own inserts: every
	// write of operations takes the lock, so a greater id is absent for
	// as long as the batch runs, if the server orders it as Go does
	// (ordered). The engine's operation ids are time-ordered (UUIDv7), so
	// a new operation's id is above it, and its PutOperation is held back
	// as an insert instead of asking.
	maxOp string
}

// held is a statement held back until the next round trip.
type held struct {
	sql  string
	args []any
	// owner is the index in the batch of the function that queued it, or
	// -1 for the batch's own statements.
	owner int
	// what names it in errors (with its key, the first argument of a
	// checked write).
	what string
	// kind tells how its answer is read.
	kind heldKind
}

type heldKind int8

const (
	heldExec      heldKind = iota // a command: its tag is read
	heldSavepoint                 // a function's SAVEPOINT
	heldChecked                   // a checked write: one row, one column, 1
)

func newPipe(ctx context.Context, conn *pgx.Conn, trips *atomic.Int64) *pipe {
	server := conn.PgConn().ParameterStatus("server_encoding")
	client := conn.PgConn().ParameterStatus("client_encoding")
	raw := server == client || server == "SQL_ASCII" || client == "SQL_ASCII"
	return &pipe{conn: conn, ctx: ctx, trips: trips, raw: raw, unicode: raw && (server == "UTF8" || server == "SQL_ASCII")}
}

// hold queues h for the next round trip.
func (p *pipe) hold(h held) { p.queue = append(p.queue, h) }

// drop removes what owner queued and did not send yet (its statements
// are the queue's tail: functions run one after the other), and reports
// whether its SAVEPOINT was among them, that is whether nothing of the
// function reached the database.
func (p *pipe) drop(owner int) (unsent bool) {
	i := len(p.queue)
	for i > 0 && p.queue[i-1].owner == owner {
		i--
		unsent = unsent || p.queue[i].kind == heldSavepoint
	}
	clear(p.queue[i:])
	p.queue = p.queue[:i]
	return unsent
}

// query is a statement sent after what the pipe holds back.
type query struct {
	sql  string
	args []any
}

// send sends what is held back and then tail in one round trip, checks
// the answers of what was held back, and returns the results positioned
// at tail's first statement (the caller reads them and closes them).
func (p *pipe) send(tail ...query) (pgx.BatchResults, error) {
	if p.err != nil {
		return nil, p.err
	}
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(p.queue)+len(tail))}
	for _, h := range p.queue {
		b.Queue(h.sql, h.args...)
	}
	for _, q := range tail {
		b.Queue(q.sql, q.args...)
	}
	p.trips.Add(1)
	br := p.conn.SendBatch(p.ctx, b)
	queue := p.queue
	p.queue = p.queue[:0]
	for _, h := range queue {
		var err error
		switch h.kind {
		case heldChecked:
			var n int64
			if err = br.QueryRow().Scan(&n); err == nil && n != 1 {
				err = fmt.Errorf("%d rows written, not 1", n)
			}
		default:
			_, err = br.Exec()
		}
		if err != nil {
			br.Close()
			what := h.what
			if h.kind == heldChecked {
				what = fmt.Sprintf("%s %v", h.what, h.args[0])
			}
			p.err = fmt.Errorf("postgres: %s, held back to be sent with a later statement, failed (the writer's cache did not match the database, or the database failed): %w", what, classify(err))
			clear(queue)
			return nil, p.err
		}
	}
	clear(queue)
	return br, nil
}

// checked wraps dml, an INSERT, UPDATE or DELETE of one row whose $1 is
// the row's key, so that it fails unless it wrote exactly one row: when
// the writer's cache promised the outcome of a held-back write and was
// wrong, the transaction fails with it, the statements after it in the
// pipeline (the COMMIT too) do not run, and no wrong result is
// committed. The failure is a cast of a message to bigint, the one way
// plain SQL raises an error with a text of its own; the cast depends on
// the count, so it runs only when the count is wrong.
func checked(dml string) string {
	return `WITH w AS (` + dml + ` RETURNING 1), n AS (SELECT count(*) AS n FROM w)
	SELECT CASE WHEN n = 1 THEN n ELSE ('privlink: a held-back write of ' || $1::text || ' wrote ' || n || ' rows, not 1')::bigint END FROM n`
}

// plain reports whether the server stores every string of s as it is
// (no NUL, valid UTF-8 on a server that takes any and converts nothing,
// else ASCII): then a held-back write of them cannot fail for their sake,
// and only a wrong cache can fail it. Strings that might fail are written
// at once, so that their error reaches the call that caused it. A
// conversion (client_encoding WIN1252 on a UTF8 server, say) can fail on
// valid UTF-8: "ā" is C4 81, and 0x81 is no WIN1252 character.
func (p *pipe) plain(s ...string) bool {
	for _, x := range s {
		if strings.IndexByte(x, 0) >= 0 {
			return false
		}
		if p.unicode {
			if !utf8.ValidString(x) {
				return false
			}
			continue
		}
		if !ascii(x) {
			return false
		}
	}
	return true
}

// ordered reports whether the server orders id among the operation ids
// as Go orders strings, so that an id above maxOp is absent. The id
// column is COLLATE "C": the server compares the bytes it stores, which
// are the bytes Go compares when it converts nothing (raw). Otherwise
// (text converted from UTF-8 to WIN1252, say) only an ASCII id is sure
// to compare the same: every encoding PostgreSQL knows writes ASCII as
// ASCII and starts any other character with a byte above it.
func (p *pipe) ordered(id string) bool {
	return p.raw || ascii(id)
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
