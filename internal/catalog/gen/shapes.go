package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// shapes collects where each resource type lives and whether it carries a
// location, from the same types.json entries as the specs table: the
// ResourceType's readable and writable scopes, and the "location" member of
// its body.
type shapes struct {
	types map[string]*shape
}

type shape struct {
	scopes   int  // union of bicep ScopeType bits over every api-version
	writable bool // some api-version lets the type be written
	newest   string
	location string // as the newest api-version declares it
}

// Scope letters, in bicep's ScopeType bit order.
var scopeLetters = []struct {
	bit    int
	letter byte
}{{1, 'T'}, {2, 'M'}, {4, 'S'}, {8, 'G'}, {16, 'E'}}

func newShapes() *shapes { return &shapes{types: map[string]*shape{}} }

// add records one api-version of typ: its ResourceType entry e and the
// ObjectType of its body (nil when the body is no object).
func (s *shapes) add(typ, version string, e bicepEntry, body *bicepEntry) {
	key := strings.ToLower(typ)
	sh := s.types[key]
	if sh == nil {
		sh = &shape{}
		s.types[key] = sh
	}
	switch {
	case e.ReadableScopes != nil || e.WritableScopes != nil:
		if e.ReadableScopes != nil {
			sh.scopes |= *e.ReadableScopes
		}
		if e.WritableScopes != nil {
			sh.scopes |= *e.WritableScopes
			sh.writable = sh.writable || *e.WritableScopes != 0
		}
	case e.ScopeType != nil:
		sh.scopes |= *e.ScopeType
		sh.writable = sh.writable || e.Flags&1 == 0
	}
	if version < sh.newest {
		return
	}
	sh.newest = version
	sh.location = "none"
	if body == nil {
		return
	}
	if p, ok := body.members()["location"]; ok {
		switch {
		case p.Flags&2 != 0:
			sh.location = "readonly"
		case p.Flags&1 != 0:
			sh.location = "required"
		default:
			sh.location = "optional"
		}
	}
}

// lines returns one "Namespace/type<TAB>scopes<TAB>access<TAB>location" line
// per type of t (spelled as t spells it), sorted as t's lines are.
func (s *shapes) lines(t *table) []string {
	keys := make([]string, 0, len(t.types))
	for k := range t.types {
		if s.types[k] != nil {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		sh := s.types[k]
		var scopes []byte
		for _, l := range scopeLetters {
			if sh.scopes&l.bit != 0 {
				scopes = append(scopes, l.letter)
			}
		}
		if len(scopes) == 0 {
			scopes = []byte{'-'}
		}
		access := "r"
		if sh.writable {
			access = "rw"
		}
		out = append(out, t.types[k].name+"\t"+string(scopes)+"\t"+access+"\t"+sh.location)
	}
	return out
}

// write replaces path with header and the shapes of t's types, as table.write does.
func (s *shapes) write(path string, t *table, header []string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".catalog-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := s.writeTo(tmp, t, header); err != nil {
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

func (s *shapes) writeTo(w io.Writer, t *table, header []string) error {
	bw := bufio.NewWriter(w)
	for _, h := range header {
		fmt.Fprintln(bw, strings.TrimRight("# "+h, " "))
	}
	for _, l := range s.lines(t) {
		fmt.Fprintln(bw, l)
	}
	return bw.Flush()
}
