package datapath

import (
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/privlink/privlink/internal/testkit"
)

// TestEgressLog: the egress log has one line per decision, naming the
// cluster, the destination, the path taken or the reason of a refusal, and
// the cut of open tunnels.
func TestEgressLog(t *testing.T) {
	var logs testkit.SyncBuffer
	env := testkit.Start(t, testkit.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	createRG(t, env, "rg")
	cl := createCluster(t, env, "rg", "adxlog", armkusto.PublicNetworkAccessEnabled)
	a := createAccount(t, env, "rg", "acctlog", armstorage.PublicNetworkAccessDisabled, nil)
	createAccount(t, env, "rg", "acctpublog", armstorage.PublicNetworkAccessEnabled, nil)
	e := createMPE(t, env, "rg", "adxlog", "tolog", a, "blob")
	n := networkOf(t, env, cl)
	tunnel(t, n.Egress, "acctlog.blob.core.windows.net:443")
	setState(t, env, "rg", "acctlog", e, armstorage.PrivateEndpointServiceConnectionStatusApproved)
	c, _ := tunnel(t, n.Egress, "acctlog.blob.core.windows.net:443")
	if c == nil {
		t.Fatal("no tunnel once approved")
	}
	defer c.Close()
	if c, _ := tunnel(t, n.Egress, "acctpublog.blob.core.windows.net:443"); c != nil {
		c.Close()
	}
	setState(t, env, "rg", "acctlog", e, armstorage.PrivateEndpointServiceConnectionStatusRejected)
	out := logs.String()
	for _, want := range []string{
		`egress=adxlog`,
		`destination=acctlog.blob.core.windows.net:443 action=refuse reason="privlink egress: pending:`,
		`destination=acctlog.blob.core.windows.net:443 action=tunnel`,
		`via="private endpoint: managed private endpoint tolog at 127.`,
		`destination=acctpublog.blob.core.windows.net:443 action=tunnel`,
		`via="public network: storage account 'acctpublog' allows public network access (no endpoint:`,
		`action=cut endpoint=`,
		`reason="the connection is now Rejected"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the log has no %q", want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}

// TestAddressInUse: a cluster's gateway address taken by another process
// (another privlink on the same --private-range, say) leaves its egress on
// a port the kernel picked, and the log says why.
func TestAddressInUse(t *testing.T) {
	var logs testkit.SyncBuffer
	rng := testkit.RandomRange()
	// The first cluster's network is the range's second /24 (the first is
	// the public side); its egress listens on .1:1080.
	b := rng.Addr().As4()
	gateway := netip.AddrPortFrom(netip.AddrFrom4([4]byte{b[0], b[1], 1, 1}), 1080)
	other, err := net.Listen("tcp", gateway.String())
	if err != nil {
		t.Skipf("cannot hold %s for the test: %v", gateway, err)
	}
	defer other.Close()
	env := testkit.Start(t, testkit.WithPrivateRange(rng), testkit.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	createRG(t, env, "rg")
	cl := createCluster(t, env, "rg", "adxbusy", armkusto.PublicNetworkAccessEnabled)
	n := networkOf(t, env, cl)
	if n.Egress == gateway.String() || !strings.HasPrefix(n.Egress, gateway.Addr().String()+":") {
		t.Errorf("egress %s, want %s on another port", n.Egress, gateway.Addr())
	}
	if out := logs.String(); !strings.Contains(out, "the address is in use by another process") || !strings.Contains(out, "addr="+gateway.String()) {
		t.Errorf("the log does not say the address is in use:\n%s", out)
	}
}

// TestRangeChangeSaid: a restart with another --private-range moves every
// managed network into it (the same /24 of it), and the log says so; a
// restart with the same range says nothing.
func TestRangeChangeSaid(t *testing.T) {
	var logs testkit.SyncBuffer
	first := testkit.RandomRange()
	env := testkit.Start(t, testkit.WithPrivateRange(first), testkit.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	createRG(t, env, "rg")
	cl := createCluster(t, env, "rg", "adxmoves", armkusto.PublicNetworkAccessEnabled)
	before := netip.MustParseAddrPort(networkOf(t, env, cl).Egress).Addr()
	env = env.Restart(t)
	if strings.Contains(logs.String(), "private range changed") {
		t.Fatalf("a restart with the same range says it changed:\n%s", logs.String())
	}
	second := testkit.RandomRange()
	for second == first {
		second = testkit.RandomRange()
	}
	env = env.Restart(t, testkit.WithPrivateRange(second))
	after := netip.MustParseAddrPort(networkOf(t, env, cl).Egress).Addr()
	if !second.Contains(after) || before.As4()[2] != after.As4()[2] || before.As4()[3] != after.As4()[3] {
		t.Errorf("the cluster's egress moved from %s to %s, want the same /24 and host of %s", before, after, second)
	}
	if out := logs.String(); !strings.Contains(out, "the private range changed since the last start") || !strings.Contains(out, "was="+first.String()) || !strings.Contains(out, "now="+second.String()) {
		t.Errorf("the log does not say the range changed:\n%s", out)
	}
}
