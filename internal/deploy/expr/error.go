package expr

import "fmt"

// Error is an error of parsing or evaluating an expression: Pos is the byte
// offset in Src (the expression's source string) where it was found.
// Message is ARM's wording. Err is the cause when a function of the
// caller's Context failed (an *arm.Error from reference(), say).
type Error struct {
	Pos     int
	Src     string
	Message string
	Err     error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (at position %d)", e.Message, e.Pos)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }
