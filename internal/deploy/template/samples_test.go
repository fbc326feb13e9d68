package template

import (
	"encoding/json"
	"os"
	"testing"
)

// TestFunctionSamples deploys the function examples of
// Azure/azure-docs-json-samples (copied into testdata/functions, see its
// README) and compares their outputs with the tables of the documentation
// that shows them (MicrosoftDocs/azure-docs articles/azure-resource-manager/
// templates/template-functions-*.md). Outputs that depend on the scope
// (uniqueString of the resource group, resource ids) are checked against
// this test's scope instead of the documentation's.
func TestFunctionSamples(t *testing.T) {
	cases := map[string]string{
		"array/array.json":                `{"intOutput":{"type":"Array","value":[1]},"stringOutput":{"type":"Array","value":["efgh"]},"objectOutput":{"type":"Array","value":[{"a":"b","c":"d"}]}}`,
		"array/concat-array.json":         `{"return":{"type":"Array","value":["1-1","1-2","1-3","2-1","2-2","2-3"]}}`,
		"array/contains.json":             `{"stringTrue":{"type":"Bool","value":true},"stringFalse":{"type":"Bool","value":false},"objectTrue":{"type":"Bool","value":true},"objectFalse":{"type":"Bool","value":false},"arrayTrue":{"type":"Bool","value":true},"arrayFalse":{"type":"Bool","value":false}}`,
		"array/createarray.json":          `{"stringArray":{"type":"Array","value":["a","b","c"]},"intArray":{"type":"Array","value":[1,2,3]},"objectArray":{"type":"Array","value":[{"one":"a","two":"b","three":"c"}]},"arrayArray":{"type":"Array","value":[["one","two","three"]]},"emptyArray":{"type":"Array","value":[]}}`,
		"array/empty.json":                `{"arrayEmpty":{"type":"Bool","value":true},"objectEmpty":{"type":"Bool","value":true},"stringEmpty":{"type":"Bool","value":true}}`,
		"array/first.json":                `{"arrayOutput":{"type":"String","value":"one"},"stringOutput":{"type":"String","value":"O"}}`,
		"array/intersection.json":         `{"objectOutput":{"type":"Object","value":{"one":"a","three":"c"}},"arrayOutput":{"type":"Array","value":["two","three"]}}`,
		"array/last.json":                 `{"arrayOutput":{"type":"String","value":"three"},"stringOutput":{"type":"String","value":"e"}}`,
		"array/length.json":               `{"arrayLength":{"type":"Int","value":3},"stringLength":{"type":"Int","value":13},"objectLength":{"type":"Int","value":4}}`,
		"array/range.json":                `{"rangeOutput":{"type":"Array","value":[5,6,7]}}`,
		"array/skip.json":                 `{"arrayOutput":{"type":"Array","value":["three"]},"stringOutput":{"type":"String","value":"two three"}}`,
		"array/take.json":                 `{"arrayOutput":{"type":"Array","value":["one","two"]},"stringOutput":{"type":"String","value":"on"}}`,
		"array/union.json":                `{"objectOutput":{"type":"Object","value":{"one":"a","two":"b","three":"c2","four":"d","five":"e"}},"arrayOutput":{"type":"Array","value":["one","two","three","four"]}}`,
		"comparison/coalesce.json":        `{"stringOutput":{"type":"String","value":"default"},"intOutput":{"type":"Int","value":1},"objectOutput":{"type":"Object","value":{"first":"default"}},"arrayOutput":{"type":"Array","value":[1]},"emptyOutput":{"type":"Bool","value":true}}`,
		"comparison/greater.json":         `{"checkInts":{"type":"Bool","value":false},"checkStrings":{"type":"Bool","value":true}}`,
		"comparison/greaterorequals.json": `{"checkInts":{"type":"Bool","value":false},"checkStrings":{"type":"Bool","value":true}}`,
		"comparison/less.json":            `{"checkInts":{"type":"Bool","value":true},"checkStrings":{"type":"Bool","value":false}}`,
		"comparison/lessorequals.json":    `{"checkInts":{"type":"Bool","value":true},"checkStrings":{"type":"Bool","value":false}}`,
		"date/datetimeadd.json":           `{"add3YearsOutput":{"type":"String","value":"4/7/2023 2:53:14 PM"},"subtract9DaysOutput":{"type":"String","value":"3/29/2020 2:53:14 PM"},"add1HourOutput":{"type":"String","value":"4/7/2020 3:53:14 PM"}}`,
		"date/utcnow.json":                `{"utcOutput":{"type":"String","value":"20200407T145314Z"},"utcShortOutput":{"type":"String","value":"04/07/2020"},"utcCustomOutput":{"type":"String","value":"4 7"}}`,
		"deployment/parameters.json":      `{"stringOutput":{"type":"String","value":"option 1"},"intOutput":{"type":"Int","value":1},"objectOutput":{"type":"Object","value":{"one":"a","two":"b"}},"arrayOutput":{"type":"Array","value":[1,2,3]},"crossOutput":{"type":"String","value":"option 1"}}`,
		"deployment/variables.json":       `{"exampleOutput1":{"type":"String","value":"myVariable"},"exampleOutput2":{"type":"Array","value":[1,2,3,4]},"exampleOutput3":{"type":"String","value":"myVariable"},"exampleOutput4":{"type":"Object","value":{"property1":"value1","property2":"value2"}}}`,
		"logical/andornot.json":           `{"andExampleOutput":{"type":"Bool","value":false},"orExampleOutput":{"type":"Bool","value":true},"notExampleOutput":{"type":"Bool","value":false}}`,
		"logical/bool.json":               `{"trueString":{"type":"Bool","value":true},"falseString":{"type":"Bool","value":false},"trueInt":{"type":"Bool","value":true},"falseInt":{"type":"Bool","value":false}}`,
		"logical/false.json":              `{"falseOutput":{"type":"Bool","value":false}}`,
		"logical/if.json":                 `{"yesOutput":{"type":"String","value":"yes"},"noOutput":{"type":"String","value":"no"},"objectOutput":{"type":"Object","value":{"test":"value1"}}}`,
		"logical/not-equals.json":         `{"checkNotEquals":{"type":"Bool","value":true}}`,
		"logical/true.json":               `{"trueOutput":{"type":"Bool","value":true}}`,
		"numeric/add.json":                `{"addResult":{"type":"Int","value":8}}`,
		"numeric/div.json":                `{"divResult":{"type":"Int","value":2}}`,
		"numeric/int.json":                `{"intResult":{"type":"Int","value":4}}`,
		"numeric/max.json":                `{"arrayOutput":{"type":"Int","value":5},"intOutput":{"type":"Int","value":5}}`,
		"numeric/min.json":                `{"arrayOutput":{"type":"Int","value":0},"intOutput":{"type":"Int","value":0}}`,
		"numeric/mod.json":                `{"modResult":{"type":"Int","value":1}}`,
		"numeric/mul.json":                `{"mulResult":{"type":"Int","value":45}}`,
		"numeric/sub.json":                `{"subResult":{"type":"Int","value":4}}`,
		"object/createobject.json":        `{"newObject":{"type":"Object","value":{"intProp":1,"stringProp":"abc","boolProp":true,"arrayProp":["a","b","c"],"objectProp":{"key1":"value1"}}}}`,
		"object/json.json":                `{"emptyObjectOutput":{"type":"Bool","value":true},"objectOutput":{"type":"Object","value":{"a":"b"}},"stringOutput":{"type":"String","value":"test"},"booleanOutput":{"type":"Bool","value":true},"intOutput":{"type":"Int","value":3},"arrayOutput":{"type":"Array","value":[1,2,3]},"concatObjectOutput":{"type":"Object","value":{"a":"demo value"}}}`,
		"object/null.json":                `{"emptyOutput":{"type":"Bool","value":true}}`,
		"resource/resourcegroup.json":     `{"resourceGroupOutput":{"type":"Object","value":{"id":"/subscriptions/` + testSub + `/resourceGroups/rg","name":"rg","type":"Microsoft.Resources/resourceGroups","location":"westeurope","properties":{"provisioningState":"Succeeded"}}}}`,
		"resource/resourceid.json":        `{"sameRGOutput":{"type":"String","value":"/subscriptions/` + testSub + `/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/examplestorage"},"differentRGOutput":{"type":"String","value":"/subscriptions/` + testSub + `/resourceGroups/otherResourceGroup/providers/Microsoft.Storage/storageAccounts/examplestorage"},"differentSubOutput":{"type":"String","value":"/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/otherResourceGroup/providers/Microsoft.Storage/storageAccounts/examplestorage"},"nestedResourceOutput":{"type":"String","value":"/subscriptions/` + testSub + `/resourceGroups/rg/providers/Microsoft.SQL/servers/serverName/databases/databaseName"}}`,
		"string/base64.json":              `{"base64Output":{"type":"String","value":"b25lLCB0d28sIHRocmVl"},"toStringOutput":{"type":"String","value":"one, two, three"},"toJsonOutput":{"type":"Object","value":{"one":"a","two":"b"}}}`,
		"string/concat-string.json":       `{"concatOutput":{"type":"String","value":"prefix-grdpdksqlg5uq"}}`,
		"string/datauri.json":             `{"dataUriOutput":{"type":"String","value":"data:text/plain;charset=utf8;base64,SGVsbG8="},"toStringOutput":{"type":"String","value":"Hello, World!"}}`,
		"string/format.json":              `{"formatTest":{"type":"String","value":"Hello, User. Formatted number: 8,175,133"}}`,
		"string/indexof.json":             `{"firstT":{"type":"Int","value":0},"lastT":{"type":"Int","value":3},"firstString":{"type":"Int","value":2},"lastString":{"type":"Int","value":0},"notFound":{"type":"Int","value":-1}}`,
		"string/join.json":                `{"firstOutput":{"type":"String","value":"one,two,three"},"secondOutput":{"type":"String","value":"one;two;three"}}`,
		"string/padleft.json":             `{"stringOutput":{"type":"String","value":"0000000123"}}`,
		"string/replace.json":             `{"firstOutput":{"type":"String","value":"1231231234"},"secondOutput":{"type":"String","value":"123-123-xxxx"}}`,
		"string/split.json":               `{"firstOutput":{"type":"Array","value":["one","two","three"]},"secondOutput":{"type":"Array","value":["one","two","three"]}}`,
		"string/startsendswith.json":      `{"startsTrue":{"type":"Bool","value":true},"startsCapTrue":{"type":"Bool","value":true},"startsFalse":{"type":"Bool","value":false},"endsTrue":{"type":"Bool","value":true},"endsCapTrue":{"type":"Bool","value":true},"endsFalse":{"type":"Bool","value":false}}`,
		"string/string.json":              `{"objectOutput":{"type":"String","value":"{\"valueA\":10,\"valueB\":\"Example Text\"}"},"arrayOutput":{"type":"String","value":"[\"a\",\"b\",\"c\"]"},"intOutput":{"type":"String","value":"5"}}`,
		"string/substring.json":           `{"substringOutput":{"type":"String","value":"two"}}`,
		"string/tolower.json":             `{"toLowerOutput":{"type":"String","value":"one two three"},"toUpperOutput":{"type":"String","value":"ONE TWO THREE"}}`,
		"string/trim.json":                `{"return":{"type":"String","value":"one two three"}}`,
		"string/uri.json":                 `{"uriOutput":{"type":"String","value":"http://contoso.com/resources/nested/azuredeploy.json"},"componentOutput":{"type":"String","value":"http%3A%2F%2Fcontoso.com%2Fresources%2Fnested%2Fazuredeploy.json"},"toStringOutput":{"type":"String","value":"http://contoso.com/resources/nested/azuredeploy.json"}}`,
		"comparison/equals.json":          `{"checkInts":{"type":"Bool","value":true},"checkStrings":{"type":"Bool","value":false},"checkArrays":{"type":"Bool","value":true},"checkObjects":{"type":"Bool","value":true}}`,
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile("testdata/functions/" + name)
			if err != nil {
				t.Fatal(err)
			}
			rt := &fakeRuntime{}
			p, err := NewBinder(nil).Bind(json.RawMessage(b), nil, testScope(), rt)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Outputs(rt)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != want {
				t.Errorf("outputs\n got %s\nwant %s", got, want)
			}
		})
	}
}
