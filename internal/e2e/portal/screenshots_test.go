package portal

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestScreenshots walks the main pages of the seed's portal path and
// saves a PNG of each in $PRIVLINK_SCREENSHOTS (what `make screenshots`
// sets to docs/screenshots), so the docs show the UI as it is. Every page
// is waited for by what it must show, so a screenshot of a broken page
// fails the walk instead. (A quality of 100 makes chromedp ask for PNG.)
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("PRIVLINK_SCREENSHOTS")
	if dir == "" {
		t.Skip("PRIVLINK_SCREENSHOTS names no directory: screenshots are taken by `make screenshots`")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer netRecover(t)
	ctx := browser(t)
	s := netSetup(t)
	s.mpe(t, s.env.Requester(t).Cred, "mpeToStorage", s.account, "blob")
	s.mpe(t, s.env.Cred, "mpeToStorageDfs", s.account, "dfs")

	shoot := func(name string) {
		t.Helper()
		run(t, ctx, "settling before "+name, settled())
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	run(t, ctx, "the sign-in page", chromedp.Navigate(s.env.URL+"/signin"), chromedp.WaitVisible(byButton("Sign in")))
	shoot("signin")
	run(t, ctx, "All resources", signInDefault(s.env), follow("All resources"), waitText("mycluster"))
	shoot("all-resources")
	run(t, ctx, "the cluster's overview", follow("mycluster"), waitText("Essentials"))
	shoot("cluster-overview")
	run(t, ctx, "the cluster's managed private endpoints", follow("Networking"),
		netWaitCell("mpeToStorage", 5, "Pending"), netWaitCell("mpeToStorageDfs", 5, "Approved"))
	shoot("cluster-networking")
	run(t, ctx, "the New managed private endpoint pane", click("Add"),
		netFillPane("mpeToVault", netStorageOption, "share", "blob", "For ingestion."), click("Next"),
		waitText("This managed private endpoint will be created:"))
	shoot("new-managed-private-endpoint")
	run(t, ctx, "the account's private endpoint connections", netOpen("share"), follow("Private endpoint connections"),
		netWaitCell("mycluster.mpeToStorage.", 2, "Pending"), netCheck("mycluster.mpeToStorage."))
	shoot("private-endpoint-connections")
	run(t, ctx, "the account's access control", follow("Access control (IAM)"), chromedp.WaitVisible(byButton("Add role assignment")))
	shoot("access-control")
	run(t, ctx, "Deploy a custom template", follow("Deploy a custom template"), chromedp.WaitVisible(byLabel("Template")),
		choose("Resource group", "data"), paste("Template", deployTemplate), paste("Parameters", deployParameters))
	shoot("deploy-custom-template")
	run(t, ctx, "the deployment", click("Review + create"), waitText("Validation passed"), click("Create"),
		waitText("Your deployment is complete."))
	shoot("deployment")
	run(t, ctx, "the group's deployments", follow("data"), follow("Deployments"), waitText("Succeeded"))
	shoot("deployments")
}
