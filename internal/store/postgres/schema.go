package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations bring the schema from version i to i+1 (migrations[i]), each
// in one transaction that also records the new version.
var migrations = []string{
	// 0 -> 1: keys compare byte-wise (COLLATE "C"), as Go compares strings,
	// so that List's key order and ranges are the sqlite backend's.
	`
CREATE TABLE resources (
	key     TEXT COLLATE "C" PRIMARY KEY,
	id      TEXT NOT NULL,
	type    TEXT NOT NULL,
	body    BYTEA NOT NULL,
	meta    BYTEA,
	version BIGINT NOT NULL,
	updated BIGINT NOT NULL,
	parent  TEXT COLLATE "C" NOT NULL,
	ltype   TEXT COLLATE "C" NOT NULL
);
CREATE INDEX resources_parent ON resources (parent, ltype, key);
CREATE INDEX resources_type ON resources (ltype, key);
CREATE TABLE operations (
	id          TEXT PRIMARY KEY,
	kind        TEXT NOT NULL,
	resource    TEXT NOT NULL,
	status      TEXT NOT NULL,
	doc         BYTEA NOT NULL,
	due         BIGINT NOT NULL,
	lease_owner TEXT NOT NULL,
	lease_until BIGINT NOT NULL,
	version     BIGINT NOT NULL,
	ended       BIGINT NOT NULL
);
CREATE INDEX operations_running ON operations (due) WHERE status = 'Running';
CREATE INDEX operations_ended ON operations (ended) WHERE status <> 'Running';
`,
	// 1 -> 2: keys and types for index-only scans (Query.KeysOnly).
	`CREATE INDEX resources_keys ON resources (key, ltype)`,
	// 2 -> 3: the commit number every write transaction advances and
	// announces (NOTIFY on the schema's channel), so that other replicas know how
	// far they have followed (store.Feed).
	`CREATE TABLE commits (seq BIGINT NOT NULL); INSERT INTO commits (seq) VALUES (0)`,
	// 3 -> 4: operation ids compare byte-wise too, so that the writer reads
	// the greatest from the primary key's index at the start of a batch
	// and knows that a new, greater id (operation ids are time-ordered) is
	// absent: its PutOperation is held back (pipe) instead of asking.
	`ALTER TABLE operations ALTER COLUMN id TYPE TEXT COLLATE "C"`,
}

// schemaVersion is the version this code writes and reads.
var schemaVersion = len(migrations)

// migrate brings the schema to schemaVersion. Replicas starting together
// take turns through a session advisory lock.
func migrate(ctx context.Context, pool *pgxpool.Pool, sp space) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, sp.migrate); err != nil {
		return err
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, sp.migrate)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return err
	}
	for {
		var v int
		err := conn.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&v)
		if err != nil && err != pgx.ErrNoRows {
			return err
		}
		if v > schemaVersion {
			return fmt.Errorf("the database has schema version %d, newer than this privlink's %d", v, schemaVersion)
		}
		if v == schemaVersion {
			return nil
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migration to version %d: %w", v+1, err)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM schema_version`); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, v+1)
			return err
		})
		if err != nil {
			return err
		}
	}
}
