// Package expr is the ARM template expression language: a lexer, a parser
// that builds an AST whose nodes carry their offsets, an evaluator, and the
// documented function library as a table of small pure functions with their
// signatures. Functions that need a deployment (parameters, reference,
// resourceId, ...) come from the caller through a Context, so expr does no I/O.
package expr
