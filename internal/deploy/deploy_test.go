package deploy_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/eventhub/armeventhub"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/testkit"
)

var ctx = context.Background()

// fixture is a server with deployments served by the literal binder.
type fixture struct {
	t    *testing.T
	env  *testkit.Env
	deps *armresources.DeploymentsClient
	ops  *armresources.DeploymentOperationsClient
}

func newFixture(t *testing.T, opts ...testkit.Option) *fixture {
	t.Helper()
	env := testkit.Start(t, append([]testkit.Option{testkit.WithBinder(literal{})}, opts...)...)
	deps, err := armresources.NewDeploymentsClient(env.Subscription, env.Cred, env.Options)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := armresources.NewDeploymentOperationsClient(env.Subscription, env.Cred, env.Options)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, env: env, deps: deps, ops: ops}
}

func (f *fixture) group(name string) string {
	f.t.Helper()
	c, _ := armresources.NewResourceGroupsClient(f.env.Subscription, f.env.Cred, f.env.Options)
	g, err := c.CreateOrUpdate(ctx, name, armresources.ResourceGroup{Location: to.Ptr("westus")}, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return *g.ID
}

// template is a template of the given resources (and outputs).
func template(resources ...map[string]any) map[string]any {
	return map[string]any{
		"$schema":        "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
		"contentVersion": "1.0.0.0",
		"resources":      resources,
	}
}

func cluster(name string) map[string]any {
	return map[string]any{"type": "Microsoft.Kusto/clusters", "apiVersion": "2023-08-15", "name": name, "location": "westus",
		"sku": map[string]any{"name": "Standard_E2a_v4", "tier": "Standard"}}
}

func namespace(name string) map[string]any {
	return map[string]any{"type": "Microsoft.EventHub/namespaces", "apiVersion": "2024-01-01", "name": name, "location": "westus"}
}

func storageAccount(name string) map[string]any {
	return map[string]any{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2024-01-01", "name": name, "location": "westus",
		"kind": "StorageV2", "sku": map[string]any{"name": "Standard_LRS"}}
}

func endpoint(cluster, name, target, group string, dependsOn ...string) map[string]any {
	return map[string]any{"type": "Microsoft.Kusto/Clusters/ManagedPrivateEndpoints", "apiVersion": "2023-08-15", "name": cluster + "/" + name,
		"dependsOn":  dependsOn,
		"properties": map[string]any{"privateLinkResourceId": target, "groupId": group, "requestMessage": "Please approve"}}
}

// deploy runs a deployment to its end and returns it, or the error its poller gave.
func (f *fixture) deploy(rg, name string, tmpl map[string]any, mode armresources.DeploymentMode) (armresources.DeploymentExtended, error) {
	f.t.Helper()
	p, err := f.deps.BeginCreateOrUpdate(ctx, rg, name, armresources.Deployment{Properties: &armresources.DeploymentProperties{
		Mode: to.Ptr(mode), Template: tmpl}}, nil)
	if err != nil {
		return armresources.DeploymentExtended{}, err
	}
	res, err := p.PollUntilDone(ctx, testkit.PollOptions)
	return res.DeploymentExtended, err
}

func (f *fixture) operations(rg, name string) []*armresources.DeploymentOperation {
	f.t.Helper()
	var out []*armresources.DeploymentOperation
	pager := f.ops.NewListPager(rg, name, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			f.t.Fatal(err)
		}
		out = append(out, page.Value...)
	}
	return out
}

func armCode(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// TestSeedOrder deploys the seed's shape (a cluster, two endpoints, the
// storage one after the Event Hubs one) and checks the order, the record,
// the operations and the resources.
func TestSeedOrder(t *testing.T) {
	f := newFixture(t)
	rgID := f.group("adx")
	tmpl := template(cluster("mycluster"), namespace("myeventhubns"), storageAccount("share"),
		endpoint("mycluster", "mpeToEventHub", rgID+"/providers/Microsoft.EventHub/namespaces/myeventhubns", "namespace", "mycluster", "myeventhubns"),
		endpoint("mycluster", "mpeToStorage", rgID+"/providers/Microsoft.Storage/storageAccounts/share", "blob", "mycluster", "share", "mycluster/mpeToEventHub"))
	tmpl["outputs"] = map[string]any{"clusterName": map[string]any{"type": "string", "value": "mycluster"}}
	d, err := f.deploy("adx", "seed", tmpl, armresources.DeploymentModeIncremental)
	if err != nil {
		t.Fatal(err)
	}
	if got := *d.Properties.ProvisioningState; got != armresources.ProvisioningStateSucceeded {
		t.Fatalf("deployment %s, want Succeeded: %+v", got, d.Properties.Error)
	}
	out, _ := d.Properties.Outputs.(map[string]any)
	if o, _ := out["clusterName"].(map[string]any); o["value"] != "mycluster" {
		t.Fatalf("outputs %v", d.Properties.Outputs)
	}
	if n := len(d.Properties.OutputResources); n != 5 {
		t.Fatalf("%d output resources, want 5", n)
	}
	// Order: an endpoint starts after the cluster is done, and the storage
	// endpoint after the Event Hubs one is done.
	ops := f.operations("adx", "seed")
	if len(ops) != 5 {
		t.Fatalf("%d operations, want 5", len(ops))
	}
	end := map[string]time.Time{}
	start := map[string]time.Time{}
	for _, o := range ops {
		p := o.Properties
		if *p.ProvisioningState != "Succeeded" || *p.ProvisioningOperation != armresources.ProvisioningOperationCreate {
			t.Fatalf("operation %+v", p)
		}
		dur, _ := time.ParseDuration(strings.ToLower(strings.TrimPrefix(*p.Duration, "PT")))
		name := *p.TargetResource.ResourceName
		end[name] = *p.Timestamp
		start[name] = p.Timestamp.Add(-dur)
	}
	for _, c := range [][2]string{{"mycluster", "mycluster/mpeToEventHub"}, {"mycluster/mpeToEventHub", "mycluster/mpeToStorage"}, {"share", "mycluster/mpeToStorage"}} {
		if !end[c[0]].Before(start[c[1]]) && !end[c[0]].Equal(start[c[1]]) {
			t.Fatalf("%s ended at %v, after %s started at %v", c[0], end[c[0]], c[1], start[c[1]])
		}
	}
	// The endpoints are real: each placed its connection, approved at once
	// since the deployer owns the targets (the deployment runs as it).
	mc, _ := armkusto.NewManagedPrivateEndpointsClient(f.env.Subscription, f.env.Cred, f.env.Options)
	for _, n := range []string{"mpeToEventHub", "mpeToStorage"} {
		m, err := mc.Get(ctx, "adx", "mycluster", n, nil)
		if err != nil || *m.Properties.ProvisioningState != armkusto.ProvisioningStateSucceeded {
			t.Fatalf("%s: %v %+v", n, err, m)
		}
	}
	pc, _ := armeventhub.NewPrivateEndpointConnectionsClient(f.env.Subscription, f.env.Cred, f.env.Options)
	page, err := pc.NewListPager("adx", "myeventhubns", nil).NextPage(ctx)
	if err != nil || len(page.Value) != 1 || *page.Value[0].Properties.PrivateLinkServiceConnectionState.Status != armeventhub.PrivateLinkConnectionStatusApproved {
		t.Fatalf("connections %v %+v", err, page.Value)
	}
	// GET, HEAD, list with a filter, export.
	if _, err := f.deps.CheckExistence(ctx, "adx", "seed", nil); err != nil {
		t.Fatal(err)
	}
	if e, err := f.deps.CheckExistence(ctx, "adx", "nope", nil); err != nil || e.Success {
		t.Fatalf("HEAD of a missing deployment: %v %v", e, err)
	}
	for filter, want := range map[string]int{"provisioningState eq 'Succeeded'": 1, "provisioningState eq 'Failed'": 0} {
		page, err := f.deps.NewListByResourceGroupPager("adx", &armresources.DeploymentsClientListByResourceGroupOptions{Filter: to.Ptr(filter)}).NextPage(ctx)
		if err != nil || len(page.Value) != want {
			t.Fatalf("list %q: %v, %d deployments, want %d", filter, err, len(page.Value), want)
		}
	}
	exp, err := f.deps.ExportTemplate(ctx, "adx", "seed", nil)
	if err != nil {
		t.Fatal(err)
	}
	if rs, _ := exp.Template.(map[string]any)["resources"].([]any); len(rs) != 5 {
		t.Fatalf("exported template has %d resources", len(rs))
	}
	if _, err := f.deps.Get(ctx, "adx", "nope", nil); armCode(err) != "DeploymentNotFound" {
		t.Fatalf("GET of a missing deployment: %v", err)
	}
}

// TestFailure: a resource that fails fails the deployment with its own
// error as a detail; what depends on it is not deployed, the rest is.
func TestFailure(t *testing.T) {
	f := newFixture(t)
	rgID := f.group("adx")
	tmpl := template(cluster("mycluster"), namespace("myeventhubns"),
		endpoint("mycluster", "bad", rgID+"/providers/Microsoft.EventHub/namespaces/myeventhubns", "blob", "mycluster", "myeventhubns"),
		map[string]any{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2024-01-01", "name": "afterbad", "location": "westus",
			"kind": "StorageV2", "sku": map[string]any{"name": "Standard_LRS"}, "dependsOn": []string{"mycluster/bad"}},
		storageAccount("independent"))
	_, err := f.deploy("adx", "failing", tmpl, armresources.DeploymentModeIncremental)
	if armCode(err) != "DeploymentFailed" {
		t.Fatalf("poller error %v, want DeploymentFailed", err)
	}
	d, err := f.deps.Get(ctx, "adx", "failing", nil)
	if err != nil {
		t.Fatal(err)
	}
	e := d.Properties.Error
	if *d.Properties.ProvisioningState != armresources.ProvisioningStateFailed || e == nil || *e.Code != "DeploymentFailed" || len(e.Details) != 1 || *e.Details[0].Code != "InvalidGroupId" {
		t.Fatalf("deployment %s, error %+v", *d.Properties.ProvisioningState, e)
	}
	sc, _ := armstorage.NewAccountsClient(f.env.Subscription, f.env.Cred, f.env.Options)
	if _, err := sc.GetProperties(ctx, "adx", "independent", nil); err != nil {
		t.Fatalf("the independent resource was not deployed: %v", err)
	}
	if _, err := sc.GetProperties(ctx, "adx", "afterbad", nil); armCode(err) != "ResourceNotFound" {
		t.Fatalf("a resource depending on the failure was deployed: %v", err)
	}
	var failed int
	for _, o := range f.operations("adx", "failing") {
		if *o.Properties.ProvisioningState == "Failed" {
			failed++
			if *o.Properties.StatusCode != "BadRequest" {
				t.Fatalf("failed operation status %s", *o.Properties.StatusCode)
			}
		}
	}
	if failed != 1 {
		t.Fatalf("%d failed operations, want 1", failed)
	}
}

// TestCopyLoops: a serial loop deploys one batch after the other; a
// parallel one all at once.
func TestCopyLoops(t *testing.T) {
	f := newFixture(t)
	f.group("adx")
	serial := storageAccount("ser{i}")
	serial["copy"] = map[string]any{"name": "ser", "count": 5, "mode": "serial", "batchSize": 2}
	par := storageAccount("par{i}")
	par["copy"] = map[string]any{"name": "par", "count": 4}
	if _, err := f.deploy("adx", "loops", template(serial, par), armresources.DeploymentModeIncremental); err != nil {
		t.Fatal(err)
	}
	type span struct{ start, end time.Time }
	spans := map[string]span{}
	for _, o := range f.operations("adx", "loops") {
		dur, _ := time.ParseDuration(strings.ToLower(strings.TrimPrefix(*o.Properties.Duration, "PT")))
		spans[*o.Properties.TargetResource.ResourceName] = span{o.Properties.Timestamp.Add(-dur), *o.Properties.Timestamp}
	}
	if len(spans) != 9 {
		t.Fatalf("%d operations, want 9", len(spans))
	}
	// Batches of two: ser2/ser3 start after ser0 and ser1 ended, ser4 after ser2/ser3.
	for _, c := range [][2]string{{"ser0", "ser2"}, {"ser1", "ser3"}, {"ser1", "ser2"}, {"ser3", "ser4"}, {"ser2", "ser4"}} {
		if spans[c[1]].start.Before(spans[c[0]].end) {
			t.Fatalf("%s started at %v, before %s ended at %v", c[1], spans[c[1]].start, c[0], spans[c[0]].end)
		}
	}
}

// TestActiveAndCancel: a second PUT of a running deployment is refused
// with DeploymentActive; cancel stops it before its later resources.
func TestActiveAndCancel(t *testing.T) {
	f := newFixture(t, testkit.WithDelay(time.Second))
	f.group("adx")
	tmpl := template(cluster("slow"), cluster("later"))
	tmpl["resources"].([]map[string]any)[1]["dependsOn"] = []string{"slow"}
	body := armresources.Deployment{Properties: &armresources.DeploymentProperties{Mode: to.Ptr(armresources.DeploymentModeIncremental), Template: tmpl}}
	p, err := f.deps.BeginCreateOrUpdate(ctx, "adx", "long", body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.deps.BeginCreateOrUpdate(ctx, "adx", "long", body, nil); armCode(err) != "DeploymentActive" {
		t.Fatalf("second PUT: %v, want DeploymentActive", err)
	}
	if _, err := f.deps.Cancel(ctx, "adx", "long", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.PollUntilDone(ctx, testkit.PollOptions); err == nil {
		t.Fatal("a canceled deployment's poller reported success")
	}
	d, err := f.deps.Get(ctx, "adx", "long", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := *d.Properties.ProvisioningState; got != armresources.ProvisioningStateCanceled {
		t.Fatalf("state %s, want Canceled", got)
	}
	kc, _ := armkusto.NewClustersClient(f.env.Subscription, f.env.Cred, f.env.Options)
	if _, err := kc.Get(ctx, "adx", "later", nil); armCode(err) != "ResourceNotFound" {
		t.Fatalf("the resource after the cancel was deployed: %v", err)
	}
	if _, err := f.deps.Cancel(ctx, "adx", "long", nil); armCode(err) != "DeploymentCannotBeCanceled" {
		t.Fatalf("second cancel: %v", err)
	}
	if _, err := f.deps.BeginDelete(ctx, "adx", "long", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.deps.Get(ctx, "adx", "long", nil); armCode(err) != "DeploymentNotFound" {
		t.Fatalf("after delete: %v", err)
	}
}

// TestNestedAndComplete: an inline nested deployment in another resource
// group gets its own record; Complete mode deletes what the template does
// not name.
func TestNestedAndComplete(t *testing.T) {
	f := newFixture(t)
	f.group("adx")
	f.group("other")
	nested := map[string]any{"type": "Microsoft.Resources/deployments", "apiVersion": "2021-04-01", "name": "inner", "resourceGroup": "other",
		"properties": map[string]any{"mode": "Incremental", "template": template(storageAccount("innersa"))}}
	if _, err := f.deploy("adx", "outer", template(storageAccount("outersa"), nested), armresources.DeploymentModeIncremental); err != nil {
		t.Fatal(err)
	}
	inner, err := f.deps.Get(ctx, "other", "inner", nil)
	if err != nil || *inner.Properties.ProvisioningState != armresources.ProvisioningStateSucceeded {
		t.Fatalf("nested deployment record: %v %+v", err, inner)
	}
	sc, _ := armstorage.NewAccountsClient(f.env.Subscription, f.env.Cred, f.env.Options)
	if _, err := sc.GetProperties(ctx, "other", "innersa", nil); err != nil {
		t.Fatalf("nested resource: %v", err)
	}
	// A role assignment on the group: an extension resource, which Complete
	// mode leaves alone (Azure's table of its deletions: roleAssignments, No)
	// and what-if does not list.
	assignment := map[string]any{"type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2022-04-01", "name": "5d0c7b2e-1f3a-4e6b-9c8d-7a6b5c4d3e2f",
		"properties": map[string]any{
			"roleDefinitionId": "/subscriptions/" + f.env.Subscription + "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7",
			"principalId":      identity.ManagedIdentityObjectID, "principalType": "ServicePrincipal"}}
	if _, err := f.deploy("adx", "rbac", template(assignment), armresources.DeploymentModeIncremental); err != nil {
		t.Fatal(err)
	}
	assignmentID := "/subscriptions/" + f.env.Subscription + "/resourceGroups/adx/providers/Microsoft.Authorization/roleAssignments/5d0c7b2e-1f3a-4e6b-9c8d-7a6b5c4d3e2f"
	wp, err := f.deps.BeginWhatIf(ctx, "adx", "wi", armresources.DeploymentWhatIf{Properties: &armresources.DeploymentWhatIfProperties{
		Mode: to.Ptr(armresources.DeploymentModeComplete), Template: template(storageAccount("keepsa"))}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := wp.PollUntilDone(ctx, testkit.PollOptions)
	if err != nil {
		t.Fatal(err)
	}
	deleted := 0
	for _, c := range w.Properties.Changes {
		if strings.Contains(strings.ToLower(*c.ResourceID), "roleassignments") {
			t.Fatalf("what-if in Complete mode lists the role assignment: %s %s", *c.ChangeType, *c.ResourceID)
		}
		if *c.ChangeType == armresources.ChangeTypeDelete {
			deleted++
		}
	}
	if deleted != 1 {
		t.Fatalf("what-if in Complete mode: %d deletions, want 1 (outersa)", deleted)
	}
	// Complete: only keepsa stays in adx.
	if _, err := f.deploy("adx", "complete", template(storageAccount("keepsa")), armresources.DeploymentModeComplete); err != nil {
		t.Fatal(err)
	}
	generic, err := armresources.NewClient(f.env.Subscription, f.env.Cred, f.env.Options)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := generic.GetByID(ctx, assignmentID, "2022-04-01", nil); err != nil {
		t.Fatalf("the role assignment after a Complete deployment: %v", err)
	}
	var names []string
	pager := sc.NewListByResourceGroupPager("adx", nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.Value {
			names = append(names, *a.Name)
		}
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "keepsa" {
		t.Fatalf("after a Complete deployment the group has %v, want keepsa", names)
	}
	if _, err := sc.GetProperties(ctx, "other", "innersa", nil); err != nil {
		t.Fatalf("Complete mode reached another group: %v", err)
	}
}

// TestValidateAndWhatIf: validation refuses an api-version the type does
// not have before anything is written; what-if predicts each change.
func TestValidateAndWhatIf(t *testing.T) {
	f := newFixture(t)
	f.group("adx")
	bad := storageAccount("badversion")
	bad["apiVersion"] = "2001-01-01"
	vp, err := f.deps.BeginValidate(ctx, "adx", "v", armresources.Deployment{Properties: &armresources.DeploymentProperties{
		Mode: to.Ptr(armresources.DeploymentModeIncremental), Template: template(bad)}}, nil)
	if err == nil {
		_, err = vp.PollUntilDone(ctx, testkit.PollOptions)
	}
	if armCode(err) != "InvalidTemplateDeployment" || !strings.Contains(err.Error(), "NoRegisteredProviderFound") {
		t.Fatalf("validate: %v", err)
	}
	if _, err := f.deps.BeginCreateOrUpdate(ctx, "adx", "v", armresources.Deployment{Properties: &armresources.DeploymentProperties{
		Mode: to.Ptr(armresources.DeploymentModeIncremental), Template: template(bad)}}, nil); armCode(err) != "InvalidTemplateDeployment" {
		t.Fatalf("PUT of the same: %v", err)
	}
	if _, err := f.deps.Get(ctx, "adx", "v", nil); armCode(err) != "DeploymentNotFound" {
		t.Fatalf("a refused deployment was written: %v", err)
	}
	vp, err = f.deps.BeginValidate(ctx, "adx", "v", armresources.Deployment{Properties: &armresources.DeploymentProperties{
		Mode: to.Ptr(armresources.DeploymentModeIncremental), Template: template(storageAccount("good"))}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := vp.PollUntilDone(ctx, testkit.PollOptions)
	if err != nil || len(v.Properties.ValidatedResources) != 1 {
		t.Fatalf("validate: %v %+v", err, v)
	}

	if _, err := f.deploy("adx", "base", template(storageAccount("existing"), storageAccount("stays")), armresources.DeploymentModeIncremental); err != nil {
		t.Fatal(err)
	}
	changed := storageAccount("existing")
	changed["tags"] = map[string]any{"env": "test"}
	wp, err := f.deps.BeginWhatIf(ctx, "adx", "wi", armresources.DeploymentWhatIf{Properties: &armresources.DeploymentWhatIfProperties{
		Mode: to.Ptr(armresources.DeploymentModeComplete), Template: template(changed, storageAccount("fresh"))}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := wp.PollUntilDone(ctx, testkit.PollOptions)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range w.Properties.Changes {
		got[(*c.ResourceID)[strings.LastIndexByte(*c.ResourceID, '/')+1:]] = string(*c.ChangeType)
		if strings.HasSuffix(*c.ResourceID, "/existing") && (len(c.Delta) != 1 || *c.Delta[0].Path != "tags") {
			t.Fatalf("deltas of existing: %+v", c.Delta)
		}
	}
	want := map[string]string{"existing": "Modify", "fresh": "Create", "stays": "Delete"}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("what-if changes %v, want %v", got, want)
		}
	}
	if _, err := f.deps.Get(ctx, "adx", "wi", nil); armCode(err) != "DeploymentNotFound" {
		t.Fatalf("what-if wrote a deployment: %v", err)
	}
}

// TestCatalogVersions: api-versions that only Microsoft's quickstart
// templates and the specs' own documents name (the digest of the specs
// lacks them) deploy; a near miss of one is refused before anything is
// written.
func TestCatalogVersions(t *testing.T) {
	f := newFixture(t)
	f.group("adx")
	assignment := func(name, version string) map[string]any {
		return map[string]any{"type": "Microsoft.Authorization/roleAssignments", "apiVersion": version, "name": name,
			"properties": map[string]any{
				"roleDefinitionId": "/subscriptions/" + f.env.Subscription + "/providers/Microsoft.Authorization/roleDefinitions/a638d3c7-ab3a-418d-83e6-5f17a39d4fde",
				"principalId":      identity.ManagedIdentityObjectID, "principalType": "ServicePrincipal"}}
	}
	// quickstarts/microsoft.kusto/kusto-event-hub deploys role assignments
	// at 2021-04-01-preview.
	ok := assignment("0d1c3b6e-6a59-4a3c-9d4e-2b1f7e9c0a11", "2021-04-01-preview")
	if _, err := f.deploy("adx", "preview", template(ok), armresources.DeploymentModeIncremental); err != nil {
		t.Fatalf("role assignment at 2021-04-01-preview: %v", err)
	}
	typo := assignment("7f2e1a44-3b5d-4c6e-8f90-a1b2c3d4e5f6", "2021-04-01-previw")
	if _, err := f.deploy("adx", "typo", template(typo), armresources.DeploymentModeIncremental); armCode(err) != "InvalidTemplateDeployment" || !strings.Contains(err.Error(), "NoRegisteredProviderFound") {
		t.Fatalf("role assignment at 2021-04-01-previw: %v", err)
	}
}

// TestResume: a deployment in flight when the server stops finishes after
// it starts again, with the same result.
func TestResume(t *testing.T) {
	f := newFixture(t, testkit.WithDelay(700*time.Millisecond))
	f.group("adx")
	tmpl := template(cluster("clus1"), cluster("clus2"), cluster("clus3"))
	tmpl["resources"].([]map[string]any)[1]["dependsOn"] = []string{"clus1"}
	tmpl["resources"].([]map[string]any)[2]["dependsOn"] = []string{"clus2"}
	if _, err := f.deps.BeginCreateOrUpdate(ctx, "adx", "resumed", armresources.Deployment{Properties: &armresources.DeploymentProperties{
		Mode: to.Ptr(armresources.DeploymentModeIncremental), Template: tmpl}}, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(900 * time.Millisecond) // clus1 done, clus2 under way
	env := f.env.Restart(t)
	deps, _ := armresources.NewDeploymentsClient(env.Subscription, env.Cred, env.Options)
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := deps.Get(ctx, "adx", "resumed", nil)
		if err != nil {
			t.Fatal(err)
		}
		if s := *d.Properties.ProvisioningState; s == armresources.ProvisioningStateSucceeded {
			break
		} else if s == armresources.ProvisioningStateFailed || s == armresources.ProvisioningStateCanceled || time.Now().After(deadline) {
			b, _ := json.Marshal(d.Properties.Error)
			t.Fatalf("after restart the deployment is %s: %s", s, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	kc, _ := armkusto.NewClustersClient(env.Subscription, env.Cred, env.Options)
	for _, n := range []string{"clus1", "clus2", "clus3"} {
		c, err := kc.Get(ctx, "adx", n, nil)
		if err != nil || *c.Properties.ProvisioningState != armkusto.ProvisioningStateSucceeded {
			t.Fatalf("%s after resume: %v", n, err)
		}
	}
}

// TestBadRequests: what ARM refuses before anything is written.
func TestBadRequests(t *testing.T) {
	f := newFixture(t)
	f.group("adx")
	base := "/subscriptions/" + f.env.Subscription + "/resourceGroups/adx/providers/Microsoft.Resources/deployments/"
	tests := []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"no mode", base + "d", `{"properties":{"template":{"resources":[]}}}`, 400, "InvalidRequestContent"},
		{"bad mode", base + "d", `{"properties":{"mode":"Sometimes","template":{"resources":[]}}}`, 400, "InvalidRequestContent"},
		{"no template", base + "d", `{"properties":{"mode":"Incremental"}}`, 400, "InvalidRequestContent"},
		{"template and link", base + "d", `{"properties":{"mode":"Incremental","template":{},"templateLink":{"uri":"https://x/t.json"}}}`, 400, "InvalidRequestContent"},
		{"link without root", base + "d", `{"properties":{"mode":"Incremental","templateLink":{"uri":"https://x/t.json"}}}`, 400, "InvalidTemplateDeployment"},
		{"name too long", base + strings.Repeat("n", 65), `{"properties":{"mode":"Incremental","template":{"resources":[]}}}`, 400, "DeploymentNameLengthLimitExceeded"},
		{"name with a space", base + "a%20b", `{"properties":{"mode":"Incremental","template":{"resources":[]}}}`, 400, "InvalidDeploymentName"},
		{"missing group", strings.Replace(base, "/adx/", "/nope/", 1) + "d", `{"properties":{"mode":"Incremental","template":{"resources":[]}}}`, 404, "ResourceGroupNotFound"},
		{"subscription scope without location", "/subscriptions/" + f.env.Subscription + "/providers/Microsoft.Resources/deployments/d", `{"properties":{"mode":"Incremental","template":{"resources":[]}}}`, 400, "LocationRequired"},
		{"dependsOn unknown", base + "d", `{"properties":{"mode":"Incremental","template":{"resources":[{"type":"Microsoft.Storage/storageAccounts","apiVersion":"2024-01-01","name":"x","dependsOn":["ghost"]}]}}}`, 400, "InvalidTemplate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPut, f.env.URL+tt.path+"?api-version=2021-04-01", strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer "+f.env.Token(t))
			req.Header.Set("Content-Type", "application/json")
			resp, err := f.env.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e struct {
				Error struct{ Code, Message string }
			}
			_ = json.NewDecoder(resp.Body).Decode(&e)
			if resp.StatusCode != tt.status || e.Error.Code != tt.code {
				t.Fatalf("%d %s (%s), want %d %s", resp.StatusCode, e.Error.Code, e.Error.Message, tt.status, tt.code)
			}
		})
	}
}
