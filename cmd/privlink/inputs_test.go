package main

import (
	"encoding/binary"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/testkit/textenc"
)

// apiCode sends method path to the fixture's server as a raw ARM request
// and returns the error code it answers with ("" for none).
func apiCode(t *testing.T, f *fixture, method, path string) string {
	t.Helper()
	req, err := http.NewRequest(method, f.env.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.env.Token(t))
	resp, err := f.env.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&e)
	return e.Error.Code
}

// TestInputsServerErrorCodes: whatever a task command asks, it reports the
// error code the API gives for the same request, never one of its own.
func TestInputsServerErrorCodes(t *testing.T) {
	f := newFixture(t)
	const unknownSub = "00000000-0000-4000-8000-0000000000ff"
	sub := "/subscriptions/" + f.env.Subscription
	cluster := func(s, rg, name string) string {
		return "/subscriptions/" + s + "/resourceGroups/" + rg + "/providers/Microsoft.Kusto/clusters/" + name
	}
	eventHub := func(s, rg, name string) string {
		return "/subscriptions/" + s + "/resourceGroups/" + rg + "/providers/Microsoft.EventHub/namespaces/" + name
	}
	mpeV := "?api-version=" + endpointAPIVersion
	ehV := "?api-version=2024-01-01"
	tests := []struct {
		name string
		args []string
		// The same request made to the API, whose error code the CLI must report.
		method, api string
	}{
		{"mpe list, unknown subscription", []string{"mpe", "list", "--cluster", clusterName, "-g", adxGroup, "--subscription", unknownSub},
			"GET", cluster(unknownSub, adxGroup, clusterName) + "/managedPrivateEndpoints" + mpeV},
		{"mpe list, malformed subscription", []string{"mpe", "list", "--cluster", clusterName, "-g", adxGroup, "--subscription", "my-subscription"},
			"GET", cluster("my-subscription", adxGroup, clusterName) + "/managedPrivateEndpoints" + mpeV},
		{"mpe list, cluster id in an unknown subscription", []string{"mpe", "list", "--cluster", cluster(unknownSub, adxGroup, clusterName)},
			"GET", cluster(unknownSub, adxGroup, clusterName) + "/managedPrivateEndpoints" + mpeV},
		{"mpe list, unknown group", []string{"mpe", "list", "--cluster", clusterName, "-g", "norg"},
			"GET", cluster(f.env.Subscription, "norg", clusterName) + "/managedPrivateEndpoints" + mpeV},
		{"mpe list, unknown cluster", []string{"mpe", "list", "--cluster", "nope", "-g", adxGroup},
			"GET", cluster(f.env.Subscription, adxGroup, "nope") + mpeV},
		{"mpe show, unknown subscription", []string{"mpe", "show", "m1", "--cluster", clusterName, "-g", adxGroup, "--subscription", unknownSub},
			"GET", cluster(unknownSub, adxGroup, clusterName) + "/managedPrivateEndpoints/m1" + mpeV},
		{"mpe show, unknown cluster", []string{"mpe", "show", "m1", "--cluster", "nope", "-g", adxGroup},
			"GET", cluster(f.env.Subscription, adxGroup, "nope") + "/managedPrivateEndpoints/m1" + mpeV},
		{"mpe show, unknown endpoint", []string{"mpe", "show", "m1", "--cluster", clusterName, "-g", adxGroup},
			"GET", cluster(f.env.Subscription, adxGroup, clusterName) + "/managedPrivateEndpoints/m1" + mpeV},
		{"mpe create, unknown subscription", []string{"mpe", "create", "m1", "--cluster", clusterName, "-g", adxGroup, "--subscription", unknownSub, "--target", f.eventHubID, "--group-id", "namespace"},
			"GET", cluster(unknownSub, adxGroup, clusterName) + "/managedPrivateEndpoints/m1" + mpeV},
		{"mpe delete, malformed subscription", []string{"mpe", "delete", "m1", "--cluster", clusterName, "-g", adxGroup, "--subscription", "x"},
			"DELETE", cluster("x", adxGroup, clusterName) + "/managedPrivateEndpoints/m1" + mpeV},
		{"pec list, unknown subscription", []string{"pec", "list", "--resource", eventHub(unknownSub, eventHubGroup, eventHubName)},
			"GET", eventHub(unknownSub, eventHubGroup, eventHubName) + "/privateEndpointConnections" + ehV},
		{"pec list, malformed subscription", []string{"pec", "list", "--resource", eventHub("x", eventHubGroup, eventHubName)},
			"GET", eventHub("x", eventHubGroup, eventHubName) + "/privateEndpointConnections" + ehV},
		{"pec list, unknown group", []string{"pec", "list", "--resource", eventHub(f.env.Subscription, "norg", eventHubName)},
			"GET", eventHub(f.env.Subscription, "norg", eventHubName) + "/privateEndpointConnections" + ehV},
		{"pec list, unknown namespace", []string{"pec", "list", "--resource", eventHub(f.env.Subscription, eventHubGroup, "nons")},
			"GET", eventHub(f.env.Subscription, eventHubGroup, "nons") + "/privateEndpointConnections" + ehV},
		{"pec approve, unknown subscription", []string{"pec", "approve", "c1", "--resource", eventHub(unknownSub, eventHubGroup, eventHubName)},
			"GET", eventHub(unknownSub, eventHubGroup, eventHubName) + "/privateEndpointConnections/c1" + ehV},
		{"pec remove, unknown namespace", []string{"pec", "remove", "c1", "--resource", eventHub(f.env.Subscription, eventHubGroup, "nons")},
			"GET", eventHub(f.env.Subscription, eventHubGroup, "nons") + "/privateEndpointConnections/c1" + ehV},
		{"pec list, unknown namespace of a served provider", []string{"pec", "list", "--resource", sub + "/resourceGroups/" + eventHubGroup + "/providers/Microsoft.Nope/things/t1"},
			"GET", sub + "/resourceGroups/" + eventHubGroup + "/providers/Microsoft.Nope/things/t1/privateEndpointConnections" + ehV},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := apiCode(t, f, tt.method, tt.api)
			if want == "" {
				t.Fatalf("the API answered %s %s without an error", tt.method, tt.api)
			}
			c := *f.cli
			c.t = t
			r := c.run(tt.args...)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1 (the server's error)\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			out := r.stdout + r.stderr
			if !strings.Contains(out, want) {
				t.Fatalf("the API says %s; the CLI said:\nstdout:\n%s\nstderr:\n%s", want, r.stdout, r.stderr)
			}
			for _, other := range []string{"ResourceNotFound", "SubscriptionNotFound", "ResourceGroupNotFound", "ParentResourceNotFound", "InvalidSubscriptionId"} {
				if other != want && regexp.MustCompile(`\b`+other+`\b`).MatchString(out) {
					t.Fatalf("the API says %s; the CLI also said %s:\n%s", want, other, out)
				}
			}
		})
	}
}

// TestInputsConnectionNames: the owner's commands take the connection's
// name or, when that is unambiguous, the managed private endpoint's.
func TestInputsConnectionNames(t *testing.T) {
	f := newFixture(t)
	c := f.cli
	// A second cluster with an endpoint of the same name to the same target,
	// and an endpoint whose name has dots. The target is a third cluster:
	// the rows approve one connection again and again, which Kusto accepts
	// (privlink's default rule) where Event Hubs refuses Approved -> Approved.
	c.ok("put", "/subscriptions/"+f.env.Subscription+"/resourceGroups/"+adxGroup+"/providers/Microsoft.Kusto/clusters/othercluster?api-version=2024-04-13",
		"{'location':'westus','sku':{'name':'Dev(No SLA)_Standard_D11_v2','tier':'Basic'}}")
	target := f.kustoTarget(t, "targetcluster")
	for _, m := range []struct{ cluster, name string }{{clusterName, "mpeToEventHub"}, {clusterName, "to.the.hub"}, {clusterName, "twin"}, {"othercluster", "twin"}} {
		c.ok("mpe", "create", m.name, "--cluster", m.cluster, "-g", adxGroup, "--target", target, "--group-id", "cluster", "--wait")
	}
	names := map[string]string{} // {cluster}.{endpoint} -> connection name
	for _, row := range tableRows(c.ok("pec", "list", "--resource", target).stdout) {
		names[row[0][:strings.LastIndexByte(row[0], '.')]] = row[0]
	}
	if len(names) != 4 {
		t.Fatalf("pec list: %v, want 4 connections", names)
	}
	hub := names[clusterName+".mpeToEventHub"]
	tests := []struct {
		name     string
		args     []string
		wantCode int
		// conn is the connection the command must have acted on ("" for none).
		conn       string
		wantStderr []string
	}{
		{name: "connection name", args: []string{"pec", "approve", hub}, conn: hub},
		{name: "connection name in capitals", args: []string{"pec", "approve", strings.ToUpper(hub)}, conn: hub},
		{name: "endpoint name", args: []string{"pec", "approve", "mpeToEventHub"}, conn: hub,
			wantStderr: []string{`connection of managed private endpoint "mpeToEventHub": ` + hub}},
		{name: "endpoint name, other case", args: []string{"pec", "reject", "MPETOEVENTHUB"}, conn: hub},
		{name: "cluster and endpoint", args: []string{"pec", "approve", "othercluster.twin"}, conn: names["othercluster.twin"]},
		{name: "endpoint name with dots", args: []string{"pec", "approve", "to.the.hub"}, conn: names[clusterName+".to.the.hub"]},
		{name: "ambiguous endpoint name", args: []string{"pec", "approve", "twin"}, wantCode: 2,
			wantStderr: []string{`"twin" is the managed private endpoint of 2 connections`, "{cluster}.{endpoint}.{guid}", names[clusterName+".twin"], names["othercluster.twin"]}},
		{name: "ambiguous on remove", args: []string{"pec", "remove", "twin"}, wantCode: 2, wantStderr: []string{names["othercluster.twin"]}},
		{name: "no such connection", args: []string{"pec", "approve", "nosuch"}, wantCode: 1,
			wantStderr: []string{`no connection named "nosuch"`, "{cluster}.{endpoint}.{guid}", hub, names["othercluster.twin"]}},
		{name: "no such connection to remove", args: []string{"pec", "remove", "nosuch"}, wantCode: 0,
			wantStderr: []string{"nothing to remove", `no connection named "nosuch"`, hub}},
		{name: "endpoint name on remove", args: []string{"pec", "remove", "to.the.hub"}, conn: names[clusterName+".to.the.hub"],
			wantStderr: []string{"removed " + names[clusterName+".to.the.hub"]}},
		{name: "a resource without connections", args: []string{"pec", "approve", "mpeToEventHub", "--resource", f.storageID}, wantCode: 1,
			wantStderr: []string{"(this resource has no connections)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *f.cli
			c.t = t
			a := tt.args
			if !contains(a, "--resource") {
				a = append(a, "--resource", target)
			}
			r := c.run(a...)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tt.wantCode, r.stdout, r.stderr)
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(r.stderr, w) {
					t.Fatalf("stderr does not say %q:\n%s", w, r.stderr)
				}
			}
			if tt.conn != "" && a[1] != "remove" {
				if got := parseOrdered(t, r.stdout).str("name"); got != tt.conn {
					t.Fatalf("acted on %q, want %q\n%s", got, tt.conn, r.stdout)
				}
			}
			if tt.wantCode == 0 && strings.Contains(r.stderr, "privlink:") {
				// An error's prefix on a command that succeeded reads as a
				// failure the exit status denies.
				t.Fatalf("exit 0, and stderr reads as an error:\n%s", r.stderr)
			}
			if tt.wantCode == 1 && !strings.Contains(r.stdout, `"code": "ResourceNotFound"`) {
				t.Fatalf("stdout does not hold the server's ResourceNotFound:\n%s", r.stdout)
			}
		})
	}
}

// TestInputsLongDescriptions: a long or multi-line description keeps 'pec
// list' a table of one line per connection.
func TestInputsLongDescriptions(t *testing.T) {
	f := newFixture(t)
	f.asRequester()
	c := f.cli
	msg := strings.Repeat("m", 140)
	// The long one is approved three times: its target is a Kusto cluster,
	// which accepts Approved -> Approved (Event Hubs refuses it).
	long := f.kustoTarget(t, "targetcluster")
	c.ok("mpe", "create", "long", "--cluster", clusterName, "-g", adxGroup, "--target", long, "--group-id", "cluster", "--message", msg, "--wait")
	c.ok("mpe", "create", "short", "--cluster", clusterName, "-g", adxGroup, "--target", f.storageID, "--group-id", "blob", "--message", "ok")
	if r := c.run("mpe", "create", "toolong", "--cluster", clusterName, "-g", adxGroup, "--target", f.eventHubID, "--group-id", "namespace", "--message", msg+"m"); r.code != 1 || !strings.Contains(r.stdout, `"code": "RequestMessageTooLong"`) {
		t.Fatalf("mpe create with 141 characters: exit %d, want 1 with RequestMessageTooLong\n%s%s", r.code, r.stdout, r.stderr)
	}
	tests := []struct {
		name, resource, description string
		want                        string // the DESCRIPTION cell
		shortened                   bool
	}{
		{"request message of 140 characters", long, "", strings.Repeat("m", descriptionWidth-1) + "…", true},
		{"short", f.storageID, "", "ok", false},
		{"long approval", long, strings.Repeat("d", 10_000), strings.Repeat("d", descriptionWidth-1) + "…", true},
		{"lines and tabs", long, "line one\nline two\ttabbed", "line one line two tabbed", false},
		{"exactly the width", long, strings.Repeat("é", descriptionWidth), strings.Repeat("é", descriptionWidth), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *f.cli
			c.t = t
			if tt.description != "" {
				c.ok("pec", "approve", "long", "--resource", tt.resource, "--description", tt.description)
			}
			r := c.ok("pec", "list", "--resource", tt.resource)
			lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
			if len(lines) != 2 {
				t.Fatalf("pec list: %d lines, want a header and one row:\n%s", len(lines), r.stdout)
			}
			rows := tableRows(r.stdout)
			if got := rows[0][2]; got != tt.want {
				t.Fatalf("description cell %q, want %q", got, tt.want)
			}
			if got := strings.Contains(r.stderr, "shortened"); got != tt.shortened {
				t.Fatalf("note about shortened descriptions: %v, want %v (stderr %q)", got, tt.shortened, r.stderr)
			}
			if tt.shortened && !strings.Contains(r.stderr, "privlink get "+tt.resource+"/privateEndpointConnections?api-version=") {
				t.Fatalf("the note does not say how to see the whole text: %q", r.stderr)
			}
		})
	}
}

// TestInputsCLIPrintsHTMLCharacters: what the CLI prints keeps '<', '>' and '&'.
func TestInputsCLIPrintsHTMLCharacters(t *testing.T) {
	f := newFixture(t)
	c := f.cli
	const msg = "<please> & thanks"
	mpe := f.clusterID + "/managedPrivateEndpoints/html?api-version=2024-04-13"
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"mpe create", []string{"mpe", "create", "html", "--cluster", clusterName, "-g", adxGroup, "--target", f.eventHubID, "--group-id", "namespace", "--message", msg}},
		{"get", []string{"get", mpe}},
		{"mpe show", []string{"mpe", "show", "html", "--cluster", clusterName, "-g", adxGroup}},
		{"patch", []string{"patch", mpe, `{"properties":{"requestMessage":"\u003cplease\u003e \u0026 thanks"}}`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := c.ok(tt.args...)
			if !strings.Contains(r.stdout, `"requestMessage": "`+msg+`"`) {
				t.Fatalf("stdout does not show the message as it is:\n%s", r.stdout)
			}
			if low := strings.ToLower(r.stdout); strings.Contains(low, `\u003c`) || strings.Contains(low, `\u0026`) {
				t.Fatalf("stdout escapes HTML characters:\n%s", r.stdout)
			}
		})
	}
	t.Run("printJSON of an escaping server", func(t *testing.T) {
		var b strings.Builder
		printJSON(&b, []byte(`{"m":"\u003ca\u003e \u0026 \\u003c"}`))
		if got, want := b.String(), "{\n  \"m\": \"<a> & \\\\u003c\"\n}\n"; got != want {
			t.Fatalf("printJSON = %q, want %q", got, want)
		}
	})
}

// TestInputsPutUTF16File: a body file saved by Windows PowerShell's Out-File
// (UTF-16 LE with a byte order mark) goes to the server as JSON.
func TestInputsPutUTF16File(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(t.TempDir(), "mpe.json")
	body := f.fill(seedEventHubBody, "fromfile")
	if err := os.WriteFile(path, textenc.UTF16(strings.ReplaceAll(body, "\n", "\r\n"), binary.LittleEndian, true), 0o644); err != nil {
		t.Fatal(err)
	}
	r := f.cli.ok("put", f.clusterID+"/managedPrivateEndpoints/fromfile?api-version=2022-02-01", "@"+path)
	if got, want := parseOrdered(t, r.stdout).str("properties", "requestMessage"), "Please Approve."; got != want {
		t.Fatalf("requestMessage %q, want %q\n%s", got, want, r.stdout)
	}
}

// TestInputsIoTHubConnections: IoT hubs list their connections as a bare
// array; pec reads it as it reads the others.
func TestInputsIoTHubConnections(t *testing.T) {
	f := newFixture(t)
	f.asRequester()
	c := f.cli
	hub := "/subscriptions/" + f.env.Subscription + "/resourceGroups/" + eventHubGroup + "/providers/Microsoft.Devices/IotHubs/myhub"
	c.ok("put", hub+"?api-version=2023-06-30", "{'location':'westus','sku':{'name':'S1','capacity':1}}")
	c.ok("mpe", "create", "toHub", "--cluster", clusterName, "-g", adxGroup, "--target", hub, "--group-id", "iotHub", "--message", "hub, please")
	rows := tableRows(c.ok("pec", "list", "--resource", hub).stdout)
	if len(rows) != 1 || rows[0][1] != "Pending" || rows[0][2] != "hub, please" {
		t.Fatalf("pec list on an IoT hub: %q, want one Pending connection", rows)
	}
	r := c.ok("pec", "approve", "toHub", "--resource", hub)
	if got, want := parseOrdered(t, r.stdout).str("properties", "privateLinkServiceConnectionState", "status"), "Approved"; got != want {
		t.Fatalf("approve: %q, want %q\n%s", got, want, r.stdout)
	}
}

// TestInputsUsage: usage errors exit 2 and say what was meant; help says
// what each command takes, and shows only the flags it uses.
func TestInputsUsage(t *testing.T) {
	run := func(args ...string) result {
		var out, errOut strings.Builder
		code := Main(args, strings.NewReader(""), &out, &errOut)
		return result{code: code, stdout: out.String(), stderr: errOut.String()}
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
		notStdout  []string
	}{
		{name: "unknown mpe command", args: []string{"mpe", "bogus"}, wantCode: 2,
			wantStderr: []string{`unknown command "bogus" for "privlink mpe"`, "Usage:", "Available Commands:", "create", "list"}},
		{name: "unknown pec command", args: []string{"pec", "bogus"}, wantCode: 2, wantStderr: []string{`unknown command "bogus" for "privlink pec"`, "approve"}},
		{name: "mistyped command with its flags", args: []string{"mpe", "lsit", "--cluster", "c", "-g", "rg"}, wantCode: 2, wantStderr: []string{`unknown command "lsit" for "privlink mpe"`, "Did you mean this?", "list"}},
		{name: "mistyped pec command with its flags", args: []string{"pec", "aprove", "x", "--resource", "y"}, wantCode: 2, wantStderr: []string{`unknown command "aprove" for "privlink pec"`, "approve"}},
		{name: "mpe typo", args: []string{"mpe", "lsit"}, wantCode: 2, wantStderr: []string{"Did you mean this?\n\tlist"}},
		{name: "pec typo", args: []string{"pec", "aprove", "x"}, wantCode: 2, wantStderr: []string{"Did you mean this?\n\tapprove"}},
		{name: "unknown command", args: []string{"bogus"}, wantCode: 2, wantStderr: []string{`unknown command "bogus" for "privlink"`, "Usage:"}},
		{name: "top-level typo", args: []string{"serv"}, wantCode: 2, wantStderr: []string{"Did you mean this?\n\tserve"}},
		{name: "unknown command after a client flag", args: []string{"-v", "mpe", "bogus"}, wantCode: 2, wantStderr: []string{`unknown command "bogus" for "privlink mpe"`}},
		{name: "mpe alone shows its help", args: []string{"mpe"}, wantStdout: []string{"Available Commands:", "create"}},
		{name: "pec alone shows its help", args: []string{"pec"}, wantStdout: []string{"Available Commands:", "approve"}},
		{name: "nothing shows the help", args: nil, wantStdout: []string{"Available Commands:", "mpe"}},

		{name: "get takes no body", args: []string{"get", "/subscriptions", "{}"}, wantCode: 2, wantStderr: []string{"accepts 1 arg(s), received 2"}},
		{name: "head takes no body", args: []string{"head", "/subscriptions", "{}"}, wantCode: 2, wantStderr: []string{"accepts 1 arg(s), received 2"}},
		{name: "delete takes no body", args: []string{"DELETE", "/subscriptions", "{}"}, wantCode: 2, wantStderr: []string{"accepts 1 arg(s), received 2"}},
		{name: "get help", args: []string{"get", "--help"}, wantStdout: []string{"privlink get PATH [flags]"}, notStdout: []string{"BODY", "body"}},
		{name: "head help", args: []string{"head", "--help"}, wantStdout: []string{"privlink head PATH [flags]", "exists"}, notStdout: []string{"BODY", "body"}},
		{name: "delete help", args: []string{"delete", "--help"}, wantStdout: []string{"privlink delete PATH [flags]"}, notStdout: []string{"BODY", "body"}},
		{name: "put help", args: []string{"put", "--help"}, wantStdout: []string{"privlink put PATH BODY|@FILE|@- [flags]", "single-quoted", "byte order mark"}},
		{name: "patch help", args: []string{"patch", "--help"}, wantStdout: []string{"privlink patch PATH BODY|@FILE|@- [flags]"}},
		{name: "post help", args: []string{"post", "--help"}, wantStdout: []string{"privlink post PATH [BODY|@FILE|@-] [flags]"}},

		{name: "serve help has no client flags", args: []string{"serve", "--help"}, wantStdout: []string{"--data"}, notStdout: []string{"--profile", "--verbose"}},
		{name: "env help has no client flags", args: []string{"env", "--help"}, wantStdout: []string{"--addr"}, notStdout: []string{"--profile", "--verbose"}},
		{name: "login help has --profile only", args: []string{"login", "--help"}, wantStdout: []string{"--profile"}, notStdout: []string{"--verbose"}},
		{name: "root help has no client flags", args: []string{"--help"}, notStdout: []string{"--profile", "--verbose"}},
		{name: "get help has the client flags", args: []string{"get", "--help"}, wantStdout: []string{"--profile", "--verbose"}},
		{name: "mpe list help has the client flags", args: []string{"mpe", "list", "--help"}, wantStdout: []string{"--profile", "--verbose", "--cluster"}},
		{name: "pec approve help has the client flags", args: []string{"pec", "approve", "--help"}, wantStdout: []string{"--profile", "--verbose", "{cluster}.{endpoint}.{guid}"}},
		{name: "env refuses --profile", args: []string{"env", "--profile", "p.json"}, wantCode: 2, wantStderr: []string{"unknown flag: --profile"}},
		{name: "env refuses --profile before it", args: []string{"--profile", "p.json", "env"}, wantCode: 2, wantStderr: []string{"unknown flag: --profile"}},
		{name: "serve help names the data path bounds", args: []string{"serve", "--help"}, wantStdout: []string{"--data-path-max-clusters", "--data-path-max-targets", "--data-path-max-listeners", "reached through its cluster's egress"}},
		{name: "serve refuses a data path bound below 1", args: []string{"serve", "--data-path-max-listeners", "0"}, wantCode: 2, wantStderr: []string{"--data-path-max-listeners: 0: give at least 1"}},
		{name: "serve refuses --verbose", args: []string{"serve", "--verbose"}, wantCode: 2, wantStderr: []string{"unknown flag: --verbose"}},
		{name: "serve refuses an unknown log format", args: []string{"serve", "--log-format", "yaml"}, wantCode: 2, wantStderr: []string{`--log-format: "yaml" is not a format: give text or json`}},
		{name: "serve refuses an unknown log level", args: []string{"serve", "--log-level", "verbose"}, wantCode: 2, wantStderr: []string{`--log-level: "verbose" is not a level: give debug, info, warn or error`}},
		{name: "serve refuses -v before it", args: []string{"-v", "serve"}, wantCode: 2, wantStderr: []string{"unknown shorthand flag: 'v'"}},
		{name: "login refuses --verbose", args: []string{"login", "-v"}, wantCode: 2, wantStderr: []string{"unknown shorthand flag: 'v'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(tt.args...)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tt.wantCode, r.stdout, r.stderr)
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(r.stdout, w) {
					t.Fatalf("stdout does not contain %q:\n%s", w, r.stdout)
				}
			}
			for _, w := range tt.notStdout {
				if strings.Contains(r.stdout, w) {
					t.Fatalf("stdout contains %q:\n%s", w, r.stdout)
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(r.stderr, w) {
					t.Fatalf("stderr does not contain %q:\n%s", w, r.stderr)
				}
			}
		})
	}
}

// TestInputsClientFlagsBeforeTheCommand: --profile and --verbose keep
// working before the command name, as they did when they were global.
func TestInputsClientFlagsBeforeTheCommand(t *testing.T) {
	f := newFixture(t)
	path := "/subscriptions/" + f.env.Subscription + "?api-version=2022-12-01"
	for _, tt := range []struct {
		name    string
		args    []string
		verbose bool
	}{
		{"--profile FILE get", []string{"--profile", f.cli.profile, "get", path}, false},
		{"--profile=FILE get", []string{"--profile=" + f.cli.profile, "get", path}, false},
		{"-v --profile FILE GET", []string{"-v", "--profile", f.cli.profile, "GET", path}, true},
		{"--verbose --profile FILE mpe list", []string{"--verbose", "--profile", f.cli.profile, "mpe", "list", "--cluster", clusterName, "-g", adxGroup}, true},
		{"after the command", []string{"get", path, "--profile", f.cli.profile, "-v"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut strings.Builder
			if code := Main(tt.args, strings.NewReader(""), &out, &errOut); code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
			}
			if got := strings.Contains(errOut.String(), "200 OK"); got != tt.verbose {
				t.Fatalf("verbose output %v, want %v:\n%s", got, tt.verbose, errOut.String())
			}
		})
	}
}

// utf16Text encodes s as UTF-16, big-endian when be, after a byte order mark when bom.
func utf16Text(s string, be, bom bool) string {
	var order binary.ByteOrder = binary.LittleEndian
	if be {
		order = binary.BigEndian
	}
	return string(textenc.UTF16(s, order, bom))
}

// kustoTarget makes a Kusto cluster in the cluster's resource group to be
// the target of managed private endpoints, and returns its id.
func (f *fixture) kustoTarget(t *testing.T, name string) string {
	t.Helper()
	id := "/subscriptions/" + f.env.Subscription + "/resourceGroups/" + adxGroup + "/providers/Microsoft.Kusto/clusters/" + name
	f.cli.ok("put", id+"?api-version=2024-04-13", "{'location':'westus','sku':{'name':'Dev(No SLA)_Standard_D11_v2','tier':'Basic'}}")
	return id
}

// TestInputsStoreURLStaysOutOfHelp: serve and env take $PRIVLINK_STORE as
// --store's default, but --help must not print it: a PostgreSQL URL carries
// its password.
func TestInputsStoreURLStaysOutOfHelp(t *testing.T) {
	t.Setenv("PRIVLINK_STORE", "postgres://privlink:s3cret@127.0.0.1:5432/privlink")
	for _, cmd := range []string{"serve", "env"} {
		var out, errOut strings.Builder
		code := Main([]string{cmd, "--help"}, strings.NewReader(""), &out, &errOut)
		r := result{code: code, stdout: out.String(), stderr: errOut.String()}
		if r.code != 0 || !strings.Contains(r.stdout, "(default $PRIVLINK_STORE") {
			t.Fatalf("%s --help: exit %d, stdout:\n%s", cmd, r.code, r.stdout)
		}
		if strings.Contains(r.stdout+r.stderr, "s3cret") {
			t.Errorf("%s --help prints the store's password:\n%s", cmd, r.stdout)
		}
	}
}
