package lifecycle

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/privlink/privlink/internal/identity"
	pstore "github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/testkit"
	"github.com/privlink/privlink/internal/testkit/fixtures"
)

// TestTwoReplicas runs the approval story across two in-process replicas on
// one PostgreSQL database, each step's write on one and its read on the
// other: the same CA, tokens from one valid at the other, access control
// and the endpoint's state following the other replica's writes at once,
// and the data path's endpoints answered by both (one runs it, the other
// forwards).
func TestTwoReplicas(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	store := testkit.FreshSchema(t, testkit.PostgresURL(t), "privlink_"+strings.ToLower(t.Name()))
	a := testkit.Start(t, testkit.WithStore(store))
	b := testkit.Start(t, testkit.WithStore(store))
	if a.Server.Replica() == b.Server.Replica() {
		t.Fatalf("both replicas are named %q", a.Server.Replica())
	}
	ca1 := fixtures.Must(os.ReadFile(a.Server.CAPath()))
	ca2 := fixtures.Must(os.ReadFile(b.Server.CAPath()))
	if !bytes.Equal(ca1, ca2) {
		t.Fatal("the replicas have different CAs")
	}
	for _, name := range []string{"signing-key.pem", "portal-key", "msi-secret"} {
		x := fixtures.Must(os.ReadFile(filepath.Join(a.Dir, name)))
		y := fixtures.Must(os.ReadFile(filepath.Join(b.Dir, name)))
		if !bytes.Equal(x, y) {
			t.Fatalf("the replicas have different %s", name)
		}
	}

	// Resources made at A; a requester (made at A: a role definition, a
	// principal, an assignment) creates the endpoint at B with A's token.
	fixtures.CreateRG(t, a, a.Subscription, "adx")
	createCluster(t, a, "adx", "rcluster1", nil)
	target := targets()[0].Create(t, a, "adx", "shared1") // a storage account
	req := a.Requester(t)
	mc := fixtures.Must(armkusto.NewManagedPrivateEndpointsClient(b.Subscription, req.Cred, b.Options))
	poller := fixtures.Must(mc.BeginCreateOrUpdate(ctx, "adx", "rcluster1", "mpe1", armkusto.ManagedPrivateEndpoint{Properties: &armkusto.ManagedPrivateEndpointProperties{
		PrivateLinkResourceID: to.Ptr(target), GroupID: to.Ptr("blob"), RequestMessage: to.Ptr("Please approve."),
	}}, nil))
	mpe := fixtures.Must(poller.PollUntilDone(ctx, testkit.PollOptions))
	if got := *mpe.Properties.ProvisioningState; got != armkusto.ProvisioningStateSucceeded {
		t.Fatalf("endpoint provisioningState = %s", got)
	}
	if st := fixtures.StateOf(t, a, *mpe.ID); st.ConnectionState != "Pending" {
		t.Fatalf("read at A: connection state %q, want Pending (the requester may not approve)", st.ConnectionState)
	}
	// The owner approves at A; B answers Approved at once.
	pc := fixtures.Must(armstorage.NewPrivateEndpointConnectionsClient(a.Subscription, a.Cred, a.Options))
	conns := pc.NewListPager("adx", "shared1", nil)
	page := fixtures.Must(conns.NextPage(ctx))
	if len(page.Value) != 1 {
		t.Fatalf("%d connections on the target, want 1", len(page.Value))
	}
	conn := page.Value[0]
	conn.Properties.PrivateLinkServiceConnectionState.Status = to.Ptr(armstorage.PrivateEndpointServiceConnectionStatusApproved)
	conn.Properties.PrivateLinkServiceConnectionState.Description = to.Ptr("ok")
	fixtures.Must(pc.Put(ctx, "adx", "shared1", *conn.Name, *conn, nil))
	if st := fixtures.StateOf(t, b, *mpe.ID); st.ConnectionState != "Approved" {
		t.Fatalf("read at B right after the approval at A: %q, want Approved", st.ConnectionState)
	}
	// The data path's view of the endpoint, from both replicas.
	var bodies []string
	for _, env := range []*testkit.Env{a, b} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			r, _ := http.NewRequest(http.MethodGet, env.URL+"/_privlink/network?id="+url.QueryEscape(*mpe.ID), nil)
			r.Header.Set("Authorization", "Bearer "+a.Token(t))
			resp := fixtures.Must(env.HTTP.Do(r))
			body := fixtures.Must(io.ReadAll(resp.Body))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				bodies = append(bodies, string(body))
				break
			}
			// 503 only while no replica has taken the data path yet.
			if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
				t.Fatalf("network at %s: %s %s", env.URL, resp.Status, body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if bodies[0] != bodies[1] {
		t.Fatalf("the replicas disagree on the endpoint's network:\n%s\n%s", bodies[0], bodies[1])
	}
	if !strings.Contains(bodies[0], `"Approved"`) && !strings.Contains(bodies[0], "127.") {
		t.Fatalf("network answer without the endpoint's address: %s", bodies[0])
	}

	// A portal session opened at A is open at B (the key that seals it is
	// shared), and B's pages show what A wrote.
	hc := *a.HTTP
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp := fixtures.Must(hc.PostForm(a.URL+"/signin", url.Values{"username": {identity.DefaultClientID}, "password": {identity.DefaultClientSecret}}))
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "privlink_session" {
			cookie = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || cookie == nil {
		t.Fatalf("sign-in at A: %s, cookie %v", resp.Status, cookie)
	}
	r, _ := http.NewRequest(http.MethodGet, b.URL+"/browse/resourcegroups", nil)
	r.AddCookie(cookie)
	resp = fixtures.Must(hc.Do(r))
	html := string(fixtures.Must(io.ReadAll(resp.Body)))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(html, ">adx<") {
		t.Fatalf("B's resource groups page with A's session: %s, the group made at A shown: %v", resp.Status, strings.Contains(html, ">adx<"))
	}
}

// TestDeploymentMovesToAnotherReplica stops the replica whose runner works
// on a template deployment half-way; another replica on the same database
// takes the deployment over once the runner's claim lapses and finishes
// it, each resource deployed once (one deployment operation each), while
// no two runners ever work on it at once.
func TestDeploymentMovesToAnotherReplica(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	store := testkit.FreshSchema(t, testkit.PostgresURL(t), "privlink_"+strings.ToLower(t.Name()))
	a := testkit.Start(t, testkit.WithStore(store), testkit.WithDelay(600*time.Millisecond))
	b := testkit.Start(t, testkit.WithStore(store), testkit.WithDelay(600*time.Millisecond))
	fixtures.CreateRG(t, a, a.Subscription, "adx")
	tmpl := clusterChain()
	deps := fixtures.Must(armresources.NewDeploymentsClient(a.Subscription, a.Cred, a.Options))
	fixtures.Must(deps.BeginCreateOrUpdate(ctx, "adx", "moved", armresources.Deployment{Properties: &armresources.DeploymentProperties{
		Mode: to.Ptr(armresources.DeploymentModeIncremental), Template: tmpl}}, nil))
	time.Sleep(900 * time.Millisecond)
	// Which replica's runner holds it? Stop that one.
	holder, other := a, b
	switch runner := deploymentRunner(t, a, "moved"); runner {
	case a.Server.Replica():
	case b.Server.Replica():
		holder, other = b, a
	default:
		t.Fatalf("the deployment's runner is %q, neither replica (%s, %s)", runner, a.Server.Replica(), b.Server.Replica())
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := holder.Server.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	deps = fixtures.Must(armresources.NewDeploymentsClient(other.Subscription, other.Cred, other.Options))
	awaitDeployment(t, deps, "adx", "moved", "after its replica stopped")
	ops := 0
	pager := fixtures.Must(armresources.NewDeploymentOperationsClient(other.Subscription, other.Cred, other.Options)).NewListPager("adx", "moved", nil)
	for pager.More() {
		ops += len(fixtures.Must(pager.NextPage(ctx)).Value)
	}
	if ops != 3 {
		t.Fatalf("%d deployment operations, want one per resource (3)", ops)
	}
}

// deploymentRunner reads which replica's runner holds a deployment, from
// its operation's document in the store.
func deploymentRunner(t *testing.T, env *testkit.Env, name string) string {
	t.Helper()
	var runner string
	err := env.Server.Engine().Store().View(ctx, func(tx pstore.Tx) error {
		key := pstore.Key("/subscriptions/" + env.Subscription + "/resourceGroups/adx/providers/Microsoft.Resources/deployments/" + name)
		rec, err := tx.Get(key)
		if err != nil {
			return err
		}
		var meta struct{ Op string }
		if err := json.Unmarshal(rec.Meta, &meta); err != nil || meta.Op == "" {
			return fmt.Errorf("deployment %s has no operation in its meta (%s)", name, rec.Meta)
		}
		op, err := tx.GetOperation(meta.Op)
		if err != nil {
			return err
		}
		var doc struct{ Runner string }
		if err := json.Unmarshal(op.Doc, &doc); err != nil {
			return err
		}
		runner = doc.Runner
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return runner
}
