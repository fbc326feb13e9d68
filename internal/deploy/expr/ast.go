package expr

// Node is a node of an expression's syntax tree. Pos is the byte offset of
// the node in the source string (the whole JSON string value, brackets
// included), so that errors point at the place.
type Node interface {
	Pos() int
}

// StringLit is a string literal: 'text' (with ” for a quote).
type StringLit struct {
	At    int
	Value string
}

// IntLit is an integer literal, possibly negative.
type IntLit struct {
	At    int
	Value int64
}

// CallExpr is a function call: name(args...). Name is as written; a
// user-defined function's is "namespace.name".
type CallExpr struct {
	At   int
	Name string
	Args []Node
	// End is the offset just after the closing parenthesis.
	End int
}

// MemberExpr is property access: X.Name.
type MemberExpr struct {
	At   int // offset of the '.'
	X    Node
	Name string
}

// IndexExpr is an indexer: X[Index].
type IndexExpr struct {
	At    int // offset of the '['
	X     Node
	Index Node
}

// Pos implements Node.
func (n *StringLit) Pos() int { return n.At }

// Pos implements Node.
func (n *IntLit) Pos() int { return n.At }

// Pos implements Node.
func (n *CallExpr) Pos() int { return n.At }

// Pos implements Node.
func (n *MemberExpr) Pos() int { return n.At }

// Pos implements Node.
func (n *IndexExpr) Pos() int { return n.At }

// Walk calls f for n and every node under it, depth first, parents before
// children; f returning false skips a node's children.
func Walk(n Node, f func(Node) bool) {
	if n == nil || !f(n) {
		return
	}
	switch x := n.(type) {
	case *CallExpr:
		for _, a := range x.Args {
			Walk(a, f)
		}
	case *MemberExpr:
		Walk(x.X, f)
	case *IndexExpr:
		Walk(x.X, f)
		Walk(x.Index, f)
	}
}
