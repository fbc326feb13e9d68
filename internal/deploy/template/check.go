package template

import (
	"strings"

	"github.com/privlink/privlink/internal/deploy/expr"
)

// checkExpressions parses every expression of the template (nested inline
// templates included) and checks that each function it calls exists and
// gets an argument count it accepts, as ARM's validation does: a bad
// expression anywhere is refused before anything is deployed, not when the
// engine reaches the resource.
func (p *Plan) checkExpressions() error {
	var first error
	c := &evalCtx{p: p}
	walkStrings(p.t.root, nil, func(s *jnode) {
		if first != nil || !expr.IsExpression(s.str) {
			return
		}
		node, err := parsedExpr(s)
		if err != nil {
			first = &nodeError{n: s, err: err}
			return
		}
		expr.Walk(node, func(x expr.Node) bool {
			call, ok := x.(*expr.CallExpr)
			if !ok || first != nil {
				return first == nil
			}
			lower := strings.ToLower(call.Name)
			f := c.Function(lower)
			if f == nil {
				f = expr.Builtin(lower)
			}
			if f == nil {
				// A user-defined function of a nested template is that
				// template's to check.
				if strings.Contains(lower, ".") && p.t.funcs[lower] == nil && !p.inOwnSection(s) {
					return true
				}
				first = &nodeError{n: s, err: &expr.Error{Pos: call.At, Src: s.str, Message: "The template function '" + call.Name + "' is not valid. Please see https://aka.ms/arm-template-expressions for usage details."}}
				return false
			}
			if err := expr.CheckArity(f, call, s.str); err != nil {
				first = &nodeError{n: s, err: err}
				return false
			}
			return true
		})
	})
	if first == nil {
		return nil
	}
	w, msg := locate(first, p.t.root)
	return invalid(w, "The template language expression %s is not valid: %s", w.at(), see(p.scrub(msg), "https://aka.ms/arm-template-expressions"))
}

// inOwnSection reports whether s belongs to this template rather than to a
// nested inline template inside it.
func (p *Plan) inOwnSection(s *jnode) bool {
	for x := s.parent; x != nil && x != p.t.root; x = x.parent {
		if x.key == "template" && x.parent != nil && x.parent.key == "properties" {
			return false
		}
	}
	return true
}
