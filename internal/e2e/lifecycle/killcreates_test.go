package lifecycle

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/privlink/privlink/internal/testkit/fixtures"
)

// TestKillUnderConcurrentCreates kills the server (embedded store, no
// provisioning delay) with SIGKILL while 32 clients create endpoints, and
// restarts it on the same data directory: every create that was answered
// 201 is there, Succeeded, with exactly one connection on its target, and
// the target holds no connection without its endpoint. Acknowledged writes
// are in the store's redo log before the answer and reach SQLite after it,
// so a kill lands between the two for most of them.
func TestKillUnderConcurrentCreates(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	dir := t.TempDir()
	first := startChild(t, dir, 0)
	sa := seedCrashTest(t, first.env)
	target := targets()[0]

	const workers, killAfter = 32, 300
	mc := fixtures.Must(armkusto.NewManagedPrivateEndpointsClient(first.env.Subscription, first.env.Cred, first.env.Options))
	var (
		mu       sync.Mutex
		answered = map[string]bool{}
		acked    atomic.Int64
		next     atomic.Int64
		once     sync.Once
		wg       sync.WaitGroup
	)
	killed := make(chan struct{})
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-killed:
					return
				default:
				}
				name := fmt.Sprintf("mpe%05d", next.Add(1))
				var raw *http.Response
				_, err := mc.BeginCreateOrUpdate(policy.WithCaptureResponse(ctx, &raw), "adx", "mycluster", name, armkusto.ManagedPrivateEndpoint{
					Properties: &armkusto.ManagedPrivateEndpointProperties{PrivateLinkResourceID: to.Ptr(sa), GroupID: to.Ptr("blob")}}, nil)
				if err == nil && raw != nil && raw.StatusCode == http.StatusCreated {
					mu.Lock()
					answered[name] = true
					mu.Unlock()
					if acked.Add(1) == killAfter {
						once.Do(func() { first.kill(t); close(killed) })
					}
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("killed after %d acknowledged creates", acked.Load())

	second := startChild(t, dir, 0)
	mc = fixtures.Must(armkusto.NewManagedPrivateEndpointsClient(second.env.Subscription, second.env.Cred, second.env.Options))
	listed := map[string]armkusto.ProvisioningState{}
	for p := mc.NewListPager("adx", "mycluster", nil); p.More(); {
		for _, m := range fixtures.Must(p.NextPage(ctx)).Value {
			_, n, _ := strings.Cut(*m.Name, "/")
			listed[n] = *m.Properties.ProvisioningState
		}
	}
	var missing, unfinished []string
	for name := range answered {
		state, ok := listed[name]
		switch {
		case !ok:
			missing = append(missing, name)
		case state != armkusto.ProvisioningStateSucceeded:
			unfinished = append(unfinished, name+" "+string(state))
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d acknowledged creates are gone after the kill: %v", len(missing), len(answered), missing[:min(5, len(missing))])
	}
	if len(unfinished) > 0 {
		t.Errorf("%d acknowledged creates are not Succeeded: %v", len(unfinished), unfinished[:min(5, len(unfinished))])
	}
	perEndpoint := map[string]int{}
	for _, c := range target.Conns(t, second.env, "targets", "share") {
		parts := strings.Split(c.Name, ".") // {cluster}.{endpoint}.{guid}
		if len(parts) != 3 {
			t.Fatalf("connection %s: not named {cluster}.{endpoint}.{guid}", c.Name)
		}
		perEndpoint[parts[1]]++
	}
	for name, n := range perEndpoint {
		if _, ok := listed[name]; !ok || n != 1 {
			t.Errorf("endpoint %s (listed: %v) has %d connections on its target, want 1", name, ok, n)
		}
	}
	for name := range listed {
		if perEndpoint[name] != 1 {
			t.Errorf("endpoint %s has %d connections on its target, want 1", name, perEndpoint[name])
		}
	}
}
