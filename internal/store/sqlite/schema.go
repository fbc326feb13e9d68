package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/privlink/privlink/internal/store"
)

// migrations bring a database from version i to i+1 (migrations[i]), each in
// one transaction that also records the new version in schema_version. A
// data directory made by any earlier privlink upgrades on start; a newer one
// is refused rather than misread.
var migrations = []func(ctx context.Context, tx *sql.Tx) error{
	// 0 -> 1: the first schema (privlink before schema_version existed made
	// exactly these tables and set user_version = 1).
	execMigration(`
CREATE TABLE IF NOT EXISTS resources (
	key        TEXT PRIMARY KEY,
	id         TEXT NOT NULL,
	type       TEXT NOT NULL,
	body       BLOB NOT NULL,
	meta       BLOB,
	version    INTEGER NOT NULL,
	updated    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS operations (
	id          TEXT PRIMARY KEY,
	kind        TEXT NOT NULL,
	resource    TEXT NOT NULL,
	status      TEXT NOT NULL,
	doc         BLOB NOT NULL,
	due         INTEGER NOT NULL,
	lease_owner TEXT NOT NULL,
	lease_until INTEGER NOT NULL,
	version     INTEGER NOT NULL,
	ended       INTEGER NOT NULL
);`),
	// 1 -> 2: reads are served by SQLite, no longer from a copy in memory:
	// the parent key and lower-case type become columns with indexes for
	// List, operations get indexes for the worker's and the sweeper's
	// queries, and meta holds the commit sequence number that snapshots
	// are compared by.
	migrate2,
	// 2 -> 3: a covering index of keys and types, so that a scan of a
	// scope's names and types (Query.KeysOnly: GET {scope}/resources picks
	// its tracked resources from them) reads the index alone, in key order,
	// instead of a table row per key.
	execMigration(`CREATE INDEX resources_keys ON resources (key, ltype)`),
	// 3 -> 4: smaller indexes, because every index entry a create writes
	// is pages in the WAL at every commit (65 pages per commit of about
	// three creates, 2026-12-01, most of them index leaves rebalanced
	// under entries of 200-400 bytes). resources_parent held the parent's
	// whole key (about 110 bytes); it now holds the parent's length: the
	// parent is the key's first bytes, so "children of p" is the key range
	// [p/, p0) at that length. New rows write the length to plen and leave
	// parent empty; rows written before keep their parent and plen 0, so
	// the indexed expression plen + length(parent) is the parent's length
	// in either (writing plen into every old row would rewrite the whole
	// table, every document in it, at the upgrade: minutes at a million
	// endpoints, against seconds to build the index). resources_keys goes:
	// its one user (a scope's tracked resources, Query.Types) reads
	// resources_type once per type of the set that is stored at all (see
	// reader.list), which visits the tracked resources only rather than
	// every key in the scope. A
	// create writes three index entries of 145-190 bytes where it wrote
	// four of 200-400.
	migrate4,
	// 4 -> 5: the database's identity, which every record of its redo log
	// carries, so that a log left beside another database (a database
	// file deleted and created again, its log directory kept) is not
	// replayed into it.
	execMigration(`INSERT OR IGNORE INTO meta (k, v) VALUES ('redo', abs(random()))`),
	// 5 -> 6: records of the types listed only as their parent's children
	// (DB.SetParentListed: an endpoint, a connection) stay out of
	// resources_parent and resources_type, which hold the rows with
	// listed = 1 only: a create of such a record writes one index entry
	// (its key's) instead of three. Every row written before keeps
	// listed = 1. unlisted_types remembers every type ever set, so that
	// their queries go by key range (the rows they wrote have listed =
	// 0) even in a process that sets fewer. The upgrade builds the two
	// indexes again from the table, once: the first start of a data
	// directory with 100,000 endpoints took 6.4 s instead of 0.3 s
	// (2026-12-03), so about a minute at a million.
	migrate6,
}

func migrate6(ctx context.Context, tx *sql.Tx) error {
	for _, q := range []string{
		`ALTER TABLE resources ADD COLUMN listed INTEGER NOT NULL DEFAULT 1`,
		`CREATE TABLE unlisted_types (ltype TEXT PRIMARY KEY)`,
		`DROP INDEX resources_parent`,
		`DROP INDEX resources_type`,
		`CREATE INDEX resources_parent ON resources (` + parentLen + `, ltype, key) WHERE listed = 1`,
		`CREATE INDEX resources_type ON resources (ltype, key) WHERE listed = 1`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// schemaVersion is the version this code writes and reads.
var schemaVersion = len(migrations)

func execMigration(q string) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, q)
		return err
	}
}

func migrate2(ctx context.Context, tx *sql.Tx) error {
	for _, q := range []string{
		`ALTER TABLE resources ADD COLUMN parent TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE resources ADD COLUMN ltype TEXT NOT NULL DEFAULT ''`,
		`CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`,
		`INSERT OR IGNORE INTO meta (k, v) VALUES ('seq', 0)`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	// The parent key is Go's rule (store.ParentKey), so existing rows are
	// filled in here rather than in SQL, in chunks of rowids so that a large
	// database is not held in memory.
	st, err := tx.PrepareContext(ctx, `UPDATE resources SET parent = ?, ltype = ? WHERE rowid = ?`)
	if err != nil {
		return err
	}
	defer st.Close()
	type fix struct {
		rowid         int64
		parent, ltype string
	}
	var last int64 = -1 << 62
	for {
		rows, err := tx.QueryContext(ctx, `SELECT rowid, key, type FROM resources WHERE rowid > ? ORDER BY rowid LIMIT 10000`, last)
		if err != nil {
			return err
		}
		var fixes []fix
		for rows.Next() {
			var f fix
			var key, typ string
			if err := rows.Scan(&f.rowid, &key, &typ); err != nil {
				rows.Close()
				return err
			}
			f.parent, f.ltype = store.ParentKey(key), strings.ToLower(typ)
			fixes = append(fixes, f)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(fixes) == 0 {
			break
		}
		for _, f := range fixes {
			if _, err := st.ExecContext(ctx, f.parent, f.ltype, f.rowid); err != nil {
				return err
			}
		}
		last = fixes[len(fixes)-1].rowid
	}
	for _, q := range []string{
		// Children of a parent, of one type or all, in key order.
		`CREATE INDEX resources_parent ON resources (parent, ltype, key)`,
		// One type, in a subscription (a key range) or everywhere.
		`CREATE INDEX resources_type ON resources (ltype, key)`,
		// The worker's due operations; the sweeper's ended ones.
		`CREATE INDEX operations_running ON operations (due) WHERE status = 'Running'`,
		`CREATE INDEX operations_ended ON operations (ended) WHERE status <> 'Running'`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func migrate4(ctx context.Context, tx *sql.Tx) error {
	for _, q := range []string{
		`ALTER TABLE resources ADD COLUMN plen INTEGER NOT NULL DEFAULT 0`,
		`DROP INDEX resources_keys`,
		`DROP INDEX resources_parent`,
		// Children of a parent of one type, in key order. length() of
		// TEXT counts characters; Go's len, which writes plen, counts
		// bytes: hence the cast.
		`CREATE INDEX resources_parent ON resources (` + parentLen + `, ltype, key)`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// parentLen is the length of a row's parent key in bytes, as
// resources_parent indexes it (see migration 4): queries name it by this
// very expression, which is how SQLite knows the index holds it.
const parentLen = `plen + length(CAST(parent AS BLOB))`

// migrate brings the database at db to schemaVersion.
func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return err
	}
	for {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		v, err := currentVersion(ctx, tx)
		if err == nil && v > schemaVersion {
			err = fmt.Errorf("the database has schema version %d, newer than this privlink's %d", v, schemaVersion)
		}
		if err != nil || v == schemaVersion {
			_ = tx.Rollback()
			return err
		}
		if err := migrations[v](ctx, tx); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("migration to version %d: %w", v+1, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
			_ = tx.Rollback()
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, v+1); err != nil {
			_ = tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
}

// currentVersion reads schema_version; a database without a row there is
// version 1 if it has the first schema's tables (made before versions were
// recorded), else new (0).
func currentVersion(ctx context.Context, tx *sql.Tx) (int, error) {
	var v int
	err := tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
	if err == nil {
		return v, nil
	}
	if err != sql.ErrNoRows {
		return 0, err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'resources'`).Scan(&n); err != nil {
		return 0, err
	}
	return n, nil
}
