package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/testkit"
)

// TestReadmeAccessControlStory plays the README's "Access control: who may
// ask, who approves" section command by command: the cluster administrator
// asks, the data owner approves by hand, then a custom approver role makes
// the next endpoint approved at once. Logins name the server and its CA
// with flags where the README's shell has them from 'privlink env'.
func TestReadmeAccessControlStory(t *testing.T) {
	env := testkit.Start(t)
	c := newCLI(t)
	c.login(env)
	S := env.Subscription
	sub := "/subscriptions/" + S
	login := func(args ...string) {
		t.Helper()
		c.ok(append([]string{"login", "--endpoint", env.URL, "--ca", env.Server.CAPath()}, args...)...)
	}
	// The quick start's cluster.
	c.ok("put", sub+"/resourceGroups/adx?api-version=2021-04-01", "{'location':'westus'}")
	c.ok("put", sub+"/resourceGroups/adx/providers/Microsoft.Kusto/clusters/mycluster?api-version=2024-04-13",
		"{'location':'westus','sku':{'name':'Standard_E2a_v4','tier':'Standard'}}")

	// As the default principal.
	c.ok("put", sub+"/resourceGroups/data?api-version=2021-04-01", "{'location':'westus'}")
	SA := sub + "/resourceGroups/data/providers/Microsoft.Storage/storageAccounts/datashare"
	c.ok("put", SA+"?api-version=2024-01-01", "{'location':'westus','kind':'StorageV2','sku':{'name':'Standard_LRS'}}")
	var sp struct{ AppID, Password string }
	if err := json.Unmarshal([]byte(c.ok("sp", "create", "--name", "cluster-admin", "--role", "Contributor", "--scopes", sub+"/resourceGroups/adx").stdout), &sp); err != nil {
		t.Fatal(err)
	}
	APP, SECRET := sp.AppID, sp.Password
	c.ok("user", "create", "--name", "dana", "--password", "Data-owner-1")
	c.ok("role", "assignment", "create", "--assignee", "dana", "--role", "Owner", "--scope", sub+"/resourceGroups/data")

	// The cluster administrator asks.
	login("--client-id", APP, "--client-secret", SECRET)
	r := c.ok("mpe", "create", "mpeToShare", "--cluster", "mycluster", "-g", "adx", "--target", SA, "--group-id", "blob", "--message", "Please Approve.")
	if !strings.Contains(r.stderr, "connection: Pending on "+SA) {
		t.Fatalf("mpe create as the cluster administrator: %s", r.stderr)
	}
	if r := c.run("pec", "list", "--resource", SA); r.code != 1 || !strings.Contains(r.stdout+r.stderr, "AuthorizationFailed") {
		t.Fatalf("pec list as the cluster administrator: exit %d, want 1 with AuthorizationFailed\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A SQL server's connection too, which its owner approves with --wait:
	// SQL answers 202 and keeps the connection "Ready", so only the
	// operation says when the approval is done.
	login()
	SQL := sub + "/resourceGroups/data/providers/Microsoft.Sql/servers/datasql"
	c.ok("put", SQL+"?api-version=2021-11-01", "{'location':'westus','properties':{'administratorLogin':'dana','administratorLoginPassword':'Data-owner-1!'}}")
	login("--client-id", APP, "--client-secret", SECRET)
	c.ok("mpe", "create", "toSQL", "--cluster", "mycluster", "-g", "adx", "--target", SQL, "--group-id", "sqlServer")
	login("--username", "dana", "--password", "Data-owner-1")
	done := make(chan result, 1)
	go func() { done <- c.run("pec", "approve", "toSQL", "--resource", SQL, "--wait") }()
	select {
	case r := <-done:
		if r.code != 0 || !strings.Contains(r.stderr, "operation: Succeeded") {
			t.Fatalf("pec approve --wait on a SQL server: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("pec approve --wait on a SQL server is still waiting after 30 s")
	}

	// The data owner approves.
	rows := tableRows(c.ok("pec", "list", "--resource", SA).stdout)
	if len(rows) != 1 || rows[0][1] != "Pending" || rows[0][2] != "Please Approve." {
		t.Fatalf("pec list as the data owner: %v, want one Pending with the request message", rows)
	}
	r = c.ok("pec", "approve", "mpeToShare", "--resource", SA, "--description", "Approved by the data owner.")
	if got := parseOrdered(t, r.stdout).str("properties", "privateLinkServiceConnectionState", "status"); got != "Approved" {
		t.Fatalf("pec approve: %q", got)
	}

	// Automatic approval through a custom role.
	login()
	c.ok("role", "definition", "create", "--role-definition", "{'Name':'Storage private endpoint approver','Actions':['Microsoft.Storage/storageAccounts/privateEndpointConnectionsApproval/action'],'AssignableScopes':['/subscriptions/"+S+"']}")
	c.ok("role", "assignment", "create", "--assignee", APP, "--role", "Storage private endpoint approver", "--scope", SA)
	login("--client-id", APP, "--client-secret", SECRET)
	r = c.ok("mpe", "create", "mpeToShare2", "--cluster", "mycluster", "-g", "adx", "--target", SA, "--group-id", "blob")
	if !strings.Contains(r.stderr, "connection: Approved on "+SA) {
		t.Fatalf("mpe create with the approver role: %s", r.stderr)
	}
	states := map[string]string{}
	for _, row := range tableRows(c.ok("mpe", "list", "--cluster", "mycluster", "-g", "adx").stdout) {
		states[row[0]] = row[3]
	}
	if states["mpeToShare"] != "Approved" || states["mpeToShare2"] != "Approved" {
		t.Fatalf("mpe list: %v, want both Approved", states)
	}

	// The approver role grants no read of the connections: the cluster
	// administrator cannot list them, and still rejects one by its name.
	login()
	var conn string
	for _, row := range tableRows(c.ok("pec", "list", "--resource", SA).stdout) {
		if strings.Contains(row[0], ".mpeToShare2.") {
			conn = row[0]
		}
	}
	if conn == "" {
		t.Fatal("pec list: no connection of mpeToShare2")
	}
	login("--client-id", APP, "--client-secret", SECRET)
	r = c.ok("pec", "reject", conn, "--resource", SA)
	if got := parseOrdered(t, r.stdout).str("properties", "privateLinkServiceConnectionState", "status"); got != "Rejected" {
		t.Fatalf("pec reject with the approver role: %q\n%s", got, r.stdout)
	}
	// Without the list, an endpoint's name cannot stand for its connection:
	// refused before anything is sent (a DELETE of the name would "succeed").
	for _, verb := range []string{"reject", "remove"} {
		if r := c.run("pec", verb, "mpeToShare", "--resource", SA); r.code != 2 || !strings.Contains(r.stderr, "cannot be listed here") {
			t.Fatalf("pec %s by the endpoint's name with the approver role: exit %d, want 2 and why the name cannot be used\n%s%s", verb, r.code, r.stdout, r.stderr)
		}
	}

	// A principal with no role at all is refused the connections'
	// read, not the subscription's providers' read, which it did not ask for.
	var nobody struct{ AppID, Password string }
	login()
	if err := json.Unmarshal([]byte(c.ok("sp", "create", "--name", "nobody").stdout), &nobody); err != nil {
		t.Fatal(err)
	}
	login("--client-id", nobody.AppID, "--client-secret", nobody.Password)
	if r := c.run("pec", "list", "--resource", SA); r.code != 1 || !strings.Contains(r.stdout+r.stderr, "privateEndpointConnections/read") {
		t.Fatalf("pec list with no role: exit %d, want 1 with the connections' read refused\n%s%s", r.code, r.stdout, r.stderr)
	}
}
