package replicas

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/testkit"
	"github.com/privlink/privlink/internal/testkit/fixtures"
)

// TestLifecycleRoundRobin runs the whole lifecycle against each of the
// seven target types through three replicas, the SDK's requests spread
// round robin over them, every read right after a write served by another
// replica than the write: resource groups, a cluster, the targets, then per
// target a managed private endpoint created (Pending on the target), the
// connection approved through the target's privateEndpointConnections (the
// endpoint shows Approved), the endpoint listed and deleted (its
// connection gone). Also: the replicas say distinct names, present one CA's
// certificates, and accept each other's tokens; privlink env works for any
// of them from the store alone.
func TestLifecycleRoundRobin(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	store := testkit.FreshSchema(t, testkit.PostgresURL(t), "privlink_replicas")
	f := startFleet(t, store, fleetConfig{})
	env := f.env

	// Names: distinct, each HOSTNAME:PORT by default.
	host, _ := os.Hostname()
	seen := map[string]bool{}
	for _, r := range f.replicas {
		if seen[r.name] {
			t.Fatalf("two replicas say 'replica %s' (%s)", r.name, f)
		}
		seen[r.name] = true
		_, port, _ := net.SplitHostPort(r.addr)
		if got, want := r.name, host+":"+port; got != want {
			t.Errorf("replica at %s says 'replica %s', want the default name %s (HOSTNAME:PORT)", r.addr, got, want)
		}
	}

	// Tokens: one from the first replica's token endpoint is accepted by
	// all; one from the last replica's by the first.
	direct := &http.Client{Transport: f.rr.base}
	listRGs := func(r *replica, token string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, r.url+"/subscriptions/"+env.Subscription+"/resourcegroups?api-version=2021-04-01", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := direct.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("replica %s answers %s to a token it did not issue, want 200", r.name, resp.Status)
		}
	}
	first := env.Token(t)
	for _, r := range f.replicas {
		listRGs(r, first)
	}
	last := f.replicas[len(f.replicas)-1]
	cred := fixtures.Must(azidentity.NewClientSecretCredential(identity.DefaultTenantID, identity.DefaultClientID, identity.DefaultClientSecret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: policy.ClientOptions{Cloud: testkit.Cloud(last.url), Transport: direct}, DisableInstanceDiscovery: true}))
	tok := fixtures.Must(cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://management.core.windows.net//.default"}}))
	listRGs(f.replicas[0], tok.Token)

	// privlink env for the second replica, from the store: its CA is the
	// fleet's.
	second := f.replicas[1]
	cmd := exec.Command(f.bin, "env", "--addr", second.addr, "--store", f.store)
	cmd.Env, cmd.Dir = testkit.CleanEnviron(), t.TempDir()
	exports, _, err := testkit.ParseExports(string(testkit.Output(t, cmd)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := exports["PRIVLINK_ENDPOINT"], second.url; got != want {
		t.Errorf("privlink env --addr %s: PRIVLINK_ENDPOINT=%s, want %s", second.addr, got, want)
	}
	if ca, err := os.ReadFile(exports["NODE_EXTRA_CA_CERTS"]); err != nil || !samePEM(ca, f.ca) {
		t.Errorf("privlink env --store: NODE_EXTRA_CA_CERTS=%s does not hold the replicas' CA (%v)", exports["NODE_EXTRA_CA_CERTS"], err)
	}
	if bundle, err := os.ReadFile(exports["SSL_CERT_FILE"]); err != nil || !strings.Contains(string(bundle), strings.TrimSpace(string(f.ca))) {
		t.Errorf("privlink env --store: SSL_CERT_FILE=%s does not hold the replicas' CA (%v)", exports["SSL_CERT_FILE"], err)
	}

	// A developer without the store's URL: a directory that env --store
	// filled serves as --data for any replica; an empty one is refused
	// with a hint at --store (each replica's own directory is no better).
	shared := t.TempDir()
	cmd = exec.Command(f.bin, "env", "--addr", second.addr, "--store", f.store, "--data", shared)
	cmd.Env, cmd.Dir = testkit.CleanEnviron(), t.TempDir()
	testkit.Output(t, cmd)
	cmd = exec.Command(f.bin, "env", "--addr", f.replicas[2].addr, "--data", shared)
	cmd.Env, cmd.Dir = testkit.CleanEnviron(), t.TempDir()
	if exports, _, err := testkit.ParseExports(string(testkit.Output(t, cmd))); err != nil || exports["PRIVLINK_ENDPOINT"] != f.replicas[2].url {
		t.Errorf("privlink env --data (filled by env --store): %v %v", exports, err)
	}
	cmd = exec.Command(f.bin, "env", "--addr", second.addr, "--data", t.TempDir())
	cmd.Env, cmd.Dir = testkit.CleanEnviron(), t.TempDir()
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); err == nil || code != 2 || !strings.Contains(string(out), "replica "+second.name+" of a shared store") || !strings.Contains(string(out), "--store URL") {
		t.Errorf("privlink env --data (empty) at a replica: exit %d, %s; want exit 2 naming the replica and --store", code, out)
	}

	f.rr.served()
	fixtures.CreateRG(t, env, env.Subscription, "adx")
	fixtures.CreateRG(t, env, env.Subscription, "targets")
	cluster := "mycluster"
	fixtures.CreateCluster(t, env, "adx", cluster, nil)
	mc := fixtures.Must(armkusto.NewManagedPrivateEndpointsClient(env.Subscription, env.Cred, env.Options))
	for i, tc := range fixtures.Targets() {
		t.Run(tc.Group, func(t *testing.T) {
			defer fixtures.FailOnPanic(t)
			id := tc.Create(t, env, "targets", tc.Name)

			// Create: Succeeded, with a Pending connection carrying the message.
			name := fmt.Sprintf("mpe%d", i)
			mpe, err := fixtures.CreateMPE(t, env, "adx", cluster, name, id, tc.Group, "Please Approve.")
			if err != nil {
				t.Fatal(err)
			}
			if got, want := *mpe.Properties.ProvisioningState, armkusto.ProvisioningStateSucceeded; got != want {
				t.Fatalf("provisioningState = %s, want %s", got, want)
			}
			conns := tc.Conns(t, env, "targets", tc.Name)
			if len(conns) != 1 {
				t.Fatalf("connections on target = %d, want 1", len(conns))
			}
			if got, want := conns[0].Properties.State.Status, "Pending"; got != want {
				t.Fatalf("connection status = %q, want %q", got, want)
			}
			if got, want := conns[0].Properties.State.Description, "Please Approve."; got != want {
				t.Fatalf("connection description = %q, want the request message %q", got, want)
			}
			if got, want := fixtures.StateOf(t, env, *mpe.ID).ConnectionState, "Pending"; got != want {
				t.Fatalf("endpoint connection state = %q, want %q", got, want)
			}

			// Approve through the target: both sides read Approved at once.
			if err := tc.Set(t, env, "targets", tc.Name, conns[0].Name, "Approved", "Approved by the owner"); err != nil {
				t.Fatal(err)
			}
			if got := tc.Conns(t, env, "targets", tc.Name)[0].Properties.State; got.Status != "Approved" || got.Description != "Approved by the owner" {
				t.Fatalf("after approval the connection reads %+v", got)
			}
			if st := fixtures.StateOf(t, env, *mpe.ID); st.ConnectionState != "Approved" || st.Description != "Approved by the owner" {
				t.Fatalf("after approval the endpoint reads %+v", st)
			}

			// List: the endpoint is there.
			found := false
			for p := mc.NewListPager("adx", cluster, nil); p.More(); {
				for _, m := range fixtures.Must(p.NextPage(ctx)).Value {
					found = found || strings.EqualFold(*m.ID, *mpe.ID)
				}
			}
			if !found {
				t.Fatalf("the cluster's list has no %s", *mpe.ID)
			}

			// Delete: the endpoint and its connection are gone.
			fixtures.DeleteMPE(t, env, "adx", cluster, name)
			if n := len(tc.Conns(t, env, "targets", tc.Name)); n != 0 {
				t.Fatalf("connections after deleting the endpoint = %d, want 0", n)
			}
			if _, err := mc.Get(ctx, "adx", cluster, name, nil); err == nil {
				t.Fatal("the deleted endpoint still reads")
			}
		})
	}
	checkCrossed(t, f.rr.served(), len(f.replicas))
}

// checkCrossed checks what the round robin recorded: every replica served
// writes and reads, and no read followed a write on the same replica.
func checkCrossed(t *testing.T, log []served, n int) {
	t.Helper()
	writes, reads := make([]int, n), make([]int, n)
	lastWrite := -1
	for _, s := range log {
		if isRead(s.method) {
			reads[s.replica]++
			if s.replica == lastWrite {
				t.Errorf("%s %s was served by replica %d, which took the write before it", s.method, s.path, s.replica)
			}
			continue
		}
		writes[s.replica]++
		lastWrite = s.replica
	}
	for i := range n {
		if writes[i] == 0 || reads[i] == 0 {
			t.Errorf("replica %d served %d writes and %d reads, want some of each (writes %v, reads %v)", i, writes[i], reads[i], writes, reads)
		}
	}
	t.Logf("requests per replica: writes %v, reads %v", writes, reads)
}
