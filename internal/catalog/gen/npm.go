package main

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// The SDK source is the official JavaScript management SDKs (@azure/arm-*) on
// the npm registry. Each operation in their published code pairs a URL
// template with the api-version it sends, so the types those URLs address
// get the api-versions SDKs really call, often months before the specs
// digest above carries them. The registry is reached through the npm client,
// so its configuration (registry, proxy, credentials) applies.

// release is one published version of a package.
type release struct {
	Package, Version string
}

// npmView returns the versions and dist-tags of pkg.
func npmView(pkg string) (versions []string, tags map[string]string, err error) {
	out, err := exec.Command("npm", "view", pkg, "versions", "dist-tags", "--json").Output()
	if err != nil {
		return nil, nil, fmt.Errorf("npm view %s: %w", pkg, exitDetail(err))
	}
	var v struct {
		Versions []string          `json:"versions"`
		Tags     map[string]string `json:"dist-tags"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return nil, nil, fmt.Errorf("npm view %s: %w", pkg, err)
	}
	return v.Versions, v.Tags, nil
}

// pickReleases chooses which versions of a package to read: the one tagged
// latest, and the newest stable release of each of the majors-1 major
// versions before it. Applications move to a new major of an SDK slowly, so
// the api-versions of the previous majors are still being called.
func pickReleases(versions []string, latest string, majors int) []string {
	lm, ok := major(latest)
	if !ok {
		return nil
	}
	newest := map[int]string{lm: latest}
	for _, v := range versions {
		m, ok := major(v)
		if !ok || m >= lm || strings.ContainsAny(v, "-+") {
			continue // prereleases and builds are not what applications run
		}
		if cur, seen := newest[m]; !seen || semverLess(cur, v) {
			newest[m] = v
		}
	}
	ms := make([]int, 0, len(newest))
	for m := range newest {
		ms = append(ms, m)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(ms)))
	if len(ms) > majors {
		ms = ms[:majors]
	}
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, newest[m])
	}
	return out
}

func major(v string) (int, bool) {
	s, _, _ := strings.Cut(v, ".")
	m, err := strconv.Atoi(s)
	return m, err == nil
}

// semverLess compares two stable x.y.z versions.
func semverLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, _ := strconv.Atoi(as[i])
		y, _ := strconv.Atoi(bs[i])
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}

// npmPack downloads the tarball of r into dir and returns its path.
func npmPack(r release, dir string) (string, error) {
	cmd := exec.Command("npm", "pack", r.Package+"@"+r.Version, "--json", "--pack-destination", dir)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("npm pack %s@%s: %w", r.Package, r.Version, exitDetail(err))
	}
	var packed []struct {
		Filename string `json:"filename"`
	}
	if err := json.Unmarshal(out, &packed); err != nil || len(packed) != 1 {
		return "", fmt.Errorf("npm pack %s@%s: unexpected output %q", r.Package, r.Version, out)
	}
	return filepath.Join(dir, filepath.Base(packed[0].Filename)), nil
}

// scanTarball reads the JavaScript of a package tarball and returns what its
// operations call, each once.
func scanTarball(file string) ([]call, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	builds := map[string][]string{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if h.Typeflag != tar.TypeReg || !shippedCode(h.Name) {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", file, h.Name, err)
		}
		root := buildRoot(h.Name)
		builds[root] = append(builds[root], string(b))
	}
	var calls []call
	roots := make([]string, 0, len(builds))
	for r := range builds {
		roots = append(roots, r)
	}
	sort.Strings(roots)
	seen := map[call]bool{}
	for _, r := range roots {
		for _, c := range scanBuild(builds[r]) {
			if !seen[c] {
				seen[c] = true
				calls = append(calls, c)
			}
		}
	}
	return calls, nil
}

// shippedCode reports whether a tarball entry is the library's JavaScript
// (not its samples, tests, minified bundles or source maps).
func shippedCode(name string) bool {
	if !strings.HasSuffix(name, ".js") && !strings.HasSuffix(name, ".cjs") && !strings.HasSuffix(name, ".mjs") {
		return false
	}
	if strings.HasSuffix(name, ".min.js") {
		return false
	}
	for _, seg := range strings.Split(path.Dir(name), "/") {
		switch strings.ToLower(seg) {
		case "samples", "samples-dev", "test", "tests", "node_modules":
			return false
		}
	}
	return true
}

// buildRoot names the build an entry belongs to: packages ship the same code
// several times (ESM, CommonJS, browser, a bundle), and identifiers such as
// "apiVersion1" are resolved within one build.
func buildRoot(name string) string {
	segs := strings.Split(name, "/")
	for i, s := range segs {
		switch s {
		case "dist-esm", "esm", "commonjs", "browser", "react-native", "cjs":
			return strings.Join(segs[:i+1], "/")
		}
	}
	// A bundle (dist/index.js) is a build of its own.
	return name
}

// exitDetail adds a failed command's standard error to its error.
func exitDetail(err error) error {
	if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	return err
}
