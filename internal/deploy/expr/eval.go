package expr

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Kind is a set of value types, for function signatures.
type Kind uint16

// The kinds of values. Any is every kind but Lambda.
const (
	KNull Kind = 1 << iota
	KBool
	KInt
	KString
	KArray
	KObject
	KFloat
	KLambda
	Any = KNull | KBool | KInt | KString | KArray | KObject | KFloat
)

// kindOf returns the kind of v.
func kindOf(v any) Kind {
	switch v.(type) {
	case nil:
		return KNull
	case bool:
		return KBool
	case int64:
		return KInt
	case float64, json.Number:
		return KFloat
	case string:
		return KString
	case []any:
		return KArray
	case *Object:
		return KObject
	case *Lambda:
		return KLambda
	}
	return 0
}

// describe names a kind set as ARM's messages do ("String", "Integer or String").
func (k Kind) describe() string {
	var names []string
	for _, n := range []struct {
		k    Kind
		name string
	}{{KString, "String"}, {KInt, "Integer"}, {KBool, "Boolean"}, {KArray, "Array"}, {KObject, "Object"}, {KFloat, "Float"}, {KNull, "Null"}, {KLambda, "Lambda"}} {
		if k&n.k != 0 {
			names = append(names, n.name)
		}
	}
	switch len(names) {
	case 0:
		return "none"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Func is a function of the language: its name, how many arguments it
// takes, their kinds, and its implementation. Exactly one of Fn (arguments
// evaluated first) and Lazy (the function evaluates its arguments itself,
// for if, and, or, coalesce, lambda) is set.
type Func struct {
	// Name is the documented spelling; calls match it case-insensitively.
	Name string
	// Min and Max bound the argument count; Max < 0 means no bound.
	Min, Max int
	// Args are the kinds each argument may be; the last entry applies to
	// any further arguments. Nil accepts anything.
	Args []Kind
	Fn   func(c *Call, args []any) (any, error)
	Lazy func(c *Call) (any, error)
}

// Context provides the functions that depend on the deployment
// (parameters, variables, copyIndex, reference, resourceId, ...) and
// user-defined functions. It may also refuse a built-in function at the
// place being evaluated by returning a Func whose implementation fails.
type Context interface {
	// Function returns the function named name (lower-cased, with its
	// namespace for user-defined ones), or nil when the context has none.
	Function(name string) *Func
}

// Evaluator evaluates parsed expressions. The zero value has no context
// functions.
type Evaluator struct {
	Context Context
	// Src is the source string the nodes were parsed from, kept in errors.
	Src string
	// steps counts evaluated nodes: a bound on work for hostile input.
	steps int
}

// MaxSteps bounds the nodes one evaluation may visit (lambdas over large
// arrays included), so that no expression runs without end.
const MaxSteps = 5_000_000

// scope is a frame of lambda variables.
type scope struct {
	names  []string
	values []any
	up     *scope
}

func (s *scope) lookup(name string) (any, bool) {
	for ; s != nil; s = s.up {
		for i := len(s.names) - 1; i >= 0; i-- {
			if s.names[i] == name {
				return s.values[i], true
			}
		}
	}
	return nil, false
}

// Call is one call being evaluated: what a function implementation sees.
type Call struct {
	ev    *Evaluator
	Node  *CallExpr
	Func  *Func
	scope *scope
}

// Evaluate parses and evaluates the expression string src with the context.
func Evaluate(src string, ctx Context) (any, error) {
	n, err := Parse(src)
	if err != nil {
		return nil, err
	}
	ev := &Evaluator{Context: ctx, Src: src}
	return ev.Eval(n)
}

// Eval evaluates n.
func (ev *Evaluator) Eval(n Node) (any, error) {
	return ev.eval(n, nil)
}

func (ev *Evaluator) errorf(pos int, format string, args ...any) *Error {
	return &Error{Pos: pos, Src: ev.Src, Message: fmt.Sprintf(format, args...)}
}

func (ev *Evaluator) eval(n Node, sc *scope) (any, error) {
	ev.steps++
	if ev.steps > MaxSteps {
		return nil, ev.errorf(n.Pos(), "The template language expression is too complex to evaluate: it took more than %d steps.", MaxSteps)
	}
	switch x := n.(type) {
	case *StringLit:
		return x.Value, nil
	case *IntLit:
		return x.Value, nil
	case *CallExpr:
		return ev.call(x, sc)
	case *MemberExpr:
		v, err := ev.eval(x.X, sc)
		if err != nil {
			return nil, err
		}
		return ev.member(x.At, v, x.Name)
	case *IndexExpr:
		v, err := ev.eval(x.X, sc)
		if err != nil {
			return nil, err
		}
		i, err := ev.eval(x.Index, sc)
		if err != nil {
			return nil, err
		}
		return ev.index(x.At, v, i)
	}
	return nil, ev.errorf(n.Pos(), "The language expression is not valid.")
}

// member is v.name: object property access, case-insensitive; a missing
// property is an error (tryGet is the forgiving form).
func (ev *Evaluator) member(pos int, v any, name string) (any, error) {
	o, ok := v.(*Object)
	if !ok {
		if v == nil {
			return nil, ev.errorf(pos, "The language expression property '%s' can't be evaluated because the value is null.", name)
		}
		return nil, ev.errorf(pos, "The language expression property '%s' can't be evaluated, property name must be a string and the value must be an object; the value is of type '%s'.", name, TypeName(v))
	}
	r, ok := o.Get(name)
	if !ok {
		return nil, ev.errorf(pos, "The language expression property '%s' doesn't exist, available properties are '%s'.", name, strings.Join(o.keys, ", "))
	}
	return r, nil
}

// index is v[i]: an array element or an object property.
func (ev *Evaluator) index(pos int, v, i any) (any, error) {
	switch x := v.(type) {
	case []any:
		n, ok := i.(int64)
		if !ok {
			return nil, ev.errorf(pos, "The language expression array index must be an integer; the index is of type '%s'.", TypeName(i))
		}
		if n < 0 || n >= int64(len(x)) {
			return nil, ev.errorf(pos, "The language expression property array index '%d' is out of bounds.", n)
		}
		return x[n], nil
	case *Object:
		k, ok := i.(string)
		if !ok {
			return nil, ev.errorf(pos, "The language expression property name must be a string; the index is of type '%s'.", TypeName(i))
		}
		return ev.member(pos, x, k)
	case nil:
		return nil, ev.errorf(pos, "The language expression property '%v' can't be evaluated because the value is null.", display(i))
	}
	return nil, ev.errorf(pos, "The language expression property '%v' can't be evaluated: the value of type '%s' has no properties or elements.", display(i), TypeName(v))
}

func display(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := Marshal(v)
	if err != nil {
		return TypeName(v)
	}
	return string(b)
}

// lookup finds the function called name: the context's first (it may
// restrict or add), then the built-ins.
func (ev *Evaluator) lookup(name string) *Func {
	lower := strings.ToLower(name)
	if ev.Context != nil {
		if f := ev.Context.Function(lower); f != nil {
			return f
		}
	}
	return builtins[lower]
}

func (ev *Evaluator) call(x *CallExpr, sc *scope) (any, error) {
	f := ev.lookup(x.Name)
	if f == nil {
		return nil, ev.errorf(x.At, "The template function '%s' is not valid. Please see https://aka.ms/arm-template-expressions for usage details.", x.Name)
	}
	if err := checkCount(ev, x, f); err != nil {
		return nil, err
	}
	c := &Call{ev: ev, Node: x, Func: f, scope: sc}
	if f.Lazy != nil {
		v, err := c.wrap(f.Lazy(c))
		return ev.charge(x, v, err)
	}
	args := make([]any, len(x.Args))
	for i, a := range x.Args {
		v, err := ev.eval(a, sc)
		if err != nil {
			return nil, err
		}
		if err := c.checkKind(i, v); err != nil {
			return nil, err
		}
		args[i] = v
	}
	v, err := c.wrap(f.Fn(c, args))
	return ev.charge(x, v, err)
}

// charge counts the size of a function's result against MaxSteps: values
// can share parts (a lambda that puts its accumulator in an array twice
// doubles the value each step), so a bound on steps alone would not bound
// the size of what string() or the caller must then write out.
func (ev *Evaluator) charge(x *CallExpr, v any, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	budget := MaxSteps - ev.steps
	used := size(v, budget)
	ev.steps += used
	if used >= budget {
		return nil, ev.errorf(x.At, "The template language expression is too complex to evaluate: the value of '%s' is too large.", x.Name)
	}
	return v, nil
}

// size counts the nodes of v (a string counts one per 64 bytes), stopping
// at limit.
func size(v any, limit int) int {
	n := 1
	switch x := v.(type) {
	case string:
		n += len(x) / 64
	case []any:
		for _, e := range x {
			if n >= limit {
				return n
			}
			n += size(e, limit-n)
		}
	case *Object:
		if x == nil {
			return n
		}
		for _, e := range x.vals {
			if n >= limit {
				return n
			}
			n += size(e, limit-n)
		}
	}
	return n
}

// CheckArity returns the error the evaluator gives when call x passes f a
// number of arguments it does not take (nil when it takes them), for
// callers that check expressions before evaluating them.
func CheckArity(f *Func, x *CallExpr, src string) error {
	return checkCount(&Evaluator{Src: src}, x, f)
}

func checkCount(ev *Evaluator, x *CallExpr, f *Func) error {
	n := len(x.Args)
	switch {
	case f.Max >= 0 && f.Min == f.Max && n != f.Min:
		return ev.errorf(x.At, "Unable to evaluate template language function '%s': function requires %d argument(s) while %d were provided. Please see https://aka.ms/arm-template-expressions for usage details.", f.Name, f.Min, n)
	case n < f.Min:
		return ev.errorf(x.At, "Unable to evaluate template language function '%s': function requires at least %d argument(s) while %d were provided. Please see https://aka.ms/arm-template-expressions for usage details.", f.Name, f.Min, n)
	case f.Max >= 0 && n > f.Max:
		return ev.errorf(x.At, "Unable to evaluate template language function '%s': function requires at most %d argument(s) while %d were provided. Please see https://aka.ms/arm-template-expressions for usage details.", f.Name, f.Max, n)
	}
	return nil
}

var ordinals = []string{"first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"}

func ordinal(i int) string {
	if i < len(ordinals) {
		return ordinals[i]
	}
	return fmt.Sprintf("%dth", i+1)
}

// checkKind checks argument i (value v) against the signature.
func (c *Call) checkKind(i int, v any) error {
	k := c.kind(i)
	if k == 0 || kindOf(v)&k != 0 {
		return nil
	}
	return c.argError(i, "The template function '%s' expects its %s parameter to be of type '%s'. The provided value is of type '%s'. Please see https://aka.ms/arm-template-expressions for usage details.", c.Func.Name, ordinal(i), k.describe(), TypeName(v))
}

func (c *Call) kind(i int) Kind {
	args := c.Func.Args
	if len(args) == 0 {
		return 0
	}
	if i < len(args) {
		return args[i]
	}
	return args[len(args)-1]
}

// wrap gives an error from a function the position of its call, keeping
// the cause for errors.As.
func (c *Call) wrap(v any, err error) (any, error) {
	if err == nil {
		return v, nil
	}
	var e *Error
	if errors.As(err, &e) {
		return nil, err
	}
	return nil, &Error{Pos: c.Node.At, Src: c.ev.Src, Message: err.Error(), Err: err}
}

// Name is the function's name as the call wrote it.
func (c *Call) Name() string { return c.Node.Name }

// NArgs is the number of arguments.
func (c *Call) NArgs() int { return len(c.Node.Args) }

// Arg evaluates argument i (for Lazy functions) and checks its kind.
func (c *Call) Arg(i int) (any, error) {
	v, err := c.ev.eval(c.Node.Args[i], c.scope)
	if err != nil {
		return nil, err
	}
	if err := c.checkKind(i, v); err != nil {
		return nil, err
	}
	return v, nil
}

// Errorf returns an error positioned at the call.
func (c *Call) Errorf(format string, args ...any) error {
	return c.ev.errorf(c.Node.At, format, args...)
}

// argError returns an error positioned at argument i.
func (c *Call) argError(i int, format string, args ...any) error {
	pos := c.Node.At
	if i < len(c.Node.Args) {
		pos = c.Node.Args[i].Pos()
	}
	return c.ev.errorf(pos, format, args...)
}

// Fail returns an error at the call that names the function and says why
// its arguments were refused.
func (c *Call) Fail(format string, args ...any) error {
	return c.ev.errorf(c.Node.At, "The template function '%s' has an invalid parameter: %s.", c.Func.Name, fmt.Sprintf(format, args...))
}

// Spend counts n steps of work a function does beyond evaluating nodes
// against MaxSteps, so that no call runs without bound.
func (c *Call) Spend(n int) error {
	c.ev.steps += n
	if c.ev.steps > MaxSteps {
		return c.Errorf("The template language expression is too complex to evaluate: it took more than %d steps.", MaxSteps)
	}
	return nil
}

// Apply applies lambda l to args.
func (c *Call) Apply(l *Lambda, args ...any) (any, error) {
	if len(args) < len(l.Params) {
		return nil, c.Errorf("The lambda function expects %d parameter(s) while %d were provided to '%s'.", len(l.Params), len(args), c.Func.Name)
	}
	sc := &scope{names: l.Params, values: args[:len(l.Params)], up: l.scope}
	return l.ev.eval(l.Body, sc)
}

// Lambda returns argument i as a lambda with between min and max parameters.
func (c *Call) Lambda(args []any, i, minParams, maxParams int) (*Lambda, error) {
	l, ok := args[i].(*Lambda)
	if !ok {
		return nil, c.argError(i, "The template function '%s' expects its %s parameter to be a lambda function. The provided value is of type '%s'.", c.Func.Name, ordinal(i), TypeName(args[i]))
	}
	if len(l.Params) < minParams || len(l.Params) > maxParams {
		if minParams == maxParams {
			return nil, c.argError(i, "The lambda function given to '%s' must have %d parameter(s); it has %d.", c.Func.Name, minParams, len(l.Params))
		}
		return nil, c.argError(i, "The lambda function given to '%s' must have between %d and %d parameters; it has %d.", c.Func.Name, minParams, maxParams, len(l.Params))
	}
	return l, nil
}

// LambdaVariable returns the value of lambda variable name in the call's scope.
func (c *Call) LambdaVariable(name string) (any, bool) { return c.scope.lookup(name) }

// Evaluator returns the evaluator running the call.
func (c *Call) Evaluator() *Evaluator { return c.ev }
