package replicas

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/privlink/privlink/internal/testkit"
	"github.com/privlink/privlink/internal/testkit/fixtures"
)

// outcome is one request of the load.
type outcome struct {
	method, name string
	start, end   time.Time
	status       int
	retryAfter   string
	code         string // the ARM error code of an error answer
	err          error
}

func (o outcome) String() string {
	s := fmt.Sprintf("%s %s at %s (%v)", o.method, o.name, o.start.Format("15:04:05.000"), o.end.Sub(o.start).Round(time.Millisecond))
	if o.err != nil {
		return s + ": " + o.err.Error()
	}
	return fmt.Sprintf("%s: %d %s (Retry-After %q)", s, o.status, o.code, o.retryAfter)
}

// TestPostgresOutage takes PostgreSQL away while clients create and read
// managed private endpoints through three replicas: stopped for 10 s
// (pg_ctl stop: connections refused at once), then frozen for 20 s
// (SIGSTOP, as in a network partition: connections and queries hang,
// longer than the clients wait).
// During the outage every answer is a 2xx or a 503 ServiceUnavailable with
// Retry-After, never another error, a dropped connection or a wait past the
// clients' 15 s timeout; once PostgreSQL is back, every replica serves
// again without a restart, every acknowledged create is there and its
// operation ends.
func TestPostgresOutage(t *testing.T) {
	testkit.SkipUnlessSlow(t, "taking PostgreSQL away under load")
	for _, tc := range []struct {
		name       string
		away, back func(*testkit.Postgres, testing.TB)
		d          time.Duration
	}{
		{"stopped", (*testkit.Postgres).Stop, (*testkit.Postgres).Start, 10 * time.Second},
		{"frozen", (*testkit.Postgres).Freeze, (*testkit.Postgres).Thaw, 20 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) { outage(t, tc.away, tc.back, tc.d) })
	}
}

func outage(t *testing.T, away, back func(*testkit.Postgres, testing.TB), d time.Duration) {
	defer fixtures.FailOnPanic(t)
	// A server of the test's own: it is taken away, which PRIVLINK_TEST_POSTGRES's may not be.
	pg := testkit.StartPostgres(t)
	store := testkit.FreshSchema(t, pg.URL, "privlink_replicas_outage")
	const clientTimeout = 15 * time.Second
	f := startFleet(t, store, fleetConfig{delay: 200 * time.Millisecond, timeout: clientTimeout})
	env := f.env
	fixtures.CreateRG(t, env, env.Subscription, "adx")
	fixtures.CreateCluster(t, env, "adx", "mycluster", nil)
	sa := fixtures.Targets()[0].Create(t, env, "adx", "share")
	token := env.Token(t)
	base := "/subscriptions/" + env.Subscription + "/resourceGroups/adx/providers/Microsoft.Kusto/clusters/mycluster/managedPrivateEndpoints/"
	body := `{"properties":{"privateLinkResourceId":"` + sa + `","groupId":"blob"}}`
	const apiVersion = "?api-version=2024-04-13"

	var mu sync.Mutex
	var outcomes []outcome
	send := func(method, name, body string) outcome {
		o := outcome{method: method, name: name, start: time.Now()}
		var b []byte
		var h http.Header
		o.status, h, b, o.err = call(t, env, token, method, base+name+apiVersion, body)
		o.end = time.Now()
		if h != nil {
			o.retryAfter = h.Get("Retry-After")
		}
		if o.status >= 400 {
			o.code = armErrorCode(b)
		}
		mu.Lock()
		outcomes = append(outcomes, o)
		mu.Unlock()
		return o
	}
	stop := make(chan struct{})
	var seq atomic.Int64
	var wg sync.WaitGroup
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("w%05d", seq.Add(1))
				if o := send(http.MethodPut, name, body); o.status/100 == 2 {
					send(http.MethodGet, name, "") // read after write, on another replica
				} else if o.status == http.StatusServiceUnavailable {
					time.Sleep(200 * time.Millisecond) // a client that backs off a little, not Retry-After's full wait
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}

	time.Sleep(2 * time.Second)
	down := time.Now()
	away(pg, t)
	t.Logf("PostgreSQL away")
	time.Sleep(d)
	back(pg, t)
	up := time.Now()
	t.Logf("PostgreSQL back after %v", up.Sub(down).Round(time.Millisecond))

	// Every replica serves a write and a read again, by itself.
	direct := &http.Client{Transport: f.rr.base, Timeout: clientTimeout}
	deadline := up.Add(time.Minute)
	for _, r := range f.replicas {
		for i := 0; ; i++ {
			name := fmt.Sprintf("probe-%s-%d", strings.ReplaceAll(r.addr, ":", "-"), i)
			put, _ := http.NewRequest(http.MethodPut, r.url+base+name+apiVersion, strings.NewReader(body))
			put.Header.Set("Authorization", "Bearer "+token)
			put.Header.Set("Content-Type", "application/json")
			ok := false
			if resp, err := direct.Do(put); err == nil {
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					get := bearer(t, http.MethodGet, r.url+base+name+apiVersion, token)
					if resp, err := direct.Do(get); err == nil {
						resp.Body.Close()
						ok = resp.StatusCode == http.StatusOK
					}
				}
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a minute after PostgreSQL came back, replica %s still does not serve a PUT and a GET", r.name)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	recovered := time.Now()
	t.Logf("all replicas serve again %v after PostgreSQL came back", recovered.Sub(up).Round(time.Millisecond))
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()

	for _, r := range f.replicas {
		if !r.alive() {
			t.Errorf("replica %s exited during the outage", r.name)
		}
	}

	// What the clients were told.
	var bad []string
	var before, during, after, unavailable int
	acked := map[string]bool{}
	for _, o := range outcomes {
		switch {
		case o.end.Before(down):
			before++
		case o.start.After(recovered):
			after++
		default:
			during++
		}
		var ne net.Error
		switch {
		case o.err != nil && errors.As(o.err, &ne) && ne.Timeout():
			bad = append(bad, "no answer within the client's 15 s: "+o.String())
		case o.err != nil:
			bad = append(bad, "no answer: "+o.String())
		case o.status/100 == 2:
			if o.method == http.MethodPut {
				acked[o.name] = true
			}
		case o.status == http.StatusServiceUnavailable:
			unavailable++
			if n, err := strconv.Atoi(o.retryAfter); err != nil || n < 1 || o.code != "ServiceUnavailable" {
				bad = append(bad, "a 503 without ARM's ServiceUnavailable error and a Retry-After of whole seconds: "+o.String())
			}
			if o.end.Before(down) || o.start.After(recovered) {
				bad = append(bad, "a 503 while PostgreSQL was up: "+o.String())
			}
		default:
			bad = append(bad, "neither 2xx nor 503: "+o.String())
		}
	}
	t.Logf("%d requests before the outage, %d during it or the recovery, %d after; %d answered 503; %d creates acknowledged",
		before, during, after, unavailable, len(acked))
	if len(bad) > 0 {
		t.Errorf("%d answers were wrong: %s", len(bad), firstFew(bad))
	}
	if unavailable == 0 {
		t.Errorf("no request was answered 503 while PostgreSQL was away: the load did not reach the outage")
	}
	if before == 0 || after == 0 {
		t.Errorf("the load sent %d requests before the outage and %d after, want some of each", before, after)
	}

	// Every acknowledged create is kept, and its operation ends.
	mc := fixtures.Must(armkusto.NewManagedPrivateEndpointsClient(env.Subscription, env.Cred, env.Options))
	deadline = time.Now().Add(time.Minute)
	for {
		listed := map[string]bool{}
		busy := 0
		for p := mc.NewListPager("adx", "mycluster", nil); p.More(); {
			for _, m := range fixtures.Must(p.NextPage(ctx)).Value {
				_, n, _ := strings.Cut(*m.Name, "/")
				listed[n] = true
				if *m.Properties.ProvisioningState != armkusto.ProvisioningStateSucceeded {
					busy++
				}
			}
		}
		var lost []string
		for n := range acked {
			if !listed[n] {
				lost = append(lost, n)
			}
		}
		if len(lost) > 0 {
			t.Fatalf("%d acknowledged creates are gone after the outage: %s", len(lost), firstFew(lost))
		}
		if busy == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a minute after the load, %d endpoints are still not Succeeded", busy)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
