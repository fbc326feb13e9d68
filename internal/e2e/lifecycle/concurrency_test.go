package lifecycle

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/privlink/privlink/internal/testkit"
	"github.com/privlink/privlink/internal/testkit/fixtures"
)

// TestConcurrentWrites races many clients on one cluster and one target:
// every endpoint gets exactly one connection, racing creates of one name make
// one resource, and nothing is lost or duplicated.
func TestConcurrentWrites(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	env := testkit.Start(t)
	fixtures.CreateRG(t, env, env.Subscription, "adx")
	createCluster(t, env, "adx", "mycluster", nil)
	storage := targets()[0]
	sa := storage.Create(t, env, "adx", "share")

	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := fixtures.CreateMPE(t, env, "adx", "mycluster", fmt.Sprintf("mpe%02d", i), sa, "blob", "m")
			errs <- err
		}()
	}
	// And n racers on one name: all succeed (create, then updates) or are
	// told another operation is in progress; exactly one resource results.
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := fixtures.CreateMPE(t, env, "adx", "mycluster", "contended", sa, "blob", "m")
			var re *azcore.ResponseError
			if errors.As(err, &re) && re.StatusCode == http.StatusConflict && re.ErrorCode == "AnotherOperationInProgress" {
				err = nil
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	conns := storage.Conns(t, env, "adx", "share")
	if got, want := len(conns), n+1; got != want {
		t.Fatalf("connections on the target = %d, want %d (one per endpoint)", got, want)
	}
	seen := map[string]bool{}
	for _, c := range conns {
		if seen[c.Properties.PrivateEndpoint.ID] {
			t.Fatalf("two connections for private endpoint %s", c.Properties.PrivateEndpoint.ID)
		}
		seen[c.Properties.PrivateEndpoint.ID] = true
	}

	// Concurrent approvals and deletes of different connections.
	var wg2 sync.WaitGroup
	errs2 := make(chan error, len(conns))
	for i, c := range conns {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			if i%2 == 0 {
				errs2 <- storage.Set(t, env, "adx", "share", c.Name, "Approved", "ok")
			} else {
				errs2 <- storage.Remove(t, env, "adx", "share", c.Name)
			}
		}()
	}
	wg2.Wait()
	close(errs2)
	for err := range errs2 {
		if err != nil {
			t.Fatal(err)
		}
	}
	approved := 0
	for _, c := range storage.Conns(t, env, "adx", "share") {
		if c.Properties.State.Status != "Approved" {
			t.Fatalf("connection %s is %s, want Approved", c.Name, c.Properties.State.Status)
		}
		approved++
	}
	if got, want := approved, (len(conns)+1)/2; got != want {
		t.Fatalf("approved connections left = %d, want %d", got, want)
	}
}
