package datapath

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/privlink/privlink/internal/testkit"
)

// TestConcurrentCreates: endpoints created at the same time are provisioned
// by operation steps that share transactions, and the data path learns of
// every one of them (an address and a listener each) by the time its
// create has completed.
func TestConcurrentCreates(t *testing.T) {
	env := testkit.Start(t)
	createRG(t, env, "rg")
	cl := createCluster(t, env, "rg", "adxmany", armkusto.PublicNetworkAccessEnabled)
	acct := createAccount(t, env, "rg", "acctmany", armstorage.PublicNetworkAccessDisabled, nil)
	const n = 40
	var wg sync.WaitGroup
	ids := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i] = createApprovedMPE(t, env, "rg", "adxmany", fmt.Sprintf("e%02d", i), acct, "blob")
		}()
	}
	wg.Wait()
	got := map[string]bool{}
	for _, e := range networkOf(t, env, cl).Endpoints {
		if e.ConnectionState != "Approved" || e.PrivateIPAddress == "" || e.Listen == "" {
			t.Errorf("endpoint network %+v: want Approved, with an address and a listener", e)
		}
		got[strings.ToLower(e.ID)] = true
	}
	for _, id := range ids {
		if !got[strings.ToLower(id)] {
			t.Errorf("endpoint %s is not in the data path", id)
		}
	}
}
