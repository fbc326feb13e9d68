package portal

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/testkit"
)

// TestSignInAndBrowse: a fresh install shows the default principal's
// credentials on the sign-in page; a wrong password is said in plain
// words; the principal signed in is always shown; browsing reaches the
// default subscription; sign out ends the session.
func TestSignInAndBrowse(t *testing.T) {
	env := testkit.Start(t)
	ctx := browser(t)
	run(t, ctx, "the sign-in page", chromedp.Navigate(env.URL+"/"), chromedp.WaitVisible(byLabel("User name")))
	shown := text(t, ctx, "main")
	if !strings.Contains(shown, identity.DefaultClientID) || !strings.Contains(shown, identity.DefaultClientSecret) {
		t.Fatalf("the sign-in page of a fresh install does not show the default credentials:\n%s", shown)
	}
	run(t, ctx, "a wrong password",
		fill("User name", identity.DefaultClientID), fill("Password", "nope"), click("Sign in"),
		waitText("The user name or password is not right."))
	run(t, ctx, "signing in", signInDefault(env))
	header := text(t, ctx, "header")
	if !strings.Contains(header, "Service principal") {
		t.Errorf("the header does not show who signed in: %q", header)
	}
	run(t, ctx, "browsing to the default subscription",
		follow("Subscriptions"), follow("privlink default subscription"), waitText("Essentials"))
	url := location(t, ctx)
	run(t, ctx, "a refresh opens the same page", chromedp.Reload(), waitText("Essentials"))
	// Switch account signs in as another principal and comes back to the
	// page it left.
	other := env.NewUser(t, "switcher", "Switcher-pass-1")
	run(t, ctx, "switching account",
		follow("Switch account"), chromedp.WaitVisible(byLabel("User name")),
		fill("User name", other.UserPrincipalName), fill("Password", other.Password), click("Sign in"),
		chromedp.WaitVisible(`//header//*[contains(., "switcher@privlink.local")]`))
	if back := location(t, ctx); back != url {
		t.Errorf("after switching account the page is %s, want %s", back, url)
	}
	run(t, ctx, "back as the default principal", follow("Switch account"), fill("User name", identity.DefaultClientID),
		fill("Password", identity.DefaultClientSecret), click("Sign in"), waitText("Essentials"))
	if !strings.Contains(url, "/resource/subscriptions/"+env.Subscription) {
		t.Errorf("the subscription's page is at %s", url)
	}
	run(t, ctx, "creating a resource group: a bad name first",
		follow("Resource groups"), follow("Create"),
		fill("Resource group", "bad/name"), click("Create"),
		chromedp.WaitVisible(`//p[@id='group-name-error'][contains(., "The name must be 1 to 90")]`),
		fill("Resource group", "made-here"), choose("Region", "East US"), click("Create"),
		waitText("Essentials"), waitText("eastus"))
	if u := location(t, ctx); !strings.HasSuffix(strings.ToLower(u), "/resourcegroups/made-here") {
		t.Errorf("the new group's page is at %s", u)
	}
	run(t, ctx, "a taken name",
		follow("Resource groups"), waitText("made-here"), follow("Create"),
		fill("Resource group", "made-here"), click("Create"),
		chromedp.WaitVisible(`//p[@id='group-name-error'][contains(., "exists in this subscription already")]`))
	checkNarrow(t, ctx, byButton("Sign out"))
	run(t, ctx, "/signout typed in the address bar asks first", chromedp.Navigate(env.URL+"/signout"),
		waitText("Sign out of privlink?"), chromedp.Click(`//main//button[normalize-space()='Sign out']`),
		chromedp.WaitVisible(byLabel("User name")))
	run(t, ctx, "signed out: the pages ask to sign in", chromedp.Navigate(env.URL+"/browse/all"), chromedp.WaitVisible(byLabel("User name")))
	run(t, ctx, "signing in and out with the button", signInDefault(env), click("Sign out"), chromedp.WaitVisible(byLabel("User name")))
	checkNarrow(t, ctx, byLabel("User name"))
}
