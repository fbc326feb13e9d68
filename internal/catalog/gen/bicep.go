package main

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// The specs source is Azure/bicep-types-az: Azure compiles every
// resource-manager OpenAPI document of Azure/azure-rest-api-specs (stable and
// preview) into generated/<service>/<namespace>/<api-version>/types.json, an
// array of types among which each resource type is an object
// {"$type": "ResourceType", "name": "Microsoft.Storage/storageAccounts@2025-01-01", ...}.
// Reading those names gives every deployable or readable type at every
// api-version the specs publish, without resolving the OpenAPI documents'
// paths and references ourselves.

// bicepEntry is the part of a types.json element the catalog needs: a
// ResourceType's name, body and scopes, or an ObjectType's properties (a
// resource's body, for its location).
type bicepEntry struct {
	Type string `json:"$type"`
	Name string `json:"name"`
	Body struct {
		Ref string `json:"$ref"`
	} `json:"body"`
	// ReadableScopes and WritableScopes are bicep's ScopeType bit sets
	// (tenant 1, management group 2, subscription 4, resource group 8,
	// extension 16); older files name one set, ScopeType, and mark
	// read-only types with Flags bit 1.
	ReadableScopes *int `json:"readableScopes"`
	WritableScopes *int `json:"writableScopes"`
	ScopeType      *int `json:"scopeType"`
	Flags          int  `json:"flags"`
	// Properties are an ObjectType's members; their flags are bicep's
	// ObjectTypePropertyFlags (required 1, read-only 2, ...). A
	// DiscriminatedObjectType (a body whose shape depends on its "kind")
	// has the members all its shapes share as BaseProperties.
	Properties     map[string]bicepProperty `json:"properties"`
	BaseProperties map[string]bicepProperty `json:"baseProperties"`
}

type bicepProperty struct {
	Flags int `json:"flags"`
}

// members are the members of an object type, discriminated or not.
func (e *bicepEntry) members() map[string]bicepProperty {
	if e.Type == "DiscriminatedObjectType" {
		return e.BaseProperties
	}
	return e.Properties
}

// bicepSource reads the types.json files of a bicep-types-az checkout dir:
// either a git repository (a work tree or a bare one, read at HEAD with git,
// so that no checkout is needed) or a plain copy of the tree. It returns the
// table, the types' shapes and a description of what it read, for the data
// files' headers.
func bicepSource(dir string) (*table, *shapes, string, error) {
	t := newTable()
	sh := newShapes()
	var files int
	add := func(name string, r io.Reader) error {
		n, err := parseBicepTypes(r, t, sh)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if n > 0 {
			files++
		}
		return nil
	}
	if commit, ok := gitHead(dir); ok {
		if err := readBicepGit(dir, add); err != nil {
			return nil, nil, "", err
		}
		return t, sh, fmt.Sprintf("Azure/bicep-types-az at commit %s (%d types.json files)", commit, files), nil
	}
	root := dir
	if st, err := os.Stat(filepath.Join(dir, "generated")); err == nil && st.IsDir() {
		root = filepath.Join(dir, "generated")
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "types.json" {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return add(p, f)
	})
	if err != nil {
		return nil, nil, "", err
	}
	if files == 0 {
		return nil, nil, "", fmt.Errorf("no generated/**/types.json with resource types under %s: is it a bicep-types-az checkout?", dir)
	}
	return t, sh, fmt.Sprintf("a copy of Azure/bicep-types-az (%d types.json files)", files), nil
}

// parseBicepTypes adds the resource types of one types.json to t and their
// shapes to sh (when not nil), and returns how many it found.
func parseBicepTypes(r io.Reader, t *table, sh *shapes) (int, error) {
	var entries []bicepEntry
	if err := json.NewDecoder(r).Decode(&entries); err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if e.Type != "ResourceType" {
			continue
		}
		at := strings.LastIndexByte(e.Name, '@')
		if at < 0 {
			continue
		}
		typ, version := e.Name[:at], e.Name[at+1:]
		if !t.add(typ, version) {
			continue
		}
		n++
		if sh != nil {
			sh.add(typ, version, e, body(entries, e.Body.Ref))
		}
	}
	return n, nil
}

// body resolves a "#/N" reference to the element it names, or nil.
func body(entries []bicepEntry, ref string) *bicepEntry {
	i, err := strconv.Atoi(strings.TrimPrefix(ref, "#/"))
	if err != nil || !strings.HasPrefix(ref, "#/") || i < 0 || i >= len(entries) {
		return nil
	}
	if t := entries[i].Type; t != "ObjectType" && t != "DiscriminatedObjectType" {
		return nil
	}
	return &entries[i]
}

// gitHead returns the commit at HEAD when dir is a git repository.
func gitHead(dir string) (string, bool) {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "--verify", "HEAD").Output()
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(out)), true
}

// readBicepGit streams HEAD:generated/**/types.json out of the repository at
// dir.
func readBicepGit(dir string, add func(name string, r io.Reader) error) error {
	n, err := gitFiles(dir, "generated", func(p string) bool { return strings.HasSuffix(p, "/types.json") }, add)
	if err == nil && n == 0 {
		err = fmt.Errorf("no generated/**/types.json at HEAD in %s: is it a bicep-types-az repository?", dir)
	}
	return err
}
