package portal

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/testkit"
)

// These tests send what no browser of privlink's pages sends (a forged
// cross-site form, a tampered cookie), so they are hand-rolled HTTP against
// a real server; they need no browser and run in the default suite.

// portalSession signs in as the default principal and returns the session
// cookie and the page's anti-forgery token.
func portalSession(t *testing.T, env *testkit.Env) (*http.Cookie, string) {
	t.Helper()
	hc := *env.HTTP
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	form := url.Values{"username": {identity.DefaultClientID}, "password": {identity.DefaultClientSecret}}
	resp, err := hc.PostForm(env.URL+"/signin", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in answered %d", resp.StatusCode)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "privlink_session" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("sign-in set no session cookie")
	}
	if !cookie.HttpOnly || !cookie.Secure || cookie.SameSite != http.SameSiteStrictMode {
		t.Errorf("the session cookie is HttpOnly=%v Secure=%v SameSite=%v, want true, true, Strict", cookie.HttpOnly, cookie.Secure, cookie.SameSite)
	}
	req, _ := http.NewRequest(http.MethodGet, env.URL+"/browse/resourcegroups/create", nil)
	req.AddCookie(cookie)
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("the form carries no anti-forgery token (status %d)", resp.StatusCode)
	}
	return cookie, string(m[1])
}

// TestPortalRefusesForgedRequests: a state-changing POST without the
// session's anti-forgery token, or from another origin, is refused with
// 403 and changes nothing; the same POST from the portal's own page works.
func TestPortalRefusesForgedRequests(t *testing.T) {
	env := testkit.Start(t)
	cookie, token := portalSession(t, env)
	hc := *env.HTTP
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	post := func(name, csrf, origin string) int {
		t.Helper()
		form := url.Values{"subscription": {env.Subscription}, "name": {name}, "region": {"westus"}}
		if csrf != "" {
			form.Set("csrf", csrf)
		}
		req, _ := http.NewRequest(http.MethodPost, env.URL+"/browse/resourcegroups/create", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		req.AddCookie(cookie)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	groups, err := armresources.NewResourceGroupsClient(env.Subscription, env.Cred, env.Options)
	if err != nil {
		t.Fatal(err)
	}
	exists := func(name string) bool {
		r, err := groups.CheckExistence(context.Background(), name, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r.Success
	}
	self := strings.TrimSuffix(env.URL, "/")
	for _, c := range []struct{ what, name, csrf, origin string }{
		{"no token", "forged1", "", self},
		{"a wrong token", "forged2", "not-the-token", self},
		{"another site's origin", "forged3", token, "https://evil.example"},
	} {
		if got := post(c.name, c.csrf, c.origin); got != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", c.what, got)
		}
		if exists(c.name) {
			t.Errorf("%s: the group was created", c.what)
		}
	}
	if got := post("genuine", token, self); got != http.StatusSeeOther {
		t.Errorf("the portal's own form: status %d, want 303", got)
	}
	if !exists("genuine") {
		t.Error("the portal's own form did not create the group")
	}

	// A tampered cookie is no session: the page asks to sign in.
	bad := *cookie
	bad.Value = bad.Value[:len(bad.Value)-4] + "AAAA"
	req, _ := http.NewRequest(http.MethodGet, env.URL+"/browse/all", nil)
	req.AddCookie(&bad)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "/signin") {
		t.Errorf("a tampered cookie: %d to %q, want a redirect to /signin", resp.StatusCode, loc)
	}
}
