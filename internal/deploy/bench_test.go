package deploy_test

import (
	"fmt"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/privlink/privlink/internal/testkit"
)

// BenchmarkDeploy800 deploys a template of 800 resources (ARM's limit):
// storage accounts in 8 dependency chains of 100, zero provisioning delay,
// through the SDK with its default polling; each op is one whole deployment.
func BenchmarkDeploy800(b *testing.B) {
	env := testkit.Start(b, testkit.WithBinder(literal{}))
	var resources []map[string]any
	for chain := 0; chain < 8; chain++ {
		for i := 0; i < 100; i++ {
			r := storageAccount(fmt.Sprintf("c%dn%d", chain, i))
			if i > 0 {
				r["dependsOn"] = []string{fmt.Sprintf("c%dn%d", chain, i-1)}
			}
			resources = append(resources, r)
		}
	}
	tmpl := template(resources...)
	deployEach(b, env, tmpl)
}

// deployEach deploys tmpl b.N times, each into a new resource group, and
// checks that all 800 resources were deployed; only the deployments count.
func deployEach(b *testing.B, env *testkit.Env, tmpl map[string]any) {
	deps, _ := armresources.NewDeploymentsClient(env.Subscription, env.Cred, env.Options)
	rg, _ := armresources.NewResourceGroupsClient(env.Subscription, env.Cred, env.Options)
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		group := fmt.Sprintf("bench%d", n)
		if _, err := rg.CreateOrUpdate(ctx, group, armresources.ResourceGroup{Location: strPtr("westus")}, nil); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		p, err := deps.BeginCreateOrUpdate(ctx, group, "big", armresources.Deployment{Properties: &armresources.DeploymentProperties{
			Mode: modePtr(armresources.DeploymentModeIncremental), Template: tmpl}}, nil)
		if err != nil {
			b.Fatal(err)
		}
		d, err := p.PollUntilDone(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		if *d.Properties.ProvisioningState != armresources.ProvisioningStateSucceeded {
			b.Fatalf("deployment %s", *d.Properties.ProvisioningState)
		}
		if n := len(d.Properties.OutputResources); n != 800 {
			b.Fatalf("%d resources deployed, want 800", n)
		}
	}
}

func strPtr(s string) *string { return &s }

func modePtr(m armresources.DeploymentMode) *armresources.DeploymentMode { return &m }

// BenchmarkDeploy800Template is BenchmarkDeploy800 with a real template
// through the template language: 8 serial copy loops of 100 storage
// accounts (8 dependency chains), names from uniqueString.
func BenchmarkDeploy800Template(b *testing.B) {
	env := testkit.Start(b)
	var resources []any
	for chain := 0; chain < 8; chain++ {
		resources = append(resources, map[string]any{
			"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2024-01-01",
			"name":     fmt.Sprintf("[concat('c%d', substring(uniqueString(resourceGroup().id), 0, 6), copyIndex())]", chain),
			"location": "[resourceGroup().location]", "kind": "StorageV2", "sku": map[string]any{"name": "Standard_LRS"},
			"copy": map[string]any{"name": fmt.Sprintf("chain%d", chain), "count": 100, "mode": "serial", "batchSize": 1},
		})
	}
	tmpl := map[string]any{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
		"contentVersion": "1.0.0.0", "resources": resources}
	deployEach(b, env, tmpl)
}
