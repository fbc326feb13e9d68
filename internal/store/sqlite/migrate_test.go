package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/store"
)

// oldSchema is the schema privlink wrote before schema_version existed
// (user_version 1, every record in memory), copied from that code.
const oldSchema = `
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
);
PRAGMA user_version = 1;
`

// TestMigrateFromOldFormat opens a data file written in the old format and
// checks that every record and operation is there, found by the new indexed
// queries, and that the file then records the current schema version.
func TestMigrateFromOldFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "privlink.db")
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(oldSchema); err != nil {
		t.Fatal(err)
	}
	const rg = "/subscriptions/s1/resourceGroups/RG"
	ids := map[string]string{
		rg: "Microsoft.Resources/resourceGroups",
		rg + "/providers/Microsoft.Kusto/clusters/c":                                  "Microsoft.Kusto/clusters",
		rg + "/providers/Microsoft.Kusto/clusters/c/managedPrivateEndpoints/m1":       "Microsoft.Kusto/clusters/managedPrivateEndpoints",
		rg + "/providers/Microsoft.Kusto/clusters/c/managedPrivateEndpoints/m2":       "Microsoft.Kusto/clusters/managedPrivateEndpoints",
		"/subscriptions/s2/resourceGroups/x/providers/Microsoft.Kusto/clusters/other": "Microsoft.Kusto/clusters",
	}
	now := time.Now()
	for id, typ := range ids {
		if _, err := raw.Exec(`INSERT INTO resources (key, id, type, body, meta, version, updated) VALUES (?, ?, ?, ?, NULL, 3, ?)`,
			strings.ToLower(id), id, typ, []byte(`{"id":"`+id+`"}`), now.UnixNano()); err != nil {
			t.Fatal(err)
		}
	}
	ended := now.Add(-48 * time.Hour).UnixNano()
	for _, op := range []struct {
		id, status string
		due, ended int64
	}{{"running", "Running", now.UnixNano(), 0}, {"old", "Succeeded", 0, ended}} {
		if _, err := raw.Exec(`INSERT INTO operations VALUES (?, 'k', '/r', ?, '{}', ?, '', 0, 1, ?)`, op.id, op.status, op.due, op.ended); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()

	db, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open of an old-format file: %v", err)
	}
	defer db.Close()
	ctx := context.Background()
	err = db.View(ctx, func(tx store.Tx) error {
		r, err := tx.Get(strings.ToLower(rg + "/providers/Microsoft.Kusto/clusters/c"))
		if err != nil {
			return err
		}
		if r.Version != 3 || r.Type != "Microsoft.Kusto/clusters" {
			t.Errorf("cluster after migration = %+v", r)
		}
		kids, err := tx.List(store.Query{Parent: strings.ToLower(rg + "/providers/Microsoft.Kusto/clusters/c"), Type: "microsoft.kusto/clusters/managedprivateendpoints"})
		if err != nil {
			return err
		}
		if got, want := len(kids), 2; got != want {
			t.Errorf("children by parent and type = %d, want %d", got, want)
		}
		clusters, err := tx.List(store.Query{Type: "Microsoft.Kusto/clusters", Subscription: "S1"})
		if err != nil {
			return err
		}
		if len(clusters) != 1 || clusters[0].ID != rg+"/providers/Microsoft.Kusto/clusters/c" {
			t.Errorf("clusters in s1 = %v", clusters)
		}
		due, err := tx.DueOperations(now.Add(time.Second), 10)
		if err != nil {
			return err
		}
		if len(due) != 1 || due[0].ID != "running" {
			t.Errorf("due after migration = %v", due)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Old rows (their parent in the parent column) and new ones (its
	// length in plen), rewritten either way, are one parent's children.
	cl := rg + "/providers/Microsoft.Kusto/clusters/c"
	err = db.Update(ctx, func(tx store.Tx) error {
		m1, err := tx.Get(store.Key(cl + "/managedPrivateEndpoints/m1"))
		if err != nil {
			return err
		}
		if err := tx.Replace(m1); err != nil {
			return err
		}
		if err := tx.Delete(store.Key(cl + "/managedPrivateEndpoints/m2")); err != nil {
			return err
		}
		for _, n := range []string{"m2", "m3"} {
			if err := tx.Create(&store.Record{ID: cl + "/managedPrivateEndpoints/" + n, Type: "Microsoft.Kusto/clusters/managedPrivateEndpoints", Body: []byte(`{}`)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(ctx, func(tx store.Tx) error {
		kids, err := tx.List(store.Query{Parent: store.Key(cl), Type: "microsoft.kusto/clusters/managedprivateendpoints"})
		if err != nil {
			return err
		}
		var names []string
		for _, k := range kids {
			names = append(names, k.ID[strings.LastIndexByte(k.ID, '/')+1:])
		}
		if strings.Join(names, ",") != "m1,m2,m3" {
			t.Errorf("children after rewrites = %v, want m1,m2,m3", names)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The old file's ended operation keeps its end time: it expires.
	err = db.Update(ctx, func(tx store.Tx) error {
		n, err := tx.DeleteOperationsBefore(now.Add(-24*time.Hour), 0)
		if err == nil && n != 1 {
			t.Errorf("expired operations = %d, want 1", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var v int
	if err := db.db.QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != schemaVersion {
		t.Fatalf("schema_version = %d, want %d", v, schemaVersion)
	}
}

// TestRefusesNewerSchema: a file from a newer privlink is not misread.
func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "privlink.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.db.Exec(`UPDATE schema_version SET version = ?`, schemaVersion+1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err := Open(path, Options{}); err == nil {
		db.Close()
		t.Fatal("Open of a newer schema succeeded")
	}
}

// TestQueryPlans checks that every query List and the operation worker
// send is served by an index, never a scan of a whole table: that is what
// keeps reads fast whatever is stored.
func TestQueryPlans(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "privlink.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	queries := map[string]store.Query{
		"parent":             {Parent: "/subscriptions/s/resourcegroups/rg"},
		"parent and type":    {Parent: "/subscriptions/s/resourcegroups/rg", Type: "Microsoft.Kusto/clusters", After: "x", Limit: 10},
		"prefix":             {Prefix: "/subscriptions/s/resourcegroups/rg"},
		"subscription, type": {Subscription: "s", Type: "Microsoft.Kusto/clusters", Limit: 101},
		"type":               {Type: "Microsoft.Authorization/roleAssignments"},
	}
	for name, q := range queries {
		where, args := newFilter(q).sql()
		plan := explain(t, db.db, recSelect+where+` ORDER BY key LIMIT ?`, append(args, q.Limit)...)
		if strings.Contains(plan, "SCAN resources") && !strings.Contains(plan, "USING") {
			t.Errorf("%s: full scan: %s", name, plan)
		}
		if strings.Contains(plan, "TEMP B-TREE") && q.Type != "" {
			t.Errorf("%s: sorts instead of reading an index in order: %s", name, plan)
		}
	}
	// A parent's children of one type are one range of resources_parent,
	// not the type's range under the parent (which holds deeper ones
	// too); children of any type are the parent's key range, not every
	// key whose parent is as long.
	for name, c := range map[string]struct {
		q    store.Query
		want string
	}{
		"parent and type": {store.Query{Parent: "/subscriptions/s", Type: "Microsoft.Resources/deployments"}, "resources_parent (<expr>=? AND ltype=? AND key>? AND key<?)"},
		"parent":          {store.Query{Parent: "/subscriptions/s"}, "(key>? AND key<?)"},
	} {
		where, args := newFilter(c.q).sql()
		if plan := explain(t, db.db, recSelect+where+` ORDER BY key LIMIT ?`, append(args, 10)...); !strings.Contains(plan, c.want) {
			t.Errorf("%s: plan %q does not use %s", name, plan, c.want)
		}
	}
	// One lower bound on key: given key >= lo and key > after, SQLite
	// seeks by one and tests the other on every row, and it took lo, so a
	// page after the first read every key before it in the range again.
	for name, q := range map[string]store.Query{
		"prefix, after inside":   {Prefix: "/p", After: "/p/m", Limit: 1},
		"prefix, after below":    {Prefix: "/p", After: "/a", Limit: 1},
		"parent, type and after": {Parent: "/p", Type: "t", After: "/p/m", Limit: 1},
	} {
		where, _ := newFilter(q).sql()
		if n := strings.Count(where, "key >"); n != 1 {
			t.Errorf("%s: %d lower bounds on key: %s", name, n, where)
		}
	}
	// The stored types, for a list of a set of types: seeks in
	// resources_type, no scan.
	if plan := explain(t, db.db, presentTypesSQL); strings.Contains(plan, "SCAN resources") || !strings.Contains(plan, "COVERING INDEX resources_type") {
		t.Errorf("stored types: %s", plan)
	}
	// The keys-only scans privlink sends read an index alone: a scope's
	// resources of one of a set of types (reader.list sends one query per
	// type), one type's everywhere, and a parent's children of one type.
	for name, c := range map[string]struct {
		q     store.Query
		index string
	}{
		"one of types in a scope": {store.Query{Prefix: "/subscriptions/s", Type: "microsoft.kusto/clusters", After: "/subscriptions/s/x", KeysOnly: true}, "resources_type"},
		"type everywhere":         {store.Query{Type: "microsoft.kusto/clusters", After: "/subscriptions/s/x", KeysOnly: true}, "resources_type"},
	} {
		where, args := newFilter(c.q).sql()
		if plan := explain(t, db.db, keysSelect+where+` ORDER BY key LIMIT ?`, append(args, 1000)...); !strings.Contains(plan, "COVERING INDEX "+c.index) || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%s: not read in order from the covering index %s: %s", name, c.index, plan)
		}
	}
	// A parent's children of one type, keys only: in order from
	// resources_parent, but not from it alone since schema 6 (SQLite
	// takes an index on an expression for covering only when the query
	// names no other column, and the partial index's condition names
	// listed).
	where, args := newFilter(store.Query{Parent: "/subscriptions/s", Type: "microsoft.resources/deployments", KeysOnly: true}).sql()
	if plan := explain(t, db.db, keysSelect+where+` ORDER BY key LIMIT ?`, append(args, 1000)...); !strings.Contains(plan, "INDEX resources_parent") || strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("children of one type: not read in order from resources_parent: %s", plan)
	}
	// The children of a type listed by parent alone (DB.SetParentListed):
	// the key range {parent}/{type's last segment}/ of the key's index,
	// in order; resources_parent and resources_type may lack them.
	unlisted := newFilter(store.Query{Parent: "/subscriptions/s/resourcegroups/g/providers/microsoft.kusto/clusters/c", Type: "Microsoft.Kusto/clusters/managedPrivateEndpoints", Limit: 10})
	unlisted.unlisted = map[string]bool{"microsoft.kusto/clusters/managedprivateendpoints": true}
	where, args = unlisted.sql()
	if !strings.Contains(where, "key >= ?") || !strings.Contains(fmt.Sprint(args), "/managedprivateendpoints/") {
		t.Errorf("unlisted children: not their key range: %s %v", where, args)
	}
	if plan := explain(t, db.db, recSelect+where+` ORDER BY key LIMIT ?`, append(args, 10)...); !strings.Contains(plan, "sqlite_autoindex_resources_1 (key>? AND key<?)") || strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("unlisted children: not a range of the key's index: %s", plan)
	}
	for _, q := range []string{
		opSelect + ` WHERE status = 'Running' AND due <= 1 AND lease_until < 1 ORDER BY due LIMIT 64`,
		`SELECT id FROM operations WHERE status <> 'Running' AND ended < 1 ORDER BY ended LIMIT 10`,
	} {
		if plan := explain(t, db.db, q); !strings.Contains(plan, "USING INDEX") {
			t.Errorf("%s: no index: %s", q, plan)
		}
	}
}

func explain(t *testing.T, db *sql.DB, q string, args ...any) string {
	t.Helper()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		out = append(out, detail)
	}
	return strings.Join(out, "; ")
}

// TestParentListed: a record of a type listed by parent alone, or by key
// prefix alone, is written without entries in resources_parent and
// resources_type (listed = 0), its type is remembered across a reopen, and
// its parent's list and a prefix list still find it.
func TestParentListed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "privlink.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := db.SetParentListed(ctx, []string{"Microsoft.Test/things/children", "privlink.test/address"}); err != nil {
		t.Fatal(err)
	}
	parent := "/subscriptions/s/resourceGroups/g/providers/Microsoft.Test/things/a"
	// As the data path keeps an endpoint's address: under a prefix of
	// privlink's own, followed by the resource's key.
	addr := "/privlink/test/addr" + store.Key(parent)
	if err := db.Update(ctx, func(tx store.Tx) error {
		if err := tx.Create(&store.Record{ID: parent, Type: "Microsoft.Test/things", Body: []byte(`{}`)}); err != nil {
			return err
		}
		if err := tx.Create(&store.Record{ID: addr, Type: "privlink.test/address", Body: []byte(`{}`)}); err != nil {
			return err
		}
		return tx.Create(&store.Record{ID: parent + "/children/x", Type: "Microsoft.Test/things/children", Body: []byte(`{}`)})
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil { // applies everything
		t.Fatal(err)
	}
	if db, err = Open(path, Options{}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows := map[string]int{}
	r, err := db.db.Query(`SELECT ltype, listed FROM resources WHERE ltype LIKE 'microsoft.test/%' OR ltype LIKE 'privlink.test/%'`)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var lt string
		var listed int
		if err := r.Scan(&lt, &listed); err != nil {
			t.Fatal(err)
		}
		rows[lt] = listed
	}
	r.Close()
	if rows["microsoft.test/things"] != 1 || rows["microsoft.test/things/children"] != 0 || rows["privlink.test/address"] != 0 {
		t.Errorf("listed by type: %v, want the parent 1, the child and the address 0", rows)
	}
	if !(*db.unlisted.Load())["microsoft.test/things/children"] {
		t.Error("the unlisted type is forgotten after a reopen")
	}
	err = db.View(ctx, func(tx store.Tx) error {
		recs, err := tx.List(store.Query{Parent: store.Key(parent), Type: "microsoft.test/things/children"})
		if err == nil && (len(recs) != 1 || recs[0].ID != parent+"/children/x") {
			t.Errorf("the parent's children: %v", recs)
		}
		if err != nil {
			return err
		}
		for _, q := range []store.Query{
			{Prefix: "/privlink/test/addr"},
			{Type: "privlink.test/address"},
			{Parent: store.ParentKey(store.Key(addr)), Type: "privlink.test/address"},
		} {
			recs, err := tx.List(q)
			if err != nil {
				return err
			}
			if len(recs) != 1 || recs[0].ID != addr {
				t.Errorf("List(%+v): %v, want the address", q, recs)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
