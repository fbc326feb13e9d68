// Command gen rebuilds the data files of internal/catalog from public,
// machine-readable sources:
//
//   - specs.txt, from Azure's REST API specifications as Azure compiles them
//     in Azure/bicep-types-az (generated/**/types.json): every resource type
//     at every api-version the specs publish, previews included. It needs a
//     checkout of that repository, given with -bicep; without it specs.txt
//     is left as it is.
//   - scopes.txt, from the same types.json files: where each of those types
//     lives (tenant, management group, subscription, resource group, or as
//     an extension of another resource), whether any api-version lets it be
//     written, and whether its body's location is required, optional,
//     read-only or absent. privlink serves the types it has no rules for
//     generically from this (internal/providers/generic).
//   - sdks.txt, from the official JavaScript management SDKs (@azure/arm-*)
//     on the npm registry, read with the npm client: the api-versions that
//     the newest releases of the last -majors major versions call, for the
//     namespaces privlink serves. This is what keeps the catalog current as
//     SDKs move on, and it needs nothing but npm.
//   - restspecs.txt, from Azure/azure-rest-api-specs itself: the types that
//     the PUT operations of every resource-manager OpenAPI document in a
//     stable or preview version folder create, at the folder's api-version,
//     whether or not a readme tag (and so bicep-types-az) names the
//     document. It needs a checkout, given with -specsrepo: a sparse one of
//     those documents alone is enough (see README.md).
//   - templates.txt, from Azure/azure-quickstart-templates: the type and
//     api-version of every resource its ARM templates declare, pairs that
//     ARM accepted in that repository's tests. It needs a checkout, given
//     with -quickstarts; several (comma-separated) keep the pairs of older
//     commits too.
//
// Without its checkout, a file is left as it is. Run it from
// internal/catalog, as go generate does:
//
//	go generate ./internal/catalog                                  # sdks.txt
//	BICEP_TYPES_AZ=/path/to/bicep-types-az go generate ./internal/catalog   # and specs.txt, scopes.txt
//	AZURE_REST_API_SPECS=/path/to/azure-rest-api-specs \
//	AZURE_QUICKSTART_TEMPLATES=/path/to/azure-quickstart-templates \
//	    go generate ./internal/catalog                              # and restspecs.txt, templates.txt
//
// The same inputs give the same files: sdks.txt names the package versions
// it read and the others the commit of their checkout.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// packages are the SDKs read by default: those of the namespaces privlink
// serves (Microsoft.Resources and Microsoft.Subscription included).
var packages = []string{
	"@azure/arm-digitaltwins",
	"@azure/arm-eventhub",
	"@azure/arm-iothub",
	"@azure/arm-keyvault",
	"@azure/arm-kusto",
	"@azure/arm-resources",
	"@azure/arm-resources-subscriptions",
	"@azure/arm-sql",
	"@azure/arm-storage",
	"@azure/arm-subscriptions",
}

// format is the data files' format line.
const format = "Format: Namespace/type<TAB>api-version,api-version,... (types sorted case-insensitively, versions oldest first)."

func main() {
	specs := flag.String("specs", "specs.txt", "the specs data file to write (with -bicep)")
	scopes := flag.String("scopes", "scopes.txt", "the scopes data file to write (with -bicep)")
	bicep := flag.String("bicep", "", "a bicep-types-az checkout (git work tree, bare repository or plain copy); empty leaves -specs as it is")
	sdks := flag.String("sdks", "sdks.txt", "the SDK data file to write; empty skips the SDKs")
	pkgs := flag.String("packages", strings.Join(packages, ","), "comma-separated npm packages to read")
	majors := flag.Int("majors", 3, "read the newest release of this many major versions of each package")
	restspecs := flag.String("restspecs", "restspecs.txt", "the rest-specs data file to write (with -specsrepo)")
	specsRepo := flag.String("specsrepo", "", "an azure-rest-api-specs checkout (sparse or whole) or a copy of part of its specification/ tree; empty leaves -restspecs as it is")
	templates := flag.String("templates", "templates.txt", "the templates data file to write (with -quickstarts)")
	quickstarts := flag.String("quickstarts", "", "azure-quickstart-templates checkouts (git work trees, bare repositories or plain copies), comma-separated, each at the commit to read; empty leaves -templates as it is")
	flag.Parse()
	err := runRestSpecs(*restspecs, *specsRepo)
	if err == nil {
		err = runTemplates(*templates, *quickstarts)
	}
	if err == nil {
		err = run(*specs, *scopes, *bicep, *sdks, strings.Split(*pkgs, ","), *majors)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// runRestSpecs writes file from the azure-rest-api-specs checkout dir.
func runRestSpecs(file, dir string) error {
	if file == "" {
		return nil
	}
	if dir == "" {
		fmt.Fprintf(os.Stderr, "gen: no -specsrepo checkout given: %s left as it is\n", file)
		return nil
	}
	t, source, err := restSpecsSource(dir)
	if err != nil {
		return err
	}
	header := []string{
		"Resource types and api-versions of Azure's REST API specifications themselves: the types",
		"that the PUT operations of each resource-manager OpenAPI document in a stable or preview",
		"version folder create, at the folder's api-version, read from",
		source + ".",
		"Generated by internal/catalog/gen; do not edit (see internal/catalog/README.md).",
		format,
	}
	if err := t.write(file, header); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "gen: %s: %d types from %s\n", file, len(t.types), source)
	return nil
}

// runTemplates writes file from the azure-quickstart-templates checkouts
// dirs (comma-separated): the union of what each holds, so that the pairs
// of an older commit, since moved on to newer api-versions, can be kept.
func runTemplates(file, dirs string) error {
	if file == "" {
		return nil
	}
	if dirs == "" {
		fmt.Fprintf(os.Stderr, "gen: no -quickstarts checkout given: %s left as it is\n", file)
		return nil
	}
	t := newTable()
	header := []string{
		"Resource types and the api-versions that Microsoft's quickstart ARM templates deploy them",
		"with (each resource's type and apiVersion, child and nested-deployment resources included),",
		"read from:",
	}
	var sources []string
	for _, dir := range strings.Split(dirs, ",") {
		if dir = strings.TrimSpace(dir); dir == "" {
			continue
		}
		source, err := templatesSource(dir, t)
		if err != nil {
			return err
		}
		header = append(header, "  "+source)
		sources = append(sources, source)
	}
	source := strings.Join(sources, "; ")
	header = append(header,
		"Generated by internal/catalog/gen; do not edit (see internal/catalog/README.md).",
		format,
	)
	if err := t.write(file, header); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "gen: %s: %d types from %s\n", file, len(t.types), source)
	return nil
}

func run(specsFile, scopesFile, bicepDir, sdksFile string, pkgs []string, majors int) error {
	if bicepDir != "" && specsFile != "" {
		t, sh, source, err := bicepSource(bicepDir)
		if err != nil {
			return err
		}
		header := []string{
			"Resource types and api-versions published in Azure's REST API specifications",
			"(Azure/azure-rest-api-specs, resource-manager, stable and preview), as compiled by",
			source + ".",
			"Generated by internal/catalog/gen; do not edit (see internal/catalog/README.md).",
			format,
		}
		if err := t.write(specsFile, header); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "gen: %s: %d types from %s\n", specsFile, len(t.types), source)
		if scopesFile != "" {
			if err := sh.write(scopesFile, t, scopesHeader(source)); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "gen: %s: %d types\n", scopesFile, len(sh.types))
		}
	} else if specsFile != "" {
		fmt.Fprintf(os.Stderr, "gen: no -bicep checkout given: %s left as it is\n", specsFile)
	}
	if sdksFile == "" {
		return nil
	}
	tmp, err := os.MkdirTemp("", "privlink-catalog-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var calls []call
	header := []string{
		"Resource types and the api-versions that Azure's official JavaScript management SDKs call,",
		fmt.Sprintf("read from the code of their npm packages (the newest release of each of the last %d majors):", majors),
	}
	for _, pkg := range pkgs {
		pkg = strings.TrimSpace(pkg)
		if pkg == "" {
			continue
		}
		versions, tags, err := npmView(pkg)
		if err != nil {
			return err
		}
		picked := pickReleases(versions, tags["latest"], majors)
		if len(picked) == 0 {
			return fmt.Errorf("%s: no release tagged latest", pkg)
		}
		header = append(header, "  "+pkg+" "+strings.Join(picked, " "))
		for _, v := range picked {
			file, err := npmPack(release{pkg, v}, tmp)
			if err != nil {
				return err
			}
			c, err := scanTarball(file)
			if err != nil {
				return err
			}
			if len(c) == 0 {
				return fmt.Errorf("%s@%s: no operation with an api-version found: has the generated code changed shape?", pkg, v)
			}
			fmt.Fprintf(os.Stderr, "gen: %s@%s: %d operations\n", pkg, v, len(c))
			calls = append(calls, c...)
		}
	}
	header = append(header,
		"Generated by internal/catalog/gen; do not edit (see internal/catalog/README.md).",
		format,
	)
	t := sdkTable(calls)
	if err := t.write(sdksFile, header); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "gen: %s: %d types\n", sdksFile, len(t.types))
	return nil
}

// scopesHeader is the header of scopes.txt, which explains its columns.
func scopesHeader(source string) []string {
	return []string{
		"Where each resource type of specs.txt lives and whether it carries a location, from the",
		"same source: " + source + ".",
		"Generated by internal/catalog/gen; do not edit (see internal/catalog/README.md).",
		"Format: Namespace/type<TAB>scopes<TAB>access<TAB>location, where",
		"  scopes   the scopes the type may be read or written at in any api-version (bicep's",
		"           readableScopes | writableScopes): T tenant, M management group, S subscription,",
		"           G resource group, E extension (below any resource); - none given;",
		"  access   rw, or r when no api-version lets the type be written;",
		"  location the body's location in the newest api-version: required, optional, readonly",
		"           or none (the specs leave some locations optional that ARM requires: see",
		"           internal/providers/generic).",
	}
}
