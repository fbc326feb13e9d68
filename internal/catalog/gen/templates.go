package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// The templates source is Azure/azure-quickstart-templates: Microsoft's own
// ARM templates, each deployed by that repository's tests, so that every
// (type, apiVersion) pair they declare is one ARM accepts. They are what
// real-world templates copy, previews that no digest of the specs lists
// included (quickstarts/microsoft.kusto/kusto-event-hub deploys
// Microsoft.Authorization/roleAssignments at 2021-04-01-preview).
//
// Every .json file whose $schema is a deployment template's
// (deploymentTemplate.json, subscriptionDeploymentTemplate.json, ...) is
// read: azuredeploy.json, the JSON that main.bicep compiles to, and the
// nested and linked templates beside them.

// armTemplate is the part of an ARM template the catalog reads.
type armTemplate struct {
	Schema     string                     `json:"$schema"`
	Parameters map[string]json.RawMessage `json:"parameters"`
	Variables  map[string]json.RawMessage `json:"variables"`
	// Resources is an array, or (languageVersion 2.0) an object of
	// resources by symbolic name.
	Resources json.RawMessage `json:"resources"`
}

// armResource is the part of a template resource the catalog reads.
type armResource struct {
	Type       string          `json:"type"`
	APIVersion string          `json:"apiVersion"`
	Resources  json.RawMessage `json:"resources"` // child resources
	Properties struct {
		Template json.RawMessage `json:"template"` // a nested deployment's inline template
	} `json:"properties"`
}

// isTemplate reports whether a $schema is that of a deployment template
// (rather than of parameters, metadata or anything else).
func isTemplate(schema string) bool {
	return strings.Contains(strings.ToLower(schema), "deploymenttemplate.json")
}

// refRe is an expression that names a parameter or a variable and nothing
// else: "[variables('storageApiVersion')]".
var refRe = regexp.MustCompile(`^\[\s*(parameters|variables)\(\s*'([^']+)'\s*\)\s*\]$`)

// templatePairs calls add with the type and api-version of every resource
// that the template text declares, nested deployments' inline templates and
// child resources included, and reports whether text is a template.
// Api-versions and types given as a parameter (its default) or a variable
// holding a literal are resolved; other expressions are skipped.
func templatePairs(text []byte, add func(typ, version string)) (bool, error) {
	text = bytes.TrimPrefix(text, []byte("\xef\xbb\xbf")) // a byte-order mark
	var tpl armTemplate
	if err := json.Unmarshal(text, &tpl); err != nil {
		// ARM reads templates more leniently than JSON: comments,
		// trailing commas and line breaks inside strings pass.
		if json.Unmarshal(relaxJSON(text), &tpl) != nil {
			return false, err
		}
	}
	if !isTemplate(tpl.Schema) {
		return false, nil
	}
	walkTemplate(&tpl, add)
	return true, nil
}

func walkTemplate(tpl *armTemplate, add func(typ, version string)) {
	literal := func(s string) string {
		m := refRe.FindStringSubmatch(s)
		if m == nil {
			return s
		}
		var raw json.RawMessage
		if m[1] == "variables" {
			raw = tpl.Variables[m[2]]
		} else if p, ok := tpl.Parameters[m[2]]; ok {
			var param struct {
				DefaultValue json.RawMessage `json:"defaultValue"`
			}
			if json.Unmarshal(p, &param) == nil {
				raw = param.DefaultValue
			}
		}
		var v string
		if json.Unmarshal(raw, &v) != nil || strings.HasPrefix(v, "[") {
			return ""
		}
		return v
	}
	var visit func(parent string, list json.RawMessage)
	visit = func(parent string, list json.RawMessage) {
		for _, r := range resourceList(list) {
			typ, version := literal(r.Type), literal(r.APIVersion)
			if typ == "" || strings.HasPrefix(typ, "[") {
				continue
			}
			switch {
			case parent != "" && !strings.Contains(typ, "/"):
				typ = parent + "/" + typ // a child: "databases" below Microsoft.Sql/servers
			case parent != "" && !strings.Contains(strings.SplitN(typ, "/", 2)[0], "."):
				continue // no namespace, and more than one segment: not a type
			}
			// "Microsoft.Web/sites/providers/roleAssignments" is an
			// extension resource whose namespace is in its name: skipped.
			if strings.Contains(strings.ToLower(typ), "/providers/") {
				continue
			}
			if version != "" {
				add(typ, version)
			}
			visit(typ, r.Resources)
			if len(r.Properties.Template) > 0 {
				var nested armTemplate
				if json.Unmarshal(r.Properties.Template, &nested) == nil {
					walkTemplate(&nested, add)
				}
			}
		}
	}
	visit("", tpl.Resources)
}

// resourceList decodes a resources member: an array of resources, or an
// object of them by symbolic name; anything else is none.
func resourceList(raw json.RawMessage) []armResource {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil
	}
	var list []armResource
	if raw[0] == '[' {
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return nil
		}
		for _, it := range items {
			var r armResource
			if json.Unmarshal(it, &r) == nil {
				list = append(list, r)
			}
		}
		return list
	}
	var byName map[string]json.RawMessage
	if json.Unmarshal(raw, &byName) != nil {
		return nil
	}
	// The order does not matter: the table sorts.
	for _, it := range byName {
		var r armResource
		if json.Unmarshal(it, &r) == nil {
			list = append(list, r)
		}
	}
	return list
}

// templatesSource adds to t the pairs of the templates of dir, a checkout of
// Azure/azure-quickstart-templates: a git repository (a work tree, or a
// bare or shallow clone, read at HEAD) or a plain copy of its files. It
// returns a description of what it read.
func templatesSource(dir string, t *table) (string, error) {
	templates, pairs, bad := 0, 0, 0
	add := func(name string, r io.Reader) error {
		text, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		ok, err := templatePairs(text, func(typ, version string) {
			if t.add(typ, version) {
				pairs++
			}
		})
		switch {
		case err != nil:
			bad++ // not even ARM's lenient JSON
		case ok:
			templates++
		}
		return nil
	}
	isJSON := func(p string) bool { return strings.HasSuffix(strings.ToLower(p), ".json") }
	var source string
	if commit, ok := gitHead(dir); ok {
		if _, err := gitFiles(dir, "", isJSON, add); err != nil {
			return "", err
		}
		source = "Azure/azure-quickstart-templates at commit " + commit
	} else {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == ".git" || d.Name() == "node_modules" {
					return filepath.SkipDir
				}
				return nil
			}
			if !isJSON(p) {
				return nil
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			return add(p, f)
		})
		if err != nil {
			return "", err
		}
		source = "a copy of Azure/azure-quickstart-templates"
	}
	if templates == 0 {
		return "", fmt.Errorf("no ARM template (a .json file with a deploymentTemplate.json $schema) under %s: is it an azure-quickstart-templates checkout?", dir)
	}
	source += fmt.Sprintf(" (%d templates, %d resource declarations with a literal type and api-version", templates, pairs)
	if bad > 0 {
		source += fmt.Sprintf("; %d .json files that do not parse skipped", bad)
	}
	return source + ")", nil
}

// relaxJSON rewrites what ARM accepts in a template beyond JSON into JSON:
// it drops // and /* */ comments and commas before a closing bracket, and
// escapes control characters (line breaks) inside strings.
func relaxJSON(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			out = append(out, c)
			for i++; i < len(b); i++ {
				c = b[i]
				if c == '\\' && i+1 < len(b) {
					out = append(out, c, b[i+1])
					i++
					continue
				}
				if c < 0x20 {
					out = append(out, fmt.Sprintf("\\u%04x", c)...)
					continue
				}
				out = append(out, c)
				if c == '"' {
					break
				}
			}
		case c == '/' && i+1 < len(b) && b[i+1] == '/':
			for i < len(b) && b[i] != '\n' {
				i++
			}
			if i < len(b) {
				out = append(out, '\n')
			}
		case c == '/' && i+1 < len(b) && b[i+1] == '*':
			end := bytes.Index(b[i+2:], []byte("*/"))
			if end < 0 {
				return out
			}
			i += 2 + end + 1
		case c == ',':
			j := i + 1
			for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\n' || b[j] == '\r') {
				j++
			}
			if j < len(b) && (b[j] == '}' || b[j] == ']') {
				continue // a trailing comma
			}
			out = append(out, c)
		default:
			out = append(out, c)
		}
	}
	return out
}
