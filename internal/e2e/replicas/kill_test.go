package replicas

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/privlink/privlink/internal/testkit"
	"github.com/privlink/privlink/internal/testkit/fixtures"
)

// created is the outcome of one create.
type created struct {
	name    string
	target  int    // index in the targets used
	status  int    // the PUT's HTTP status (0: no answer)
	async   string // its Azure-AsyncOperation URL
	replica string // the index of the replica that answered (ReplicaHeader)
	err     error
}

// acked reports whether the create was acknowledged (2xx).
func (c *created) acked() bool { return c.err == nil && c.status/100 == 2 }

// TestKillReplicaUnderLoad sends 1,000 managed private endpoint creates,
// 48 at a time, round robin over three replicas, and kills one replica
// (SIGKILL) when half are acknowledged. On the survivors: every
// acknowledged create exists, every operation (those the killed replica
// started included) ends Succeeded, every endpoint (those whose answer was
// lost included) ends provisioned, and each endpoint has exactly one
// connection on its target, no connection without an endpoint. The killed
// replica then starts again and serves what the others wrote.
func TestKillReplicaUnderLoad(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	testkit.SkipUnlessSlow(t, "killing a replica under 1,000 concurrent creates")
	store := testkit.FreshSchema(t, testkit.PostgresURL(t), "privlink_replicas_kill")
	names := []string{"r1", "r2", "r3"}
	f := startFleet(t, store, fleetConfig{delay: 500 * time.Millisecond, names: names})
	env := f.env
	for i, r := range f.replicas {
		if r.name != names[i] {
			t.Errorf("replica %d started with --replica-name %s says 'replica %s'", i, names[i], r.name)
		}
	}
	fixtures.CreateRG(t, env, env.Subscription, "adx")
	fixtures.CreateRG(t, env, env.Subscription, "targets")
	fixtures.CreateCluster(t, env, "adx", "mycluster", nil)
	ts := fixtures.Targets()[:2] // a storage account and an Event Hubs namespace
	var ids []string
	for _, tc := range ts {
		ids = append(ids, tc.Create(t, env, "targets", tc.Name))
	}

	const total, workers = 1000, 48
	results := make([]created, total)
	victim := f.replicas[1]
	var acked atomic.Int64
	var killOnce sync.Once
	killed := make(chan struct{})
	kill := func() {
		killOnce.Do(func() {
			t.Logf("killing replica %s after %d acknowledged creates", victim.name, acked.Load())
			f.kill(victim)
			close(killed)
		})
	}
	mc := fixtures.Must(armkusto.NewManagedPrivateEndpointsClient(env.Subscription, env.Cred, env.Options))
	jobs := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				c := &results[i]
				c.name, c.target = fmt.Sprintf("mpe%04d", i), i%len(ts)
				var raw *http.Response
				_, c.err = mc.BeginCreateOrUpdate(policy.WithCaptureResponse(ctx, &raw), "adx", "mycluster", c.name, armkusto.ManagedPrivateEndpoint{
					Properties: &armkusto.ManagedPrivateEndpointProperties{PrivateLinkResourceID: to.Ptr(ids[c.target]), GroupID: to.Ptr(ts[c.target].Group)}}, nil)
				if raw != nil {
					c.status, c.async, c.replica = raw.StatusCode, raw.Header.Get("Azure-AsyncOperation"), raw.Header.Get(ReplicaHeader)
				}
				if c.acked() && acked.Add(1) == total/2 {
					go kill()
				}
			}
		}()
	}
	for i := range total {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	kill() // in case fewer than half were acknowledged
	<-killed
	t.Logf("%d creates in %v, %d acknowledged", total, time.Since(start).Round(time.Millisecond), acked.Load())

	// What the clients were told: acknowledged, no answer (the kill), or
	// an error, which no survivor should give.
	var lost, onVictim int
	var problems []string
	for i := range results {
		c := &results[i]
		switch {
		case c.acked():
			if _, err := url.Parse(c.async); err != nil || c.async == "" {
				problems = append(problems, fmt.Sprintf("%s: %d without an Azure-AsyncOperation URL", c.name, c.status))
			}
			if c.replica == strconv.Itoa(victim.index) {
				onVictim++
			}
		case c.status == 0:
			lost++
		default:
			problems = append(problems, fmt.Sprintf("%s: %d %v", c.name, c.status, c.err))
		}
	}
	t.Logf("acknowledged %d (%d by the killed replica), no answer %d, errors %d", acked.Load(), onVictim, lost, len(problems))
	if len(problems) > 0 {
		t.Errorf("%d creates failed with an answer (want none: a kill loses answers, a survivor answers): %s", len(problems), firstFew(problems))
	}
	if onVictim == 0 {
		t.Errorf("the killed replica acknowledged no create: the test did not kill it in the middle")
	}

	// Every acknowledged create's operation ends Succeeded on the
	// survivors, those the killed replica started included.
	token := env.Token(t)
	statuses := pollAll(t, env, token, results, 2*time.Minute)
	var notDone []string
	for i := range results {
		if c := &results[i]; c.acked() && statuses[i] != "Succeeded" {
			notDone = append(notDone, fmt.Sprintf("%s (started by replica %s): %s", c.name, c.replica, statuses[i]))
		}
	}
	if len(notDone) > 0 {
		t.Errorf("%d acknowledged creates' operations did not end Succeeded: %s", len(notDone), firstFew(notDone))
	}

	// Every acknowledged create exists; every endpoint, acknowledged or
	// not, ends provisioned.
	deadline := time.Now().Add(time.Minute)
	var list map[string]armkusto.ManagedPrivateEndpoint
	for {
		list = map[string]armkusto.ManagedPrivateEndpoint{}
		busy := 0
		for p := mc.NewListPager("adx", "mycluster", nil); p.More(); {
			for _, m := range fixtures.Must(p.NextPage(ctx)).Value {
				_, n, _ := strings.Cut(*m.Name, "/")
				list[n] = *m
				if *m.Properties.ProvisioningState != armkusto.ProvisioningStateSucceeded {
					busy++
				}
			}
		}
		if busy == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a minute after the operations, %d of %d endpoints are still not Succeeded", busy, len(list))
		}
		time.Sleep(200 * time.Millisecond)
	}
	var missing []string
	for i := range results {
		if c := &results[i]; c.acked() {
			if _, ok := list[c.name]; !ok {
				missing = append(missing, c.name)
			}
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d acknowledged creates are not in the cluster's list: %s", len(missing), firstFew(missing))
	}
	if len(list) > total {
		t.Errorf("the cluster lists %d endpoints, more than the %d created", len(list), total)
	}

	// One connection per endpoint on its target, none left over.
	for ti, tc := range ts {
		perEndpoint := map[string]int{}
		perPE := map[string]int{}
		for _, c := range tc.Conns(t, env, "targets", tc.Name) {
			parts := strings.Split(c.Name, ".") // {cluster}.{endpoint}.{guid}
			if len(parts) != 3 {
				t.Errorf("connection %s on %s: not named {cluster}.{endpoint}.{guid}", c.Name, tc.Name)
				continue
			}
			perEndpoint[parts[1]]++
			perPE[strings.ToLower(c.Properties.PrivateEndpoint.ID)]++
			if _, ok := list[parts[1]]; !ok {
				t.Errorf("connection %s on %s has no endpoint %s", c.Name, tc.Name, parts[1])
			}
		}
		for pe, n := range perPE {
			if n > 1 {
				t.Errorf("%d connections on %s for private endpoint %s", n, tc.Name, pe)
			}
		}
		for n, m := range list {
			if !strings.EqualFold(*m.Properties.PrivateLinkResourceID, ids[ti]) {
				continue
			}
			if got := perEndpoint[n]; got != 1 {
				t.Errorf("endpoint %s has %d connections on %s, want 1", n, got, tc.Name)
			}
		}
	}

	// The killed replica comes back and serves what the others wrote.
	f.restart(victim)
	resp, err := (&http.Client{Transport: f.rr.base}).Do(bearer(t, http.MethodGet, victim.url+"/subscriptions/"+env.Subscription+
		"/resourceGroups/adx/providers/Microsoft.Kusto/clusters/mycluster/managedPrivateEndpoints/mpe0999?api-version=2024-04-13", token))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, ok := list["mpe0999"]; ok && resp.StatusCode != http.StatusOK {
		t.Errorf("the restarted replica answers %s for an endpoint the others made, want 200", resp.Status)
	}
}

// pollAll reads each acknowledged create's operation status through the
// round robin until it ends or the time is up, 48 at a time, and returns
// the last status read per result ("" for those not acknowledged).
func pollAll(t *testing.T, env *testkit.Env, token string, results []created, limit time.Duration) []string {
	t.Helper()
	out := make([]string, len(results))
	deadline := time.Now().Add(limit)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range 48 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				for {
					out[i] = operationStatus(env, token, results[i].async)
					if out[i] == "Succeeded" || out[i] == "Failed" || out[i] == "Canceled" || time.Now().After(deadline) {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	for i := range results {
		if results[i].acked() {
			jobs <- i
		}
	}
	close(jobs)
	wg.Wait()
	return out
}

// operationStatus is the status an Azure-AsyncOperation URL answers, or
// what went wrong.
func operationStatus(env *testkit.Env, token, u string) string {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return err.Error()
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := env.HTTP.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var doc struct {
		Status string `json:"status"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&doc) != nil {
		return resp.Status
	}
	return doc.Status
}

// bearer is a request with a bearer token.
func bearer(t *testing.T, method, u, token string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}

// firstFew is the first ten of list, for messages.
func firstFew(list []string) string {
	if len(list) > 10 {
		return strings.Join(list[:10], "; ") + fmt.Sprintf("; and %d more", len(list)-10)
	}
	return strings.Join(list, "; ")
}
