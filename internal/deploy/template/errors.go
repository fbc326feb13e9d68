package template

import (
	"errors"
	"fmt"
	"strings"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/deploy/expr"
)

// nodeError is an error found while evaluating the JSON value n: err is
// usually an *expr.Error whose offset is inside n's string.
type nodeError struct {
	n   *jnode
	err error
}

func (e *nodeError) Error() string { return e.err.Error() }
func (e *nodeError) Unwrap() error { return e.err }

// unwrapNode returns the cause of a nodeError, so that an error inside a
// user-defined function surfaces at its call.
func unwrapNode(err error) error {
	var ne *nodeError
	if errors.As(err, &ne) {
		return ne.err
	}
	return err
}

// where is the place an error points at: the value (or the character of
// an expression) and its path.
type where struct {
	line, col int
	path      string
}

func (w where) at() string { return fmt.Sprintf("at line '%d' and column '%d'", w.line, w.col) }

func (w where) info() []arm.AdditionalInfo {
	return []arm.AdditionalInfo{arm.TemplateViolationInfo(arm.TemplateViolation{LineNumber: w.line, LinePosition: w.col, Path: w.path})}
}

func whereOf(n *jnode) where {
	if n == nil {
		return where{}
	}
	l, c := n.pos()
	return where{line: l, col: c, path: n.path()}
}

// locate finds where err happened: in the expression character for
// expression errors, else at the value.
func locate(err error, fallback *jnode) (where, string) {
	var ne *nodeError
	n := fallback
	if errors.As(err, &ne) {
		n = ne.n
		err = ne.err
	}
	w := whereOf(n)
	var ee *expr.Error
	if errors.As(err, &ee) && n != nil && n.doc != nil {
		w.line, w.col = n.doc.lineCol(n.offsetIn(ee.Pos))
		msg := ee.Message
		if ee.Err != nil && ee.Message == "" {
			msg = ee.Err.Error()
		}
		return w, strings.TrimSuffix(msg, ".")
	}
	return w, strings.TrimSuffix(err.Error(), ".")
}

// invalid returns ARM's InvalidTemplate error for a fault at n: message is
// the inner text, which ARM quotes inside "Deployment template validation
// failed: '...'".
func invalid(w where, format string, args ...any) *arm.Error {
	e := arm.Errorf(arm.CodeInvalidTemplate, "Deployment template validation failed: '%s'.", fmt.Sprintf(format, args...))
	e.AdditionalInfo = w.info()
	return e
}

func invalidAt(n *jnode, format string, args ...any) *arm.Error {
	return invalid(whereOf(n), format, args...)
}

// runtimeCause returns the ARM error a runtime function (reference(),
// list*(), a Key Vault secret) failed with, if that is what err is.
func runtimeCause(err error) *arm.Error {
	var ee *expr.Error
	if errors.As(err, &ee) && ee.Err != nil {
		return arm.AsError(ee.Err)
	}
	return nil
}

// msgError is an error whose text is an ARM message, a sentence as ARM
// writes it (capitalized, which Go's error style would not be).
type msgError string

func (e msgError) Error() string { return string(e) }

func msgf(format string, args ...any) error { return msgError(fmt.Sprintf(format, args...)) }

// see appends ARM's pointer to the documentation unless msg has one.
func see(msg, url string) string {
	if strings.Contains(msg, "Please see") {
		return msg
	}
	return msg + ". Please see " + url + " for usage details"
}
