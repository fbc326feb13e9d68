package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeploy: the seed's template through 'privlink deploy group create'
// with a parameters file and KEY=VALUE overrides; what-if and validate;
// a failing deployment exits 1 listing its failures.
func TestDeploy(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	seed, err := os.ReadFile("../../testdata/templates/seed/azuredeploy.json")
	if err != nil {
		t.Fatal(err)
	}
	tmpl := filepath.Join(dir, "azuredeploy.json")
	if err := os.WriteFile(tmpl, seed, 0o644); err != nil {
		t.Fatal(err)
	}
	params := filepath.Join(dir, "azuredeploy.parameters.json")
	if err := os.WriteFile(params, []byte(`{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {
    "cluster_name": {"value": "deploycluster"},
    "eventhub_resource_id": {"value": "`+f.eventHubID+`"},
    "managed_pe_eventhub_name": {"value": "mpeToEventHub"},
    "managed_pe_storage_name": {"value": "placeholder"}
  }
}`), 0o644); err != nil {
		t.Fatal(err)
	}
	common := []string{"-g", adxGroup, "--template-file", tmpl, "--parameters", "@" + params,
		"--parameters", "storage_resource_id=" + f.storageID, "-p", "managed_pe_storage_name=mpeToStorage"}

	r := f.cli.run(append([]string{"deploy", "group", "validate"}, common...)...)
	if r.code != 0 || !strings.Contains(r.stdout, `"validatedResources"`) {
		t.Fatalf("validate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = f.cli.run(append([]string{"deploy", "group", "what-if"}, common...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "+ ") || !strings.Contains(r.stdout, "3 to create") {
		t.Fatalf("what-if: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = f.cli.run(append([]string{"deploy", "group", "create"}, common...)...)
	if r.code != 0 {
		t.Fatalf("create: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A line per resource, in the order they ended, then the result.
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) < 4 {
		t.Fatalf("create printed %q", r.stdout)
	}
	order := []string{"deploycluster", "deploycluster/mpeToEventHub", "deploycluster/mpeToStorage"}
	for i, want := range order {
		if !strings.Contains(lines[i], "✓") || !strings.Contains(lines[i], " "+want+" ") {
			t.Fatalf("line %d is %q, want %s succeeded\n%s", i, lines[i], want, r.stdout)
		}
	}
	if !strings.Contains(lines[len(lines)-1], "Deployment succeeded") {
		t.Fatalf("create printed %q", r.stdout)
	}
	// The name defaults to the template file's, as az does.
	f.cli.ok("get", "/subscriptions/"+f.env.Subscription+"/resourcegroups/"+adxGroup+"/providers/Microsoft.Resources/deployments/azuredeploy?api-version=2021-04-01")

	// A failing deployment: exit 1, the failure named.
	r = f.cli.run("deploy", "group", "create", "-g", adxGroup, "-f", tmpl, "-n", "broken", "-p", "@"+params,
		"-p", "storage_resource_id="+f.eventHubID, "-p", "managed_pe_storage_name=wronggroup")
	// The last poll's HTTP status (200) is no part of the failure.
	if r.code != 1 || !strings.Contains(r.stdout, "✗") || !strings.Contains(r.stderr, "privlink: deployment failed: DeploymentFailed") || !strings.Contains(r.stderr, "InvalidGroupId") {
		t.Fatalf("failing create: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// The API's line numbers are the file's: the template is sent as
	// written, with a comment (JSON.NET's reading keeps the lines).
	lined := filepath.Join(dir, "lined.json")
	if err := os.WriteFile(lined, []byte(`// a comment
{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {
    "name": { "type": "string" }
  },
  "resources": []
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	r = f.cli.run("deploy", "group", "validate", "-g", adxGroup, "-f", lined)
	if r.code != 1 || !strings.Contains(r.stdout, "The value for the template parameter 'name' at line '6' and column '") {
		t.Fatalf("a missing parameter declared on line 6: exit %d, want 1 with the file's line\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Usage errors.
	for _, args := range [][]string{
		{"deploy", "group", "create", "--template-file", tmpl},
		{"deploy", "group", "create", "-g", adxGroup},
		{"deploy", "group", "create", "-g", adxGroup, "-f", tmpl, "-p", "@" + filepath.Join(dir, "missing.json")},
		{"deploy", "sub", "create", "-f", tmpl},
	} {
		if r := f.cli.run(args...); r.code != 2 {
			t.Fatalf("%v: exit %d, want 2\n%s", args, r.code, r.stderr)
		}
	}
}

func TestParameterValue(t *testing.T) {
	tests := []struct{ typ, in, want string }{
		{"int", "42", "42"},
		{"bool", "true", "true"},
		{"string", "42", `"42"`},
		{"", "hello", `"hello"`},
		{"object", `{"a":1}`, `{"a":1}`},
		{"", `["x"]`, `["x"]`},
		{"securestring", "p@ss", `"p@ss"`},
	}
	for _, tt := range tests {
		got, err := parameterValue(tt.typ, tt.in)
		if err != nil || string(got) != tt.want {
			t.Errorf("parameterValue(%q, %q) = %s, %v; want %s", tt.typ, tt.in, got, err, tt.want)
		}
	}
	for _, tt := range []struct{ typ, in string }{{"int", "x"}, {"bool", "maybe"}, {"array", "[1,"}} {
		if _, err := parameterValue(tt.typ, tt.in); err == nil {
			t.Errorf("parameterValue(%q, %q) accepted it", tt.typ, tt.in)
		}
	}
}
