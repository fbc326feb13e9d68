package main

import (
	"regexp"
	"sort"
	"strings"
)

// call is one operation of an SDK: the URL template it requests and the
// api-version it sends.
type call struct {
	Path, Version string
}

// The two shapes of generated JavaScript management SDKs.
//
// The older generator (AutoRest) describes each operation as an object
//
//	path: "/subscriptions/{subscriptionId}/.../providers/Microsoft.Sql/servers/{serverName}",
//	...
//	queryParameters: [Parameters.apiVersion3],
//
// and each api-version parameter as an object whose mapper carries it:
//
//	export const apiVersion3 = { parameterPath: "apiVersion", mapper: { defaultValue: "2023-08-01", ... serializedName: "api-version" ...
//
// The newer one (TypeSpec) builds each request from a URL template with the
// version beside it, or left to the client's default:
//
//	expandUrlTemplate("/subscriptions/{subscriptionId}/.../storageAccounts/{accountName}{?api%2Dversion}", {
//	    ...
//	    "api%2Dversion": context.apiVersion ?? "2026-09-01",
var (
	// siteRe finds an operation: an AutoRest "path" or a TypeSpec URL template.
	siteRe = regexp.MustCompile(`(?:\bpath:\s*|expandUrlTemplate\)?\(\s*)["']([^"']*)["']`)
	// queryParamsRe is an AutoRest operation's query parameters.
	queryParamsRe = regexp.MustCompile(`queryParameters:\s*\[([^\]]*)\]`)
	identRe       = regexp.MustCompile(`[A-Za-z_$][\w$]*`)
	// paramStartRe is where an AutoRest parameter object starts.
	paramStartRe = regexp.MustCompile(`([A-Za-z_$][\w$]*)\s*=\s*\{\s*parameterPath:`)
	// apiVersionNameRe marks a parameter object as the api-version one.
	apiVersionNameRe = regexp.MustCompile(`serializedName:\s*["']api-version["']`)
	defaultValueRe   = regexp.MustCompile(`defaultValue:\s*["']([^"']*)["']`)
	// tsVersionRe is a TypeSpec request's api-version expression.
	tsVersionRe = regexp.MustCompile(`"api%2Dversion":\s*([^,}\n]*)`)
	// clientDefaultRe is a client's default api-version, in both shapes
	// ("options.apiVersion || "X"", "context.apiVersion ?? "X"").
	clientDefaultRe = regexp.MustCompile(`\.apiVersion\s*(?:\?\?|\|\||=)\s*["']([^"']*)["']`)
	literalRe       = regexp.MustCompile(`["']([^"']*)["']`)
)

// scanBuild returns the calls made by the files of one build of a package.
func scanBuild(files []string) []call {
	params := map[string]string{} // AutoRest api-version parameter -> version ("": the client's)
	defaults := map[string]int{}  // client default api-versions, counted
	for _, src := range files {
		for _, m := range apiVersionNameRe.FindAllStringIndex(src, -1) {
			// The parameter object that holds this serializedName starts at
			// the last "name = { parameterPath:" before it.
			starts := paramStartRe.FindAllStringSubmatchIndex(src[:m[0]], -1)
			if len(starts) == 0 {
				continue
			}
			s := starts[len(starts)-1]
			name := src[s[2]:s[3]]
			end := min(len(src), m[1]+200)
			// Without a default of its own, the parameter takes the
			// client's (older generators: "this.apiVersion = '2017-04-01'").
			params[name] = ""
			if dv := defaultValueRe.FindStringSubmatch(src[s[0]:end]); dv != nil && versionRe.MatchString(dv[1]) {
				params[name] = dv[1]
			}
		}
		for _, m := range clientDefaultRe.FindAllStringSubmatch(src, -1) {
			if versionRe.MatchString(m[1]) {
				defaults[m[1]]++
			}
		}
	}
	def := ""
	for v, n := range defaults {
		if def == "" || n > defaults[def] || (n == defaults[def] && v > def) {
			def = v
		}
	}
	var calls []call
	for _, src := range files {
		sites := siteRe.FindAllStringSubmatchIndex(src, -1)
		for i, s := range sites {
			end := len(src)
			if i+1 < len(sites) {
				end = sites[i+1][0]
			}
			chunk := src[s[1]:end]
			p := src[s[2]:s[3]]
			for _, v := range chunkVersions(chunk, params, def) {
				calls = append(calls, call{Path: p, Version: v})
			}
		}
	}
	return calls
}

// chunkVersions returns the api-versions an operation sends, from the text
// between its path and the next operation's.
func chunkVersions(chunk string, params map[string]string, def string) []string {
	if m := tsVersionRe.FindStringSubmatch(chunk); m != nil {
		expr := strings.TrimSpace(m[1])
		if lit := literalRe.FindStringSubmatch(expr); lit != nil && versionRe.MatchString(lit[1]) {
			return []string{lit[1]}
		}
		// "context.apiVersion" alone: the client's default. A bare
		// identifier is a version the caller passes (a generic GET by id):
		// no version of its own.
		if strings.Contains(expr, ".apiVersion") && def != "" {
			return []string{def}
		}
		return nil
	}
	if m := queryParamsRe.FindStringSubmatch(chunk); m != nil {
		var out []string
		for _, id := range identRe.FindAllString(m[1], -1) {
			if v, ok := params[id]; ok {
				if v == "" {
					v = def
				}
				if v != "" {
					out = append(out, v)
				}
			}
		}
		return out
	}
	return nil
}

// armRoot spells the types ARM itself serves at the root of its URLs
// (/subscriptions/{s}, /subscriptions/{s}/resourcegroups/{g},
// /subscriptions/{s}/providers/{namespace}, .../resourcegroups/{g}/deployments/{d}),
// which have no "/providers/Microsoft.Resources/" segment: they are
// Microsoft.Resources types. Other first segments there are left out.
var armRoot = map[string]string{
	"subscriptions":  "subscriptions",
	"resourcegroups": "resourceGroups",
	"providers":      "providers",
	"tenants":        "tenants",
	"tagnames":       "tagNames",
	"deployments":    "deployments",
}

// typesOfPath returns the resource types a URL template addresses.
//
// The addressed resource lives below the last "/providers/{Namespace}"
// segment; what comes before is only its scope. Below it, segments alternate
// type and name: every type followed by a name is a type
// ("storageAccounts/{accountName}/privateEndpointConnections/{name}" gives
// storageAccounts and storageAccounts/privateEndpointConnections). A final
// type without a name is a collection or an action ("listKeys") and is left
// out: collections are also addressed with a name elsewhere, actions are not
// types. Names may be literal ("blobServices/default"); type segments may
// not, and a placeholder where a type belongs ends the walk.
//
// When that last namespace is a placeholder ("/providers/{resourceProviderNamespace}"),
// the URL is ARM's provider registration (Microsoft.Resources/providers) or a
// generic one (a GET by id) that addresses no type of its own. URLs without
// "/providers/" are ARM's own (see armRoot); there the walk starts again
// below a subscription and below a resource group.
func typesOfPath(p string) []string {
	if i := strings.Index(p, "{?"); i >= 0 {
		p = p[:i] // a URL template's query part
	}
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	segs := strings.Split(strings.Trim(p, "/"), "/")
	last := -1
	for i := 0; i+1 < len(segs); i++ {
		if strings.EqualFold(segs[i], "providers") {
			last = i
		}
	}
	var out []string
	switch {
	case last >= 0 && literal(segs[last+1]):
		ns := segs[last+1]
		walk(segs[last+2:], func(typ []string) { out = append(out, ns+"/"+strings.Join(typ, "/")) })
	case last >= 0:
		if len(segs)-last <= 3 { // providers/{ns}, maybe followed by an action
			out = append(out, "Microsoft.Resources/providers")
		}
	default:
		rest := segs
		for len(rest) >= 2 && literal(rest[0]) && !literal(rest[1]) {
			s, ok := armRoot[strings.ToLower(rest[0])]
			if !ok {
				break
			}
			out = append(out, "Microsoft.Resources/"+s)
			rest = rest[2:]
			if s != "subscriptions" && s != "resourceGroups" {
				// Below other root types, children follow the usual walk.
				walk(rest, func(typ []string) { out = append(out, "Microsoft.Resources/"+s+"/"+strings.Join(typ, "/")) })
				break
			}
		}
	}
	return out
}

// walk calls f with each type path of segs, which alternate type and name.
func walk(segs []string, f func(typ []string)) {
	var typ []string
	for i := 0; i+1 < len(segs); i += 2 {
		t := segs[i]
		if !literal(t) || t == "" {
			return
		}
		typ = append(typ, t)
		f(append([]string(nil), typ...))
	}
}

func literal(seg string) bool { return !strings.ContainsAny(seg, "{}") }

// sdkTable turns calls into a table.
func sdkTable(calls []call) *table {
	t := newTable()
	sort.Slice(calls, func(i, j int) bool {
		if calls[i].Path != calls[j].Path {
			return calls[i].Path < calls[j].Path
		}
		return calls[i].Version < calls[j].Version
	})
	for _, c := range calls {
		for _, typ := range typesOfPath(c.Path) {
			t.add(typ, c.Version)
		}
	}
	return t
}
