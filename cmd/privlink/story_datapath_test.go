package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/testkit"
)

// TestReadmeDataPathStory plays the README's "Data path" section: curl, an
// ordinary program, pointed at the cluster's egress by 'privlink egress',
// is refused while the endpoint is Pending, reaches the account once the
// owner approves, and an open connection (openssl s_client) is cut when
// the owner rejects.
func TestReadmeDataPathStory(t *testing.T) {
	curl, err := exec.LookPath("curl")
	testkit.Need(t, err == nil, "curl is not installed", "apt-get install curl")
	openssl, err := exec.LookPath("openssl")
	testkit.Need(t, err == nil, "openssl is not installed", "apt-get install openssl")
	env := testkit.Start(t)
	c := newCLI(t)
	c.login(env)
	sub := "/subscriptions/" + env.Subscription
	login := func(args ...string) {
		t.Helper()
		c.ok(append([]string{"login", "--endpoint", env.URL, "--ca", env.Server.CAPath()}, args...)...)
	}
	// The story so far: the cluster, the data group, its owner dana and the cluster administrator.
	c.ok("put", sub+"/resourceGroups/adx?api-version=2021-04-01", "{'location':'westus'}")
	c.ok("put", sub+"/resourceGroups/adx/providers/Microsoft.Kusto/clusters/mycluster?api-version=2024-04-13",
		"{'location':'westus','sku':{'name':'Standard_E2a_v4','tier':'Standard'}}")
	c.ok("put", sub+"/resourceGroups/data?api-version=2021-04-01", "{'location':'westus'}")
	var sp struct{ AppID, Password string }
	if err := json.Unmarshal([]byte(c.ok("sp", "create", "--name", "cluster-admin", "--role", "Contributor", "--scopes", sub+"/resourceGroups/adx").stdout), &sp); err != nil {
		t.Fatal(err)
	}
	c.ok("user", "create", "--name", "dana", "--password", "Data-owner-1")
	c.ok("role", "assignment", "create", "--assignee", "dana", "--role", "Owner", "--scope", sub+"/resourceGroups/data")

	// The section.
	LAKE := sub + "/resourceGroups/data/providers/Microsoft.Storage/storageAccounts/lake"
	c.ok("put", LAKE+"?api-version=2024-01-01", "{'location':'westus','kind':'StorageV2','sku':{'name':'Standard_LRS'},'properties':{'publicNetworkAccess':'Disabled'}}")
	login("--client-id", sp.AppID, "--client-secret", sp.Password)
	c.ok("mpe", "create", "mpeToLake", "--cluster", "mycluster", "-g", "adx", "--target", LAKE, "--group-id", "blob", "--wait")
	exports, _ := parseExports(t, c.ok("egress", "--cluster", "mycluster", "-g", "adx").stdout)
	shell := testkit.CleanEnviron()
	for k, v := range exports {
		shell = append(shell, k+"="+v)
	}
	shell = append(shell, "CURL_CA_BUNDLE="+env.Server.CAPath())
	run := func(name string, args ...string) string {
		cmd := exec.Command(name, args...)
		cmd.Env = shell
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	url := "https://lake.blob.core.windows.net/"
	if out := run(curl, "-sv", url); !strings.Contains(out, "< HTTP/1.1 403 privlink egress: pending:") || !strings.Contains(out, "public network access is disabled") {
		t.Fatalf("curl while Pending:\n%s", out)
	}
	if r := c.run("diagnose", "--cluster", "mycluster", "-g", "adx", "lake.blob.core.windows.net"); r.code != 1 || !strings.Contains(r.stdout, "✗ connection state: Pending") {
		t.Fatalf("diagnose while Pending: exit %d\n%s", r.code, r.stdout)
	}
	if r := c.ok("network", "--cluster", "mycluster", "-g", "adx"); !strings.Contains(r.stdout, "lake.blob.core.windows.net") {
		t.Fatalf("network:\n%s", r.stdout)
	}

	login("--username", "dana", "--password", "Data-owner-1")
	c.ok("pec", "approve", "mpeToLake", "--resource", LAKE)
	if out := run(curl, "-sS", url); !strings.Contains(out, `"server": "privlink built-in responder"`) || !strings.Contains(out, LAKE) {
		t.Fatalf("curl once approved:\n%s", out)
	}

	s := exec.Command(openssl, "s_client", "-quiet", "-proxy", strings.TrimPrefix(exports["HTTPS_PROXY"], "http://"), "-connect", "lake.blob.core.windows.net:443", "-servername", "lake.blob.core.windows.net")
	s.Env = shell
	stdin, err := s.StdinPipe() // kept open: the connection stays up until the server ends it
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = s.Wait(); close(done) }()
	time.Sleep(500 * time.Millisecond) // the handshake
	select {
	case <-done:
		t.Fatal("openssl s_client ended before the rejection")
	default:
	}
	c.ok("pec", "reject", "mpeToLake", "--resource", LAKE)
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		_ = s.Process.Kill()
		t.Fatal("the open connection was not cut after the rejection")
	}
	if out := run(curl, "-sv", url); !strings.Contains(out, "< HTTP/1.1 403 privlink egress: rejected:") {
		t.Fatalf("curl after rejection:\n%s", out)
	}
	login()
}
