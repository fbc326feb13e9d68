package privatelink

import (
	"fmt"
	"strings"

	"github.com/privlink/privlink/internal/arm"
)

// Refusal is what a target answers a change of state it will not make: an
// ARM code, the HTTP status when it is not the code's own (0 otherwise) and
// a message in which {from} stands for the connection's status and {to} for
// the status asked for, as sent.
type Refusal struct {
	Code    string
	Status  int
	Message string
}

// Err returns the ARM error r answers for the move from -> to.
func (r Refusal) Err(from, to string) *arm.Error {
	msg := strings.NewReplacer("{from}", from, "{to}", to).Replace(r.Message)
	e := arm.Errorf(r.Code, "%s", msg)
	if r.Status != 0 {
		e = e.WithStatus(r.Status)
	}
	return e
}

// Transition is one row of a target's table: its owner asks a connection
// whose status is From for status To. Refuse is nil when the target makes
// the change (To becomes the connection's status and the description sent
// replaces the old one), else what it answers (and nothing changes).
type Transition struct {
	From, To string
	Refuse   *Refusal
}

// Allow is a row that makes the move from -> to.
func Allow(from, to string) Transition { return Transition{From: from, To: to} }

// Refuse is a row that answers r to the move from -> to.
func Refuse(from, to string, r Refusal) Transition {
	return Transition{From: from, To: to, Refuse: &r}
}

// Transitions is one target type's rules for its owner's changes of a
// connection's state (a PUT of privateLinkServiceConnectionState.status):
// one row for each status a connection can be in (Pending, Approved,
// Rejected: Disconnected is the endpoint's side of a removed connection,
// which no longer exists on the target) and each status a PUT may name. A
// status no row names answers Unknown. Statuses are matched without regard
// to case and stored in the table's spelling.
type Transitions struct {
	// Name says whose rules these are, for messages and tests.
	Name string
	// Rows are the moves, each (From, To) once.
	Rows []Transition
	// Unknown answers a status no row goes to.
	Unknown Refusal
}

// connectionStates are the statuses a connection on its target can have.
var connectionStates = []string{Pending, Approved, Rejected}

// Statuses returns the statuses a PUT may name, in the order the rows first
// go to them.
func (ts *Transitions) Statuses() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range ts.Rows {
		if !seen[r.To] {
			seen[r.To] = true
			out = append(out, r.To)
		}
	}
	return out
}

// Row returns the row for the move from -> to (the statuses as the table
// spells them).
func (ts *Transitions) Row(from, to string) (Transition, bool) {
	for _, r := range ts.Rows {
		if r.From == from && r.To == to {
			return r, true
		}
	}
	return Transition{}, false
}

// Next returns the status a connection whose status is from takes when its
// owner asks for want, or the error its target answers.
func (ts *Transitions) Next(from, want string) (string, error) {
	to := ""
	for _, s := range ts.Statuses() {
		if strings.EqualFold(s, want) {
			to = s
		}
	}
	if to == "" {
		return "", ts.Unknown.Err(from, want)
	}
	r, ok := ts.Row(from, to)
	if !ok {
		// A connection in a state the table does not know (Check keeps
		// registered tables whole): refuse rather than guess.
		return "", ts.Unknown.Err(from, want)
	}
	if r.Refuse != nil {
		return "", r.Refuse.Err(from, want)
	}
	return to, nil
}

// Check reports a table that is not whole: a move from a connection state
// to a status it names that has no row, or two rows for one move.
func (ts *Transitions) Check() error {
	if ts.Unknown.Code == "" {
		return fmt.Errorf("%s: no answer for an unknown status", ts.Name)
	}
	seen := map[[2]string]bool{}
	for _, r := range ts.Rows {
		k := [2]string{r.From, r.To}
		if seen[k] {
			return fmt.Errorf("%s: two rows for %s -> %s", ts.Name, r.From, r.To)
		}
		seen[k] = true
		if r.Refuse != nil && r.Refuse.Code == "" {
			return fmt.Errorf("%s: %s -> %s refuses without a code", ts.Name, r.From, r.To)
		}
	}
	for _, from := range connectionStates {
		for _, to := range ts.Statuses() {
			if !seen[[2]string{from, to}] {
				return fmt.Errorf("%s: no row for %s -> %s", ts.Name, from, to)
			}
		}
	}
	return nil
}

// The refusals of DefaultTransitions.
var (
	defaultDisconnected = Refusal{Code: arm.CodeBadRequest, Message: "A private endpoint connection cannot be set to 'Disconnected'. To remove the connection, send DELETE to the private endpoint connection."}
	defaultRejected     = Refusal{Code: arm.CodeBadRequest, Message: "The private endpoint connection was rejected and cannot change state again. Delete the managed private endpoint and create it again to send a new request."}
	defaultPending      = Refusal{Code: arm.CodeBadRequest, Message: "A private endpoint connection cannot go back to 'Pending' once it was '{from}'."}
)

// DefaultTransitions is the rule privlink applied to every target before
// each had its own table: any change between Pending, Approved and Rejected
// except back to Pending, a Rejected connection stays Rejected, the same
// status again is accepted (and takes the new description), Disconnected is
// for DELETE. It remains the table of the targets whose sources do not pin
// down their own (see docs/private-endpoint-connections.md).
var DefaultTransitions = &Transitions{
	Name: "default",
	Rows: []Transition{
		Allow(Pending, Pending),
		Allow(Pending, Approved),
		Allow(Pending, Rejected),
		Refuse(Pending, Disconnected, defaultDisconnected),
		Refuse(Approved, Pending, defaultPending),
		Allow(Approved, Approved),
		Allow(Approved, Rejected),
		Refuse(Approved, Disconnected, defaultDisconnected),
		Refuse(Rejected, Pending, defaultRejected),
		Refuse(Rejected, Approved, defaultRejected),
		Allow(Rejected, Rejected),
		Refuse(Rejected, Disconnected, defaultDisconnected),
	},
	Unknown: Refusal{Code: arm.CodeBadRequest, Message: "The private endpoint connection status '{to}' is invalid. Valid values are 'Approved' and 'Rejected'."},
}

// transitions returns the target's table.
func (t *Target) transitions() *Transitions {
	if t.Transitions != nil {
		return t.Transitions
	}
	return DefaultTransitions
}
