// Package template binds an ARM template to its parameters and scope: it
// reads the template keeping the line and column of every value, checks it
// and its parameters as ARM's validation does, expands copy loops and
// conditions, computes resource ids and the dependency graph, and then
// evaluates resource bodies and outputs on demand as a plan.Plan for the
// deployment engine. Expressions are evaluated by package expr.
package template
