package lifecycle

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/privlink/privlink/internal/app"
	"github.com/privlink/privlink/internal/testkit"
	"github.com/privlink/privlink/internal/testkit/fixtures"
)

// TestMain doubles as a privlink server process for the crash test: with
// PRIVLINK_TEST_CHILD_DATA set, the test binary serves and never returns, so
// that the test can kill it like any crashing process.
func TestMain(m *testing.M) {
	if dir := os.Getenv("PRIVLINK_TEST_CHILD_DATA"); dir != "" {
		delay, _ := time.ParseDuration(os.Getenv("PRIVLINK_TEST_CHILD_DELAY"))
		s, err := app.Start(context.Background(), app.Config{Addr: "127.0.0.1:0", DataDir: dir, ProvisioningDelay: delay})
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(3)
		}
		fmt.Println(s.URL())
		select {}
	}
	os.Exit(m.Run())
}

// child is a privlink server in another process.
type child struct {
	cmd *exec.Cmd
	env *testkit.Env
}

func startChild(t *testing.T, dir string, delay time.Duration) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PRIVLINK_TEST_CHILD_DATA="+dir, "PRIVLINK_TEST_CHILD_DELAY="+delay.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("child server did not start: %v", err)
	}
	url := strings.TrimSpace(line)
	return &child{cmd: cmd, env: testkit.Connect(t, url, filepath.Join(dir, "ca.pem"), nil, app.Config{DataDir: dir})}
}

// kill ends the child with SIGKILL: no shutdown, no flushing.
func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = c.cmd.Wait()
}

// TestCrashDuringProvisioning kills the server while an endpoint is
// Creating; after a restart the operation finishes, and everything
// acknowledged before the kill is there.
func TestCrashDuringProvisioning(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	dir := t.TempDir()

	first := startChild(t, dir, 0)
	sa := seedCrashTest(t, first.env)
	first.kill(t)

	second := startChild(t, dir, 2*time.Second)
	mc := fixtures.Must(armkusto.NewManagedPrivateEndpointsClient(second.env.Subscription, second.env.Requester(t).Cred, second.env.Options))
	poller := fixtures.Must(mc.BeginCreateOrUpdate(ctx, "adx", "mycluster", "survivor", armkusto.ManagedPrivateEndpoint{Properties: &armkusto.ManagedPrivateEndpointProperties{
		PrivateLinkResourceID: to.Ptr(sa), GroupID: to.Ptr("blob"), RequestMessage: to.Ptr("Please Approve."),
	}}, nil))
	if poller.Done() {
		t.Fatal("the create finished before the crash; the test needs it in flight")
	}
	got := fixtures.Must(mc.Get(ctx, "adx", "mycluster", "survivor", nil))
	if state := *got.Properties.ProvisioningState; state != armkusto.ProvisioningStateCreating {
		t.Fatalf("before the crash the endpoint is %s, want Creating", state)
	}
	second.kill(t)

	third := startChild(t, dir, 0)
	mc = fixtures.Must(armkusto.NewManagedPrivateEndpointsClient(third.env.Subscription, third.env.Cred, third.env.Options))
	deadline := time.Now().Add(20 * time.Second)
	for {
		got = fixtures.Must(mc.Get(ctx, "adx", "mycluster", "survivor", nil))
		if *got.Properties.ProvisioningState == armkusto.ProvisioningStateSucceeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart the endpoint is still %s", *got.Properties.ProvisioningState)
		}
		time.Sleep(100 * time.Millisecond)
	}
	conns := targets()[0].Conns(t, third.env, "targets", "share")
	if len(conns) != 1 || conns[0].Properties.State.Status != "Pending" {
		t.Fatalf("the connection written with the endpoint did not survive the crash: %+v", conns)
	}
}

// TestRestart stops the server gracefully and checks that all state is back.
func TestRestart(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	env := testkit.Start(t)
	fixtures.CreateRG(t, env, env.Subscription, "adx")
	fixtures.CreateRG(t, env, env.Subscription, "targets")
	createCluster(t, env, "adx", "mycluster", nil)
	eh := targets()[1]
	ehID := eh.Create(t, env, "targets", "myeventhubns")
	mpe := fixtures.Must(fixtures.CreateMPE(t, env, "adx", "mycluster", "mpeToEventHub", ehID, "namespace", "Please Approve."))
	pec := eh.Conns(t, env, "targets", "myeventhubns")[0].Name
	if err := eh.Set(t, env, "targets", "myeventhubns", pec, "Approved", "ok"); err != nil {
		t.Fatal(err)
	}

	env = env.Restart(t)
	mc := fixtures.Must(armkusto.NewManagedPrivateEndpointsClient(env.Subscription, env.Cred, env.Options))
	got := fixtures.Must(mc.Get(ctx, "adx", "mycluster", "mpeToEventHub", nil))
	if *got.ID != *mpe.ID || *got.Properties.ProvisioningState != armkusto.ProvisioningStateSucceeded || *got.Properties.RequestMessage != "Please Approve." {
		t.Fatalf("after restart the endpoint reads %+v", got.Properties)
	}
	if got, want := fixtures.StateOf(t, env, *mpe.ID).ConnectionState, "Approved"; got != want {
		t.Fatalf("after restart the connection reads %q, want %q", got, want)
	}
	if got, want := eh.Conns(t, env, "targets", "myeventhubns")[0].Properties.State.Status, "Approved"; got != want {
		t.Fatalf("after restart the target's connection reads %q, want %q", got, want)
	}
}
