package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/eventhub/armeventhub"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/privlink/privlink/internal/certs"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/testkit"
)

// The seed's REST calls (managed-private-endpoints.md, "Create a managed
// private endpoint using the REST API"), pasted as the page prints them.
const (
	seedPath = `/subscriptions/<subscriptionIdADX>/resourceGroups/<resourceGroupNameADX>/providers/Microsoft.Kusto/clusters/<clusterName>/managedPrivateEndpoints/<newMpeName>?api-version=2022-02-01`

	seedEventHubBody = `{
    'properties': {
        'privateLinkResourceId':'/subscriptions/<subscriptionIdEventHub>/resourceGroups/<resourceGroupNameEventHub>/providers/Microsoft.EventHub/namespaces/<EventHubNamespace>',
        'groupId':'namespace',
        'requestMessage':'Please Approve.'
    }
}`

	seedEventHubResponse = `{
  "id": "/subscriptions/<subscriptionIdADX>/resourceGroups/<resourceGroupNameADX>/providers/Microsoft.Kusto/Clusters/<clusterName>/ManagedPrivateEndpoints/<newMpeName>",
  "name": "<clusterName>/<newMpeName>",
  "type": "Microsoft.Kusto/Clusters/ManagedPrivateEndpoints",
  "location": "DummyLocation",
  "properties": {
    "privateLinkResourceId": "/subscriptions/<subscriptionIdEventHub>/resourceGroups/<resourceGroupNameEventHub>/providers/Microsoft.EventHub/namespaces/<EventHubNamespace>",
    "groupId": "namespace",
    "requestMessage": "Please Approve.",
    "provisioningState": "Creating"
  }
}`

	seedStorageBody = `{
    'properties': {
        'privateLinkResourceId':'/subscriptions/<subscriptionIdStorage>/resourceGroups/<resourceGroupNameStorage>/providers/Microsoft.Storage/storageAccounts/<storageAccountName>',
        'groupId':'blob',
        'requestMessage':'Please Approve.'
    }
}`

	seedStorageResponse = `{
  "id": "/subscriptions/<subscriptionIdADX>/resourceGroups/<resourceGroupNameADX>/providers/Microsoft.Kusto/Clusters/<clusterName>/ManagedPrivateEndpoints/<newMpeName>",
  "name": "<clusterName>/<newMpeName>",
  "type": "Microsoft.Kusto/Clusters/ManagedPrivateEndpoints",
  "location": "DummyLocation",
  "properties": {
    "privateLinkResourceId": "/subscriptions/<subscriptionIdStorage>/resourceGroups/<resourceGroupNameStorage>/providers/Microsoft.Storage/storageAccounts/<storageAccountName>",
    "groupId": "blob",
    "requestMessage": "Please Approve.",
    "provisioningState": "Creating"
  }
}`

	// seedProgressResponse is the seed's GET answer with its example
	// privateLinkResourceId replaced by placeholders; "*" stands for any
	// value of the right form (systemData depends on who and when).
	seedProgressResponse = `{
  "id": "/subscriptions/<subscriptionIdADX>/resourceGroups/<resourceGroupNameADX>/providers/Microsoft.Kusto/Clusters/<clusterName>/ManagedPrivateEndpoints/<newMpeName>",
  "name": "<clusterName>/<newMpeName>",
  "type": "Microsoft.Kusto/Clusters/ManagedPrivateEndpoints",
  "location": "DummyLocation",
  "properties": {
    "privateLinkResourceId": "<privateLinkResourceId>",
    "groupId": "<groupId>",
    "requestMessage": "Please Approve.",
    "provisioningState": "Succeeded"
  },
  "systemData": {
    "createdBy": "*",
    "createdByType": "*",
    "createdAt": "*",
    "lastModifiedBy": "*",
    "lastModifiedByType": "*",
    "lastModifiedAt": "*"
  }
}`
)

// Names of the fixture's resources, each in its own resource group as in the seed.
const (
	adxGroup      = "adx-rg"
	clusterName   = "mycluster"
	eventHubGroup = "eventhub-rg"
	eventHubName  = "myeventhubns"
	storageGroup  = "storage-rg"
	storageName   = "share"
)

// result is what one run of the CLI left behind.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs Main in-process with its own profile file.
type cli struct {
	t       *testing.T
	profile string
}

func newCLI(t *testing.T) *cli {
	return &cli{t: t, profile: filepath.Join(t.TempDir(), "profile.json")}
}

// runIn runs the CLI with stdin and args, after --profile when the command
// takes one (before the command name, as users write global flags).
func (c *cli) runIn(stdin string, args ...string) result {
	c.t.Helper()
	var out, errOut bytes.Buffer
	if takesProfile(args) {
		args = append([]string{"--profile", c.profile}, args...)
	}
	code := Main(args, strings.NewReader(stdin), &out, &errOut)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// takesProfile reports whether the command args name declares --profile.
func takesProfile(args []string) bool {
	cmd := newRoot(nil, io.Discard, io.Discard)
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			continue // a flag before the command name ("-v get ...")
		}
		next := subCommand(cmd, a)
		if next == nil {
			break
		}
		cmd = next
	}
	return cmd.Flag("profile") != nil
}

func (c *cli) run(args ...string) result {
	c.t.Helper()
	return c.runIn("", args...)
}

// ok runs the CLI and fails the test unless it exits 0.
func (c *cli) ok(args ...string) result {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("privlink %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// login signs the CLI in to env as the default service principal.
func (c *cli) login(env *testkit.Env) {
	c.t.Helper()
	r := c.ok("login", "--endpoint", env.URL, "--ca", env.Server.CAPath())
	if got, want := r.stdout, "Logged in to "+env.URL; !strings.HasPrefix(got, want) {
		c.t.Fatalf("login said %q, want it to start with %q", got, want)
	}
}

// asRequester signs the fixture's CLI in as testkit's Requester, a
// cluster administrator who does not own the targets: the endpoints it
// creates wait Pending for the owner, as in the seed's approval story.
func (f *fixture) asRequester() {
	f.cli.t.Helper()
	p := f.env.Requester(f.cli.t)
	f.cli.ok("login", "--endpoint", f.env.URL, "--ca", f.env.Server.CAPath(), "--client-id", p.ClientID, "--client-secret", p.Secret)
}

// fixture is a server with a Kusto cluster, an Event Hubs namespace and a
// storage account made with the official SDK, and a CLI logged in to it.
type fixture struct {
	env        *testkit.Env
	cli        *cli
	clusterID  string
	eventHubID string
	storageID  string
	// seed replaces the seed's <...> placeholders (except <newMpeName>).
	seed map[string]string
}

func newFixture(t *testing.T, opts ...testkit.Option) *fixture {
	t.Helper()
	env := testkit.Start(t, opts...)
	ctx := context.Background()
	rgc, err := armresources.NewResourceGroupsClient(env.Subscription, env.Cred, env.Options)
	if err != nil {
		t.Fatal(err)
	}
	for _, rg := range []string{adxGroup, eventHubGroup, storageGroup} {
		if _, err := rgc.CreateOrUpdate(ctx, rg, armresources.ResourceGroup{Location: to.Ptr("westus")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	kc, err := armkusto.NewClustersClient(env.Subscription, env.Cred, env.Options)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := kc.BeginCreateOrUpdate(ctx, adxGroup, clusterName, armkusto.Cluster{Location: to.Ptr("westus"),
		SKU: &armkusto.AzureSKU{Name: to.Ptr(armkusto.AzureSKUNameDevNoSLAStandardD11V2), Tier: to.Ptr(armkusto.AzureSKUTierBasic)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := kp.PollUntilDone(ctx, testkit.PollOptions)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := armeventhub.NewNamespacesClient(env.Subscription, env.Cred, env.Options)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := ec.BeginCreateOrUpdate(ctx, eventHubGroup, eventHubName, armeventhub.EHNamespace{Location: to.Ptr("westus")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := ep.PollUntilDone(ctx, testkit.PollOptions)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := armstorage.NewAccountsClient(env.Subscription, env.Cred, env.Options)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := sc.BeginCreate(ctx, storageGroup, storageName, armstorage.AccountCreateParameters{Location: to.Ptr("westus"),
		Kind: to.Ptr(armstorage.KindStorageV2), SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := sp.PollUntilDone(ctx, testkit.PollOptions)
	if err != nil {
		t.Fatal(err)
	}
	c := newCLI(t)
	c.login(env)
	return &fixture{
		env: env, cli: c, clusterID: *cluster.ID, eventHubID: *ns.ID, storageID: *sa.ID,
		seed: map[string]string{
			"<subscriptionIdADX>": env.Subscription, "<resourceGroupNameADX>": adxGroup, "<clusterName>": clusterName,
			"<subscriptionIdEventHub>": env.Subscription, "<resourceGroupNameEventHub>": eventHubGroup, "<EventHubNamespace>": eventHubName,
			"<subscriptionIdStorage>": env.Subscription, "<resourceGroupNameStorage>": storageGroup, "<storageAccountName>": storageName,
		},
	}
}

// fill replaces the seed's placeholders in s, with mpe as <newMpeName>.
func (f *fixture) fill(s, mpe string, more ...string) string {
	var pairs []string
	for k, v := range f.seed {
		pairs = append(pairs, k, v)
	}
	pairs = append(pairs, "<newMpeName>", mpe)
	pairs = append(pairs, more...)
	return strings.NewReplacer(pairs...).Replace(s)
}

// mpeFlags name the fixture's cluster for the task commands.
func mpeFlags() []string { return []string{"--cluster", clusterName, "--resource-group", adxGroup} }

func args(a ...[]string) []string {
	var out []string
	for _, s := range a {
		out = append(out, s...)
	}
	return out
}

// jsonValue is a decoded JSON value that keeps the order of object keys.
type jsonValue struct {
	keys   []string // object keys, in order (nil for other values)
	fields map[string]*jsonValue
	items  []*jsonValue
	scalar any
	object bool
}

func parseOrdered(t *testing.T, b string) *jsonValue {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(b))
	d.UseNumber()
	v, err := decodeOrdered(d)
	if err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	if _, err := d.Token(); err != io.EOF {
		t.Fatalf("trailing data after JSON:\n%s", b)
	}
	return v
}

func decodeOrdered(d *json.Decoder) (*jsonValue, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		v := &jsonValue{object: true, fields: map[string]*jsonValue{}}
		for d.More() {
			k, err := d.Token()
			if err != nil {
				return nil, err
			}
			f, err := decodeOrdered(d)
			if err != nil {
				return nil, err
			}
			v.keys = append(v.keys, k.(string))
			v.fields[k.(string)] = f
		}
		_, err := d.Token()
		return v, err
	case json.Delim('['):
		v := &jsonValue{}
		for d.More() {
			it, err := decodeOrdered(d)
			if err != nil {
				return nil, err
			}
			v.items = append(v.items, it)
		}
		_, err := d.Token()
		return v, err
	}
	return &jsonValue{scalar: tok}, nil
}

// field returns the value at a path of object keys, or nil.
func (v *jsonValue) field(path ...string) *jsonValue {
	for _, k := range path {
		if v == nil || !v.object {
			return nil
		}
		v = v.fields[k]
	}
	return v
}

func (v *jsonValue) str(path ...string) string {
	f := v.field(path...)
	if f == nil {
		return ""
	}
	s, _ := f.scalar.(string)
	return s
}

var armTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$`)

// matchOrdered checks that got has want's keys in want's order and want's
// values; a want of "*" accepts any non-empty string (a time in ARM's
// format for keys ending in "At"). Top-level keys in extra may follow.
func matchOrdered(t *testing.T, got, want *jsonValue, path string, extra ...string) {
	t.Helper()
	switch {
	case want.object:
		if !got.object {
			t.Fatalf("%s: got a non-object, want an object", path)
		}
		keys := got.keys
		if len(extra) > 0 && len(keys) > len(want.keys) {
			for _, k := range keys[len(want.keys):] {
				if !contains(extra, k) {
					t.Fatalf("%s: unexpected key %q (keys %v)", path, k, got.keys)
				}
			}
			keys = keys[:len(want.keys)]
		}
		if !reflect.DeepEqual(keys, want.keys) {
			t.Fatalf("%s: keys %v, want %v in this order", path, got.keys, want.keys)
		}
		for _, k := range want.keys {
			matchOrdered(t, got.fields[k], want.fields[k], path+"."+k)
		}
	case want.items != nil:
		if got, want := len(got.items), len(want.items); got != want {
			t.Fatalf("%s: %d items, want %d", path, got, want)
		}
		for i := range want.items {
			matchOrdered(t, got.items[i], want.items[i], path)
		}
	case want.scalar == "*":
		s, _ := got.scalar.(string)
		if s == "" {
			t.Fatalf("%s: got %v, want a non-empty string", path, got.scalar)
		}
		if strings.HasSuffix(path, "At") && !armTime.MatchString(s) {
			t.Fatalf("%s: %q is not a time as ARM writes it", path, s)
		}
	default:
		if got.object || got.items != nil || got.scalar != want.scalar {
			t.Fatalf("%s: got %v, want %v", path, got.scalar, want.scalar)
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestSeedREST runs the seed's armclient calls, bodies pasted as the page
// prints them, in the ways a user passes them: the single-quoted JSON as is,
// PowerShell's @"…"@ here-string pasted into bash (which hands over "@\n…\n@"),
// @FILE and @- (stdin).
func TestSeedREST(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	targets := []struct {
		name, body, response, target, group string
	}{
		{"eventhub", seedEventHubBody, seedEventHubResponse, f.eventHubID, "namespace"},
		{"storage", seedStorageBody, seedStorageResponse, f.storageID, "blob"},
	}
	forms := []struct {
		name string
		arg  func(mpe, body string) (arg, stdin string)
	}{
		{"single-quoted", func(_, body string) (string, string) { return body, "" }},
		{"here-string", func(_, body string) (string, string) { return "@\n" + body + "\n@", "" }},
		{"here-string-indented", func(_, body string) (string, string) {
			// As pasted straight from the page's Markdown, where the block sits in a list item.
			return "@\n    " + strings.ReplaceAll(body, "\n", "\n    ") + "\n    @", ""
		}},
		{"here-string-crlf", func(_, body string) (string, string) {
			return strings.ReplaceAll("@\n"+body+"\n@", "\n", "\r\n"), ""
		}},
		{"file", func(mpe, body string) (string, string) {
			p := filepath.Join(dir, mpe+".json")
			if err := os.WriteFile(p, []byte(body+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			return "@" + p, ""
		}},
		{"stdin", func(_, body string) (string, string) { return "@-", body }},
	}
	for _, tg := range targets {
		for _, fm := range forms {
			t.Run(tg.name+"/"+fm.name, func(t *testing.T) {
				mpe := "mpeTo-" + tg.name + "-" + fm.name
				path := f.fill(seedPath, mpe)
				arg, stdin := fm.arg(mpe, f.fill(tg.body, mpe))
				r := f.cli.runIn(stdin, "PUT", path, arg)
				if r.code != 0 {
					t.Fatalf("PUT: exit %d\n%s%s", r.code, r.stdout, r.stderr)
				}
				got := parseOrdered(t, r.stdout)
				matchOrdered(t, got, parseOrdered(t, f.fill(tg.response, mpe)), "PUT", "systemData")
				if got, want := got.str("properties", "privateLinkResourceId"), tg.target; got != want {
					t.Fatalf("privateLinkResourceId %q, want %q", got, want)
				}

				// How to check progress: GET until the provisioning ends.
				want := parseOrdered(t, f.fill(seedProgressResponse, mpe, "<privateLinkResourceId>", tg.target, "<groupId>", tg.group))
				deadline := time.Now().Add(10 * time.Second)
				for {
					r = f.cli.ok("GET", path)
					got = parseOrdered(t, r.stdout)
					if got.str("properties", "provisioningState") != "Creating" || time.Now().After(deadline) {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
				matchOrdered(t, got, want, "GET")
				if got, want := got.str("systemData", "createdByType"), "Application"; got != want {
					t.Fatalf("systemData.createdByType %q, want %q (the CLI signs in as a service principal)", got, want)
				}
				if got, want := got.str("systemData", "createdBy"), identity.DefaultClientID; got != want {
					t.Fatalf("systemData.createdBy %q, want %q", got, want)
				}
			})
		}
	}
}

// TestVerbs exercises the armclient verbs in both spellings.
func TestVerbs(t *testing.T) {
	f := newFixture(t)
	mpe := f.clusterID + "/managedPrivateEndpoints/mpeToEventHub?api-version=2022-02-01"
	f.cli.ok("put", mpe, f.fill(seedEventHubBody, "mpeToEventHub"))
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // in stdout
	}{
		{"GET", []string{"GET", mpe}, 0, `"name": "mycluster/mpeToEventHub"`},
		{"get", []string{"get", mpe}, 0, `"name": "mycluster/mpeToEventHub"`},
		{"get full URL", []string{"get", f.env.URL + mpe}, 0, `"name": "mycluster/mpeToEventHub"`},
		{"get without leading slash", []string{"get", strings.TrimPrefix(mpe, "/")}, 0, `"name": "mycluster/mpeToEventHub"`},
		{"HEAD", []string{"HEAD", mpe}, 0, ""},
		{"head missing", []string{"head", strings.Replace(mpe, "mpeToEventHub", "missing", 1)}, 1, ""},
		{"PATCH", []string{"PATCH", mpe, "{'properties':{'requestMessage':'Please approve, again.'}}"}, 0, `"requestMessage": "Please approve, again."`},
		{"POST", []string{"POST", f.clusterID + "/managedPrivateEndpointsCheckNameAvailability?api-version=2022-02-01",
			"{'name':'mpeToEventHub','type':'Microsoft.Kusto/clusters/managedPrivateEndpoints'}"}, 0, `"reason": "AlreadyExists"`},
		{"post", []string{"post", f.clusterID + "/managedPrivateEndpointsCheckNameAvailability?api-version=2022-02-01",
			`{"name":"free","type":"Microsoft.Kusto/clusters/managedPrivateEndpoints"}`}, 0, `"nameAvailable": true`},
		{"DELETE", []string{"DELETE", mpe}, 0, ""},
		{"delete again", []string{"delete", mpe}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.cli.run(tt.args...)
			if got, want := r.code, tt.wantCode; got != want {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", got, want, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, tt.wantOut) {
				t.Fatalf("stdout %q does not contain %q", r.stdout, tt.wantOut)
			}
		})
	}

	// -v shows the status line and headers on stderr, the body stays on stdout.
	r := f.cli.ok("-v", "get", "/subscriptions/"+f.env.Subscription+"/resourceGroups/"+adxGroup+"?api-version=2021-04-01")
	for _, want := range []string{"GET " + f.env.URL + "/subscriptions/", "200 OK", "X-Ms-Request-Id: "} {
		if !strings.Contains(r.stderr, want) {
			t.Fatalf("-v stderr %q does not contain %q", r.stderr, want)
		}
	}
	if got, want := parseOrdered(t, r.stdout).str("name"), adxGroup; got != want {
		t.Fatalf("resource group name %q, want %q", got, want)
	}
}

// tableRows parses the CLI's tabwriter tables: rows of cells split at runs of two or more spaces.
func tableRows(out string) [][]string {
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		rows = append(rows, regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1))
	}
	return rows
}

// connectionState is the "privlink" member 'mpe show' adds.
func connectionState(t *testing.T, show result) (state, description string) {
	t.Helper()
	v := parseOrdered(t, show.stdout)
	return v.str("privlink", "connectionState"), v.str("privlink", "description")
}

// TestApproval follows the seed's approval step from the target's side with
// pec, and watches the endpoint's side with mpe.
func TestApproval(t *testing.T) {
	f := newFixture(t)
	f.asRequester()
	c := f.cli
	r := c.ok(args([]string{"mpe", "create", "mpeToEventHub"}, mpeFlags(), []string{"--target", f.eventHubID, "--group-id", "namespace", "--message", "Please Approve."})...)
	if got, want := parseOrdered(t, r.stdout).str("properties", "provisioningState"), "Creating"; got != want {
		t.Fatalf("mpe create: provisioningState %q, want %q", got, want)
	}
	if got, want := r.stderr, "connection: Pending on "+f.eventHubID; !strings.Contains(got, want) {
		t.Fatalf("mpe create stderr %q, want %q", got, want)
	}

	r = c.ok("pec", "list", "--resource", f.eventHubID)
	rows := tableRows(r.stdout)
	if len(rows) != 1 {
		t.Fatalf("pec list: %d connections, want 1:\n%s", len(rows), r.stdout)
	}
	conn := rows[0][0]
	if got, want := rows[0][1:3], []string{"Pending", "Please Approve."}; !reflect.DeepEqual(got, want) {
		t.Fatalf("pec list: %v, want %v", got, want)
	}
	if !strings.HasPrefix(conn, clusterName+".mpeToEventHub.") {
		t.Fatalf("connection name %q, want it to start with %q", conn, clusterName+".mpeToEventHub.")
	}

	r = c.ok("pec", "approve", conn, "--resource", f.eventHubID)
	if got, want := parseOrdered(t, r.stdout).str("properties", "privateLinkServiceConnectionState", "status"), "Approved"; got != want {
		t.Fatalf("pec approve: status %q, want %q", got, want)
	}
	if got, want := tableRows(c.ok("pec", "list", "--resource", f.eventHubID).stdout)[0][1], "Approved"; got != want {
		t.Fatalf("pec list after approve: %q, want %q", got, want)
	}
	rows = tableRows(c.ok(args([]string{"mpe", "list"}, mpeFlags())...).stdout)
	if got, want := rows, [][]string{{"mpeToEventHub", "namespace", "Succeeded", "Approved", f.eventHubID}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("mpe list: %q, want %q", got, want)
	}
	// --cluster also takes the cluster's resource id.
	show := []string{"mpe", "show", "mpeToEventHub", "--cluster", f.clusterID}
	if got, want := parseOrdered(t, c.ok(show...).stdout).str("privlink", "connectionState"), "Approved"; got != want {
		t.Fatalf("mpe show after approve: %q, want %q", got, want)
	}

	c.ok("pec", "reject", conn, "--resource", f.eventHubID, "--description", "No longer needed.")
	if state, desc := connectionState(t, c.ok(show...)); state != "Rejected" || desc != "No longer needed." {
		t.Fatalf("mpe show after reject: %q %q, want Rejected with the description", state, desc)
	}
	// A rejected connection cannot be approved again: the server says why (exit 1).
	// The CLI adds what azure-cli adds to a storage account's terse answer.
	if r := c.run("pec", "approve", conn, "--resource", f.eventHubID); r.code != 1 || !strings.Contains(r.stdout, `"code": "BadRequest"`) ||
		!strings.Contains(r.stderr, "delete the managed private endpoint and create it again") {
		t.Fatalf("approve after reject: exit %d, want 1 with the ARM error and what to do\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = c.ok("pec", "remove", conn, "--resource", f.eventHubID)
	if got, want := r.stderr, "removed "+conn; !strings.Contains(got, want) {
		t.Fatalf("pec remove stderr %q, want %q", got, want)
	}
	if rows := tableRows(c.ok("pec", "list", "--resource", f.eventHubID).stdout); len(rows) != 0 {
		t.Fatalf("pec list after remove: %v, want none", rows)
	}
	if state, _ := connectionState(t, c.ok(show...)); state != "Disconnected" {
		t.Fatalf("mpe show after remove: %q, want Disconnected", state)
	}
	if r := c.ok("pec", "remove", conn, "--resource", f.eventHubID); !strings.Contains(r.stderr, "nothing to remove") {
		t.Fatalf("second pec remove stderr %q", r.stderr)
	}

	r = c.ok(args([]string{"mpe", "delete", "mpeToEventHub", "--wait"}, mpeFlags())...)
	if got, want := lastLine(r.stderr), "deleted"; got != want {
		t.Fatalf("mpe delete --wait ended with %q, want %q\n%s", got, want, r.stderr)
	}
	if r := c.run(show...); r.code != 1 || !strings.Contains(r.stderr, "ResourceNotFound") {
		t.Fatalf("mpe show after delete: exit %d, want 1 with ResourceNotFound\n%s", r.code, r.stderr)
	}
	if r := c.ok(args([]string{"mpe", "delete", "mpeToEventHub"}, mpeFlags())...); !strings.Contains(r.stderr, "nothing to delete") {
		t.Fatalf("second mpe delete stderr %q", r.stderr)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestWait watches provisioning progress with a server that takes its time.
func TestWait(t *testing.T) {
	f := newFixture(t, testkit.WithDelay(300*time.Millisecond))
	c := f.cli
	r := c.ok(args([]string{"mpe", "create", "mpeToStorage", "--wait"}, mpeFlags(), []string{"--target", f.storageID, "--group-id", "blob"})...)
	if got := progress(r.stderr); !endsWith(got, "Creating", "Succeeded") {
		t.Fatalf("mpe create --wait progress %v, want Creating then Succeeded\n%s", got, r.stderr)
	}
	if got, want := parseOrdered(t, r.stdout).str("properties", "provisioningState"), "Succeeded"; got != want {
		t.Fatalf("mpe create --wait printed provisioningState %q, want %q", got, want)
	}
	r = c.ok(args([]string{"mpe", "delete", "mpeToStorage", "--wait"}, mpeFlags())...)
	if got := progress(r.stderr); !endsWith(got, "Deleting", "") {
		t.Fatalf("mpe delete --wait progress %v, want Deleting\n%s", got, r.stderr)
	}
	if got, want := lastLine(r.stderr), "deleted"; got != want {
		t.Fatalf("mpe delete --wait ended with %q, want %q", got, want)
	}
	r = c.ok(args([]string{"mpe", "list"}, mpeFlags())...)
	if rows := tableRows(r.stdout); len(rows) != 0 {
		t.Fatalf("mpe list after delete: %v", rows)
	}
}

// endsWith reports whether states are some of before then last (when last
// is not ""), with each state printed once: what waitFor prints while a
// state changes from before to last. A slow machine may miss before.
func endsWith(states []string, before, last string) bool {
	if last != "" {
		if len(states) == 0 || states[len(states)-1] != last {
			return false
		}
		states = states[:len(states)-1]
	}
	return len(states) == 0 || len(states) == 1 && states[0] == before
}

// progress lists the provisioning states waitFor printed.
func progress(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if s, ok := strings.CutPrefix(l, "provisioningState: "); ok {
			out = append(out, s)
		}
	}
	return out
}

// TestDFSNote: a dfs endpoint needs a blob one to the same account, as the seed notes.
func TestDFSNote(t *testing.T) {
	f := newFixture(t)
	c := f.cli
	dfs := args([]string{"mpe", "create", "mpeToDfs"}, mpeFlags(), []string{"--target", f.storageID, "--group-id", "dfs"})
	if r := c.ok(dfs...); !strings.Contains(r.stderr, "note: ") || !strings.Contains(r.stderr, "'blob'") {
		t.Fatalf("mpe create dfs: stderr %q, want a note about blob", r.stderr)
	}
	show := args([]string{"mpe", "show", "mpeToDfs"}, mpeFlags())
	r := c.ok(show...)
	if !strings.Contains(r.stderr, "note: ") || !strings.Contains(r.stderr, "blob") {
		t.Fatalf("mpe show dfs: stderr %q, want a note about blob", r.stderr)
	}
	if notes := parseOrdered(t, r.stdout).field("privlink", "notes"); notes == nil || len(notes.items) != 1 {
		t.Fatalf("mpe show dfs: privlink.notes missing\n%s", r.stdout)
	}
	if r := c.ok(args([]string{"mpe", "list"}, mpeFlags())...); !strings.Contains(r.stderr, "note (mpeToDfs): ") {
		t.Fatalf("mpe list: stderr %q, want a note for mpeToDfs", r.stderr)
	}

	// Once its account is deleted the endpoint is Disconnected, and what
	// dfs traffic would need is no longer said.
	gone := strings.Replace(f.storageID, "/storageAccounts/", "/storageAccounts/goingaway", 1)
	c.ok("put", gone+"?api-version=2023-01-01", "{'location':'westus','kind':'StorageV2','sku':{'name':'Standard_LRS'}}")
	c.ok(args([]string{"mpe", "create", "dfsGoing"}, mpeFlags(), []string{"--target", gone, "--group-id", "dfs"})...)
	c.ok("delete", gone+"?api-version=2023-01-01")
	if r := c.ok(args([]string{"mpe", "show", "dfsGoing"}, mpeFlags())...); strings.Contains(r.stderr, "note") || !strings.Contains(r.stdout, "Disconnected") {
		t.Fatalf("mpe show of a dfs endpoint whose account was deleted: %s%s", r.stdout, r.stderr)
	}

	if r := c.ok(args([]string{"mpe", "create", "mpeToBlob"}, mpeFlags(), []string{"--target", f.storageID, "--group-id", "blob"})...); strings.Contains(r.stderr, "note") {
		t.Fatalf("mpe create blob: unexpected note %q", r.stderr)
	}
	if r := c.ok(show...); strings.Contains(r.stderr, "note") {
		t.Fatalf("mpe show dfs with a blob endpoint: unexpected note %q", r.stderr)
	}
}

// TestExitCodes: 0 on success, 1 when the server answers an error (its ARM
// error JSON on stdout for the REST verbs), 2 for usage and local errors.
func TestExitCodes(t *testing.T) {
	f := newFixture(t)
	missing := f.clusterID + "/managedPrivateEndpoints/missing?api-version=2022-02-01"
	mpe := f.clusterID + "/managedPrivateEndpoints/mpeToEventHub?api-version=2022-02-01"
	badGroup := strings.Replace(f.fill(seedEventHubBody, "x"), "'namespace'", "'blob'", 1)
	notLoggedIn := &cli{t: t, profile: filepath.Join(t.TempDir(), "none.json")}
	// Without a profile the CLI signs in as the environment says; here the
	// environment names a server that is not there.
	clearEnv(t)
	t.Setenv("PRIVLINK_ENDPOINT", closedURL(t))
	tests := []struct {
		name       string
		cli        *cli
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "get ok", args: []string{"get", "/subscriptions?api-version=2022-12-01"}, wantStdout: f.env.Subscription},
		{name: "put ok", args: []string{"put", mpe, f.fill(seedEventHubBody, "mpeToEventHub")}, wantStdout: `"provisioningState": "Creating"`},
		{name: "mpe list ok", args: args([]string{"mpe", "list"}, mpeFlags()), wantStdout: "mpeToEventHub"},
		{name: "help", args: []string{"--help"}, wantStdout: "mpe"},

		{name: "get missing mpe", args: []string{"GET", missing}, wantCode: 1, wantStdout: `"code": "ResourceNotFound"`},
		{name: "put bad groupId", args: []string{"PUT", missing, badGroup}, wantCode: 1, wantStdout: `"code": "InvalidGroupId"`},
		{name: "put missing target", args: []string{"PUT", missing, strings.Replace(f.fill(seedEventHubBody, "x"), eventHubName, "nosuchnamespace", 1)}, wantCode: 1, wantStdout: `"code": "PrivateLinkResourceNotFound"`},
		{name: "put bad api-version", args: []string{"PUT", strings.Replace(missing, "2022-02-01", "1999-01-01", 1), f.fill(seedEventHubBody, "x")}, wantCode: 1, wantStdout: `"code": "`},
		{name: "mpe show missing", args: args([]string{"mpe", "show", "missing"}, mpeFlags()), wantCode: 1, wantStderr: "privlink: 404 Not Found: ResourceNotFound: "},
		{name: "mpe create bad groupId", args: args([]string{"mpe", "create", "x"}, mpeFlags(), []string{"--target", f.eventHubID, "--group-id", "blob"}), wantCode: 1, wantStdout: `"code": "InvalidGroupId"`},
		{name: "mpe list missing cluster", args: []string{"mpe", "list", "--cluster", "nope", "-g", adxGroup}, wantCode: 1, wantStderr: "ResourceNotFound"},
		{name: "pec approve missing", args: []string{"pec", "approve", "missing", "--resource", f.eventHubID}, wantCode: 1, wantStdout: `"code": "`},

		{name: "get without path", args: []string{"get"}, wantCode: 2, wantStderr: "arg(s)"},
		{name: "get too many args", args: []string{"get", "a", "b", "c"}, wantCode: 2, wantStderr: "arg(s)"},
		{name: "put without body", args: []string{"PUT", mpe}, wantCode: 2, wantStderr: "PUT needs a body"},
		{name: "patch without body", args: []string{"patch", mpe}, wantCode: 2, wantStderr: "PATCH needs a body"},
		{name: "put invalid body", args: []string{"put", mpe, "{'properties':"}, wantCode: 2, wantStderr: "the body is not JSON as ARM reads it: Unexpected end when deserializing object. Path 'properties', line 1, position 14."},
		{name: "put missing file", args: []string{"put", mpe, "@" + filepath.Join(t.TempDir(), "nope.json")}, wantCode: 2, wantStderr: "nope.json"},
		{name: "unknown flag", args: []string{"get", "--bogus", mpe}, wantCode: 2, wantStderr: "unknown flag: --bogus"},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2, wantStderr: `unknown command "frobnicate"`},
		{name: "mpe create without flags", args: []string{"mpe", "create", "x"}, wantCode: 2, wantStderr: "required flag(s)"},
		{name: "mpe create without name", args: args([]string{"mpe", "create"}, mpeFlags(), []string{"--target", f.eventHubID, "--group-id", "namespace"}), wantCode: 2, wantStderr: "arg(s)"},
		{name: "mpe show cluster name without group", args: []string{"mpe", "show", "x", "--cluster", clusterName}, wantCode: 2, wantStderr: "--resource-group"},
		{name: "mpe show bad cluster id", args: []string{"mpe", "show", "x", "--cluster", "/subscriptions"}, wantCode: 2, wantStderr: "--cluster"},
		{name: "mpe list without cluster", args: []string{"mpe", "list"}, wantCode: 2, wantStderr: `required flag(s) "cluster" not set`},
		{name: "pec list without resource", args: []string{"pec", "list"}, wantCode: 2, wantStderr: `required flag(s) "resource" not set`},
		{name: "pec list bad resource", args: []string{"pec", "list", "--resource", "share"}, wantCode: 2, wantStderr: "--resource must be the resource id"},
		{name: "pec approve without name", args: []string{"pec", "approve", "--resource", f.eventHubID}, wantCode: 2, wantStderr: "arg(s)"},
		{name: "env bad addr", args: []string{"env", "--addr", "nonsense", "--data", t.TempDir()}, wantCode: 2, wantStderr: "--addr"},
		{name: "login with args", args: []string{"login", "extra"}, wantCode: 2, wantStderr: "unknown command"},
		{name: "not logged in, no server: get", cli: notLoggedIn, args: []string{"get", mpe}, wantCode: 2, wantStderr: "run 'privlink login'"},
		{name: "not logged in, no server: mpe list", cli: notLoggedIn, args: args([]string{"mpe", "list"}, mpeFlags()), wantCode: 2, wantStderr: "no profile at"},
		{name: "not logged in, no server: pec list", cli: notLoggedIn, args: []string{"pec", "list", "--resource", f.eventHubID}, wantCode: 2, wantStderr: "no profile at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *f.cli
			if tt.cli != nil {
				c = *tt.cli
			}
			c.t = t
			r := c.run(tt.args...)
			if got, want := r.code, tt.wantCode; got != want {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", got, want, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, tt.wantStdout) {
				t.Fatalf("stdout %q does not contain %q", r.stdout, tt.wantStdout)
			}
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Fatalf("stderr %q does not contain %q", r.stderr, tt.wantStderr)
			}
			if tt.wantCode == 1 && strings.HasPrefix(strings.TrimSpace(r.stdout), "{") {
				// The REST verbs print the ARM error document as the server sent it.
				if v := parseOrdered(t, r.stdout); v.str("error", "code") == "" || v.str("error", "message") == "" {
					t.Fatalf("stdout is not an ARM error: %s", r.stdout)
				}
			}
		})
	}
}

// TestBody covers readBody, normalizeJSON and doubleQuote.
func TestBody(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	strict := "{\"b\": 1.50,\n  \"a\": [1, 2e3],\t\"c\": \"<&> \\u00e9 \\\"q\\\"\", \"d\": null}"
	tests := []struct {
		name    string
		arg     string
		stdin   string
		want    string
		wantErr string
	}{
		{name: "strict JSON kept byte for byte", arg: strict, want: strict},
		{name: "strict JSON trimmed", arg: "\n  " + strict + "  \n", want: strict},
		{name: "strict JSON with a single quote in a string", arg: `{"m":"it's"}`, want: `{"m":"it's"}`},
		{name: "single quotes, key order kept", arg: "{'z':'1','a':{'y':'2','b':'3'}}", want: `{"z":"1","a":{"y":"2","b":"3"}}`},
		{name: "seed body", arg: "{\n    'properties': {\n        'groupId':'blob',\n        'requestMessage':'Please Approve.'\n    }\n}",
			want: "{\n    \"properties\": {\n        \"groupId\":\"blob\",\n        \"requestMessage\":\"Please Approve.\"\n    }\n}"},
		{name: "escaped single quote", arg: `{'m':'it\'s'}`, want: `{"m":"it's"}`},
		{name: "double quotes in single quotes", arg: `{'m':'say "hi"'}`, want: `{"m":"say \"hi\""}`},
		{name: "escaped double quotes in single quotes", arg: `{'m':'say \"hi\"'}`, want: `{"m":"say \"hi\""}`},
		{name: "escaped backslash", arg: `{'p':'C:\\temp\\'}`, want: `{"p":"C:\\temp\\"}`},
		{name: "escape sequences", arg: `{'m':'line1\nline2\ttab \u00e9 \/'}`, want: `{"m":"line1\nline2\ttab é /"}`},
		{name: "html characters not escaped", arg: `{'m':'<b>Tom & Jerry</b>'}`, want: `{"m":"<b>Tom & Jerry</b>"}`},
		{name: "non-ASCII", arg: `{'m':'café ✓'}`, want: `{"m":"café ✓"}`},
		{name: "mixed quotes", arg: `{"a":'x',"b":"it's",'c':"y"}`, want: `{"a":"x","b":"it's","c":"y"}`},
		{name: "numbers and literals untouched", arg: `{'n':1.50,'t':true,'z':null,'l':[1,'2']}`, want: `{"n":1.50,"t":true,"z":null,"l":[1,"2"]}`},
		{name: "empty single-quoted string", arg: `{'m':''}`, want: `{"m":""}`},
		{name: "unquoted names", arg: `{properties: {groupId: 'blob'}}`, want: `{"properties": {"groupId": "blob"}}`},
		{name: "trailing comma", arg: `{'a':'b',}`, want: `{"a":"b" }`},
		{name: "here-string", arg: "@\n{\n    'a':'b'\n}\n@", want: "{\n    \"a\":\"b\"\n}"},
		{name: "here-string CRLF", arg: "@\r\n{'a':'b'}\r\n@", want: `{"a":"b"}`},
		{name: "here-string array", arg: "@\n['a']\n@", want: `["a"]`},
		{name: "here-string strict JSON", arg: "@\n{\"a\":\"b\"}\n@", want: `{"a":"b"}`},
		{name: "here-string on one line", arg: "@{'a':'b'}@", want: `{"a":"b"}`},
		{name: "file", arg: "@" + file("body.json", "{'a':'b'}\n"), want: `{"a":"b"}`},
		{name: "file strict", arg: "@" + file("strict.json", strict+"\n"), want: strict},
		{name: "file with UTF-8 BOM", arg: "@" + file("bom.json", "\ufeff{\"a\":\"b\"}\r\n"), want: `{"a":"b"}`},
		// Windows PowerShell's Out-File and '>' write UTF-16 LE with a byte order mark.
		{name: "file from Out-File (UTF-16 LE with BOM)", arg: "@" + file("outfile.json", utf16Text("{\r\n  'm':'café ✓'\r\n}\r\n", false, true)), want: "{\r\n  \"m\":\"café ✓\"\r\n}"},
		{name: "file in UTF-16 BE with BOM", arg: "@" + file("be.json", utf16Text(`{"m":"ü"}`, true, true)), want: `{"m":"ü"}`},
		{name: "stdin in UTF-16 LE with BOM", arg: "@-", stdin: utf16Text(`{'a':'b'}`, false, true), want: `{"a":"b"}`},
		{name: "stdin with UTF-8 BOM", arg: "@-", stdin: "\ufeff{'a':'b'}", want: `{"a":"b"}`},
		{name: "stdin", arg: "@-", stdin: "{'a':'b'}", want: `{"a":"b"}`},
		{name: "stdin strict", arg: " @- ", stdin: strict, want: strict},

		{name: "missing file", arg: "@" + filepath.Join(dir, "nope.json"), wantErr: "nope.json"},
		{name: "empty", arg: "", wantErr: "the body is empty"},
		{name: "not JSON", arg: "properties=blob", wantErr: "not JSON as ARM reads it"},
		{name: "unterminated single quote", arg: `{'a':'b}`, wantErr: "not JSON as ARM reads it"},
		{name: "unterminated double quote", arg: `{"a":"b}`, wantErr: "not JSON as ARM reads it"},
		{name: "missing value", arg: `{'a':}`, wantErr: "not JSON as ARM reads it"},
		{name: "two documents", arg: `{'a':'b'}{'c':'d'}`, wantErr: "not JSON as ARM reads it"},
		{name: "empty stdin", arg: "@-", wantErr: "the body is empty"},
		{name: "file in UTF-16 LE without BOM", arg: "@" + file("nobom16.json", utf16Text(`{"a":"b"}`, false, false)), wantErr: "nobom16.json: The content is UTF-16 (little-endian) without a byte order mark"},
		{name: "stdin in UTF-16 BE without BOM", arg: "@-", stdin: utf16Text(`{"a":"b"}`, true, false), wantErr: "UTF-16 (big-endian) without a byte order mark"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readBody(tt.arg, strings.NewReader(tt.stdin))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("readBody(%q) = %q, %v; want an error containing %q", tt.arg, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("readBody(%q): %v", tt.arg, err)
			}
			if got, want := string(got), tt.want; got != want {
				t.Fatalf("readBody(%q)\n got %s\nwant %s", tt.arg, got, want)
			}
			if !json.Valid([]byte(got)) {
				t.Fatalf("readBody(%q) = %s: not JSON", tt.arg, got)
			}
		})
	}
}

// clearEnv empties the variables that 'privlink env' sets and the client
// reads, so that a developer's shell does not change what a test sees.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"PRIVLINK_ENDPOINT", "PRIVLINK_PROFILE", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy",
		"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_SUBSCRIPTION_ID", "AZURE_AUTHORITY_HOST", "AZURE_RESOURCE_MANAGER_ENDPOINT",
		"ARM_METADATA_HOSTNAME", "ARM_ACTIVE_DIRECTORY_AUTHORITY_HOST", "ARM_RESOURCE_MANAGER_ENDPOINT", "ARM_RESOURCE_MANAGER_AUDIENCE"} {
		t.Setenv(k, "")
	}
}

// TestEnv: env prints export lines that send Azure's host names to
// privlink's proxy and trust its CA besides the system's roots (transparent
// mode), or the custom-cloud variables (direct mode); it makes the CA in an
// empty data directory, which a server started later uses.
func TestEnv(t *testing.T) {
	clearEnv(t)
	tests := []struct {
		name, addr, wantHostPort, wantNoProxy string
	}{
		{"loopback", "127.0.0.1:8443", "127.0.0.1:8443", "localhost,127.0.0.1,::1"},
		{"any address", "0.0.0.0:9443", "127.0.0.1:9443", "localhost,127.0.0.1,::1"},
		{"no host", ":8443", "127.0.0.1:8443", "localhost,127.0.0.1,::1"},
		{"IPv6 any", "[::]:8443", "127.0.0.1:8443", "localhost,127.0.0.1,::1"},
		{"name", "privlink.local:8443", "privlink.local:8443", "localhost,127.0.0.1,::1,privlink.local"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			c := newCLI(t)
			r := c.ok("env", "--addr", tt.addr, "--data", data)
			vars, unset := parseExports(t, r.stdout)
			if !strings.Contains(r.stderr, "nothing is listening at "+tt.wantHostPort) {
				t.Errorf("no server listens at %s, and env's stderr does not say so: %q", tt.addr, r.stderr)
			}
			if got, want := unset, directOnly; !reflect.DeepEqual(got, want) {
				t.Errorf("unset %v, want the direct mode's %v", got, want)
			}
			base := "https://" + tt.wantHostPort
			want := map[string]string{
				"PRIVLINK_ENDPOINT":     base,
				"HTTPS_PROXY":           "http://" + tt.wantHostPort,
				"https_proxy":           "http://" + tt.wantHostPort,
				"NO_PROXY":              tt.wantNoProxy,
				"no_proxy":              tt.wantNoProxy,
				"NODE_EXTRA_CA_CERTS":   certs.CAPath(data),
				"AZURE_TENANT_ID":       identity.DefaultTenantID,
				"AZURE_CLIENT_ID":       identity.DefaultClientID,
				"AZURE_CLIENT_SECRET":   identity.DefaultClientSecret,
				"AZURE_SUBSCRIPTION_ID": identity.DefaultSubscriptionID,
				"ARM_TENANT_ID":         identity.DefaultTenantID,
				"ARM_CLIENT_ID":         identity.DefaultClientID,
				"ARM_CLIENT_SECRET":     identity.DefaultClientSecret,
				"ARM_SUBSCRIPTION_ID":   identity.DefaultSubscriptionID,
				"ARM_MSI_ENDPOINT":      base + "/metadata/identity/oauth2/token",
				"IDENTITY_ENDPOINT":     base + "/msi/token",
			}
			for k, v := range want {
				if got := vars[k]; got != v {
					t.Errorf("%s=%q, want %q", k, got, v)
				}
			}
			if vars["IDENTITY_HEADER"] == "" {
				t.Errorf("IDENTITY_HEADER is empty")
			}
			bundle := vars["SSL_CERT_FILE"]
			for _, k := range []string{"REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"} {
				if vars[k] != bundle {
					t.Errorf("%s=%q, want the bundle %q", k, vars[k], bundle)
				}
			}
			if !filepath.IsAbs(bundle) || !strings.HasPrefix(bundle, data+string(filepath.Separator)) {
				t.Errorf("SSL_CERT_FILE=%q, want an absolute path in %s", bundle, data)
			}
			if got, want := len(vars), len(want)+4; got != want {
				t.Errorf("%d variables, want %d: %v", got, want, vars)
			}
			pem, err := os.ReadFile(certs.CAPath(data))
			if err != nil {
				t.Fatalf("env did not create the CA: %v", err)
			}
			b, err := os.ReadFile(bundle)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(b, pem) {
				t.Fatalf("the bundle %s does not hold privlink's CA", bundle)
			}
			// The bundle adds privlink's CA to the roots the shell trusts.
			for _, f := range certs.SystemRootFiles {
				if roots, err := os.ReadFile(f); err == nil && len(roots) > 0 {
					if !bytes.Contains(b, roots) {
						t.Fatalf("the bundle does not hold the system roots of %s", f)
					}
					break
				}
			}
			// Again: the same CA, secret and bundle.
			again, _ := parseExports(t, c.ok("env", "--addr", tt.addr, "--data", data).stdout)
			for _, k := range []string{"IDENTITY_HEADER", "SSL_CERT_FILE"} {
				if got, want := again[k], vars[k]; got != want {
					t.Fatalf("%s changed from %q to %q", k, want, got)
				}
			}
			if pem2, _ := os.ReadFile(certs.CAPath(data)); !bytes.Equal(pem, pem2) {
				t.Fatalf("a second env replaced the CA")
			}
		})
	}

	t.Run("roots the shell already trusts stay trusted", func(t *testing.T) {
		data := t.TempDir()
		own := writeOtherCA(t)
		extra := writeOtherCA(t)
		t.Setenv("SSL_CERT_FILE", own)
		t.Setenv("NODE_EXTRA_CA_CERTS", extra)
		t.Setenv("NO_PROXY", "corp.example,.internal")
		vars, _ := parseExports(t, newCLI(t).ok("env", "--data", data).stdout)
		ca, err := os.ReadFile(certs.CAPath(data))
		if err != nil {
			t.Fatal(err)
		}
		for k, base := range map[string]string{"SSL_CERT_FILE": own, "NODE_EXTRA_CA_CERTS": extra} {
			b, err := os.ReadFile(vars[k])
			if err != nil {
				t.Fatalf("%s=%s: %v", k, vars[k], err)
			}
			roots, _ := os.ReadFile(base)
			if !bytes.Contains(b, roots) || !bytes.Contains(b, ca) {
				t.Fatalf("%s=%s does not hold both the shell's %s and privlink's CA", k, vars[k], base)
			}
		}
		if got, want := vars["NO_PROXY"], "corp.example,.internal,localhost,127.0.0.1,::1"; got != want {
			t.Fatalf("NO_PROXY=%q, want the shell's entries kept: %q", got, want)
		}
		// Evaluating env again in that shell extends the same roots, not the bundle.
		t.Setenv("SSL_CERT_FILE", vars["SSL_CERT_FILE"])
		again, _ := parseExports(t, newCLI(t).ok("env", "--data", data).stdout)
		if again["SSL_CERT_FILE"] != vars["SSL_CERT_FILE"] {
			t.Fatalf("a second eval made %s, want the same bundle %s", again["SSL_CERT_FILE"], vars["SSL_CERT_FILE"])
		}
	})

	t.Run("direct mode", func(t *testing.T) {
		data := t.TempDir()
		vars, _ := parseExports(t, newCLI(t).ok("env", "--mode", "direct", "--data", data).stdout)
		base := "https://127.0.0.1:8443"
		want := map[string]string{
			"AZURE_AUTHORITY_HOST":                base + "/",
			"AZURE_TENANT_ID":                     identity.ADFSTenant,
			"AZURE_RESOURCE_MANAGER_ENDPOINT":     base + "/",
			"ARM_TENANT_ID":                       identity.ADFSTenant,
			"ARM_METADATA_HOSTNAME":               "127.0.0.1:8443",
			"ARM_ACTIVE_DIRECTORY_AUTHORITY_HOST": base + "/",
			"ARM_RESOURCE_MANAGER_ENDPOINT":       base + "/",
			"ARM_RESOURCE_MANAGER_AUDIENCE":       "https://management.core.windows.net/",
			"HTTPS_PROXY":                         "",
		}
		for k, v := range want {
			if got := vars[k]; got != v {
				t.Errorf("%s=%q, want %q", k, got, v)
			}
		}
	})

	t.Run("bad mode", func(t *testing.T) {
		r := newCLI(t).run("env", "--mode", "sideways", "--data", t.TempDir())
		if r.code != 2 || !strings.Contains(r.stderr, "--mode") {
			t.Fatalf("exit %d, stderr %q; want 2 naming --mode", r.code, r.stderr)
		}
	})

	t.Run("serve after env", func(t *testing.T) {
		data := t.TempDir()
		c := newCLI(t)
		vars, _ := parseExports(t, c.ok("env", "--data", data).stdout)
		env := testkit.Start(t, testkit.WithDataDir(data))
		if got, want := env.Server.CAPath(), vars["NODE_EXTRA_CA_CERTS"]; got != want {
			t.Fatalf("server CA %q, env printed %q", got, want)
		}
		// Trusting the bundle env printed is enough to sign in.
		c.ok("login", "--endpoint", env.URL, "--ca", vars["SSL_CERT_FILE"])
		c.ok("get", "/subscriptions?api-version=2022-12-01")
	})

	t.Run("running server", func(t *testing.T) {
		env := testkit.Start(t)
		addr := strings.TrimPrefix(env.URL, "https://")
		t.Run("its data directory", func(t *testing.T) {
			r := newCLI(t).ok("env", "--addr", addr, "--data", env.Dir)
			vars, _ := parseExports(t, r.stdout)
			if got, want := vars["NODE_EXTRA_CA_CERTS"], env.Server.CAPath(); got != want {
				t.Fatalf("NODE_EXTRA_CA_CERTS=%q, want %q", got, want)
			}
			if r.stderr != "" {
				t.Fatalf("stderr %q, want nothing", r.stderr)
			}
		})
		t.Run("an empty --data is refused", func(t *testing.T) {
			other := filepath.Join(t.TempDir(), "other")
			r := newCLI(t).run("env", "--addr", addr, "--data", other)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\nstdout:%s\nstderr:%s", r.code, r.stdout, r.stderr)
			}
			for _, want := range []string{"holds no CA", env.Dir, "--data " + env.Dir} {
				if !strings.Contains(r.stderr, want) {
					t.Fatalf("stderr %q does not contain %q", r.stderr, want)
				}
			}
			if r.stdout != "" {
				t.Fatalf("a refused env printed %q", r.stdout)
			}
			if _, err := os.Stat(certs.CAPath(other)); err == nil {
				t.Fatalf("a refused env created a second CA in %s", other)
			}
		})
		t.Run("another CA is refused", func(t *testing.T) {
			other := t.TempDir()
			if _, _, err := certs.EnsureCA(other); err != nil {
				t.Fatal(err)
			}
			r := newCLI(t).run("env", "--addr", addr, "--data", other)
			if r.code != 2 || !strings.Contains(r.stderr, "did not sign") {
				t.Fatalf("exit %d, stderr %q; want 2 saying the CA did not sign the server's certificate", r.code, r.stderr)
			}
		})
		t.Run("default --data follows the server", func(t *testing.T) {
			t.Chdir(t.TempDir())
			r := newCLI(t).ok("env", "--addr", addr)
			vars, _ := parseExports(t, r.stdout)
			if got, want := vars["NODE_EXTRA_CA_CERTS"], env.Server.CAPath(); got != want {
				t.Fatalf("NODE_EXTRA_CA_CERTS=%q, want the server's %q", got, want)
			}
			if !strings.Contains(r.stderr, "using the data directory of the server") {
				t.Fatalf("stderr %q does not say which data directory it used", r.stderr)
			}
			if _, err := os.Stat(defaultData); err == nil {
				t.Fatalf("env created ./%s while a server was running", defaultData)
			}
		})
		t.Run("not privlink", func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					c.Write([]byte("SSH-2.0-OpenSSH_9.2\r\n"))
					c.Close()
				}
			}()
			r := newCLI(t).run("env", "--addr", l.Addr().String(), "--data", t.TempDir())
			if r.code != 2 || !strings.Contains(r.stderr, "not a privlink server") {
				t.Fatalf("exit %d, stderr %q; want 2 saying it is not privlink", r.code, r.stderr)
			}
		})
	})

	t.Run("relative data dir", func(t *testing.T) {
		dir := t.TempDir()
		t.Chdir(dir)
		vars, _ := parseExports(t, newCLI(t).ok("env", "--data", "rel").stdout)
		if got, want := vars["NODE_EXTRA_CA_CERTS"], certs.CAPath(filepath.Join(dir, "rel")); got != want {
			t.Fatalf("NODE_EXTRA_CA_CERTS=%q, want the absolute %q", got, want)
		}
	})

	t.Run("eval in sh", func(t *testing.T) {
		sh, err := exec.LookPath("sh")
		if err != nil {
			t.Skip("no sh on this machine: the eval cannot be tried")
		}
		data := filepath.Join(t.TempDir(), "it's my data")
		out := newCLI(t).ok("env", "--data", data).stdout
		script := out + `printf '%s\n' "$NODE_EXTRA_CA_CERTS" "$HTTPS_PROXY" "$AZURE_AUTHORITY_HOST"`
		cmd := exec.Command(sh, "-c", script)
		// A shell that had the direct mode's variables loses them.
		cmd.Env = append(os.Environ(), "AZURE_AUTHORITY_HOST=https://127.0.0.1:8443/")
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("sh: %v\n%s", err, out)
		}
		if got, want := string(b), certs.CAPath(data)+"\nhttp://127.0.0.1:8443\n\n"; got != want {
			t.Fatalf("after eval: %q, want %q", got, want)
		}
	})
}

// parseExports reads env's output (testkit.ParseExports) or fails the test.
func parseExports(t *testing.T, out string) (map[string]string, []string) {
	t.Helper()
	vars, unset, err := testkit.ParseExports(out)
	if err != nil {
		t.Fatal(err)
	}
	return vars, unset
}

// TestLogin: signing in keeps a profile; a wrong secret or an untrusted
// server fails with a clear message and keeps none.
func TestLogin(t *testing.T) {
	env := testkit.Start(t)
	ca := env.Server.CAPath()
	notARM := httptest.NewServer(http.NotFoundHandler())
	defer notARM.Close()
	closed := closedURL(t)
	clearEnv(t)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr []string
	}{
		{name: "defaults", args: []string{"--endpoint", env.URL, "--ca", ca}},
		{name: "trailing slash", args: []string{"--endpoint", env.URL + "/", "--ca", ca}},
		{name: "CA from data dir", args: []string{"--endpoint", env.URL, "--data", env.Dir}},
		{name: "wrong secret", args: []string{"--endpoint", env.URL, "--ca", ca, "--client-secret", "not-the-secret"},
			wantCode: 1, wantStderr: []string{"login failed", "invalid_client", "Invalid client secret"}},
		{name: "unknown client", args: []string{"--endpoint", env.URL, "--ca", ca, "--client-id", "11111111-1111-1111-1111-111111111111"},
			wantCode: 1, wantStderr: []string{"login failed"}},
		{name: "untrusted server", args: []string{"--endpoint", env.URL, "--ca", writeOtherCA(t)},
			wantCode: 2, wantStderr: []string{"certificate"}},
		{name: "not a privlink server", args: []string{"--endpoint", notARM.URL},
			wantCode: 1, wantStderr: []string{"404 Not Found", "did not answer with a token"}},
		{name: "nothing listening", args: []string{"--endpoint", closed, "--ca", ca},
			wantCode: 2, wantStderr: []string{"connect"}},
		{name: "CA file without certificate", args: []string{"--endpoint", env.URL, "--ca", filepath.Join(env.Dir, "msi-secret")},
			wantCode: 2, wantStderr: []string{"holds no PEM certificate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			r := c.run(append([]string{"login"}, tt.args...)...)
			if got, want := r.code, tt.wantCode; got != want {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", got, want, r.stdout, r.stderr)
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(r.stderr, want) {
					t.Fatalf("stderr %q does not contain %q", r.stderr, want)
				}
			}
			_, err := os.Stat(c.profile)
			if tt.wantCode != 0 {
				if err == nil {
					t.Fatalf("a failed login wrote a profile")
				}
				return
			}
			if err != nil {
				t.Fatalf("no profile after login: %v", err)
			}
			p := readProfile(t, c.profile)
			if got, want := p.Endpoint, env.URL; got != want {
				t.Fatalf("profile endpoint %q, want %q", got, want)
			}
			if got, want := p.Subscription, env.Subscription; got != want {
				t.Fatalf("profile subscription %q, want %q", got, want)
			}
			c.ok("get", "/subscriptions?api-version=2022-12-01")
		})
	}

	t.Run("a token the server no longer knows", func(t *testing.T) {
		// The server's signing key is replaced (its data directory reset, the
		// CA kept): the saved token is refused, and the client signs in
		// again by itself instead of failing.
		old := testkit.Start(t)
		c := newCLI(t)
		c.login(old)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := old.Server.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(old.Dir, "signing-key.pem")); err != nil {
			t.Fatal(err)
		}
		testkit.Start(t, testkit.WithAddr(strings.TrimPrefix(old.URL, "https://")), testkit.WithDataDir(old.Dir))
		c.ok("get", "/subscriptions?api-version=2022-12-01")
	})

	t.Run("token refresh", func(t *testing.T) {
		c := newCLI(t)
		c.login(env)
		p := readProfile(t, c.profile)
		p.AccessToken, p.ExpiresOn = "stale", time.Now().Add(-time.Hour)
		b, _ := json.Marshal(p)
		if err := os.WriteFile(c.profile, b, 0o600); err != nil {
			t.Fatal(err)
		}
		c.ok("get", "/subscriptions?api-version=2022-12-01")
		if p := readProfile(t, c.profile); p.AccessToken == "stale" || time.Until(p.ExpiresOn) < 5*time.Minute {
			t.Fatalf("the profile's token was not refreshed: %+v", p)
		}
	})
}

// closedURL is an https URL where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "https://" + l.Addr().String()
}

// TestLoginFromEnvironment: after eval "$(privlink env)" the client needs
// no login (it signs in as the environment says), and its profiles are per
// server, so that two servers' logins do not overwrite each other.
func TestLoginFromEnvironment(t *testing.T) {
	clearEnv(t)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	a, b := testkit.Start(t), testkit.Start(t)
	run := func(env *testkit.Env, args ...string) result {
		t.Helper()
		vars, _ := parseExports(t, newCLI(t).ok("env", "--addr", strings.TrimPrefix(env.URL, "https://"), "--data", env.Dir).stdout)
		for k, v := range vars {
			t.Setenv(k, v)
		}
		var out, errOut bytes.Buffer
		code := Main(args, strings.NewReader(""), &out, &errOut)
		return result{code: code, stdout: out.String(), stderr: errOut.String()}
	}
	for _, env := range []*testkit.Env{a, b} {
		if r := run(env, "get", "/subscriptions?api-version=2022-12-01"); r.code != 0 || !strings.Contains(r.stdout, env.Subscription) {
			t.Fatalf("get without login: exit %d\nstdout:%s\nstderr:%s", r.code, r.stdout, r.stderr)
		}
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range []*testkit.Env{a, b} {
		path := filepath.Join(dir, "privlink", "profiles", profileKey(env.URL)+".json")
		if got, want := readProfile(t, path).Endpoint, env.URL; got != want {
			t.Fatalf("profile %s is for %q, want %q", path, got, want)
		}
	}
	// A login to one server leaves the other's profile alone.
	if r := run(a, "login"); r.code != 0 || !strings.Contains(r.stdout, "Logged in to "+a.URL) {
		t.Fatalf("login: exit %d\nstdout:%s\nstderr:%s", r.code, r.stdout, r.stderr)
	}
	if r := run(b, "get", "/subscriptions?api-version=2022-12-01"); r.code != 0 {
		t.Fatalf("get on the second server after logging in to the first: exit %d\nstderr:%s", r.code, r.stderr)
	}
	// A new server on the first one's address, with a new data directory
	// (another CA, another signing key): the shell evaluates env again and
	// the client follows, with no login.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Server.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	fresh := testkit.Start(t, testkit.WithAddr(strings.TrimPrefix(b.URL, "https://")))
	if r := run(fresh, "get", "/subscriptions?api-version=2022-12-01"); r.code != 0 {
		t.Fatalf("get after the server was replaced: exit %d\nstdout:%s\nstderr:%s", r.code, r.stdout, r.stderr)
	}
}

func readProfile(t *testing.T, path string) *profile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := &profile{}
	if err := json.Unmarshal(b, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeOtherCA makes a CA the server does not use.
func writeOtherCA(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, _, err := certs.EnsureCA(dir); err != nil {
		t.Fatal(err)
	}
	return certs.CAPath(dir)
}
