package main

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// The rest-specs source is Azure/azure-rest-api-specs itself: every
// resource-manager OpenAPI document of a stable or preview version folder,
//
//	specification/<service>/resource-manager/<Namespace>/[<group>/]{stable,preview}/<api-version>/<name>.json
//
// read for its PUT operations. Each PUT path names a type (the segments
// below its last /providers/{Namespace}, alternating type and name), and the
// folder names its api-version. bicep-types-az compiles the same documents,
// but only those that a tag of the service's readme.md lists, and only
// versions spelled yyyy-mm-dd or yyyy-mm-dd-preview: documents no tag names
// (Microsoft.Authorization's 2021-04-01-preview role assignments) are in
// the specs, and accepted by ARM, but not in the digest.
//
// The repository is 1.3 GB; its input here is a sparse checkout holding
// only those documents (see README.md), or any copy of the tree below
// specification/ (the examples are not read).

// specDocRe matches the path of an OpenAPI document in a version folder and
// captures the api-version: examples/ and other sub-folders are left out.
var specDocRe = regexp.MustCompile(`(?:^|/)resource-manager/(?:[^/]+/)*(?:stable|preview)/([^/]+)/[^/]+\.json$`)

// specVersion returns the api-version of the document at path (slash
// separated), or false when path is no OpenAPI document of a version folder.
func specVersion(path string) (string, bool) {
	m := specDocRe.FindStringSubmatch(path)
	if m == nil || !versionRe.MatchString(m[1]) {
		return "", false
	}
	return m[1], true
}

// openAPIDoc is the part of an OpenAPI (Swagger 2.0) document the catalog
// needs: its paths and the operations on each.
type openAPIDoc struct {
	Paths    map[string]map[string]json.RawMessage `json:"paths"`
	XMsPaths map[string]map[string]json.RawMessage `json:"x-ms-paths"`
}

// putTypes returns the resource types that the document's PUT operations
// create, sorted.
func putTypes(r io.Reader) ([]string, error) {
	var doc openAPIDoc
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, paths := range []map[string]map[string]json.RawMessage{doc.Paths, doc.XMsPaths} {
		for p, ops := range paths {
			for method := range ops {
				if !strings.EqualFold(method, "put") {
					continue
				}
				if typ, ok := putType(p); ok {
					set[typ] = true
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out, nil
}

// putType returns the type of the resource a PUT path creates: the deepest
// type of the path (see typesOfPath), provided the path ends on that type's
// name. A path that ends on a type segment ("/providers/Microsoft.X/things")
// or whose walk stops at a placeholder type creates nothing the catalog can
// name.
func putType(p string) (string, bool) {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i] // x-ms-paths disambiguate with a query
	}
	types := typesOfPath(p)
	if len(types) == 0 {
		return "", false
	}
	segs := strings.Split(strings.Trim(p, "/"), "/")
	last := -1
	for i := 0; i+1 < len(segs); i++ {
		if strings.EqualFold(segs[i], "providers") {
			last = i
		}
	}
	rest := segs
	if last >= 0 {
		rest = segs[last+2:]
	}
	// Below the namespace (or from the root, for ARM's own paths) each
	// pair of segments is a type and its name, and gives one type.
	if len(rest) == 0 || len(rest)%2 != 0 || len(types) != len(rest)/2 {
		return "", false
	}
	return types[len(types)-1], true
}

// restSpecsSource reads the OpenAPI documents below dir, a checkout of
// Azure/azure-rest-api-specs (sparse or whole) or a copy of some of its
// specification/ tree. It returns the table and a description of what it
// read, for the data file's header: the commit when dir is a git work tree,
// and the namespaces when they are few.
func restSpecsSource(dir string) (*table, string, error) {
	t := newTable()
	docs, skipped := 0, 0
	folders := map[string]bool{}
	namespaces := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" || d.Name() == "examples" || d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		version, ok := specVersion(rel)
		if !ok {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		types, err := putTypes(f)
		if err != nil {
			// A few documents of the specs are no JSON the decoder
			// takes (a byte-order mark, a stray comma): say so and go on.
			fmt.Fprintf(os.Stderr, "gen: skipping %s: %v\n", rel, err)
			skipped++
			return nil
		}
		docs++
		folders[rel[:strings.LastIndexByte(rel, '/')]] = true
		for _, typ := range types {
			if t.add(typ, version) {
				ns, _, _ := strings.Cut(typ, "/")
				namespaces[strings.ToLower(ns)] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	if docs == 0 {
		return nil, "", fmt.Errorf("no specification/*/resource-manager/**/{stable,preview}/<api-version>/*.json under %s: is it an azure-rest-api-specs checkout?", dir)
	}
	counts := fmt.Sprintf("%d OpenAPI documents in %d version folders", docs, len(folders))
	if skipped > 0 {
		counts += fmt.Sprintf("; %d that do not parse skipped", skipped)
	}
	var source string
	if commit, ok := gitHead(dir); ok {
		source = fmt.Sprintf("Azure/azure-rest-api-specs at commit %s (%s)", commit, counts)
	} else {
		source = fmt.Sprintf("a copy of part of Azure/azure-rest-api-specs (%s)", counts)
	}
	if len(namespaces) <= 40 {
		source += " of " + strings.Join(namespaceNames(t), ", ")
	}
	return t, source, nil
}

// namespaceNames returns the namespaces of t's types, spelled as its types
// spell them, sorted case-insensitively.
func namespaceNames(t *table) []string {
	seen := map[string]string{}
	for _, e := range t.types {
		ns, _, _ := strings.Cut(e.name, "/")
		if _, ok := seen[strings.ToLower(ns)]; !ok || ns < seen[strings.ToLower(ns)] {
			seen[strings.ToLower(ns)] = ns
		}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = seen[k]
	}
	return out
}
