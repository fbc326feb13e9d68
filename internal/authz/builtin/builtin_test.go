package builtin

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func init() {
	// The embedded file must parse; the package itself never panics on it.
	if err := Err(); err != nil {
		panic(err)
	}
}

// required are the roles privlink's users reach for, by roleName. Azure
// Data Explorer (Microsoft.Kusto) has no built-in Azure roles of its own:
// its clusters and databases grant access through their own principal
// assignments, and Owner, Contributor and Reader manage the resources.
var required = []string{
	"Owner", "Contributor", "Reader", "User Access Administrator",
	"Role Based Access Control Administrator",
	"Network Contributor", "Private DNS Zone Contributor",
	// Storage
	"Storage Account Contributor", "Storage Account Key Operator Service Role",
	"Storage Blob Data Owner", "Storage Blob Data Contributor", "Storage Blob Data Reader",
	"Storage Queue Data Contributor", "Storage Queue Data Reader",
	"Storage Queue Data Message Sender", "Storage Queue Data Message Processor",
	"Storage Table Data Contributor", "Storage Table Data Reader",
	"Storage File Data Privileged Contributor", "Storage File Data Privileged Reader",
	"Storage File Data SMB Share Contributor", "Storage File Data SMB Share Reader",
	"Storage File Data SMB Share Elevated Contributor",
	// Event Hubs
	"Azure Event Hubs Data Owner", "Azure Event Hubs Data Sender", "Azure Event Hubs Data Receiver",
	// Key Vault
	"Key Vault Administrator", "Key Vault Contributor", "Key Vault Reader",
	"Key Vault Secrets Officer", "Key Vault Secrets User",
	"Key Vault Crypto Officer", "Key Vault Crypto User",
	"Key Vault Certificates Officer", "Key Vault Data Access Administrator",
	// SQL
	"SQL Server Contributor", "SQL DB Contributor", "SQL Security Manager", "SQL Managed Instance Contributor",
	// IoT Hub
	"IoT Hub Data Contributor", "IoT Hub Data Reader", "IoT Hub Registry Contributor", "IoT Hub Twin Contributor",
	// Digital Twins
	"Azure Digital Twins Data Owner", "Azure Digital Twins Data Reader",
	// Managed identities
	"Managed Identity Contributor", "Managed Identity Operator",
}

func TestRequiredRoles(t *testing.T) {
	if n := len(All()); n < 900 {
		t.Errorf("%d roles, want Azure's whole list (928 when generated)", n)
	}
	for _, name := range required {
		r := ByName(name)
		if r == nil {
			t.Errorf("no role %q", name)
			continue
		}
		if r.Name != name {
			t.Errorf("ByName(%q).Name = %q", name, r.Name)
		}
		if ByID(r.ID) != r {
			t.Errorf("ByID(%s) is not %q", r.ID, name)
		}
		if len(r.Permissions) == 0 {
			t.Errorf("%q has no permissions", name)
		}
	}
}

// Well-known ids and permissions, as Azure defines them.
func TestWellKnownRoles(t *testing.T) {
	for _, c := range []struct {
		id, name string
		actions  []string
		notIncl  []string // notActions that must be among the role's
		dataIncl []string // dataActions that must be among the role's
	}{
		{id: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", name: "Owner", actions: []string{"*"}},
		{id: "b24988ac-6180-42a0-ab88-20f7382dd24c", name: "Contributor", actions: []string{"*"},
			notIncl: []string{"Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write", "Microsoft.Authorization/elevateAccess/Action"}},
		{id: "acdd72a7-3385-48ef-bd42-f606fba81ae7", name: "Reader", actions: []string{"*/read"}},
		{id: "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", name: "User Access Administrator",
			actions: []string{"*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"}},
		{id: "f58310d9-a9f6-439a-9e8d-f62e7b41a168", name: "Role Based Access Control Administrator",
			actions: []string{"Microsoft.Authorization/roleAssignments/write", "Microsoft.Authorization/roleAssignments/delete", "*/read", "Microsoft.Support/*"}},
		{id: "4d97b98b-1d4f-4787-a291-c67834d212e7", name: "Network Contributor"},
		{id: "ba92f5b4-2d11-453d-a403-e96b0029c9fe", name: "Storage Blob Data Contributor",
			dataIncl: []string{"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"}},
		{id: "b7e6dc6d-f1e8-4753-8033-0f276bb0955b", name: "Storage Blob Data Owner"},
		{id: "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", name: "Storage Blob Data Reader"},
	} {
		r := ByID(c.id)
		if r == nil {
			t.Errorf("no role %s (%s)", c.id, c.name)
			continue
		}
		if r.Name != c.name || ByName(c.name) != r {
			t.Errorf("role %s is %q, want %q", c.id, r.Name, c.name)
		}
		if len(r.Permissions) != 1 {
			t.Errorf("%s: %d permissions, want 1", c.name, len(r.Permissions))
			continue
		}
		p := r.Permissions[0]
		if c.actions != nil && !slices.Equal(p.Actions, c.actions) {
			t.Errorf("%s: actions %q, want %q", c.name, p.Actions, c.actions)
		}
		for _, a := range c.notIncl {
			if !slices.Contains(p.NotActions, a) {
				t.Errorf("%s: notActions %q lack %q", c.name, p.NotActions, a)
			}
		}
		for _, a := range c.dataIncl {
			if !slices.Contains(p.DataActions, a) {
				t.Errorf("%s: dataActions %q lack %q", c.name, p.DataActions, a)
			}
		}
	}
	if !slices.Contains(ByName("Network Contributor").Permissions[0].Actions, "Microsoft.Network/*") {
		t.Error("Network Contributor does not allow Microsoft.Network/*")
	}
}

func TestConditions(t *testing.T) {
	r := ByName("Key Vault Data Access Administrator")
	var found bool
	for _, p := range r.Permissions {
		if p.Condition != "" {
			found = true
			if p.ConditionVersion != "2.0" {
				t.Errorf("condition version %q", p.ConditionVersion)
			}
			// It may assign Key Vault Secrets User, not Owner.
			if !strings.Contains(p.Condition, "4633458b-17de-408a-b874-0445c86b69e6") || strings.Contains(p.Condition, "8e3af657") {
				t.Errorf("unexpected condition %q", p.Condition)
			}
		}
	}
	if !found {
		t.Error("Key Vault Data Access Administrator has no condition")
	}
	for _, p := range ByName("Owner").Permissions {
		if p.Condition != "" || p.ConditionVersion != "" {
			t.Errorf("Owner has a condition: %+v", p)
		}
	}
}

func TestLookups(t *testing.T) {
	owner := ByID("8e3af657-a8ff-443c-a75c-2fe8c4bcb635")
	for _, id := range []string{
		"8E3AF657-A8FF-443C-A75C-2FE8C4BCB635",
		"/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
		"/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
	} {
		if ByID(id) != owner {
			t.Errorf("ByID(%q) is not Owner", id)
		}
	}
	for _, name := range []string{"owner", "OWNER", " Owner "} {
		if ByName(name) != owner {
			t.Errorf("ByName(%q) is not Owner", name)
		}
	}
	for _, s := range []string{"", "Owners", "8e3af657-a8ff-443c-a75c-2fe8c4bcb636"} {
		if ByID(s) != nil || ByName(s) != nil {
			t.Errorf("%q found a role", s)
		}
	}
	// A real roleName with a trailing space.
	if r := ByName("Azure Arc VMware Administrator role"); r == nil || r.Name != "Azure Arc VMware Administrator role " {
		t.Errorf("ByName without the trailing space: %+v", r)
	}
}

var guidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// Every element has ARM's shape at 2022-04-01, ids and names are unique,
// and the file is sorted.
func TestElements(t *testing.T) {
	ids := map[string]bool{}
	names := map[string]bool{}
	var prev string
	for i, r := range All() {
		if !guidRE.MatchString(r.ID) {
			t.Errorf("%q: id %q is not a lower-case GUID", r.Name, r.ID)
		}
		if ids[r.ID] {
			t.Errorf("id %s twice", r.ID)
		}
		ids[r.ID] = true
		key := strings.ToLower(strings.TrimSpace(r.Name))
		if names[key] {
			t.Errorf("name %q twice", r.Name)
		}
		names[key] = true
		if i > 0 && strings.ToLower(prev) > strings.ToLower(r.Name) {
			t.Errorf("%q sorts before %q", prev, r.Name)
		}
		prev = r.Name
		if r.Description == "" {
			t.Errorf("%q has no description", r.Name)
		}

		var e struct {
			ID         *string `json:"id"`
			Type       *string `json:"type"`
			Name       *string `json:"name"`
			Properties *struct {
				RoleName         *string                       `json:"roleName"`
				Type             *string                       `json:"type"`
				Description      *string                       `json:"description"`
				AssignableScopes *[]string                     `json:"assignableScopes"`
				Permissions      *[]map[string]json.RawMessage `json:"permissions"`
				CreatedOn        *string                       `json:"createdOn"`
				UpdatedOn        *string                       `json:"updatedOn"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(r.Raw, &e); err != nil {
			t.Fatalf("%q: %v", r.Name, err)
		}
		p := e.Properties
		switch {
		case e.ID == nil || *e.ID != "/providers/Microsoft.Authorization/roleDefinitions/"+r.ID,
			e.Type == nil || *e.Type != "Microsoft.Authorization/roleDefinitions",
			e.Name == nil || *e.Name != r.ID,
			p == nil || p.RoleName == nil || *p.RoleName != r.Name,
			p.Type == nil || *p.Type != "BuiltInRole",
			p.Description == nil,
			p.AssignableScopes == nil || len(*p.AssignableScopes) == 0,
			p.Permissions == nil || len(*p.Permissions) == 0,
			p.CreatedOn == nil || p.UpdatedOn == nil:
			t.Errorf("%q lacks a field of ARM's shape: %s", r.Name, r.Raw)
			continue
		}
		for _, perm := range *p.Permissions {
			for _, k := range []string{"actions", "notActions", "dataActions", "notDataActions"} {
				var list []string
				if err := json.Unmarshal(perm[k], &list); err != nil || list == nil {
					t.Errorf("%q: permission %s is %s, want an array", r.Name, k, perm[k])
				}
			}
			for k := range perm {
				switch k {
				case "actions", "notActions", "dataActions", "notDataActions", "condition", "conditionVersion":
				default:
					t.Errorf("%q: unexpected permission field %q", r.Name, k)
				}
			}
		}
		// Re-marshals to the same valid JSON.
		var v any
		if err := json.Unmarshal(r.Raw, &v); err != nil {
			t.Fatal(err)
		}
		out, err := json.Marshal(v)
		if err != nil || !json.Valid(out) {
			t.Errorf("%q does not re-marshal: %v", r.Name, err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, r.Raw); err != nil || !bytes.Equal(compact.Bytes(), r.Raw) {
			t.Errorf("%q: Raw is not the compact element", r.Name)
		}
	}
}

// The parser refuses what the generator never writes.
func TestParseErrors(t *testing.T) {
	for _, data := range []string{
		`{}`,
		`[{"name":"","properties":{"roleName":"X"}}]`,
		`[{"name":"a","properties":{"roleName":"X"}},{"name":"A","properties":{"roleName":"Y"}}]`,
		`[{"name":"a","properties":{"roleName":"X"}},{"name":"b","properties":{"roleName":"x "}}]`,
	} {
		if _, err := parse([]byte(data)); err == nil {
			t.Errorf("parse(%s) succeeded", data)
		}
	}
}
