package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// versionRe is the shape of an ARM api-version: a date, optionally with a
// suffix ("2021-06-01-preview", "2022-05-01-privatepreview").
var versionRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(-[A-Za-z0-9.]+)?$`)

// typeRe is the shape of a resource type: a namespace and one or more type
// segments, none of them a {placeholder}.
var typeRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.\-]*(/[A-Za-z0-9_.\-]+)+$`)

// table collects api-versions by resource type. Types are matched
// case-insensitively, as ARM matches them; the spelling kept is the one seen
// with the newest api-version, since spellings that changed over time (e.g.
// "microsoft.insights" to "Microsoft.Insights") settle on the current one.
type table struct {
	types map[string]*entry
}

type entry struct {
	name     string // spelling kept
	newest   string // the newest api-version seen with that spelling
	versions map[string]bool
}

func newTable() *table { return &table{types: map[string]*entry{}} }

// add records that typ has api-version v; ill-formed pairs are ignored and
// reported as false.
func (t *table) add(typ, v string) bool {
	if !typeRe.MatchString(typ) || !versionRe.MatchString(v) {
		return false
	}
	key := strings.ToLower(typ)
	e := t.types[key]
	if e == nil {
		e = &entry{name: typ, newest: v, versions: map[string]bool{}}
		t.types[key] = e
	}
	if v > e.newest || (v == e.newest && typ < e.name) {
		e.name, e.newest = typ, v
	}
	e.versions[v] = true
	return true
}

// lines returns the table in the catalog's format: one
// "Namespace/type<TAB>v1,v2,..." line per type, types sorted
// case-insensitively, versions oldest first.
func (t *table) lines() []string {
	keys := make([]string, 0, len(t.types))
	for k := range t.types {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		e := t.types[k]
		vs := make([]string, 0, len(e.versions))
		for v := range e.versions {
			vs = append(vs, v)
		}
		sort.Strings(vs)
		out = append(out, e.name+"\t"+strings.Join(vs, ","))
	}
	return out
}

// write replaces path with header (each line prefixed "# ") and the table,
// through a temporary file so that a failed run leaves the old file whole.
func (t *table) write(path string, header []string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".catalog-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := t.writeTo(tmp, header); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func (t *table) writeTo(w io.Writer, header []string) error {
	bw := bufio.NewWriter(w)
	for _, h := range header {
		fmt.Fprintln(bw, strings.TrimRight("# "+h, " "))
	}
	for _, l := range t.lines() {
		fmt.Fprintln(bw, l)
	}
	return bw.Flush()
}
