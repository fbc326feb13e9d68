// Command gen rebuilds internal/authz/builtin/roles.json, Azure's built-in
// role definitions, from a listing of them as Azure serves them.
//
// The source (-src) is one of:
//
//   - a checkout of github.com/easimon/azure-builtin-roles (a work tree, or a
//     bare or shallow clone, read at HEAD with git: nothing needs checking
//     out), whose azure-roles/ folder holds one file per built-in role, the
//     output of `az role definition list` refreshed daily;
//   - a plain directory of such files (azure-roles/ itself, or a copy of the
//     repository holding it), one role definition per *.json file;
//   - one JSON file: the array `az role definition list -o json` prints, or
//     ARM's own list, {"value": [...]}, as
//     `az rest --method get --url "/providers/Microsoft.Authorization/roleDefinitions?api-version=2022-04-01"`
//     returns it.
//
// Both shapes of a role are read: the flat one of the Azure CLI (roleName,
// roleType, permissions, ... beside id) and ARM's (them under properties).
// Only built-in roles are kept. Each is written in the shape ARM serves a
// role definition at api-version 2022-04-01, with its tenant-level id
// (/providers/Microsoft.Authorization/roleDefinitions/<guid>, whatever
// subscription the listing was made in), one role a line, sorted by
// roleName case-insensitively. Permissions carry condition and
// conditionVersion when the source gives them a value.
//
// Run it from internal/authz/builtin, as go generate does:
//
//	AZURE_BUILTIN_ROLES=/path/to/azure-builtin-roles go generate ./internal/authz/builtin
//
// Without -src it leaves roles.json as it is. It prints what it read (the
// commit of a git checkout) for the package documentation.
package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// rolesDir is the folder of easimon/azure-builtin-roles that holds the roles.
const rolesDir = "azure-roles"

func main() {
	src := flag.String("src", "", "a checkout of easimon/azure-builtin-roles (git work tree, bare clone or plain copy), a directory of role files, or a JSON file of roles; empty leaves -out as it is")
	out := flag.String("out", "roles.json", "the file to write")
	flag.Parse()
	if *src == "" {
		fmt.Fprintln(os.Stderr, "gen: no -src (set AZURE_BUILTIN_ROLES to a checkout of easimon/azure-builtin-roles); roles.json left as it is")
		return
	}
	elems, desc, err := read(*src)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	roles, err := convert(elems)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	data, err := encode(roles)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	fmt.Printf("%s: %d built-in roles from %s\n", *out, len(roles), desc)
}

// read returns the role elements of src and a description of what it read.
func read(src string) ([]json.RawMessage, string, error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, "", err
	}
	if !st.IsDir() {
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, "", err
		}
		elems, err := listing(data)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", src, err)
		}
		return elems, "the listing " + filepath.Base(src), nil
	}
	if commit, date, ok := gitHead(src); ok {
		elems, err := readGit(src)
		if err != nil {
			return nil, "", err
		}
		return elems, fmt.Sprintf("easimon/azure-builtin-roles at commit %s (%s), %s/", commit, date, rolesDir), nil
	}
	dir := src
	if st, err := os.Stat(filepath.Join(src, rolesDir)); err == nil && st.IsDir() {
		dir = filepath.Join(src, rolesDir)
	}
	elems, err := readDir(dir)
	if err != nil {
		return nil, "", err
	}
	return elems, "the files of " + dir, nil
}

// listing splits a JSON file into its role elements: an array of roles,
// ARM's {"value": [...]}, or a single role.
func listing(data []byte) ([]json.RawMessage, error) {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '[' {
		var elems []json.RawMessage
		err := json.Unmarshal(data, &elems)
		return elems, err
	}
	var list struct {
		Value []json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, err
	}
	if list.Value != nil {
		return list.Value, nil
	}
	return []json.RawMessage{data}, nil
}

// readDir reads every *.json file below dir, in path order.
func readDir(dir string) ([]json.RawMessage, error) {
	var elems []json.RawMessage
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		es, err := listing(data)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		elems = append(elems, es...)
		return nil
	})
	if err == nil && len(elems) == 0 {
		err = fmt.Errorf("no role files (*.json) under %s", dir)
	}
	return elems, err
}

// gitHead returns the commit at HEAD of the repository at dir and its date,
// when dir is one: the top of a work tree or a bare repository (not a
// folder inside some other repository).
func gitHead(dir string) (commit, date string, ok bool) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", "", false
	}
	out, err := exec.Command("git", "-C", dir, "rev-parse", "--absolute-git-dir").Output()
	if err != nil {
		return "", "", false
	}
	if gd := strings.TrimSpace(string(out)); gd != abs && gd != filepath.Join(abs, ".git") {
		return "", "", false
	}
	out, err = exec.Command("git", "-C", dir, "log", "-1", "--format=%H %cs").Output()
	if err != nil {
		return "", "", false
	}
	commit, date, ok = strings.Cut(strings.TrimSpace(string(out)), " ")
	return commit, date, ok
}

// readGit reads the role files of azure-roles/ at HEAD of the repository at
// dir, through git archive.
func readGit(dir string) ([]json.RawMessage, error) {
	cmd := exec.Command("git", "-C", dir, "archive", "--format=tar", "HEAD", rolesDir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	data, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git archive HEAD %s in %s: %v: %s", rolesDir, dir, err, strings.TrimSpace(stderr.String()))
	}
	var elems []json.RawMessage
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg || !strings.HasSuffix(h.Name, ".json") {
			continue
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		es, err := listing(body)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", h.Name, err)
		}
		elems = append(elems, es...)
	}
	if len(elems) == 0 {
		return nil, fmt.Errorf("no role files in %s/ at HEAD of %s: is it a checkout of easimon/azure-builtin-roles?", rolesDir, dir)
	}
	return elems, nil
}

// source is a role definition in either shape: the Azure CLI's, flat, or
// ARM's, whose fields are under properties (Properties non-nil).
type source struct {
	ID         string      `json:"id"`
	Name       string      `json:"name"`
	Properties *sourceProp `json:"properties"`
	sourceProp
}

type sourceProp struct {
	RoleName         string             `json:"roleName"`
	RoleType         string             `json:"roleType"` // the CLI's
	Type             string             `json:"type"`     // ARM's, under properties
	Description      *string            `json:"description"`
	AssignableScopes []string           `json:"assignableScopes"`
	Permissions      []sourcePermission `json:"permissions"`
	CreatedOn        string             `json:"createdOn"`
	UpdatedOn        string             `json:"updatedOn"`
	CreatedBy        *string            `json:"createdBy"`
	UpdatedBy        *string            `json:"updatedBy"`
}

type sourcePermission struct {
	Actions          []string `json:"actions"`
	NotActions       []string `json:"notActions"`
	DataActions      []string `json:"dataActions"`
	NotDataActions   []string `json:"notDataActions"`
	Condition        *string  `json:"condition"`
	ConditionVersion *string  `json:"conditionVersion"`
}

// role is a role definition as ARM serves it at api-version 2022-04-01; the
// field order is the JSON's.
type role struct {
	ID         string   `json:"id"`
	Type       string   `json:"type"`
	Name       string   `json:"name"`
	Properties roleProp `json:"properties"`
}

type roleProp struct {
	RoleName         string       `json:"roleName"`
	Type             string       `json:"type"`
	Description      string       `json:"description"`
	AssignableScopes []string     `json:"assignableScopes"`
	Permissions      []permission `json:"permissions"`
	CreatedOn        string       `json:"createdOn,omitempty"`
	UpdatedOn        string       `json:"updatedOn,omitempty"`
	CreatedBy        *string      `json:"createdBy"`
	UpdatedBy        *string      `json:"updatedBy"`
}

type permission struct {
	Actions          []string `json:"actions"`
	NotActions       []string `json:"notActions"`
	DataActions      []string `json:"dataActions"`
	NotDataActions   []string `json:"notDataActions"`
	Condition        *string  `json:"condition,omitempty"`
	ConditionVersion *string  `json:"conditionVersion,omitempty"`
}

const (
	builtIn      = "BuiltInRole"
	resourceType = "Microsoft.Authorization/roleDefinitions"
	idPrefix     = "/providers/" + resourceType + "/"
)

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// convert turns the source elements into the built-in roles, checked
// (a GUID name matching the id, a roleName, ids and names unique) and sorted.
func convert(elems []json.RawMessage) ([]role, error) {
	var roles []role
	ids := map[string]string{}
	names := map[string]string{}
	for _, e := range elems {
		var s source
		if err := json.Unmarshal(e, &s); err != nil {
			return nil, err
		}
		p := s.sourceProp
		if s.Properties != nil {
			p = *s.Properties
		}
		if p.RoleType != builtIn && p.Type != builtIn {
			continue
		}
		r, err := convertOne(s.ID, s.Name, p)
		if err != nil {
			return nil, err
		}
		key := strings.ToLower(r.Name)
		if prev, dup := ids[key]; dup {
			return nil, fmt.Errorf("role id %s twice: %q and %q", r.Name, prev, r.Properties.RoleName)
		}
		ids[key] = r.Properties.RoleName
		nkey := strings.ToLower(strings.TrimSpace(r.Properties.RoleName))
		if prev, dup := names[nkey]; dup {
			return nil, fmt.Errorf("role name %q twice: %s and %s", r.Properties.RoleName, prev, r.Name)
		}
		names[nkey] = r.Name
		roles = append(roles, r)
	}
	if len(roles) == 0 {
		return nil, errors.New("no built-in roles in the source")
	}
	slices.SortFunc(roles, func(a, b role) int {
		if c := strings.Compare(strings.ToLower(a.Properties.RoleName), strings.ToLower(b.Properties.RoleName)); c != 0 {
			return c
		}
		return strings.Compare(a.Properties.RoleName, b.Properties.RoleName)
	})
	return roles, nil
}

// convertOne builds one role from its source fields.
func convertOne(id, name string, p sourceProp) (role, error) {
	if !guidRE.MatchString(name) {
		return role{}, fmt.Errorf("role %q: name %q is not a GUID", p.RoleName, name)
	}
	if !strings.EqualFold(id[strings.LastIndexByte(id, '/')+1:], name) {
		return role{}, fmt.Errorf("role %q: id %q does not end in its name %s", p.RoleName, id, name)
	}
	if p.RoleName == "" {
		return role{}, fmt.Errorf("role %s has no roleName", name)
	}
	if p.Description == nil {
		return role{}, fmt.Errorf("role %q has no description", p.RoleName)
	}
	r := role{
		ID:   idPrefix + name,
		Type: resourceType,
		Name: name,
		Properties: roleProp{
			RoleName:         p.RoleName,
			Type:             builtIn,
			Description:      *p.Description,
			AssignableScopes: nonNil(p.AssignableScopes),
			Permissions:      []permission{},
			CreatedOn:        p.CreatedOn,
			UpdatedOn:        p.UpdatedOn,
			CreatedBy:        p.CreatedBy,
			UpdatedBy:        p.UpdatedBy,
		},
	}
	for _, sp := range p.Permissions {
		r.Properties.Permissions = append(r.Properties.Permissions, permission{
			Actions:          nonNil(sp.Actions),
			NotActions:       nonNil(sp.NotActions),
			DataActions:      nonNil(sp.DataActions),
			NotDataActions:   nonNil(sp.NotDataActions),
			Condition:        sp.Condition,
			ConditionVersion: sp.ConditionVersion,
		})
	}
	return r, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// encode writes the roles as a JSON array, one role a line, without HTML
// escaping (descriptions keep their & and <).
func encode(roles []role) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteString("[\n")
	for i, r := range roles {
		if err := enc.Encode(r); err != nil {
			return nil, err
		}
		if i < len(roles)-1 {
			buf.Truncate(buf.Len() - 1) // Encode's newline
			buf.WriteString(",\n")
		}
	}
	buf.WriteString("]\n")
	return buf.Bytes(), nil
}
