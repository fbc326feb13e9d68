package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/testkit"
)

// decode reads a command's JSON output into v, or fails the test.
func decode(t *testing.T, r result, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("output is not the JSON expected: %v\n%s", err, r.stdout)
	}
}

// fails runs the CLI and fails the test unless it exits with code and its
// output holds each of want: on stderr, or on stdout for the REST verbs,
// which print the server's error document there.
func (c *cli) fails(code int, want []string, args ...string) result {
	c.t.Helper()
	r := c.run(args...)
	if r.code != code {
		c.t.Fatalf("privlink %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) && !strings.Contains(r.stdout, w) {
			c.t.Fatalf("privlink %s: output does not contain %q\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), w, r.stdout, r.stderr)
		}
	}
	return r
}

// adminCLI starts a server and signs a CLI in to it as the tenant's
// administrator, the default service principal.
func adminCLI(t *testing.T) (*testkit.Env, *cli) {
	t.Helper()
	clearEnv(t)
	env := testkit.Start(t)
	c := newCLI(t)
	c.login(env)
	return env, c
}

// createdSP is what 'privlink sp create' prints.
type createdSP struct {
	AppID, DisplayName, Password, Tenant string
}

func createSP(t *testing.T, c *cli, args ...string) createdSP {
	t.Helper()
	var sp createdSP
	decode(t, c.ok(append([]string{"sp", "create"}, args...)...), &sp)
	if sp.AppID == "" || sp.Password == "" {
		t.Fatalf("sp create printed no app id or password: %+v", sp)
	}
	return sp
}

// secretToken gets a token with azidentity's ClientSecretCredential, as
// an application given the printed credentials would; a new credential
// each time, so that no cached token hides the server's answer.
func secretToken(env *testkit.Env, tenant, appID, secret string) error {
	cred, err := azidentity.NewClientSecretCredential(tenant, appID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: policy.ClientOptions{Cloud: testkit.Cloud(env.URL), Transport: env.HTTP}, DisableInstanceDiscovery: true})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{armScope}})
	return err
}

// refused checks that err is the token endpoint's refusal (400 or 401).
func refused(t *testing.T, err error, what string) {
	t.Helper()
	var af *azidentity.AuthenticationFailedError
	if !errors.As(err, &af) || af.RawResponse == nil {
		t.Fatalf("%s: got %v, want the token endpoint's refusal", what, err)
	}
	if s := af.RawResponse.StatusCode; s != http.StatusBadRequest && s != http.StatusUnauthorized {
		t.Fatalf("%s: the token endpoint answered %d, want 400 or 401", what, s)
	}
}

// TestServicePrincipals: sp create prints az's four fields in az's order
// and the secret works at once with azidentity; list and show never show
// a secret; credential reset adds a working secret beside the old one;
// delete ends every secret; --role with --scopes assigns the role.
func TestServicePrincipals(t *testing.T) {
	env, admin := adminCLI(t)
	sub := "/subscriptions/" + env.Subscription

	r := admin.ok("sp", "create", "--name", "ci-app")
	v := parseOrdered(t, r.stdout)
	if got, want := v.keys, []string{"appId", "displayName", "password", "tenant"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("sp create printed the keys %v, want az's %v", got, want)
	}
	var sp createdSP
	decode(t, r, &sp)
	if got, want := sp.DisplayName, "ci-app"; got != want {
		t.Fatalf("displayName %q, want %q", got, want)
	}
	if got, want := sp.Tenant, identity.DefaultTenantID; got != want {
		t.Fatalf("tenant %q, want %q", got, want)
	}
	if !strings.Contains(r.stderr, "shown only now") {
		t.Fatalf("stderr %q does not warn that the secret is shown once", r.stderr)
	}
	if err := secretToken(env, sp.Tenant, sp.AppID, sp.Password); err != nil {
		t.Fatalf("the new principal's secret gets no token: %v", err)
	}

	t.Run("list and show, no secret", func(t *testing.T) {
		admin.t = t
		r := admin.ok("sp", "list")
		var list []struct {
			ObjectID, AppID, DisplayName string
			PasswordCredentials          []struct{ KeyID, Hint string }
		}
		decode(t, r, &list)
		found := false
		for _, o := range list {
			if o.AppID == sp.AppID {
				found = true
				if o.DisplayName != "ci-app" || len(o.PasswordCredentials) != 1 || o.PasswordCredentials[0].Hint != sp.Password[:3] {
					t.Fatalf("sp list shows %+v", o)
				}
			}
		}
		if !found {
			t.Fatalf("sp list does not show %s:\n%s", sp.AppID, r.stdout)
		}
		if strings.Contains(r.stdout, sp.Password) || strings.Contains(r.stdout, identity.DefaultClientSecret) {
			t.Fatalf("sp list shows a secret:\n%s", r.stdout)
		}
		admin.fails(2, []string{"--id needs a value"}, "sp", "show", "--id", "")
		show := admin.ok("sp", "show", "--id", sp.AppID)
		if !strings.Contains(show.stdout, sp.AppID) || strings.Contains(show.stdout, sp.Password) {
			t.Fatalf("sp show:\n%s", show.stdout)
		}
	})

	t.Run("credential reset", func(t *testing.T) {
		admin.t = t
		admin.fails(2, []string{"--append is required"}, "sp", "credential", "reset", "--id", sp.AppID)
		admin.fails(2, []string{"--years"}, "sp", "credential", "reset", "--id", sp.AppID, "--append", "--years", "0")
		r := admin.ok("sp", "credential", "reset", "--id", sp.AppID, "--append", "--display-name", "second", "--years", "2")
		var added createdSP
		decode(t, r, &added)
		if added.AppID != sp.AppID || added.Password == "" || added.Password == sp.Password || added.Tenant != sp.Tenant {
			t.Fatalf("credential reset printed %+v", added)
		}
		if got, want := parseOrdered(t, r.stdout).keys, []string{"appId", "password", "tenant"}; strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("credential reset printed the keys %v, want %v", got, want)
		}
		for _, secret := range []string{sp.Password, added.Password} {
			if err := secretToken(env, sp.Tenant, sp.AppID, secret); err != nil {
				t.Fatalf("secret %s...: %v", secret[:3], err)
			}
		}
		admin.fails(2, []string{"--id needs a value"}, "sp", "show", "--id", "")
		show := admin.ok("sp", "show", "--id", sp.AppID).stdout
		if !strings.Contains(show, `"second"`) || !strings.Contains(show, time.Now().UTC().AddDate(2, 0, 0).Format("2006-01-02")) {
			t.Fatalf("the new secret's name or end is not shown:\n%s", show)
		}
		admin.fails(1, []string{"404 Not Found", "Request_ResourceNotFound"}, "sp", "credential", "reset", "--id", "11111111-1111-1111-1111-111111111111", "--append")

		t.Run("delete ends every secret", func(t *testing.T) {
			admin.t = t
			if r := admin.ok("sp", "delete", "--id", sp.AppID); !strings.Contains(r.stderr, "deleted service principal "+sp.AppID) {
				t.Fatalf("sp delete said %q", r.stderr)
			}
			for _, secret := range []string{sp.Password, added.Password} {
				refused(t, secretToken(env, sp.Tenant, sp.AppID, secret), "a deleted principal's secret")
				if s := tokenStatus(t, env, sp.AppID, secret); s != http.StatusBadRequest && s != http.StatusUnauthorized {
					t.Fatalf("the token endpoint answered %d for a deleted principal, want 400 or 401", s)
				}
			}
			if strings.Contains(admin.ok("sp", "list").stdout, sp.AppID) {
				t.Fatalf("sp list still shows the deleted principal")
			}
			admin.fails(1, []string{"404 Not Found", "Request_ResourceNotFound"}, "sp", "delete", "--id", sp.AppID)
			admin.fails(1, []string{"400 Bad Request", "default principals"}, "sp", "delete", "--id", identity.DefaultClientID)
		})
	})

	t.Run("with a role", func(t *testing.T) {
		admin.t = t
		rg := sub + "/resourceGroups/rg1"
		admin.ok("put", rg+"?api-version=2021-04-01", "{'location':'westus'}")
		r := admin.ok("sp", "create", "--name", "reader", "--role", "Reader", "--scopes", sub, rg)
		var reader createdSP
		decode(t, r, &reader)
		for _, s := range []string{sub, rg} {
			if want := "Creating 'Reader' role assignment under scope '" + s + "'"; !strings.Contains(r.stderr, want) {
				t.Fatalf("stderr %q does not say %q", r.stderr, want)
			}
		}
		for _, s := range []string{sub, rg} {
			var list []assignmentDoc
			decode(t, admin.ok("role", "assignment", "list", "--assignee", reader.AppID, "--scope", s), &list)
			if len(list) != 1 || !strings.HasSuffix(list[0].Properties.RoleDefinitionID, readerRole) || list[0].Properties.PrincipalType != "ServicePrincipal" {
				t.Fatalf("assignments at %s: %+v, want one of Reader to a ServicePrincipal", s, list)
			}
		}
		// The new principal reads, as the role says, and signs in with
		// 'privlink login --client-id --client-secret'.
		as := newCLI(t)
		as.ok("login", "--endpoint", env.URL, "--ca", env.Server.CAPath(), "--client-id", reader.AppID, "--client-secret", reader.Password)
		as.ok("get", rg+"?api-version=2021-04-01")
		as.fails(1, nil, "put", sub+"/resourceGroups/rg2?api-version=2021-04-01", "{'location':'westus'}")

		// Roles are checked before anything is made.
		before := strings.Count(admin.ok("sp", "list").stdout, `"appId"`)
		admin.fails(1, []string{"Role 'Nope' doesn't exist"}, "sp", "create", "--name", "x", "--role", "Nope", "--scopes", sub)
		if after := strings.Count(admin.ok("sp", "list").stdout, `"appId"`); after != before {
			t.Fatalf("a refused sp create made a service principal: %d, then %d", before, after)
		}
		admin.fails(2, []string{"To create role assignments, specify both --role and --scopes."}, "sp", "create", "--role", "Reader")
		admin.fails(2, []string{"To create role assignments, specify both --role and --scopes."}, "sp", "create", "--scopes", sub)
		admin.fails(2, []string{"unexpected argument"}, "sp", "create", "--name", "x", "extra")
		admin.fails(2, []string{"--scopes are resource ids"}, "sp", "create", "--role", "Reader", "--scopes", "rg1")
	})

	t.Run("not the administrator", func(t *testing.T) {
		admin.t = t
		other := createSP(t, admin, "--name", "plain")
		as := newCLI(t)
		if r := as.ok("login", "--endpoint", env.URL, "--ca", env.Server.CAPath(), "--client-id", other.AppID, "--client-secret", other.Password); !strings.Contains(r.stdout, " as "+other.AppID+" ") {
			t.Fatalf("login said %q, want the app id", r.stdout)
		}
		want := []string{"403 Forbidden", "Authorization_RequestDenied"}
		as.fails(1, want, "sp", "create", "--name", "mine")
		as.fails(1, want, "sp", "delete", "--id", other.AppID)
		as.fails(1, want, "sp", "credential", "reset", "--id", other.AppID, "--append")
		as.fails(1, want, "user", "create", "--name", "mallory", "--password", "long-enough-1")
		// Reading the directory is allowed to every principal.
		as.ok("sp", "list")
		as.ok("user", "list")
	})
}

// TestUsers: user create (with a password, or a generated one printed
// once), list, show, delete; a user signs in with --username/--password,
// acts as itself, and refreshes with its refresh token (the profile keeps
// no password); a refused refresh token says to log in again.
func TestUsers(t *testing.T) {
	env, admin := adminCLI(t)
	sub := "/subscriptions/" + env.Subscription
	const password = "correct-horse-1"

	r := admin.ok("user", "create", "--name", "alice", "--display-name", "Alice A.", "--password", password)
	var alice struct{ ID, DisplayName, UserPrincipalName, Password string }
	decode(t, r, &alice)
	if alice.UserPrincipalName != "alice@privlink.local" || alice.DisplayName != "Alice A." || alice.ID == "" || alice.Password != "" {
		t.Fatalf("user create printed %+v", alice)
	}
	r = admin.ok("user", "create", "--name", "bob@privlink.local")
	var bob struct{ ID, UserPrincipalName, Password string }
	decode(t, r, &bob)
	if bob.Password == "" || !strings.Contains(r.stderr, "shown only now") {
		t.Fatalf("a generated password is printed once, with a warning: %+v, stderr %q", bob, r.stderr)
	}
	list := admin.ok("user", "list").stdout
	for _, want := range []string{"alice@privlink.local", "bob@privlink.local", alice.ID} {
		if !strings.Contains(list, want) {
			t.Fatalf("user list does not show %s:\n%s", want, list)
		}
	}
	if strings.Contains(list, password) || strings.Contains(list, bob.Password) {
		t.Fatalf("user list shows a password:\n%s", list)
	}
	for _, id := range []string{"alice", "alice@privlink.local", alice.ID} {
		if show := admin.ok("user", "show", "--id", id).stdout; !strings.Contains(show, alice.ID) {
			t.Fatalf("user show --id %s:\n%s", id, show)
		}
	}
	admin.fails(1, []string{"400 Bad Request", "Request_BadRequest", "already exists"}, "user", "create", "--name", "alice", "--password", password)
	admin.fails(1, []string{"400 Bad Request", "at least 8"}, "user", "create", "--name", "carol", "--password", "short")
	admin.fails(1, []string{"400 Bad Request", "privlink.local"}, "user", "create", "--name", "carol@example.com", "--password", password)
	admin.fails(2, []string{`required flag(s) "name" not set`}, "user", "create")

	login := func(c *cli, args ...string) result {
		t.Helper()
		return c.run(append([]string{"login", "--endpoint", env.URL, "--ca", env.Server.CAPath()}, args...)...)
	}
	as := newCLI(t)
	if r := login(as, "--username", "alice", "--password", password); r.code != 0 || !strings.Contains(r.stdout, "as user alice@privlink.local ") {
		t.Fatalf("login as alice: exit %d\nstdout:%s\nstderr:%s", r.code, r.stdout, r.stderr)
	}
	raw, err := os.ReadFile(as.profile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), password) {
		t.Fatalf("the profile keeps the password:\n%s", raw)
	}
	p := readProfile(t, as.profile)
	if p.Kind != kindUser || p.Username != "alice@privlink.local" || p.RefreshToken == "" || p.ClientSecret != "" {
		t.Fatalf("profile after a user's login: %+v", p)
	}

	// The user acts as itself: nothing until a role says otherwise.
	rgs := sub + "/resourcegroups?api-version=2021-04-01"
	as.fails(1, nil, "get", rgs)
	admin.ok("role", "assignment", "create", "--assignee", "alice@privlink.local", "--role", "Reader")
	as.ok("get", rgs)
	as.fails(1, []string{"403 Forbidden", "Authorization_RequestDenied"}, "user", "create", "--name", "eve", "--password", password)

	t.Run("wrong password", func(t *testing.T) {
		c := newCLI(t)
		r := login(c, "--username", "alice", "--password", "not-the-password")
		if r.code != 1 || !strings.Contains(r.stderr, "AADSTS50126") || !strings.Contains(r.stderr, "login failed") {
			t.Fatalf("exit %d, stderr %q; want 1 with AADSTS50126", r.code, r.stderr)
		}
		if _, err := os.Stat(c.profile); err == nil {
			t.Fatalf("a failed login wrote a profile")
		}
		r = login(c, "--username", "nobody", "--password", password)
		if r.code != 1 || !strings.Contains(r.stderr, "AADSTS50034") {
			t.Fatalf("unknown user: exit %d, stderr %q", r.code, r.stderr)
		}
	})

	t.Run("usage", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			args []string
			want string
		}{
			{"username without password", []string{"--username", "alice"}, "both --username and --password"},
			{"password without username", []string{"--password", "x"}, "both --username and --password"},
			{"username and client secret", []string{"--username", "alice", "--password", "x", "--client-secret", "s"}, "give one of them"},
			{"identity and username", []string{"--identity", "--username", "alice", "--password", "x"}, "--identity signs in as a managed identity"},
			{"object id without identity", []string{"--object-id", alice.ID}, "give --identity too"},
			{"two identities", []string{"--identity", "--client-id", "a", "--resource-id", "/b"}, "at most one"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				c := newCLI(t)
				if r := login(c, tt.args...); r.code != 2 || !strings.Contains(r.stderr, tt.want) {
					t.Fatalf("exit %d, stderr %q; want 2 with %q", r.code, r.stderr, tt.want)
				}
			})
		}
	})

	// rewrite changes the profile file as time or damage would.
	rewrite := func(t *testing.T, change func(p *profile)) {
		t.Helper()
		p := readProfile(t, as.profile)
		change(p)
		b, _ := json.Marshal(p)
		if err := os.WriteFile(as.profile, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("refresh when the token expires", func(t *testing.T) {
		as.t = t
		before := readProfile(t, as.profile)
		rewrite(t, func(p *profile) { p.AccessToken, p.ExpiresOn = "stale", time.Now().Add(-time.Hour) })
		as.ok("get", rgs)
		p := readProfile(t, as.profile)
		if p.AccessToken == "stale" || time.Until(p.ExpiresOn) < 5*time.Minute || p.RefreshToken == before.RefreshToken {
			t.Fatalf("not refreshed with the refresh token: %+v", p)
		}
	})

	t.Run("refresh when the token is refused", func(t *testing.T) {
		as.t = t
		rewrite(t, func(p *profile) { p.AccessToken = "refused" })
		as.ok("get", rgs)
		if p := readProfile(t, as.profile); p.AccessToken == "refused" {
			t.Fatalf("the refused token was kept")
		}
	})

	t.Run("a refused refresh token", func(t *testing.T) {
		as.t = t
		good := readProfile(t, as.profile)
		rewrite(t, func(p *profile) {
			p.AccessToken, p.ExpiresOn, p.RefreshToken = "stale", time.Now().Add(-time.Hour), "forged"
		})
		as.fails(1, []string{"AADSTS70000", "privlink login --username alice@privlink.local"}, "get", rgs)
		rewrite(t, func(p *profile) { *p = *good })
	})

	t.Run("a deleted user", func(t *testing.T) {
		as.t = t
		admin.t = t
		if r := admin.ok("user", "delete", "--id", "alice"); !strings.Contains(r.stderr, "deleted user alice@privlink.local") {
			t.Fatalf("user delete said %q", r.stderr)
		}
		rewrite(t, func(p *profile) { p.AccessToken, p.ExpiresOn = "stale", time.Now().Add(-time.Hour) })
		as.fails(1, []string{"AADSTS50034", "privlink login --username"}, "get", rgs)
		if r := login(newCLI(t), "--username", "alice", "--password", password); r.code != 1 {
			t.Fatalf("a deleted user signed in: exit %d", r.code)
		}
		admin.fails(1, []string{"404 Not Found", "Request_ResourceNotFound"}, "user", "show", "--id", "alice")
		admin.fails(1, []string{"404 Not Found"}, "user", "delete", "--id", "alice")
	})
}

// TestLoginIdentity: login --identity signs in as the default managed
// identity, or as a user-assigned one chosen by client id, object id or
// resource id; tokens come from the server's IMDS endpoint, again when
// the saved one is refused.
func TestLoginIdentity(t *testing.T) {
	env, admin := adminCLI(t)
	sub := "/subscriptions/" + env.Subscription
	login := func(c *cli, args ...string) result {
		t.Helper()
		return c.ok(append([]string{"login", "--endpoint", env.URL, "--ca", env.Server.CAPath(), "--identity"}, args...)...)
	}

	mi := newCLI(t)
	if r := login(mi); !strings.Contains(r.stdout, "as managed identity "+identity.ManagedIdentityID+" ") {
		t.Fatalf("login --identity said %q", r.stdout)
	}
	mi.ok("get", "/subscriptions?api-version=2022-12-01")
	if p := readProfile(t, mi.profile); p.Kind != kindIdentity || p.ClientSecret != "" || p.Identity != nil {
		t.Fatalf("profile of the default managed identity: %+v", p)
	}

	rg := sub + "/resourceGroups/ids"
	admin.ok("put", rg+"?api-version=2021-04-01", "{'location':'westus'}")
	uaiID := rg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai"
	var uai struct {
		Properties struct{ PrincipalID, ClientID string }
	}
	decode(t, admin.ok("put", uaiID+"?api-version=2023-01-31", "{'location':'westus'}"), &uai)
	admin.ok("role", "assignment", "create", "--assignee", uai.Properties.ClientID, "--role", "Reader", "--scope", rg)
	for _, tt := range []struct {
		name, flag, value string
	}{
		{"client id", "--client-id", uai.Properties.ClientID},
		{"object id", "--object-id", uai.Properties.PrincipalID},
		{"resource id", "--resource-id", uaiID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			r := login(c, tt.flag, tt.value)
			if want := "as managed identity " + uai.Properties.ClientID + " of " + uaiID; !strings.Contains(r.stdout, want) {
				t.Fatalf("login said %q, want %q", r.stdout, want)
			}
			c.ok("get", rg+"?api-version=2021-04-01")
			// Reader: it reads the group and may not change it.
			c.fails(1, []string{"AuthorizationFailed"}, "put", rg+"?api-version=2021-04-01", "{'location':'westus','tags':{'a':'b'}}")
			// A refused token is replaced by asking the IMDS endpoint again.
			p := readProfile(t, c.profile)
			p.AccessToken = "refused"
			b, _ := json.Marshal(p)
			if err := os.WriteFile(c.profile, b, 0o600); err != nil {
				t.Fatal(err)
			}
			c.ok("get", rg+"?api-version=2021-04-01")
		})
	}

	t.Run("unknown identity", func(t *testing.T) {
		c := newCLI(t)
		r := c.run("login", "--endpoint", env.URL, "--ca", env.Server.CAPath(), "--identity", "--client-id", "11111111-1111-1111-1111-111111111111")
		if r.code != 1 || !strings.Contains(r.stderr, "Identity not found") {
			t.Fatalf("exit %d, stderr %q; want 1 saying the identity is not found", r.code, r.stderr)
		}
	})

	t.Run("service principal profiles keep their format", func(t *testing.T) {
		b, err := os.ReadFile(admin.profile)
		if err != nil {
			t.Fatal(err)
		}
		var keys map[string]any
		if err := json.Unmarshal(b, &keys); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"kind", "username", "refreshToken", "identity"} {
			if _, ok := keys[k]; ok {
				t.Fatalf("a service principal's profile has %q, which older clients do not know:\n%s", k, b)
			}
		}
		// A profile written before users existed (no kind) signs in as
		// its service principal, and refreshes.
		old := newCLI(t)
		legacy, _ := json.Marshal(map[string]any{"endpoint": env.URL, "caFile": env.Server.CAPath(), "tenantId": identity.DefaultTenantID,
			"clientId": identity.DefaultClientID, "clientSecret": identity.DefaultClientSecret, "subscriptionId": env.Subscription,
			"accessToken": "old", "expiresOn": time.Now().Add(-time.Hour)})
		if err := os.WriteFile(old.profile, legacy, 0o600); err != nil {
			t.Fatal(err)
		}
		old.ok("get", "/subscriptions?api-version=2022-12-01")
	})
}

// tokenStatus asks the token endpoint for a client-credentials token
// directly and returns its status.
func tokenStatus(t *testing.T, env *testkit.Env, appID, secret string) int {
	t.Helper()
	resp, err := env.HTTP.PostForm(env.URL+"/"+identity.DefaultTenantID+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {appID}, "client_secret": {secret}, "scope": {armScope}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
