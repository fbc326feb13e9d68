package template

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/google/uuid"
	"github.com/privlink/privlink/internal/catalog"
	"github.com/privlink/privlink/internal/deploy/expr"
	"github.com/privlink/privlink/internal/deploy/plan"
)

// phase is where in a template an expression is evaluated: it decides which
// functions are allowed, as ARM's validation does.
type phase int

const (
	phParam  phase = iota // a parameter's defaultValue
	phVar                 // a variable
	phStatic              // a resource's name, type, apiVersion, condition, copy count, dependsOn, scope
	phBody                // a resource's body, at deployment time
	phOutput              // an output, at deployment time
	phFunc                // a user-defined function's output
)

// loopIndex is one copy loop being expanded: its name and current index.
type loopIndex struct {
	name  string
	index int
}

// evalCtx is an expr.Context: the deployment functions as seen from one
// place of one plan.
type evalCtx struct {
	p      *Plan
	ph     phase
	rt     plan.Runtime
	whatIf bool
	// loops are the copy loops around the place, outermost first; the
	// first is the one an unnamed copyIndex() means.
	loops []loopIndex
	// args are a user-defined function's arguments, by parameter name.
	args *expr.Object
	// inst is the resource instance whose body is evaluated, if any.
	inst *instance
}

// errDeferred marks a runtime function that what-if cannot evaluate yet
// (its resource is not deployed): the expression is kept as its text.
var errDeferred = errors.New("the value is known only at deployment time")

func (c *evalCtx) with(ph phase, loops []loopIndex) *evalCtx {
	d := *c
	d.ph = ph
	d.loops = loops
	return &d
}

func notExpected(name string) error {
	return msgf("The template function '%s' is not expected at this location. Please see https://aka.ms/arm-template-expressions for usage details", name)
}

func f(name string, min, max int, kinds []expr.Kind, impl func(c *expr.Call, a []any) (any, error)) *expr.Func {
	return &expr.Func{Name: name, Min: min, Max: max, Args: kinds, Fn: impl}
}

func k(ks ...expr.Kind) []expr.Kind { return ks }

// Function implements expr.Context.
func (c *evalCtx) Function(name string) *expr.Func {
	S, I, O := expr.KString, expr.KInt, expr.KObject
	p := c.p
	switch name {
	case "parameters":
		return f("parameters", 1, 1, k(S), func(call *expr.Call, a []any) (any, error) {
			if c.ph == phFunc {
				v, ok := c.args.Get(a[0].(string))
				if !ok {
					return nil, msgf("The template function parameter '%s' is not defined", a[0])
				}
				return v, nil
			}
			return p.parameter(a[0].(string), c)
		})
	case "variables":
		return f("variables", 1, 1, k(S), func(call *expr.Call, a []any) (any, error) {
			if c.ph == phParam || c.ph == phFunc {
				return nil, notExpected("variables")
			}
			return p.variable(a[0].(string), c)
		})
	case "copyindex":
		return f("copyIndex", 0, 2, k(S|I, I), func(call *expr.Call, a []any) (any, error) {
			loop, offset := "", int64(0)
			if len(a) > 0 {
				if s, ok := a[0].(string); ok {
					loop = s
					if len(a) > 1 {
						n, ok := a[1].(int64)
						if !ok {
							return nil, msgf("The template function 'copyIndex' expects its offset to be an integer")
						}
						offset = n
					}
				} else {
					if len(a) > 1 {
						return nil, msgf("The template function 'copyIndex' takes a loop name and an offset, in that order")
					}
					offset = a[0].(int64)
				}
			}
			for i := len(c.loops) - 1; i >= 0; i-- {
				l := c.loops[i]
				if loop == "" && i == 0 || loop != "" && strings.EqualFold(l.name, loop) {
					return int64(l.index) + offset, nil
				}
			}
			if loop != "" {
				return nil, msgf("The template function 'copyIndex' is not expected at this location. The copy loop '%s' is not defined here. Please see https://aka.ms/arm-copy for usage details", loop)
			}
			return nil, msgf("The template function 'copyIndex' is not expected at this location. The function can only be used in a resource, property, variable or output with a copy loop. Please see https://aka.ms/arm-copy for usage details")
		})
	case "utcnow":
		return f("utcNow", 0, 1, k(S), func(call *expr.Call, a []any) (any, error) {
			if c.ph != phParam {
				return nil, msgf("The template function 'utcNow' is not expected at this location. It can only be used in the default value of a parameter. Please see https://aka.ms/arm-template-expressions for usage details")
			}
			format := "yyyyMMddTHHmmssZ"
			if len(a) > 0 {
				format = a[0].(string)
			}
			return expr.FormatDateTime(p.fnScope().Now, format)
		})
	case "newguid":
		return f("newGuid", 0, 0, nil, func(call *expr.Call, a []any) (any, error) {
			if c.ph != phParam {
				return nil, msgf("The template function 'newGuid' is not expected at this location. It can only be used in the default value of a parameter. Please see https://aka.ms/arm-template-expressions for usage details")
			}
			return uuid.NewString(), nil
		})
	case "deployment":
		return f("deployment", 0, 0, nil, func(call *expr.Call, a []any) (any, error) {
			if c.ph == phFunc {
				return nil, notExpected("deployment")
			}
			return p.deploymentObject(), nil
		})
	case "environment":
		return f("environment", 0, 0, nil, func(call *expr.Call, a []any) (any, error) { return environment(p.fnScope()), nil })
	case "deployer":
		return f("deployer", 0, 0, nil, func(call *expr.Call, a []any) (any, error) {
			d := p.fnScope().Deployer
			o := expr.NewObject()
			o.Set("objectId", d.ObjectID)
			o.Set("tenantId", d.TenantID)
			o.Set("userPrincipalName", d.UserPrincipalName)
			return o, nil
		})
	case "resourcegroup":
		return f("resourceGroup", 0, 2, k(S), func(call *expr.Call, a []any) (any, error) { return p.resourceGroupObject(a) })
	case "subscription":
		return f("subscription", 0, 1, k(S), func(call *expr.Call, a []any) (any, error) {
			s := p.fnScope()
			id := s.SubscriptionID
			name := s.SubscriptionDisplayName
			if len(a) > 0 {
				id, name = a[0].(string), ""
			}
			o := expr.NewObject()
			o.Set("id", "/subscriptions/"+id)
			o.Set("subscriptionId", id)
			o.Set("tenantId", s.TenantID)
			o.Set("displayName", name)
			return o, nil
		})
	case "tenant":
		return f("tenant", 0, 0, nil, func(call *expr.Call, a []any) (any, error) {
			s := p.fnScope()
			o := expr.NewObject()
			o.Set("countryCode", "US")
			o.Set("displayName", "Default Directory")
			o.Set("id", "/tenants/"+s.TenantID)
			o.Set("tenantId", s.TenantID)
			return o, nil
		})
	case "managementgroup":
		return f("managementGroup", 0, 1, k(S), func(call *expr.Call, a []any) (any, error) {
			if len(a) == 0 {
				return nil, msgf("The template function 'managementGroup' is not expected at this location: the deployment is not at management group scope")
			}
			o := expr.NewObject()
			o.Set("id", "/providers/Microsoft.Management/managementGroups/"+a[0].(string))
			o.Set("name", a[0])
			o.Set("type", "/providers/Microsoft.Management/managementGroups")
			return o, nil
		})
	case "resourceid":
		return f("resourceId", 2, -1, k(S), func(call *expr.Call, a []any) (any, error) { return p.resourceIDFunc(strs(a)) })
	case "subscriptionresourceid":
		return f("subscriptionResourceId", 2, -1, k(S), func(call *expr.Call, a []any) (any, error) {
			args := strs(a)
			sub := p.fnScope().SubscriptionID
			if !strings.Contains(args[0], "/") {
				sub, args = args[0], args[1:]
			}
			return idFrom("/subscriptions/"+sub, args, "subscriptionResourceId")
		})
	case "tenantresourceid":
		return f("tenantResourceId", 2, -1, k(S), func(call *expr.Call, a []any) (any, error) {
			return idFrom("", strs(a), "tenantResourceId")
		})
	case "managementgroupresourceid":
		return f("managementGroupResourceId", 2, -1, k(S), func(call *expr.Call, a []any) (any, error) {
			args := strs(a)
			if strings.Contains(args[0], "/") {
				return nil, msgf("The template function 'managementGroupResourceId' needs a management group id outside a management group deployment")
			}
			return idFrom("/providers/Microsoft.Management/managementGroups/"+args[0], args[1:], "managementGroupResourceId")
		})
	case "extensionresourceid":
		return f("extensionResourceId", 3, -1, k(S), func(call *expr.Call, a []any) (any, error) {
			args := strs(a)
			return idFrom(strings.TrimSuffix(args[0], "/"), args[1:], "extensionResourceId")
		})
	case "reference":
		return f("reference", 1, 3, k(S|O, S, S), func(call *expr.Call, a []any) (any, error) { return c.reference(a) })
	case "references":
		return f("references", 1, 2, k(S, S), func(call *expr.Call, a []any) (any, error) { return c.references(a) })
	case "pickzones":
		return f("pickZones", 3, 5, k(S, S, S, I, I), func(call *expr.Call, a []any) (any, error) {
			n := int64(1)
			if len(a) > 3 {
				n = a[3].(int64)
			}
			out := []any{}
			for i := int64(0); i < n && i < 3; i++ {
				out = append(out, fmt.Sprint(i+1))
			}
			return out, nil
		})
	case "providers":
		return f("providers", 1, 2, k(S, S), func(call *expr.Call, a []any) (any, error) { return providersObject(strs(a)) })
	}
	if strings.HasPrefix(name, "list") && len(name) > 4 && expr.Builtin(name) == nil {
		return f(name, 2, 3, k(S|O, S, expr.Any), func(call *expr.Call, a []any) (any, error) {
			return c.list(call.Name(), a)
		})
	}
	if strings.Contains(name, ".") {
		if fn := p.t.funcs[name]; fn != nil {
			return c.userFunc(fn)
		}
	}
	return nil
}

func strs(a []any) []string {
	out := make([]string, len(a))
	for i, v := range a {
		out[i] = v.(string)
	}
	return out
}

// idFrom builds base + "/providers/{type}/{name}..." from a type and its
// names, each name being one segment (or several joined by '/').
func idFrom(base string, args []string, fn string) (string, error) {
	typ := args[0]
	var names []string
	for _, n := range args[1:] {
		names = append(names, strings.Split(n, "/")...)
	}
	segs := strings.Split(typ, "/")
	if len(segs) < 2 || segs[0] == "" {
		return "", msgf("The template function '%s' has an invalid parameter: the resource type '%s' is not valid", fn, typ)
	}
	if len(segs)-1 != len(names) {
		return "", msgf("Unable to evaluate template language function '%s': the type '%s' requires '%d' resource name argument(s)", fn, typ, len(segs)-1)
	}
	var b strings.Builder
	b.WriteString(base)
	b.WriteString("/providers/")
	b.WriteString(segs[0])
	for i, t := range segs[1:] {
		b.WriteString("/" + t + "/" + names[i])
	}
	return b.String(), nil
}

// resourceIDFunc is resourceId([subscriptionId], [resourceGroupName],
// resourceType, resourceName1, ...): the first argument with a '/' is the
// type; before it come the subscription and resource group, when given.
func (p *Plan) resourceIDFunc(args []string) (string, error) {
	s := p.fnScope()
	t := -1
	for i := 0; i < len(args) && i < 3; i++ {
		if strings.Contains(args[i], "/") {
			t = i
			break
		}
	}
	if t < 0 || t+1 >= len(args) {
		return "", msgf("Unable to evaluate template language function 'resourceId': the resource type is missing or has no resource names")
	}
	sub, rg := s.SubscriptionID, ""
	if s.ResourceGroup != nil {
		rg = s.ResourceGroup.Name
	}
	switch t {
	case 1:
		rg = args[0]
	case 2:
		sub, rg = args[0], args[1]
	}
	if strings.EqualFold(args[t], "Microsoft.Resources/resourceGroups") && len(args) == t+2 {
		return "/subscriptions/" + sub + "/resourceGroups/" + args[t+1], nil
	}
	base := "/subscriptions/" + sub
	if rg != "" {
		base += "/resourceGroups/" + rg
	}
	return idFrom(base, args[t:], "resourceId")
}

// environment is environment() for Azure's public cloud, as ARM's
// documentation shows it, with the Resource Manager URL of the scope.
func environment(s plan.Scope) *expr.Object {
	rm := s.ResourceManager
	if rm == "" {
		rm = "https://management.azure.com/"
	}
	o := expr.NewObject()
	set := func(o *expr.Object, kv ...string) {
		for i := 0; i < len(kv); i += 2 {
			o.Set(kv[i], kv[i+1])
		}
	}
	set(o, "name", "AzureCloud",
		"gallery", "https://gallery.azure.com/",
		"graph", "https://graph.windows.net/",
		"portal", "https://portal.azure.com",
		"graphAudience", "https://graph.windows.net/",
		"activeDirectoryDataLake", "https://datalake.azure.net/",
		"batch", "https://batch.core.windows.net/",
		"media", "https://rest.media.azure.net",
		"sqlManagement", "https://management.core.windows.net:8443/",
		"vmImageAliasDoc", "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/master/arm-compute/quickstart-templates/aliases.json",
		"resourceManager", rm)
	auth := expr.NewObject()
	set(auth, "loginEndpoint", "https://login.microsoftonline.com/")
	auth.Set("audiences", []any{"https://management.core.windows.net/", "https://management.azure.com/"})
	set(auth, "tenant", "common", "identityProvider", "AAD")
	o.Set("authentication", auth)
	suffixes := expr.NewObject()
	set(suffixes, "acrLoginServer", ".azurecr.io",
		"azureDatalakeAnalyticsCatalogAndJob", "azuredatalakeanalytics.net",
		"azureDatalakeStoreFileSystem", "azuredatalakestore.net",
		"azureFrontDoorEndpointSuffix", "azurefd.net",
		"keyvaultDns", ".vault.azure.net",
		"sqlServerHostname", ".database.windows.net",
		"storage", "core.windows.net")
	o.Set("suffixes", suffixes)
	return o
}

func (p *Plan) resourceGroupObject(a []any) (any, error) {
	s := p.fnScope()
	if len(a) > 0 {
		// resourceGroup('name') (or ('sub', 'name')) names a scope for a
		// nested deployment: an object with its id and name.
		sub, name := s.SubscriptionID, a[len(a)-1].(string)
		if len(a) == 2 {
			sub = a[0].(string)
		}
		o := expr.NewObject()
		o.Set("id", "/subscriptions/"+sub+"/resourceGroups/"+name)
		o.Set("name", name)
		o.Set("type", "Microsoft.Resources/resourceGroups")
		return o, nil
	}
	if s.ResourceGroup == nil {
		return nil, msgf("The template function 'resourceGroup' is not expected at this location: the deployment is not at resource group scope. Please see https://aka.ms/arm-template-expressions for usage details")
	}
	rg := s.ResourceGroup
	o := expr.NewObject()
	o.Set("id", rg.ID)
	o.Set("name", rg.Name)
	o.Set("type", "Microsoft.Resources/resourceGroups")
	o.Set("location", rg.Location)
	if rg.ManagedBy != "" {
		o.Set("managedBy", rg.ManagedBy)
	}
	if len(rg.Tags) > 0 {
		tags := expr.NewObject()
		for _, k := range sortedKeys(rg.Tags) {
			tags.Set(k, rg.Tags[k])
		}
		o.Set("tags", tags)
	}
	props := expr.NewObject()
	props.Set("provisioningState", "Succeeded")
	o.Set("properties", props)
	return o, nil
}

func providersObject(a []string) (any, error) {
	ns := a[0]
	o := expr.NewObject()
	o.Set("namespace", ns)
	types := []any{}
	for _, t := range catalog.Types(ns) {
		_, rt, _ := strings.Cut(t, "/")
		if len(a) > 1 && !strings.EqualFold(rt, a[1]) {
			continue
		}
		e := expr.NewObject()
		e.Set("resourceType", rt)
		e.Set("locations", []any{})
		vs := []any{}
		for _, v := range catalog.Versions(t) {
			vs = append([]any{v}, vs...)
		}
		e.Set("apiVersions", vs)
		types = append(types, e)
	}
	if len(a) > 1 {
		if len(types) == 0 {
			return nil, msgf("The resource type '%s/%s' is not found", ns, a[1])
		}
		return types[0], nil
	}
	o.Set("resourceTypes", types)
	return o, nil
}

// runtimeTarget resolves what reference()/list*() name: a symbolic name
// (languageVersion 2.0), the name of a resource of the template, or a
// resource id. It returns the id and the api-version the template declares
// for it ("" when the resource is not the template's).
func (p *Plan) runtimeTarget(ref string) (id, apiVersion string, inst *instance, err error) {
	if p.t.lv2 {
		if insts := p.bySymbolic(ref); insts != nil {
			if len(insts) != 1 || insts[0].def.copyNode != nil {
				return "", "", nil, msgf("The resource '%s' is a copy loop: use references() or index it", ref)
			}
			in := insts[0]
			return in.res.ID, in.res.APIVersion, in, nil
		}
	}
	if strings.HasPrefix(ref, "/") {
		if in := p.byID(ref); in != nil {
			return in.res.ID, in.res.APIVersion, in, nil
		}
		return ref, "", nil, nil
	}
	matches := p.byName(ref)
	switch len(matches) {
	case 1:
		in := matches[0]
		return in.res.ID, in.res.APIVersion, in, nil
	case 0:
		// A relative id ("Microsoft.Storage/storageAccounts/sa") names a
		// resource in the deployment's scope.
		if strings.Count(ref, "/") >= 2 {
			if in := p.byRelativeID(ref); in != nil {
				return in.res.ID, in.res.APIVersion, in, nil
			}
		}
		return "", "", nil, msgf("The template reference '%s' is not valid: could not find template resource or resource copy with this name. Please see https://aka.ms/arm-function-reference for usage details", ref)
	}
	return "", "", nil, msgf("The template reference '%s' is ambiguous: more than one template resource has this name. Use the resource id instead", ref)
}

func (c *evalCtx) runtimeAllowed(name string) error {
	switch c.ph {
	case phBody, phOutput:
	case phVar:
		if !c.p.t.lv2 {
			return notExpected(name)
		}
	default:
		return notExpected(name)
	}
	if c.rt == nil {
		if c.ph == phVar {
			return fmt.Errorf("%w: %s", errNeedsRuntime, name)
		}
		return notExpected(name)
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// reference is reference(nameOrId, [apiVersion], ['Full']).
func (c *evalCtx) reference(a []any) (any, error) {
	if err := c.runtimeAllowed("reference"); err != nil {
		return nil, err
	}
	ref, ok := a[0].(string)
	if !ok {
		// Bicep's LV2 output may pass a resource's info object; its id names it.
		o := a[0].(*expr.Object)
		v, _ := o.Get("id")
		ref, _ = v.(string)
	}
	id, apiVersion, inst, err := c.p.runtimeTarget(ref)
	if err != nil {
		return nil, err
	}
	full := false
	if len(a) > 1 {
		if v := a[1].(string); !strings.EqualFold(v, "full") || len(a) > 2 {
			apiVersion = v
		}
	}
	if len(a) > 2 {
		if !strings.EqualFold(a[2].(string), "full") {
			return nil, msgf("The template function 'reference' expects its third parameter to be 'Full'; it is '%s'", a[2])
		}
		full = true
	} else if len(a) == 2 && strings.EqualFold(a[1].(string), "full") {
		full = true
	}
	if inst != nil && !inst.res.Condition {
		return nil, msgf("The template resource '%s' is not deployed: its condition is false. Guard the reference with if() or the resource's condition", inst.res.Name)
	}
	if apiVersion == "" && inst == nil {
		apiVersion = newestVersion(id)
	}
	body, err := c.rt.Reference(id, apiVersion)
	if err != nil {
		if c.whatIf {
			return nil, errDeferred
		}
		return nil, err
	}
	v, err := expr.ParseJSON(body)
	if err != nil {
		return nil, msgf("The response of resource '%s' is not valid JSON", id)
	}
	obj, _ := v.(*expr.Object)
	if obj == nil {
		return v, nil
	}
	if !full {
		props, ok := obj.Get("properties")
		if !ok {
			return expr.NewObject(), nil
		}
		return props, nil
	}
	// The 'Full' form carries ARM's metadata beside the resource's own
	// members.
	out := obj.Clone()
	out.Set("apiVersion", apiVersion)
	out.Set("resourceId", id)
	out.Set("referenceApiVersion", apiVersion)
	out.Set("condition", true)
	out.Set("isConditionTrue", true)
	out.Set("isTemplateResource", inst != nil)
	out.Set("isAction", false)
	out.Set("provisioningOperation", "Read")
	if sub, rg := idScope(id); sub != "" {
		out.Set("subscriptionId", sub)
		if rg != "" {
			out.Set("resourceGroupName", rg)
		}
	}
	return out, nil
}

// references is references(symbolicName, ['Full']) of languageVersion 2.0:
// an array of reference() of each instance of a resource copy loop.
func (c *evalCtx) references(a []any) (any, error) {
	if err := c.runtimeAllowed("references"); err != nil {
		return nil, err
	}
	insts := c.p.bySymbolic(a[0].(string))
	if insts == nil {
		return nil, msgf("The template function 'references' expects the symbolic name of a resource collection; '%s' is not one", a[0])
	}
	out := []any{}
	for _, in := range insts {
		if !in.res.Condition {
			continue
		}
		args := []any{in.res.ID, in.res.APIVersion}
		if len(a) > 1 {
			args = append(args, a[1])
		}
		v, err := c.reference(args)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// list is list{Action}(nameOrId, apiVersion, [body]).
func (c *evalCtx) list(action string, a []any) (any, error) {
	if err := c.runtimeAllowed(action); err != nil {
		return nil, err
	}
	ref, ok := a[0].(string)
	if !ok {
		v, _ := a[0].(*expr.Object).Get("id")
		ref, _ = v.(string)
	}
	id, _, _, err := c.p.runtimeTarget(ref)
	if err != nil {
		return nil, err
	}
	apiVersion, ok := a[1].(string)
	if !ok {
		return nil, msgf("The template function '%s' expects its second parameter to be an api-version string", action)
	}
	var body json.RawMessage
	if len(a) > 2 && a[2] != nil {
		b, err := expr.Marshal(a[2])
		if err != nil {
			return nil, err
		}
		body = b
	}
	res, err := c.rt.Invoke(id, action, apiVersion, body)
	if err != nil {
		if c.whatIf {
			return nil, errDeferred
		}
		return nil, err
	}
	if len(res) == 0 {
		return expr.NewObject(), nil
	}
	return expr.ParseJSON(res)
}

// newestVersion picks the api-version reference() uses for a resource the
// template does not declare: the newest stable one the catalog knows for
// its type ("" to let the runtime choose).
func newestVersion(id string) string {
	typ := typeOfID(id)
	if typ == "" {
		return ""
	}
	vs := catalog.Versions(typ)
	for i := len(vs) - 1; i >= 0; i-- {
		if !strings.Contains(vs[i], "preview") {
			return vs[i]
		}
	}
	if len(vs) > 0 {
		return vs[len(vs)-1]
	}
	return ""
}

// typeOfID returns the resource type of id: "Microsoft.Kusto/clusters/managedPrivateEndpoints".
func typeOfID(id string) string {
	i := strings.LastIndex(strings.ToLower(id), "/providers/")
	if i < 0 {
		return ""
	}
	segs := strings.Split(strings.Trim(id[i+len("/providers/"):], "/"), "/")
	if len(segs) < 3 {
		return ""
	}
	t := segs[0]
	for j := 1; j < len(segs); j += 2 {
		t += "/" + segs[j]
	}
	return t
}

// idScope returns the subscription and resource group an id is in.
func idScope(id string) (sub, rg string) {
	segs := strings.Split(strings.Trim(id, "/"), "/")
	for i := 0; i+1 < len(segs); i += 2 {
		switch strings.ToLower(segs[i]) {
		case "subscriptions":
			sub = segs[i+1]
		case "resourcegroups":
			rg = segs[i+1]
		case "providers":
			return
		}
	}
	return
}

// userFunc is a call of a user-defined function: it sees only its own
// parameters, and may not call reference() or list*().
func (c *evalCtx) userFunc(fn *userFunc) *expr.Func {
	return &expr.Func{Name: fn.name, Min: len(fn.params), Max: len(fn.params), Fn: func(call *expr.Call, a []any) (any, error) {
		if c.p.udfDepth > 32 {
			return nil, msgf("The user-defined function '%s' calls itself too deeply", fn.name)
		}
		args := expr.NewObject()
		for i, prm := range fn.params {
			if err := checkType(prm.typ, a[i]); err != nil {
				return nil, msgf("The user-defined function '%s' expects its parameter '%s' to be of type '%s': %v", fn.name, prm.name, prm.typ, err)
			}
			args.Set(prm.name, a[i])
		}
		d := &evalCtx{p: c.p, ph: phFunc, args: args}
		c.p.udfDepth++
		defer func() { c.p.udfDepth-- }()
		v, err := d.value(fn.output)
		if err != nil {
			return nil, unwrapNode(err)
		}
		return v, nil
	}}
}
