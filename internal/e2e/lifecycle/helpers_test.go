package lifecycle

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/privlink/privlink/internal/testkit"
	"github.com/privlink/privlink/internal/testkit/fixtures"
)

// ctx is the context of the tests' SDK calls.
var ctx = context.Background()

// createCluster is fixtures.CreateCluster, also checking that the
// cluster's system-assigned identity has a principal id; it returns the
// cluster's id.
func createCluster(t *testing.T, env *testkit.Env, rg, name string, vnet *armkusto.VirtualNetworkConfiguration) string {
	t.Helper()
	cl := fixtures.CreateCluster(t, env, rg, name, vnet)
	if cl.Identity == nil || cl.Identity.PrincipalID == nil || *cl.Identity.PrincipalID == "" {
		t.Fatalf("cluster %s: system-assigned identity has no principal id", name)
	}
	return *cl.ID
}

// targets is fixtures.Targets, its Kusto cluster made by createCluster
// (so that its identity is checked too, as every cluster's is here).
func targets() []fixtures.Target {
	ts := fixtures.Targets()
	for i := range ts {
		if ts[i].Group == "cluster" {
			ts[i].Create = func(t *testing.T, env *testkit.Env, rg, name string) string {
				return createCluster(t, env, rg, name, nil)
			}
		}
	}
	return ts
}

// armError asserts err is an ARM error with the given status and code, and returns its message.
func armError(t *testing.T, err error, status int, code string) string {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want an ARM error %d %s", err, status, code)
	}
	if re.StatusCode != status || re.ErrorCode != code {
		t.Fatalf("error = %d %s, want %d %s (%v)", re.StatusCode, re.ErrorCode, status, code, err)
	}
	return re.Error()
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
