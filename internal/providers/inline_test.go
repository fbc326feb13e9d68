package providers_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/operation"
	"github.com/privlink/privlink/internal/providers"
	"github.com/privlink/privlink/internal/providers/resources"
	"github.com/privlink/privlink/internal/resource"
	"github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/store/sqlite"
)

const inlineSub = "00000000-0000-0000-0000-0000000000aa"

// engineWithoutWorker is an engine over a fresh store whose operation
// worker never runs: what a request's own transaction leaves is all there is.
func engineWithoutWorker(t *testing.T, delay time.Duration) *resource.Engine {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "privlink.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := resource.New(db, operation.New(db, operation.Options{Logger: logger}), resource.Config{Logger: logger, ProvisioningDelay: delay})
	providers.Register(e, nil)
	if err := resources.Bootstrap(context.Background(), e, "00000000-0000-0000-0000-0000000000bb", inlineSub, "test"); err != nil {
		t.Fatal(err)
	}
	return e
}

// serve sends one request to e as httpapi would, and answers its status,
// body and headers.
func serve(t *testing.T, e *resource.Engine, method, target, body string) (int, map[string]any, http.Header) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	path, aerr := arm.ParsePath(u.Path)
	if aerr != nil {
		t.Fatal(aerr)
	}
	q := u.Query()
	resp, err := e.Serve(context.Background(), &resource.Request{Method: method, Path: path, Query: q, APIVersion: q.Get("api-version"),
		Body: []byte(body), Header: http.Header{}, BaseURL: "https://privlink.test",
		Principal: &arm.Principal{ObjectID: "00000000-0000-0000-0000-0000000000cc", Name: "tester", Type: "User"}})
	if aerr := arm.AsError(err); aerr != nil {
		return aerr.HTTPStatus(), map[string]any{"error": aerr}, http.Header{}
	}
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	var out map[string]any
	if len(resp.Body) > 0 {
		if err := json.Unmarshal(resp.Body, &out); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, target, resp.Body, err)
		}
	}
	return resp.Status, out, resp.Header
}

func state(doc map[string]any) string {
	p, _ := doc["properties"].(map[string]any)
	s, _ := p["provisioningState"].(string)
	return s
}

// With no provisioning delay, an asynchronous create completes in the
// request's own transaction: the answer is still the accepted resource
// ("Creating") with its polling headers, but what was stored is the
// resource in its final state and an operation that has ended, with no
// step left for a worker (none runs here). With a delay, the same requests
// leave the resource creating and its operation running. Deletes too.
func TestWritesWithoutDelayCompleteInTheirTransaction(t *testing.T) {
	group := "/subscriptions/" + inlineSub + "/resourceGroups/rg"
	cluster := group + "/providers/Microsoft.Kusto/clusters/adxinline"
	account := group + "/providers/Microsoft.Storage/storageAccounts/stinline"
	mpe := cluster + "/managedPrivateEndpoints/mpe1"
	const kv, sv, rv = "?api-version=2024-04-13", "?api-version=2023-05-01", "?api-version=2021-04-01"
	for _, tc := range []struct {
		delay             time.Duration
		stored, operation string
	}{
		{0, arm.StateSucceeded, arm.StateSucceeded},
		{time.Hour, arm.StateCreating, arm.StateRunning},
	} {
		t.Run(tc.delay.String(), func(t *testing.T) {
			e := engineWithoutWorker(t, tc.delay)
			if st, _, _ := serve(t, e, http.MethodPut, group+rv, `{"location":"westeurope"}`); st != http.StatusCreated {
				t.Fatalf("resource group: %d", st)
			}
			if st, doc, _ := serve(t, e, http.MethodPut, account+sv, `{"location":"westeurope","kind":"StorageV2","sku":{"name":"Standard_LRS"}}`); st/100 != 2 {
				t.Fatalf("storage account: %d %v", st, doc)
			}
			for _, c := range []struct{ id, body string }{
				{cluster + kv, `{"location":"westeurope","sku":{"name":"Dev(No SLA)_Standard_E2a_v4","tier":"Basic"}}`},
				{mpe + kv, `{"properties":{"privateLinkResourceId":"` + account + `","groupId":"blob","requestMessage":"Please Approve."}}`},
			} {
				st, doc, h := serve(t, e, http.MethodPut, c.id, c.body)
				if st != http.StatusCreated || state(doc) != arm.StateCreating {
					t.Fatalf("PUT %s: %d, provisioningState %q; want 201 and Creating, as accepted", c.id, st, state(doc))
				}
				status := h.Get("Azure-AsyncOperation")
				if !strings.Contains(status, "/operationResults/") || h.Get("Retry-After") == "" {
					t.Fatalf("PUT %s: polling headers %v", c.id, h)
				}
				if _, doc, _ = serve(t, e, http.MethodGet, c.id, ""); state(doc) != tc.stored {
					t.Errorf("GET %s after its PUT: provisioningState %q, want %q", c.id, state(doc), tc.stored)
				}
				if _, op, _ := serve(t, e, http.MethodGet, strings.TrimPrefix(status, "https://privlink.test"), ""); op["status"] != tc.operation {
					t.Errorf("operation of %s: %v, want status %s", c.id, op, tc.operation)
				}
			}
			// A delete is the same: accepted, and done at once without a delay.
			// (With one, the endpoint is still being created: a conflict.)
			if tc.delay == 0 {
				st, _, h := serve(t, e, http.MethodDelete, mpe+kv, "")
				if st != http.StatusAccepted || h.Get("Azure-AsyncOperation") == "" {
					t.Fatalf("DELETE: %d %v", st, h)
				}
				if st, _, _ := serve(t, e, http.MethodGet, mpe+kv, ""); st != http.StatusNotFound {
					t.Errorf("GET after DELETE: %d, want 404", st)
				}
				if _, op, _ := serve(t, e, http.MethodGet, strings.TrimPrefix(h.Get("Azure-AsyncOperation"), "https://privlink.test"), ""); op["status"] != arm.StateSucceeded {
					t.Errorf("operation of the delete: %v", op)
				}
			}
			// Nothing is left for a worker with no delay; with one, the two
			// operations wait for it.
			var due []*store.Operation
			err := e.Store().View(context.Background(), func(tx store.Tx) error {
				var err error
				due, err = tx.DueOperations(time.Now().Add(2*tc.delay+time.Minute), 10)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{true: 0, false: 2}[tc.delay == 0]; len(due) != want {
				t.Errorf("%d operations left for a worker, want %d", len(due), want)
			}
		})
	}
}
