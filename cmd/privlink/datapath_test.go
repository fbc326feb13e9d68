package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/privlink/privlink/internal/testkit"
)

// TestDataPathCLI drives the data path's commands as a user does: diagnose
// a Pending endpoint (exit 1, the fix), egress's exports, approval, diagnose
// again (exit 0), network, a bound backend reached through the egress and
// refused clearly once it is down, and the Kusto ping.
func TestDataPathCLI(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sc := must(armstorage.NewAccountsClient(f.env.Subscription, f.env.Cred, f.env.Options))
	sp := must(sc.BeginCreate(ctx, storageGroup, "locked", armstorage.AccountCreateParameters{Location: to.Ptr("westus"),
		Kind: to.Ptr(armstorage.KindStorageV2), SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)},
		Properties: &armstorage.AccountPropertiesCreateParameters{PublicNetworkAccess: to.Ptr(armstorage.PublicNetworkAccessDisabled)}}, nil))
	locked := must(sp.PollUntilDone(ctx, testkit.PollOptions))
	kc := must(armkusto.NewClustersClient(f.env.Subscription, f.env.Cred, f.env.Options))
	kp := must(kc.BeginCreateOrUpdate(ctx, adxGroup, "kustotarget", armkusto.Cluster{Location: to.Ptr("westus"),
		SKU: &armkusto.AzureSKU{Name: to.Ptr(armkusto.AzureSKUNameDevNoSLAStandardD11V2), Tier: to.Ptr(armkusto.AzureSKUTierBasic)}}, nil))
	kt := must(kp.PollUntilDone(ctx, testkit.PollOptions))

	f.asRequester()
	c := f.cli
	c.ok(args([]string{"mpe", "create", "toLocked", "--wait"}, mpeFlags(), []string{"--target", *locked.ID, "--group-id", "blob"})...)
	host := "locked.blob.core.windows.net"
	r := c.run(args([]string{"diagnose"}, mpeFlags(), []string{host})...)
	if r.code != 1 || !strings.Contains(r.stdout, "✗ connection state: Pending") || !strings.Contains(r.stdout, "to do: the owner of") || !strings.Contains(r.stdout, "✓ managed private endpoint toLocked (blob): provisioningState Succeeded") {
		t.Fatalf("diagnose while Pending: exit %d, want 1 with the Pending check and what to do\n%s%s", r.code, r.stdout, r.stderr)
	}

	exports, _ := parseExports(t, c.ok(args([]string{"egress"}, mpeFlags())...).stdout)
	egress := strings.TrimPrefix(exports["HTTPS_PROXY"], "http://")
	if exports["ALL_PROXY"] != "socks5h://"+egress || exports["HTTP_PROXY"] != exports["HTTPS_PROXY"] || exports["PRIVLINK_DNS"] == "" || !strings.Contains(exports["NO_PROXY"], "127.0.0.1") {
		t.Fatalf("egress exports = %v", exports)
	}

	conn := tableRows(c.ok("pec", "list", "--resource", *locked.ID).stdout)[0][0]
	c.ok("pec", "approve", conn, "--resource", *locked.ID)
	r = c.run(args([]string{"diagnose"}, mpeFlags(), []string{host})...)
	if r.code != 0 || strings.Contains(r.stdout, "✗") || !strings.Contains(r.stdout, "✓ TCP to "+host+":443 through the egress: connected (private endpoint") {
		t.Fatalf("diagnose once approved: exit %d, want 0 with every check passing\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := c.ok(args([]string{"mpe", "show", "toLocked"}, mpeFlags())...); parseOrdered(t, r.stdout).field("privlink", "network", "customDnsConfigs") == nil || !strings.Contains(r.stdout, `"fqdn": "`+host+`"`) {
		t.Fatalf("mpe show has no network details:\n%s", r.stdout)
	}
	r = c.ok(args([]string{"network"}, mpeFlags())...)
	if !strings.Contains(r.stdout, "toLocked") || !strings.Contains(r.stdout, host) || !strings.Contains(r.stdout, "Approved") {
		t.Fatalf("network:\n%s", r.stdout)
	}

	// A bound backend: traffic reaches it; once it is down, a clear refusal.
	ln := must(net.Listen("tcp", "127.0.0.1:0"))
	go func() {
		for {
			bc, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprint(bc, "hello from the backend\n")
			bc.Close()
		}
	}()
	c.ok("login", "--endpoint", f.env.URL, "--ca", f.env.Server.CAPath()) // the owner binds
	r = c.ok("backend", "set", "--resource", *locked.ID, "--group-id", "blob", "--to", ln.Addr().String())
	if !strings.Contains(r.stdout, ln.Addr().String()) {
		t.Fatalf("backend set: %s", r.stdout)
	}
	line, status := readThrough(t, egress, host+":443")
	if line != "hello from the backend" {
		t.Fatalf("through the egress to the bound backend: %q %q", line, status)
	}
	ln.Close()
	if _, status := readThrough(t, egress, host+":443"); !strings.Contains(status, "502") || !strings.Contains(status, "does not answer") {
		t.Fatalf("backend down: %q, want 502 saying the backend does not answer", status)
	}
	c.ok("backend", "remove", "--resource", *locked.ID, "--group-id", "blob")
	if r := c.ok("backend", "list", "--resource", *locked.ID); strings.Contains(r.stdout, ln.Addr().String()) {
		t.Fatalf("backend list after remove: %s", r.stdout)
	}
	if r := c.run("backend", "set", "--resource", *locked.ID, "--group-id", "queue", "--to", "127.0.0.1:1"); r.code != 1 || !strings.Contains(r.stderr, "InvalidGroupId") {
		t.Fatalf("backend set to a sub-resource privlink does not carry: exit %d %s", r.code, r.stderr)
	}

	// The Kusto ping through an endpoint the owner made (approved at once).
	c.ok(args([]string{"mpe", "create", "toKusto", "--wait"}, mpeFlags(), []string{"--target", *kt.ID, "--group-id", "cluster"})...)
	r = c.run(args([]string{"diagnose"}, mpeFlags(), []string{"kustotarget.westus.kusto.windows.net"})...)
	if r.code != 0 || !strings.Contains(r.stdout, `✓ Kusto ping https://kustotarget.westus.kusto.windows.net/v1/rest/ping: 200 OK "Pong!"`) {
		t.Fatalf("diagnose of a Kusto target: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := c.run(args([]string{"diagnose"}, mpeFlags(), []string{"nosuch.blob.core.windows.net"})...); r.code != 1 || !strings.Contains(r.stdout, "NXDOMAIN") {
		t.Fatalf("diagnose of an unknown name: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// readThrough sends CONNECT addr to the egress and reads one line from the
// tunnel, or returns the refusal's status line.
func readThrough(t *testing.T, egress, addr string) (string, string) {
	t.Helper()
	c := must(net.DialTimeout("tcp", egress, 5*time.Second))
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", addr, addr)
	br := bufio.NewReader(c)
	resp := must(http.ReadResponse(br, nil))
	if resp.StatusCode != 200 {
		return "", resp.Status
	}
	line, _ := br.ReadString('\n')
	return strings.TrimSpace(line), resp.Status
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
