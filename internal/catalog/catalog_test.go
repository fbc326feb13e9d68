package catalog

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// A small catalog of two files, the second adding versions and a type.
var testFiles = map[string]string{
	"a": "# comment\n" +
		"Microsoft.Devices/IotHubs\t2021-07-02,2023-06-30\n" +
		"Microsoft.Devices/iotHubs/privateEndpointConnections\t2023-06-30\n" +
		"microsoft.insights/components\t2015-05-01\n" +
		"Microsoft.Insights/components/linkedStorageAccounts\t2020-03-01-preview\n" +
		"Microsoft.Insights/diagnosticSettings\t2021-05-01-preview\n",
	"b": "Microsoft.Devices/iothubs\t2019-03-22-preview,2023-06-30,2025-01-01\n" +
		"Microsoft.Devices/IotHubs/eventHubEndpoints\t2023-06-30\n",
}

func withData(t *testing.T, files map[string]string, order ...string) {
	t.Helper()
	ix, err := parse(files, order...)
	if err != nil {
		t.Fatal(err)
	}
	saved := data
	data = ix
	t.Cleanup(func() { data = saved })
}

func TestVersions(t *testing.T) {
	withData(t, testFiles, "a", "b")
	for _, c := range []struct {
		name, typ string
		want      []string
	}{
		{"merged and sorted", "Microsoft.Devices/IotHubs", []string{"2019-03-22-preview", "2021-07-02", "2023-06-30", "2025-01-01"}},
		{"any case", "MICROSOFT.DEVICES/IOTHUBS", []string{"2019-03-22-preview", "2021-07-02", "2023-06-30", "2025-01-01"}},
		{"child", "microsoft.devices/iothubs/privateendpointconnections", []string{"2023-06-30"}},
		{"unknown child", "Microsoft.Devices/IotHubs/privateLinkResources", nil},
		{"unknown", "Microsoft.Nothing/things", nil},
		{"namespace alone", "Microsoft.Devices", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Versions(c.typ); !slices.Equal(got, c.want) {
				t.Fatalf("Versions(%q) = %v, want %v", c.typ, got, c.want)
			}
		})
	}
	got := Versions("Microsoft.Devices/IotHubs")
	got[0] = "changed"
	if Versions("Microsoft.Devices/IotHubs")[0] == "changed" {
		t.Fatal("Versions returned the catalog's own slice")
	}
}

func TestHas(t *testing.T) {
	withData(t, testFiles, "a", "b")
	for _, c := range []struct {
		typ, version string
		want         bool
	}{
		{"Microsoft.Devices/IotHubs", "2023-06-30", true},
		{"microsoft.devices/IOTHUBS", "2019-03-22-PREVIEW", true},
		{"Microsoft.Devices/IotHubs", "2019-03-22", false},
		{"Microsoft.Devices/IotHubs", "2099-01-01", false},
		{"Microsoft.Devices/IotHubs/privateLinkResources", "2023-06-30", false},
		{"Microsoft.Nothing/things", "2023-06-30", false},
	} {
		if got := Has(c.typ, c.version); got != c.want {
			t.Errorf("Has(%q, %q) = %v, want %v", c.typ, c.version, got, c.want)
		}
	}
}

func TestNameTypesNamespaces(t *testing.T) {
	withData(t, testFiles, "a", "b")
	// The first file's spelling wins.
	if got, ok := Name("MICROSOFT.DEVICES/IOTHUBS"); !ok || got != "Microsoft.Devices/IotHubs" {
		t.Fatalf("Name = %q, %v, want Microsoft.Devices/IotHubs, true", got, ok)
	}
	if _, ok := Name("Microsoft.Nothing/things"); ok {
		t.Fatal("Name found an unknown type")
	}
	want := []string{"Microsoft.Devices/IotHubs", "Microsoft.Devices/IotHubs/eventHubEndpoints", "Microsoft.Devices/iotHubs/privateEndpointConnections"}
	if got := Types("microsoft.devices"); !slices.Equal(got, want) {
		t.Fatalf("Types = %v, want %v", got, want)
	}
	if got := Types("Microsoft.Nothing"); got != nil {
		t.Fatalf("Types of an unknown namespace = %v, want nil", got)
	}
	// Most of Microsoft.Insights' types spell it so.
	if got, want := Namespaces(), []string{"Microsoft.Devices", "Microsoft.Insights"}; !slices.Equal(got, want) {
		t.Fatalf("Namespaces = %v, want %v", got, want)
	}
}

func TestAccept(t *testing.T) {
	withData(t, testFiles, "a", "b")
	for _, c := range []struct {
		name, typ string
		known     []string
		want      []string
	}{
		{"union", "Microsoft.Devices/IotHubs", []string{"2023-06-30", "2018-01-22"},
			[]string{"2018-01-22", "2019-03-22-preview", "2021-07-02", "2023-06-30", "2025-01-01"}},
		{"child listed", "Microsoft.Devices/IotHubs/privateEndpointConnections", nil, []string{"2023-06-30"}},
		{"child falls back to its parent", "Microsoft.Devices/IotHubs/privateLinkResources", []string{"2018-01-22"},
			[]string{"2018-01-22", "2019-03-22-preview", "2021-07-02", "2023-06-30", "2025-01-01"}},
		{"grandchild falls back", "Microsoft.Devices/IotHubs/eventHubEndpoints/ConsumerGroups", nil, []string{"2023-06-30"}},
		{"unknown type keeps its own", "Microsoft.Nothing/things", []string{"2020-01-01", "2019-01-01", "2020-01-01"}, []string{"2019-01-01", "2020-01-01"}},
		{"unknown type without versions", "Microsoft.Nothing/things", nil, []string{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Accept(c.typ, c.known...)
			if !slices.Equal(got, c.want) {
				t.Fatalf("Accept(%q, %v) = %v, want %v", c.typ, c.known, got, c.want)
			}
		})
	}
}

func TestParseRefusesMalformedLines(t *testing.T) {
	for _, line := range []string{
		"Microsoft.Storage/storageAccounts 2023-01-01",
		"Microsoft.Storage\t2023-01-01",
		"Microsoft.Storage/storageAccounts\t",
		"/storageAccounts\t2023-01-01",
	} {
		if _, err := parse(map[string]string{"x": line + "\n"}, "x"); err == nil {
			t.Errorf("parse(%q) = nil error", line)
		} else if !strings.Contains(err.Error(), "x:1") {
			t.Errorf("parse(%q) = %v, want the file and line", line, err)
		}
	}
}

// The embedded files are what the generator writes: sorted lines of
// well-formed types and versions, with no type twice.
func TestDataFilesAreWellFormed(t *testing.T) {
	version := regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(-[a-z0-9.]+)?$`)
	typ := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.\-]*(/[A-Za-z0-9_.\-]+)+$`)
	for name, text := range map[string]string{"specs.txt": specsData, "sdks.txt": sdksData} {
		t.Run(name, func(t *testing.T) {
			if !strings.HasSuffix(text, "\n") {
				t.Fatal("no final newline")
			}
			prev := ""
			types := 0
			for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
				if strings.HasPrefix(line, "#") {
					if types > 0 {
						t.Fatalf("line %d: a comment after the data", i+1)
					}
					continue
				}
				types++
				name, list, _ := strings.Cut(line, "\t")
				if !typ.MatchString(name) {
					t.Fatalf("line %d: bad type %q", i+1, name)
				}
				if prev != "" && strings.ToLower(prev) >= strings.ToLower(name) {
					t.Fatalf("line %d: %s is not after %s", i+1, name, prev)
				}
				prev = name
				vs := strings.Split(list, ",")
				for j, v := range vs {
					if !version.MatchString(v) {
						t.Fatalf("line %d: bad api-version %q", i+1, v)
					}
					if j > 0 && vs[j-1] >= v {
						t.Fatalf("line %d: %s is not after %s", i+1, v, vs[j-1])
					}
				}
			}
			if types == 0 {
				t.Fatal("no types")
			}
		})
	}
}
