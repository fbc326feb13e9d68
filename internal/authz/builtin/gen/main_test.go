package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The two shapes of a role: the Azure CLI's (flat, its id at the
// subscription it was listed in, null conditions) and ARM's.
const (
	cliRole = `{"assignableScopes":["/"],"createdBy":null,"createdOn":"2015-02-02T21:55:09.880642+00:00",
	  "description":"B & <b>","id":"/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Authorization/roleDefinitions/bbbbbbbb-0000-0000-0000-000000000000",
	  "name":"bbbbbbbb-0000-0000-0000-000000000000",
	  "permissions":[{"actions":["*"],"condition":null,"conditionVersion":null,"dataActions":[],"notActions":null,"notDataActions":[]}],
	  "roleName":"b role","roleType":"BuiltInRole","systemData":null,"type":"Microsoft.Authorization/roleDefinitions","updatedBy":null,"updatedOn":"2021-11-11T20:13:45.897885+00:00"}`
	armRole = `{"properties":{"roleName":"A role","type":"BuiltInRole","description":"A","assignableScopes":["/"],
	  "permissions":[{"actions":["x/read"],"notActions":[],"dataActions":["x/data/read"],"notDataActions":[],"condition":"@Resource[x] StringEquals 'y'","conditionVersion":"2.0"}],
	  "createdOn":"2020-01-01T00:00:00Z","updatedOn":"2020-01-02T00:00:00Z","createdBy":null,"updatedBy":null},
	  "id":"/providers/Microsoft.Authorization/roleDefinitions/aaaaaaaa-0000-0000-0000-000000000000","type":"Microsoft.Authorization/roleDefinitions","name":"aaaaaaaa-0000-0000-0000-000000000000"}`
	customRole = `{"properties":{"roleName":"mine","type":"CustomRole","description":"","assignableScopes":["/subscriptions/x"],"permissions":[]},
	  "id":"/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/cccccccc-0000-0000-0000-000000000000","name":"cccccccc-0000-0000-0000-000000000000"}`
)

func TestListingShapes(t *testing.T) {
	for _, c := range []struct{ name, data string }{
		{"array", "[" + cliRole + "," + armRole + "," + customRole + "]"},
		{"arm list", `{"value":[` + armRole + "," + cliRole + "," + customRole + `]}`},
	} {
		elems, err := listing([]byte(c.data))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		roles, err := convert(elems)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		data, err := encode(roles)
		if err != nil {
			t.Fatal(err)
		}
		want := `[
{"id":"/providers/Microsoft.Authorization/roleDefinitions/aaaaaaaa-0000-0000-0000-000000000000","type":"Microsoft.Authorization/roleDefinitions","name":"aaaaaaaa-0000-0000-0000-000000000000","properties":{"roleName":"A role","type":"BuiltInRole","description":"A","assignableScopes":["/"],"permissions":[{"actions":["x/read"],"notActions":[],"dataActions":["x/data/read"],"notDataActions":[],"condition":"@Resource[x] StringEquals 'y'","conditionVersion":"2.0"}],"createdOn":"2020-01-01T00:00:00Z","updatedOn":"2020-01-02T00:00:00Z","createdBy":null,"updatedBy":null}},
{"id":"/providers/Microsoft.Authorization/roleDefinitions/bbbbbbbb-0000-0000-0000-000000000000","type":"Microsoft.Authorization/roleDefinitions","name":"bbbbbbbb-0000-0000-0000-000000000000","properties":{"roleName":"b role","type":"BuiltInRole","description":"B & <b>","assignableScopes":["/"],"permissions":[{"actions":["*"],"notActions":[],"dataActions":[],"notDataActions":[]}],"createdOn":"2015-02-02T21:55:09.880642+00:00","updatedOn":"2021-11-11T20:13:45.897885+00:00","createdBy":null,"updatedBy":null}}
]
`
		if string(data) != want {
			t.Errorf("%s: got\n%s\nwant\n%s", c.name, data, want)
		}
		if !json.Valid(data) {
			t.Errorf("%s: invalid JSON", c.name)
		}
	}
}

func TestConvertRefuses(t *testing.T) {
	dupName := strings.Replace(strings.ReplaceAll(armRole, "aaaaaaaa", "dddddddd"), `"A role"`, `"a role "`, 1)
	badID := strings.Replace(armRole, "roleDefinitions/aaaaaaaa", "roleDefinitions/eeeeeeee", 1)
	notGUID := strings.ReplaceAll(armRole, "aaaaaaaa-0000", "aaaaaaaa-000")
	for name, data := range map[string]string{
		"same id":            "[" + armRole + "," + armRole + "]",
		"same name":          "[" + armRole + "," + dupName + "]",
		"id not ending name": "[" + badID + "]",
		"name not a GUID":    "[" + notGUID + "]",
		"no built-in role":   "[" + customRole + "]",
	} {
		elems, err := listing([]byte(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := convert(elems); err == nil {
			t.Errorf("%s: converted", name)
		}
	}
}

// A plain copy of the repository: its azure-roles/ folder, one role a file.
func TestReadDir(t *testing.T) {
	dir := t.TempDir()
	roles := filepath.Join(dir, rolesDir)
	if err := os.Mkdir(roles, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"A role.json": armRole, "b role.json": cliRole, "README.md": "not a role"} {
		if err := os.WriteFile(filepath.Join(roles, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	elems, desc, err := read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(elems) != 2 || !strings.Contains(desc, rolesDir) {
		t.Errorf("read %d elements from %s", len(elems), desc)
	}
}
