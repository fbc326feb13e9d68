package template

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/arm"
)

func info(t *testing.T, e *arm.Error) arm.TemplateViolation {
	t.Helper()
	if len(e.AdditionalInfo) != 1 || e.AdditionalInfo[0].Type != "TemplateViolation" {
		t.Fatalf("additionalInfo = %+v, want one TemplateViolation", e.AdditionalInfo)
	}
	return e.AdditionalInfo[0].Info.(arm.TemplateViolation)
}

// A template JSON.NET cannot read fails with JsonTextReader's message and
// place: the line, and the characters of the line before the one at fault
// (or before the end), as arm.ReadJSONNET counts them.
func TestParseErrorsPointAtThePlace(t *testing.T) {
	for _, tc := range []struct {
		name, tmpl string
		line, col  int
		msg        string
	}{
		{"bad character", "{\n  \"contentVersion\": \"1.0.0.0\",\n  \"resources\": [ x ]\n}", 3, 17, "Unexpected character encountered while parsing value: x."},
		{"unterminated", "{\"contentVersion\": \"1.0", 1, 23, "Unterminated string"},
		{"missing colon", "{\"a\" 1}", 1, 5, "Expected ':'"},
		{"trailing", "{} x", 1, 3, "Additional text"},
		{"duplicate", "{\"a\":1,\n\"a\":2}", 2, 1, "Property with the same name already exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := bindErr(t, tc.tmpl, "")
			if e.Code != arm.CodeInvalidTemplate || !strings.Contains(e.Message, tc.msg) || !strings.HasPrefix(e.Message, "Deployment template parse failed:") {
				t.Fatalf("error = %s: %s", e.Code, e.Message)
			}
			v := info(t, e)
			if v.LineNumber != tc.line || v.LinePosition != tc.col {
				t.Errorf("at %d:%d, want %d:%d (%s)", v.LineNumber, v.LinePosition, tc.line, tc.col, e.Message)
			}
			if !strings.Contains(e.Message, fmt.Sprintf("line %d, position %d", tc.line, tc.col)) {
				t.Errorf("message %q does not name the place", e.Message)
			}
		})
	}
}

// A template in JSON.NET's dialect (a linked one: an inline template has
// been read so already with its request) binds as its JSON does.
func TestTemplateInJSONNETDialect(t *testing.T) {
	p := mustBind(t, "{'$schema': 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#', // note\n"+
		"  contentVersion: '1.0.0.0', parameters: {n: {type: 'string', defaultValue: 'x',},},\n"+
		"  resources: [], outputs: {o: {type: 'string', value: \"[parameters('n')]\"}}}", "")
	if p == nil {
		t.Fatal("no plan")
	}
	if got := string(p.Template()); !strings.Contains(got, `"contentVersion": "1.0.0.0"`) {
		t.Errorf("template kept as %s", got)
	}
}

const head = `{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "contentVersion": "1.0.0.0",`

func TestExpressionErrorsPointAtTheCharacter(t *testing.T) {
	tmpl := head + `
  "resources": [{
    "type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01",
    "name": "[concat('a', nosuch('b'))]"
  }]}`
	e := bindErr(t, tmpl, "")
	v := info(t, e)
	// Line 4: the string's '[' is column 14, nosuch at offset 13 in it.
	if v.LineNumber != 4 || v.LinePosition != 27 || v.Path != "properties.template.resources[0].name" {
		t.Errorf("violation = %+v", v)
	}
	if !strings.Contains(e.Message, "The template function 'nosuch' is not valid") || !strings.Contains(e.Message, "at line '4' and column '27'") {
		t.Errorf("message = %s", e.Message)
	}
}

func TestParameters(t *testing.T) {
	tmpl := head + `
  "parameters": {
    "name": {"type": "string", "minLength": 3, "maxLength": 8},
    "count": {"type": "Int", "defaultValue": 2, "minValue": 1, "maxValue": 5},
    "sku": {"type": "string", "defaultValue": "Standard_LRS", "allowedValues": ["Standard_LRS", "Premium_LRS"]},
    "flag": {"type": "bool", "defaultValue": "[equals(parameters('count'), 2)]"},
    "derived": {"type": "string", "defaultValue": "[concat(parameters('name'), '-', uniqueString(resourceGroup().id))]"},
    "pass": {"type": "securestring"},
    "tags": {"type": "object", "defaultValue": {"env": "[parameters('name')]"}},
    "zones": {"type": "array", "defaultValue": [], "allowedValues": ["1", "2", "3"]},
    "stamp": {"type": "string", "defaultValue": "[utcNow()]"}
  },
  "resources": [],
  "outputs": {
    "d": {"type": "string", "value": "[parameters('derived')]"},
    "f": {"type": "bool", "value": "[parameters('flag')]"},
    "t": {"type": "object", "value": "[parameters('tags')]"},
    "stamp": {"type": "string", "value": "[parameters('stamp')]"},
    "p": {"type": "securestring", "value": "[parameters('pass')]"}
  }}`
	p := mustBind(t, tmpl, `{"name": {"value": "abc"}, "pass": {"value": "hunter2!"}, "count": {"value": "2"}}`)
	if got, want := outputs(t, p, &fakeRuntime{}), `{"d":{"type":"String","value":"abc-grdpdksqlg5uq"},"f":{"type":"Bool","value":true},"t":{"type":"Object","value":{"env":"abc"}},"stamp":{"type":"String","value":"20200407T145314Z"}}`; got != want {
		t.Errorf("outputs = %s\nwant %s", got, want)
	}
	params := string(p.Parameters())
	if strings.Contains(params, "hunter2") || !strings.Contains(params, `"pass":{"type":"SecureString"}`) || !strings.Contains(params, `"count":{"type":"Int","value":2}`) {
		t.Errorf("parameters = %s", params)
	}

	for _, tc := range []struct {
		name, params, want string
	}{
		{"missing", `{"pass": {"value": "x"}}`, "The value for the template parameter 'name' at line '3' and column '13' is not provided. Please see https://aka.ms/arm-create-parameter-file"},
		{"too short", `{"name": {"value": "ab"}, "pass": {"value": "x"}}`, "The provided value for the template parameter 'name' at line '3' and column '13' is not valid. Length of the value should be greater than or equal to '3'."},
		{"too long", `{"name": {"value": "abcdefghi"}, "pass": {"value": "x"}}`, "Length of the value should be less than or equal to '8'."},
		{"too big", `{"name": {"value": "abc"}, "pass": {"value": "x"}, "count": {"value": 6}}`, "The value should be less than or equal to '5'."},
		{"not allowed", `{"name": {"value": "abc"}, "pass": {"value": "x"}, "sku": {"value": "Basic"}}`, "The provided value 'Basic' for the template parameter 'sku' at line '5' and column '12' is not valid. The parameter value is not part of the allowed value(s): 'Standard_LRS,Premium_LRS'."},
		{"array element not allowed", `{"name": {"value": "abc"}, "pass": {"value": "x"}, "zones": {"value": ["1", "4"]}}`, "The provided value '4' for the template parameter 'zones'"},
		{"wrong type", `{"name": {"value": 5}, "pass": {"value": "x"}}`, "Template parameter JToken type is not valid. Expected 'String, Uri'. Actual 'Integer'."},
		{"unknown", `{"name": {"value": "abc"}, "pass": {"value": "x"}, "nope": {"value": 1}}`, "The template parameters 'nope' in the parameters file are not valid; they are not present in the original template"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := bindErr(t, tmpl, tc.params)
			if e.Code != arm.CodeInvalidTemplate || !strings.Contains(e.Message, tc.want) {
				t.Errorf("error = %s: %s\nwant %s", e.Code, e.Message, tc.want)
			}
		})
	}
}

func TestSecureValuesStayOutOfMessages(t *testing.T) {
	tmpl := head + `
  "parameters": {
    "pass": {"type": "securestring", "allowedValues": ["a", "b"]},
    "other": {"type": "securestring"}
  },
  "variables": {"v": "[json(parameters('other'))]"},
  "resources": []}`
	e := bindErr(t, tmpl, `{"pass": {"value": "topsecret"}, "other": {"value": "b"}}`)
	if strings.Contains(e.Message, "topsecret") || !strings.Contains(e.Message, "The provided value for the template parameter 'pass'") {
		t.Errorf("message = %s", e.Message)
	}
	e = bindErr(t, tmpl, `{"pass": {"value": "a"}, "other": {"value": "{not json secret}"}}`)
	if strings.Contains(e.Message, "not json secret") {
		t.Errorf("message leaks the secure value: %s", e.Message)
	}
}

func TestKeyVaultReference(t *testing.T) {
	tmpl := head + `"parameters": {"pass": {"type": "securestring"}}, "resources": [], "outputs": {"len": {"type": "int", "value": "[length(parameters('pass'))]"}}}`
	params := `{"pass": {"reference": {"keyVault": {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"}, "secretName": "adminPassword"}}}`
	rt := &fakeRuntime{secrets: map[string]string{"adminPassword": "s3cret-value"}}
	p, err := NewBinder(nil).Bind(json.RawMessage(tmpl), json.RawMessage(params), testScope(), rt)
	if err != nil {
		t.Fatal(err)
	}
	if got := outputs(t, p.(*Plan), rt); got != `{"len":{"type":"Int","value":12}}` {
		t.Errorf("outputs = %s", got)
	}
	if strings.Contains(string(p.Parameters()), "s3cret") {
		t.Errorf("parameters show the secret: %s", p.Parameters())
	}
	_, err = NewBinder(nil).Bind(json.RawMessage(tmpl), json.RawMessage(params), testScope(), &fakeRuntime{})
	if e := arm.AsError(err); e == nil || e.Code != arm.CodeKeyVaultSecretRetrieveFailed {
		t.Errorf("missing secret: %v", err)
	}
}

func TestVariablesAndCopy(t *testing.T) {
	tmpl := head + `
  "parameters": {"n": {"type": "int", "defaultValue": 3}},
  "variables": {
    "prefix": "[toLower('ST')]",
    "names": "[createArray(concat(variables('prefix'), '1'), concat(variables('prefix'), '2'))]",
    "copy": [
      {"name": "disks", "count": "[parameters('n')]", "input": {"lun": "[copyIndex('disks')]", "name": "[concat('d', copyIndex('disks', 1))]"}},
      {"name": "zero", "count": 0, "input": "x"}
    ],
    "nested": {"copy": [{"name": "items", "count": 2, "input": "[copyIndex('items')]"}], "other": "[[literal]"}
  },
  "resources": [],
  "outputs": {
    "names": {"type": "array", "value": "[variables('names')]"},
    "disks": {"type": "array", "value": "[variables('disks')]"},
    "zero": {"type": "array", "value": "[variables('zero')]"},
    "nested": {"type": "object", "value": "[variables('nested')]"},
    "loop": {"type": "array", "copy": {"count": 2, "input": "[concat(variables('prefix'), copyIndex())]"}},
    "skipped": {"type": "string", "condition": "[equals(1, 2)]", "value": "[reference('nothing').x]"}
  }}`
	p := mustBind(t, tmpl, "")
	want := `{"names":{"type":"Array","value":["st1","st2"]},"disks":{"type":"Array","value":[{"lun":0,"name":"d1"},{"lun":1,"name":"d2"},{"lun":2,"name":"d3"}]},"zero":{"type":"Array","value":[]},"nested":{"type":"Object","value":{"items":[0,1],"other":"[literal]"}},"loop":{"type":"Array","value":["st0","st1"]}}`
	if got := outputs(t, p, &fakeRuntime{}); got != want {
		t.Errorf("outputs = %s\nwant %s", got, want)
	}
}

func TestVariableErrors(t *testing.T) {
	for _, tc := range []struct{ name, vars, want string }{
		{"cycle", `{"a": "[variables('b')]", "b": "[variables('a')]"}`, "circular reference"},
		{"missing", `{"a": "[variables('zz')]"}`, "The template variable 'zz' is not found"},
		{"reference", `{"a": "[reference('x').y]"}`, "The template function 'reference' is not expected at this location"},
		{"utcNow", `{"a": "[utcNow()]"}`, "The template function 'utcNow' is not expected at this location"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := bindErr(t, head+`"variables": `+tc.vars+`, "resources": []}`, "")
			if !strings.Contains(e.Message, tc.want) || !strings.Contains(e.Message, "The template variable 'a'") {
				t.Errorf("error = %s", e.Message)
			}
		})
	}
}

func resourcesTemplate(resources string) string {
	return head + `"parameters": {"n": {"type": "int", "defaultValue": 2}, "deploy": {"type": "bool", "defaultValue": false}}, "resources": ` + resources + `}`
}

func TestCopyConditionsAndDependencies(t *testing.T) {
	tmpl := resourcesTemplate(`[
    {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-04-01", "name": "vnet", "location": "westeurope",
     "properties": {"copy": [{"name": "subnets", "count": "[parameters('n')]", "input": {"name": "[concat('s', copyIndex('subnets'))]"}}]},
     "resources": [
       {"type": "subnets", "apiVersion": "2023-04-01", "name": "extra", "dependsOn": ["vnet"], "properties": {}}
     ]},
    {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "[concat('st', copyIndex())]",
     "copy": {"name": "stLoop", "count": "[parameters('n')]", "mode": "Serial", "batchSize": 1},
     "dependsOn": ["[resourceId('Microsoft.Network/virtualNetworks', 'vnet')]"], "properties": {"index": "[copyIndex(10)]"}},
    {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "off", "condition": "[parameters('deploy')]", "dependsOn": ["stLoop"]},
    {"type": "Microsoft.KeyVault/vaults", "apiVersion": "2023-07-01", "name": "kv", "dependsOn": ["off"],
     "properties": {"k": "[listKeys('st0', '2023-01-01').keys[0].value]"}},
    {"type": "Microsoft.Insights/diagnosticSettings", "apiVersion": "2021-05-01-preview", "name": "diag",
     "scope": "Microsoft.KeyVault/vaults/kv", "dependsOn": ["Microsoft.KeyVault/vaults/kv"]}
  ]`)
	p := mustBind(t, tmpl, "")
	rs := p.Resources()
	var ids []string
	for _, r := range rs {
		ids = append(ids, strings.TrimPrefix(r.ID, "/subscriptions/"+testSub+"/resourceGroups/rg/providers/"))
	}
	want := []string{"Microsoft.Network/virtualNetworks/vnet", "Microsoft.Network/virtualNetworks/vnet/subnets/extra",
		"Microsoft.Storage/storageAccounts/st0", "Microsoft.Storage/storageAccounts/st1", "Microsoft.Storage/storageAccounts/off",
		"Microsoft.KeyVault/vaults/kv", "Microsoft.KeyVault/vaults/kv/providers/Microsoft.Insights/diagnosticSettings/diag"}
	if !slices.Equal(ids, want) {
		t.Fatalf("ids = %q\nwant %q", ids, want)
	}
	if r := rs[3]; r.Copy != "stLoop" || r.CopyIndex != 1 || !r.Serial || r.BatchSize != 1 {
		t.Errorf("copy instance = %+v", r)
	}
	if rs[4].Condition {
		t.Errorf("condition-false resource has Condition true")
	}
	// kv depends on "off" (condition false): the edge becomes off's own
	// dependencies (the storage loop), plus listKeys('st0')'s implicit one.
	if got := rs[5].DependsOn; !slices.Equal(got, []int{2, 3}) {
		t.Errorf("kv depends on %v, want [2 3]", got)
	}
	if got := rs[6].DependsOn; !slices.Equal(got, []int{5}) {
		t.Errorf("diag depends on %v, want [5]", got)
	}
	if got, want := body(t, p, 0, nil), `{"location":"westeurope","properties":{"subnets":[{"name":"s0"},{"name":"s1"}]}}`; got != want {
		t.Errorf("vnet body = %s", got)
	}
	if got, want := body(t, p, 3, nil), `{"properties":{"index":11}}`; got != want {
		t.Errorf("st1 body = %s", got)
	}
	rt := &fakeRuntime{}
	if got, want := body(t, p, 5, rt), `{"properties":{"k":"secret-key-1"}}`; got != want {
		t.Errorf("kv body = %s", got)
	}
	if !slices.Equal(rt.calls, []string{"POST /subscriptions/" + testSub + "/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st0/listKeys@2023-01-01"}) {
		t.Errorf("runtime calls = %q", rt.calls)
	}
}

func TestDependencyErrors(t *testing.T) {
	sa := func(name, deps string) string {
		return `{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "` + name + `", "dependsOn": ` + deps + `}`
	}
	for _, tc := range []struct{ name, resources, want string }{
		{"unknown", `[` + sa("a", `["nope"]`) + `]`, "The resource 'nope' is not defined in the template."},
		{"cycle", `[` + sa("a", `["b"]`) + `,` + sa("b", `["[resourceId('Microsoft.Storage/storageAccounts', 'a')]"]`) + `]`, "Circular dependency detected on resource: '/subscriptions/" + testSub + "/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a'."},
		{"self", `[` + sa("a", `["a"]`) + `]`, "Circular dependency detected"},
		{"implicit cycle", `[{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "a", "properties": {"x": "[reference('b').y]"}},` + sa("b", `["a"]`) + `]`, "Circular dependency detected"},
		{"duplicate", `[` + sa("a", `[]`) + `,` + sa("A", `[]`) + `]`, "is defined multiple times in a template"},
		{"segments", `[{"type": "Microsoft.Storage/storageAccounts/blobServices", "apiVersion": "2023-01-01", "name": "a"}]`, "has incorrect segment lengths"},
		{"copy count", `[{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "[concat('a', copyIndex())]", "copy": {"name": "l", "count": 801}}]`, "The copy count must be a non-negative integer value and cannot exceed '800'"},
		{"negative copy count", `[{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "[concat('a', copyIndex())]", "copy": {"name": "l", "count": -1}}]`, "invalid copy count"},
		{"too many", `[{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "[concat('a', copyIndex())]", "copy": {"name": "l", "count": 800}}, ` + sa("x", `[]`) + `]`, "The number of template resources limit exceeded. Limit: '800' and actual: '801'"},
		{"reference in name", `[{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "[reference('x').name]"}]`, "The template function 'reference' is not expected at this location"},
		{"wrong arg count", `[{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "[concat()]"}]`, "function requires at least 1 argument(s) while 0 were provided"},
		{"wrong arg type", `[{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "[toLower(1)]"}]`, "expects its first parameter to be of type 'String'. The provided value is of type 'Integer'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := bindErr(t, resourcesTemplate(tc.resources), "")
			if e.Code != arm.CodeInvalidTemplate || !strings.Contains(e.Message, tc.want) {
				t.Errorf("error = %s: %s\nwant %s", e.Code, e.Message, tc.want)
			}
			if v := info(t, e); v.LineNumber == 0 || v.Path == "" {
				t.Errorf("violation has no place: %+v", v)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 257; i++ {
		fmt.Fprintf(&b, `"p%d": {"type": "int", "defaultValue": 1},`, i)
	}
	e := bindErr(t, head+`"parameters": {`+strings.TrimSuffix(b.String(), ",")+`}, "resources": []}`, "")
	if !strings.Contains(e.Message, "The number of template parameters limit exceeded. Limit: '256' and actual: '257'") {
		t.Errorf("error = %s", e.Message)
	}
	big := head + `"variables": {"v": "` + strings.Repeat("x", MaxTemplateBytes) + `"}, "resources": []}`
	if e := bindErr(t, big, ""); e.Code != arm.CodeDeploymentJobSizeExceeded {
		t.Errorf("error = %s: %s", e.Code, e.Message)
	}
	long := head + `"variables": {"v": "[concat('` + strings.Repeat("x", 24600) + `')]"}, "resources": []}`
	if e := bindErr(t, long, ""); !strings.Contains(e.Message, "exceeds the limit of '24576' characters") {
		t.Errorf("error = %s", e.Message)
	}
}

func TestExpressionsCheckedEverywhereBeforeDeployment(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"syntax in a body", `"properties": {"a": "[concat('x']"}`, "expected token 'RightParenthesis' and actual 'EndOfData'"},
		{"unknown in a body", `"properties": {"a": "[reference(nosuch('x'))]"}`, "The template function 'nosuch' is not valid"},
		{"arity in a body", `"properties": {"a": "[if(true(), 1)]"}`, "function requires 3 argument(s) while 2 were provided"},
		{"list arity", `"properties": {"a": "[listKeys('x')]"}`, "function requires at least 2 argument(s) while 1 were provided"},
		{"nested template", `"properties": {"template": {"resources": [{"name": "[nosuch()]"}]}}`, "The template function 'nosuch' is not valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := resourcesTemplate(`[{"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "d", ` + tc.body + `}]`)
			e := bindErr(t, tmpl, "")
			if !strings.Contains(e.Message, tc.want) || !strings.Contains(e.Message, "at line '1' and column") {
				t.Errorf("error = %s\nwant %s", e.Message, tc.want)
			}
		})
	}
}

func TestNumbersEchoAsSent(t *testing.T) {
	p := mustBind(t, resourcesTemplate(`[{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "a",
    "properties": {"ratio": 1.50, "big": 123456789012345678901234567890, "exp": 1e3, "sum": "[add(1, 2)]", "eq": "[equals(json('1.0'), 1)]"}}]`), "")
	if got, want := body(t, p, 0, nil), `{"properties":{"ratio":1.50,"big":123456789012345678901234567890,"exp":1e3,"sum":3,"eq":true}}`; got != want {
		t.Errorf("body = %s\nwant %s", got, want)
	}
}

// A line break inside a string (ARM reads multi-line strings in templates)
// keeps the lines after it where they were written: an error below it is
// reported on its own line.
func TestMultilineStringKeepsLines(t *testing.T) {
	e := bindErr(t, "{\"$schema\": \"https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#\",\n"+
		"  \"contentVersion\": \"1.0.0.0\", \"variables\": {\"v\": \"[concat('a',\n 'b')]\"},\n"+
		"  \"resources\": [],\n  \"outputs\": {\"o\": {\"type\": \"string\", \"value\": \"[nosuch()]\"}}}", "")
	if v := info(t, e); v.LineNumber != 5 {
		t.Errorf("error on line %d, want 5: %s", v.LineNumber, e.Message)
	}
}

// A template read with its comments and line breaks in strings (a linked
// one) is still given as JSON where it is stored and exported: a nested
// deployment's record holds it as a json.RawMessage.
func TestTemplateWithCommentsExportsJSON(t *testing.T) {
	p := mustBind(t, "{\"$schema\": \"https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#\", // why\n"+
		"  \"contentVersion\": \"1.0.0.0\", /* none yet */ \"resources\": [],\n"+
		"  \"outputs\": {\"o\": {\"type\": \"string\", \"value\": \"a\nb\"}}}", "")
	got := p.Template()
	if !json.Valid(got) {
		t.Fatalf("Template() is not JSON: %s", got)
	}
	if _, err := json.Marshal(struct{ T json.RawMessage }{got}); err != nil {
		t.Fatalf("a record holding it cannot be written: %v", err)
	}
}
