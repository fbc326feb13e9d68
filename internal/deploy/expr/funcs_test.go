package expr

import (
	"strings"
	"testing"
)

// docContext offers variables('dogs') of the lambda functions' examples
// (MicrosoftDocs/azure-docs articles/azure-resource-manager/templates/
// template-functions-lambda.md) and parameters('x') for the rest.
type docContext struct{}

const dogs = `[{"name":"Evie","age":5,"interests":["Ball","Frisbee"]},{"name":"Casper","age":3,"interests":["Other dogs"]},{"name":"Indy","age":2,"interests":["Butter"]},{"name":"Kira","age":8,"interests":["Rubs"]}]`

func (docContext) Function(name string) *Func {
	if name != "variables" {
		return nil
	}
	return fn("variables", 1, 1, kinds(KString), func(c *Call, a []any) (any, error) {
		switch a[0] {
		case "dogs":
			return ParseJSON([]byte(dogs))
		case "dogsWithProperties":
			return ParseJSON([]byte(`[{"name":"Evie","properties":{"age":5,"interests":["Ball","Frisbee"]}},{"name":"Casper","properties":{"age":3,"interests":["Other dogs"]}}]`))
		}
		return nil, c.Errorf("no variable %s", a[0])
	})
}

func eval(t *testing.T, src string) (string, error) {
	t.Helper()
	n, err := ParseBare(src)
	if err != nil {
		return "", err
	}
	v, err := (&Evaluator{Context: docContext{}, Src: src}).Eval(n)
	if err != nil {
		return "", err
	}
	b, err := Marshal(v)
	return string(b), err
}

// Each group's expected values are the documented ones: the tables of
// MicrosoftDocs/azure-docs articles/azure-resource-manager/templates/
// template-functions-{string,array,comparison,logical,numeric,object,
// date,cidr,lambda}.md for the examples of Azure/azure-docs-json-samples
// azure-resource-manager/functions/**.
var docCases = []struct{ expr, want string }{
	// String functions.
	{`base64('one, two, three')`, `"b25lLCB0d28sIHRocmVl"`},
	{`base64ToString(base64('one, two, three'))`, `"one, two, three"`},
	{`base64ToJson(base64('{''one'': ''a'', ''two'': ''b''}'))`, `{"one":"a","two":"b"}`},
	{`concat('prefix', '-', 'suffix')`, `"prefix-suffix"`},
	{`concat(createArray('1-1', '1-2', '1-3'), createArray('2-1', '2-2', '2-3'))`, `["1-1","1-2","1-3","2-1","2-2","2-3"]`},
	{`contains('OneTwoThree', 'e')`, `true`},
	{`contains('OneTwoThree', 'z')`, `false`},
	{`contains(json('{"one":"a","two":"b","three":"c"}'), 'one')`, `true`},
	{`contains(json('{"one":"a","two":"b","three":"c"}'), 'a')`, `false`},
	{`contains(createArray('one', 'two', 'three'), 'three')`, `true`},
	{`contains(createArray('one', 'two', 'three'), 'four')`, `false`},
	{`dataUri('Hello')`, `"data:text/plain;charset=utf8;base64,SGVsbG8="`},
	{`dataUriToString('data:;base64,SGVsbG8sIFdvcmxkIQ==')`, `"Hello, World!"`},
	{`empty(createArray())`, `true`},
	{`empty(json('{}'))`, `true`},
	{`empty('')`, `true`},
	{`endsWith('abcdef', 'ef')`, `true`},
	{`endsWith('abcdef', 'F')`, `true`},
	{`endsWith('abcdef', 'e')`, `false`},
	{`startsWith('abcdef', 'ab')`, `true`},
	{`startsWith('abcdef', 'A')`, `true`},
	{`startsWith('abcdef', 'e')`, `false`},
	{`first(createArray('one', 'two', 'three'))`, `"one"`},
	{`first('One Two Three')`, `"O"`},
	{`last(createArray('one', 'two', 'three'))`, `"three"`},
	{`last('One Two Three')`, `"e"`},
	{`format('{0}, {1}. Formatted number: {2:N0}', 'Hello', 'User', 8175133)`, `"Hello, User. Formatted number: 8,175,133"`},
	{`indexOf('test', 't')`, `0`},
	{`lastIndexOf('test', 't')`, `3`},
	{`indexOf('abcdef', 'CD')`, `2`},
	{`lastIndexOf('abcdef', 'AB')`, `0`},
	{`indexOf('abcdef', 'z')`, `-1`},
	{`join(createArray('one', 'two', 'three'), ',')`, `"one,two,three"`},
	{`join(createArray('one', 'two', 'three'), ';')`, `"one;two;three"`},
	{`length(createArray('one', 'two', 'three'))`, `3`},
	{`length('One Two Three')`, `13`},
	{`length(json('{"propA":"one","propB":"two","propC":"three","propD":{"propD-1":"sub","propD-2":"sub"}}'))`, `4`},
	{`padLeft('123', 10, '0')`, `"0000000123"`},
	{`replace('123-123-1234', '-', '')`, `"1231231234"`},
	{`replace('123-123-1234', '1234', 'xxxx')`, `"123-123-xxxx"`},
	{`skip(createArray('one', 'two', 'three'), 2)`, `["three"]`},
	{`skip('one two three', 4)`, `"two three"`},
	{`split('one,two,three', ',')`, `["one","two","three"]`},
	{`split('one;two,three', createArray(',', ';'))`, `["one","two","three"]`},
	{`string(json('{"valueA":10,"valueB":"Example Text"}'))`, `"{\"valueA\":10,\"valueB\":\"Example Text\"}"`},
	{`string(createArray('a', 'b', 'c'))`, `"[\"a\",\"b\",\"c\"]"`},
	{`string(5)`, `"5"`},
	{`substring('one two three', 4, 3)`, `"two"`},
	{`take(createArray('one', 'two', 'three'), 2)`, `["one","two"]`},
	{`take('one two three', 2)`, `"on"`},
	{`toLower('One Two Three')`, `"one two three"`},
	{`toUpper('One Two Three')`, `"ONE TWO THREE"`},
	{`trim('    one two three   ')`, `"one two three"`},
	{`uri('http://contoso.com/resources/', 'nested/azuredeploy.json')`, `"http://contoso.com/resources/nested/azuredeploy.json"`},
	{`uriComponent('http://contoso.com/resources/nested/azuredeploy.json')`, `"http%3A%2F%2Fcontoso.com%2Fresources%2Fnested%2Fazuredeploy.json"`},
	{`uriComponentToString('http%3A%2F%2Fcontoso.com%2Fresources%2Fnested%2Fazuredeploy.json')`, `"http://contoso.com/resources/nested/azuredeploy.json"`},
	{`uri('http://contoso.org/firstpath', 'myscript.sh')`, `"http://contoso.org/myscript.sh"`},
	{`uri('http://contoso.org/firstpath/', 'myscript.sh')`, `"http://contoso.org/firstpath/myscript.sh"`},
	{`uri('http://contoso.org/firstpath/azuredeploy.json', 'myscript.sh')`, `"http://contoso.org/firstpath/myscript.sh"`},
	{`uri('http://contoso.org/firstpath/azuredeploy.json/', 'myscript.sh')`, `"http://contoso.org/firstpath/azuredeploy.json/myscript.sh"`},

	// Array functions.
	{`array(1)`, `[1]`},
	{`array('efgh')`, `["efgh"]`},
	{`array(json('{"a":"b","c":"d"}'))`, `[{"a":"b","c":"d"}]`},
	{`createArray('a', 'b', 'c')`, `["a","b","c"]`},
	{`createArray(1, 2, 3)`, `[1,2,3]`},
	{`createArray(createArray('one', 'two', 'three'))`, `[["one","two","three"]]`},
	{`createArray()`, `[]`},
	{`intersection(json('{"one":"a","two":"b","three":"c"}'), json('{"one":"a","two":"z","three":"c"}'))`, `{"one":"a","three":"c"}`},
	{`intersection(createArray('one', 'two', 'three'), createArray('two', 'three'))`, `["two","three"]`},
	{`union(json('{"one":"a","two":"b","three":"c1"}'), json('{"three":"c2","four":"d","five":"e"}'))`, `{"one":"a","two":"b","three":"c2","four":"d","five":"e"}`},
	{`union(createArray('one', 'two', 'three'), createArray('three', 'four'))`, `["one","two","three","four"]`},
	{`union(json('{"property":{"one":"a","two":"b","three":"c1"},"nestedArray":[1,2]}'), json('{"property":{"three":"c2","four":"d","five":"e"},"nestedArray":[3,4]}'))`, `{"property":{"one":"a","two":"b","three":"c2","four":"d","five":"e"},"nestedArray":[3,4]}`},
	{`range(5, 3)`, `[5,6,7]`},
	{`max(createArray(0, 3, 2, 5, 4))`, `5`},
	{`max(0, 3, 2, 5, 4)`, `5`},
	{`min(createArray(0, 3, 2, 5, 4))`, `0`},
	{`min(0, 3, 2, 5, 4)`, `0`},
	{`flatten(createArray(createArray('one', 'two'), createArray('three'), createArray('four', 'five')))`, `["one","two","three","four","five"]`},
	{`indexFromEnd(createArray('one', 'two', 'three'), 1)`, `"three"`},
	{`tryIndexFromEnd(createArray('one', 'two', 'three'), 4)`, `null`},
	{`distinct(createArray(1, 2, 1, 'a', 'A', 'a'))`, `[1,2,"a","A"]`},
	{`like('abc', 'abc')`, `true`},
	{`like('abcdef', 'a*c*')`, `true`},
	{`like('abcabc', '*abc')`, `true`},
	{`like('abc', 'a?d')`, `false`},
	{`like('ABC', 'a*')`, `true`},

	// Comparison functions: strings compare as .NET's culture does.
	{`coalesce(null(), null(), 'default')`, `"default"`},
	{`coalesce(null(), null(), 1)`, `1`},
	{`empty(coalesce(null(), null()))`, `true`},
	{`equals(1, 1)`, `true`},
	{`equals('a', 'a')`, `true`},
	{`equals(createArray('a', 'b'), createArray('a', 'b'))`, `true`},
	{`equals(json('{"a":"b"}'), json('{"a":"b"}'))`, `true`},
	{`not(equals(1, 2))`, `true`},
	{`greater(1, 2)`, `false`},
	{`greater('A', 'a')`, `true`},
	{`greaterOrEquals(1, 2)`, `false`},
	{`greaterOrEquals('A', 'a')`, `true`},
	{`less(1, 2)`, `true`},
	{`less('A', 'a')`, `false`},
	{`lessOrEquals(1, 2)`, `true`},
	{`lessOrEquals('A', 'a')`, `false`},

	// Logical functions.
	{`and(bool('true'), bool('false'))`, `false`},
	{`or(bool('true'), bool('false'))`, `true`},
	{`not(bool('true'))`, `false`},
	{`bool('true')`, `true`},
	{`bool('false')`, `false`},
	{`bool(1)`, `true`},
	{`bool(0)`, `false`},
	{`true()`, `true`},
	{`false()`, `false`},
	{`if(equals('a', 'a'), 'yes', 'no')`, `"yes"`},
	{`if(equals('a', 'b'), 'yes', 'no')`, `"no"`},
	{`if(equals('a', 'a'), json('{"test": "value1"}'), json('null'))`, `{"test":"value1"}`},

	// Numeric functions.
	{`add(5, 3)`, `8`},
	{`sub(7, 3)`, `4`},
	{`mul(5, 3)`, `15`},
	{`div(8, 3)`, `2`},
	{`mod(7, 3)`, `1`},
	{`int('4')`, `4`},

	// Object functions.
	{`createObject('intProp', 1, 'stringProp', 'abc', 'boolProp', true(), 'arrayProp', createArray('a', 'b', 'c'), 'objectProp', createObject('key1', 'value1'))`, `{"intProp":1,"stringProp":"abc","boolProp":true,"arrayProp":["a","b","c"],"objectProp":{"key1":"value1"}}`},
	{`empty(json('null'))`, `true`},
	{`json('{"a": "b"}')`, `{"a":"b"}`},
	{`json('"test"')`, `"test"`},
	{`json('true')`, `true`},
	{`json('3')`, `3`},
	{`json('[1,2,3]')`, `[1,2,3]`},
	{`json(concat('{"a": "', 'demo value', '"}'))`, `{"a":"demo value"}`},
	{`empty(null())`, `true`},
	{`items(json('{"item002":{"enabled":false,"displayName":"Example item 2","number":200},"item003":{"enabled":true,"displayName":"Example item 3","number":300},"item001":{"enabled":true,"displayName":"Example item 1","number":300}}'))`, `[{"key":"item001","value":{"enabled":true,"displayName":"Example item 1","number":300}},{"key":"item002","value":{"enabled":false,"displayName":"Example item 2","number":200}},{"key":"item003","value":{"enabled":true,"displayName":"Example item 3","number":300}}]`},
	{`objectKeys(json('{"a":1,"b":2}'))`, `["a","b"]`},
	{`shallowMerge(createArray(json('{"one":"a"}'), json('{"two":"b"}'), json('{"two":"c"}')))`, `{"one":"a","two":"c"}`},
	{`shallowMerge(createArray(json('{"one":"a","nested":{"a":1,"nested":{"c":3}}}'), json('{"two":"b","nested":{"b":2}}')))`, `{"one":"a","nested":{"b":2},"two":"b"}`},
	{`tryGet(json('{"a":{"b":1}}'), 'a', 'b')`, `1`},
	{`tryGet(json('{"a":{"b":1}}'), 'x')`, `null`},

	// Date functions.
	{`dateTimeAdd('2020-04-07 14:53:14Z', 'P3Y')`, `"4/7/2023 2:53:14 PM"`},
	{`dateTimeAdd('2020-04-07 14:53:14Z', '-P9D')`, `"3/29/2020 2:53:14 PM"`},
	{`dateTimeAdd('2020-04-07 14:53:14Z', 'PT1H')`, `"4/7/2020 3:53:14 PM"`},
	{`dateTimeFromEpoch(1683040573)`, `"2023-05-02T15:16:13Z"`},
	{`dateTimeToEpoch('2023-05-02T15:16:13Z')`, `1683040573`},
	{`dateTimeAdd('2020-01-31T00:00:00Z', 'P1M', 'yyyy-MM-dd')`, `"2020-02-29"`},

	// CIDR functions.
	{`parseCidr('10.144.0.0/20')`, `{"network":"10.144.0.0","netmask":"255.255.240.0","broadcast":"10.144.15.255","firstUsable":"10.144.0.1","lastUsable":"10.144.15.254","cidr":20}`},
	{`parseCidr('fdad:3236:5555::/48')`, `{"network":"fdad:3236:5555::","netmask":"ffff:ffff:ffff::","firstUsable":"fdad:3236:5555::","lastUsable":"fdad:3236:5555:ffff:ffff:ffff:ffff:ffff","cidr":48}`},
	{`map(range(0, 5), lambda('i', cidrSubnet('10.144.0.0/20', 24, lambdaVariables('i'))))`, `["10.144.0.0/24","10.144.1.0/24","10.144.2.0/24","10.144.3.0/24","10.144.4.0/24"]`},
	{`map(range(0, 5), lambda('i', cidrSubnet('fdad:3236:5555::/48', 52, lambdaVariables('i'))))`, `["fdad:3236:5555::/52","fdad:3236:5555:1000::/52","fdad:3236:5555:2000::/52","fdad:3236:5555:3000::/52","fdad:3236:5555:4000::/52"]`},
	{`map(range(0, 5), lambda('i', cidrHost('10.144.3.0/24', lambdaVariables('i'))))`, `["10.144.3.1","10.144.3.2","10.144.3.3","10.144.3.4","10.144.3.5"]`},
	{`map(range(0, 5), lambda('i', cidrHost('fdad:3236:5555:3000::/52', lambdaVariables('i'))))`, `["fdad:3236:5555:3000::1","fdad:3236:5555:3000::2","fdad:3236:5555:3000::3","fdad:3236:5555:3000::4","fdad:3236:5555:3000::5"]`},

	// Lambda functions.
	{`filter(variables('dogs'), lambda('dog', greaterOrEquals(lambdaVariables('dog').age, 5)))`, `[{"name":"Evie","age":5,"interests":["Ball","Frisbee"]},{"name":"Kira","age":8,"interests":["Rubs"]}]`},
	{`filter(range(0, 10), lambda('i', greater(lambdaVariables('i'), 5)))`, `[6,7,8,9]`},
	{`filter(range(0, 10), lambda('i', equals(0, mod(lambdaVariables('i'), 2))))`, `[0,2,4,6,8]`},
	{`map(variables('dogs'), lambda('dog', lambdaVariables('dog').name))`, `["Evie","Casper","Indy","Kira"]`},
	{`map(variables('dogs'), lambda('dog', format('Hello {0}!', lambdaVariables('dog').name)))`, `["Hello Evie!","Hello Casper!","Hello Indy!","Hello Kira!"]`},
	{`map(range(0, length(variables('dogs'))), lambda('i', createObject('i', lambdaVariables('i'), 'dog', variables('dogs')[lambdaVariables('i')].name, 'greeting', format('Ahoy, {0}!', variables('dogs')[lambdaVariables('i')].name))))`, `[{"i":0,"dog":"Evie","greeting":"Ahoy, Evie!"},{"i":1,"dog":"Casper","greeting":"Ahoy, Casper!"},{"i":2,"dog":"Indy","greeting":"Ahoy, Indy!"},{"i":3,"dog":"Kira","greeting":"Ahoy, Kira!"}]`},
	{`reduce(map(variables('dogs'), lambda('dog', lambdaVariables('dog').age)), 0, lambda('cur', 'next', add(lambdaVariables('cur'), lambdaVariables('next'))))`, `18`},
	{`reduce(map(variables('dogs'), lambda('dog', lambdaVariables('dog').age)), 1, lambda('cur', 'next', add(lambdaVariables('cur'), lambdaVariables('next'))))`, `19`},
	{`reduce(createArray(createObject('foo', 123), createObject('bar', 456), createObject('baz', 789)), createObject(), lambda('cur', 'next', union(lambdaVariables('cur'), lambdaVariables('next'))))`, `{"foo":123,"bar":456,"baz":789}`},
	{`sort(variables('dogs'), lambda('a', 'b', less(lambdaVariables('a').age, lambdaVariables('b').age)))`, `[{"name":"Indy","age":2,"interests":["Butter"]},{"name":"Casper","age":3,"interests":["Other dogs"]},{"name":"Evie","age":5,"interests":["Ball","Frisbee"]},{"name":"Kira","age":8,"interests":["Rubs"]}]`},
	{`toObject(variables('dogs'), lambda('entry', lambdaVariables('entry').name))`, `{"Evie":{"name":"Evie","age":5,"interests":["Ball","Frisbee"]},"Casper":{"name":"Casper","age":3,"interests":["Other dogs"]},"Indy":{"name":"Indy","age":2,"interests":["Butter"]},"Kira":{"name":"Kira","age":8,"interests":["Rubs"]}}`},
	{`toObject(variables('dogsWithProperties'), lambda('entry', lambdaVariables('entry').name), lambda('entry', lambdaVariables('entry').properties))`, `{"Evie":{"age":5,"interests":["Ball","Frisbee"]},"Casper":{"age":3,"interests":["Other dogs"]}}`},
	{`groupBy(createArray('foo', 'bar', 'baz'), lambda('x', substring(lambdaVariables('x'), 0, 1)))`, `{"f":["foo"],"b":["bar","baz"]}`},
	{`mapValues(createObject('foo', 'foo'), lambda('val', toUpper(lambdaVariables('val'))))`, `{"foo":"FOO"}`},

	// Hashes: uniqueString vectors are in hash_test.go; guid is RFC 4122
	// version 5 in ARM's namespace (the same values as Python's
	// uuid.uuid5(UUID('11fb06fb-712d-4ddd-98c7-e71bbd588830'), 'a-b-c')).
	{`guid('hello')`, `"520f8434-fe3a-5d99-888d-450a827486a1"`},
	{`guid('a', 'b', 'c')`, `"a98fa280-e03f-5afa-8d8e-92d0a9c201e8"`},
	{`guid('test')`, `"d6a5baf1-8b9b-542a-8525-2982f1f98a0c"`},
}

func TestDocumentedExamples(t *testing.T) {
	for _, tc := range docCases {
		got, err := eval(t, tc.expr)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.expr, got, tc.want)
		}
	}
}

// Behaviour beyond the documented examples: case-insensitive names and
// properties, escaping, laziness, and the errors ARM gives.
func TestLanguage(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{`CONCAT('a', 'B')`, `"aB"`},
		{`json('{"Name":"x"}').name`, `"x"`},
		{`json('{"Name":"x"}')['NAME']`, `"x"`},
		{`createArray(1, 2, 3)[1]`, `2`},
		{`'it''s'`, `"it's"`},
		{`-5`, `-5`},
		{`if(true(), 'ok', json('{'))`, `"ok"`},
		{`coalesce('x', json('{'))`, `"x"`},
		{`and(false(), json('{'))`, `false`},
		{`or(true(), json('{'))`, `true`},
		{`string(true())`, `"True"`},
		{`concat('n', 1, false())`, `"n1False"`},
		{`format('{0:D3}-{1,4}|{2,-3}|{{x}}', 7, 'ab', 'c')`, `"007-  ab|c  |{x}"`},
		{`format('{0:X}', 255)`, `"FF"`},
		{`padLeft(7, 3, '0')`, `"007"`},
		{`map(createArray('a', 'b'), lambda('x', 'i', concat(lambdaVariables('x'), string(lambdaVariables('i')))))`, `["a0","b1"]`},
		{`map(createArray(1), lambda('x', map(createArray(10), lambda('y', add(lambdaVariables('x'), lambdaVariables('y'))))))`, `[[11]]`},
		{`union(createObject('a', createObject('b', 1)), createObject('a', createObject('c', 2)))`, `{"a":{"b":1,"c":2}}`},
		{`contains(createObject('ONE', 1), 'one')`, `true`},
		{`json('{''a'': 1, b: [2,], /* c */}')`, `{"a":1,"b":[2]}`},
		{`float('3.5')`, `3.5`},
		{`int(float('3.7'))`, `3`},
	} {
		got, err := eval(t, tc.expr)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.expr, got, tc.want)
		}
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		expr string
		pos  int
		want string
	}{
		{`nosuch(1)`, 0, "The template function 'nosuch' is not valid"},
		{`concat('a', nosuch())`, 12, "The template function 'nosuch' is not valid"},
		{`concat()`, 0, "function requires at least 1 argument(s) while 0 were provided"},
		{`if(true())`, 0, "function requires 3 argument(s) while 1 were provided"},
		{`substring(1)`, 0, "function requires at least 2 argument(s)"},
		{`add('a', 1)`, 4, "The template function 'add' expects its first parameter to be of type 'Integer'. The provided value is of type 'String'."},
		{`toLower(1)`, 8, "expects its first parameter to be of type 'String'"},
		{`json('{"a":1}').b`, 15, "The language expression property 'b' doesn't exist, available properties are 'a'."},
		{`createArray(1)[3]`, 14, "The language expression property array index '3' is out of bounds."},
		{`substring('abc', 1, 5)`, 0, "The index and length parameters must refer to a location within the string. The index parameter: '1', the length parameter: '5', the length of the string parameter: '3'."},
		{`div(1, 0)`, 0, "attempted to divide by zero"},
		{`range(0, 10001)`, 0, "between 0 and 10000"},
		{`concat('a'`, 10, "Unable to parse language expression 'concat('a'': expected token 'RightParenthesis' and actual 'EndOfData'."},
		{`concat('a' 'b')`, 11, "expected token 'RightParenthesis' and actual 'String'"},
		{`'abc`, 0, "is not terminated"},
		{`a.`, 2, "expected token 'Identifier' and actual 'EndOfData'"},
		{`lambdaVariables('x')`, 0, "The lambda variable 'x' is not defined"},
		{`map(createArray(1), 'x')`, 20, "expects its second parameter to be of type 'Lambda'"},
		{`map(createArray(1), lambda('a', 'b', 'c', 1))`, 20, "must have between 1 and 2 parameters"},
	} {
		_, err := eval(t, tc.expr)
		e, ok := err.(*Error)
		if !ok {
			t.Errorf("%s: error %v, want *Error", tc.expr, err)
			continue
		}
		if e.Pos != tc.pos || !strings.Contains(e.Message, tc.want) {
			t.Errorf("%s: error at %d %q\nwant at %d %q", tc.expr, e.Pos, e.Message, tc.pos, tc.want)
		}
	}
}
