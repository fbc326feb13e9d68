package privatelink

import (
	"net/http"
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/arm"
)

// TestDefaultTransitions checks every row of the default table, the rule
// privlink applied to all targets before each had its own.
func TestDefaultTransitions(t *testing.T) {
	tests := []struct {
		from, to string
		want     string // the status taken, or "" for a refusal
		msg      string // a part of the refusal's message
	}{
		{Pending, Pending, Pending, ""},
		{Pending, Approved, Approved, ""},
		{Pending, Rejected, Rejected, ""},
		{Pending, Disconnected, "", "cannot be set to 'Disconnected'"},
		{Approved, Pending, "", "cannot go back to 'Pending' once it was 'Approved'"},
		{Approved, Approved, Approved, ""},
		{Approved, Rejected, Rejected, ""},
		{Approved, Disconnected, "", "cannot be set to 'Disconnected'"},
		{Rejected, Pending, "", "was rejected"},
		{Rejected, Approved, "", "was rejected"},
		{Rejected, Rejected, Rejected, ""},
		{Rejected, Disconnected, "", "cannot be set to 'Disconnected'"},
		{Pending, "Deleted", "", "status 'Deleted' is invalid"},
		{Approved, "", "", "status '' is invalid"},
	}
	if got, want := len(DefaultTransitions.Rows), 12; got != want {
		t.Fatalf("rows = %d, want %d (a test per row)", got, want)
	}
	for _, tc := range tests {
		t.Run(tc.from+"->"+tc.to, func(t *testing.T) {
			got, err := DefaultTransitions.Next(tc.from, tc.to)
			if tc.want != "" {
				if err != nil || got != tc.want {
					t.Fatalf("Next = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			e := arm.AsError(err)
			if e == nil || e.Code != arm.CodeBadRequest || e.HTTPStatus() != http.StatusBadRequest || !strings.Contains(e.Message, tc.msg) {
				t.Fatalf("Next = %q, %v; want 400 BadRequest with %q", got, err, tc.msg)
			}
		})
	}
}

// TestNextMatchesCase checks that statuses are matched without regard to
// case and taken in the table's spelling, and that a refusal names the
// status as sent.
func TestNextMatchesCase(t *testing.T) {
	if got, err := DefaultTransitions.Next(Pending, "aPPROVED"); err != nil || got != Approved {
		t.Fatalf("Next(Pending, aPPROVED) = %q, %v; want Approved", got, err)
	}
	_, err := DefaultTransitions.Next(Rejected, "approved")
	if e := arm.AsError(err); e == nil || !strings.Contains(e.Message, "rejected") {
		t.Fatalf("Next(Rejected, approved) = %v, want the rejected refusal", err)
	}
}

// TestRefusalStatus checks that a refusal's own status overrides its code's
// and that each call gets its own error.
func TestRefusalStatus(t *testing.T) {
	r := Refusal{Code: "SomeCode", Status: http.StatusConflict, Message: "{from} to {to}"}
	e := r.Err(Approved, "x")
	if e.HTTPStatus() != http.StatusConflict || e.Message != "Approved to x" {
		t.Fatalf("Err = %d %q", e.HTTPStatus(), e.Message)
	}
	e.WithTarget("somewhere")
	if r.Err(Pending, "y").Target != "" {
		t.Fatal("errors share state")
	}
}

// TestCheck checks that incomplete or ambiguous tables are reported.
func TestCheck(t *testing.T) {
	if err := DefaultTransitions.Check(); err != nil {
		t.Fatal(err)
	}
	bad := Refusal{Code: arm.CodeBadRequest, Message: "no"}
	tests := []struct {
		name string
		ts   *Transitions
		want string
	}{
		{"missing row", &Transitions{Name: "x", Unknown: bad, Rows: []Transition{Allow(Pending, Approved), Allow(Approved, Approved)}}, "no row for Rejected -> Approved"},
		{"twice", &Transitions{Name: "x", Unknown: bad, Rows: []Transition{Allow(Pending, Approved), Allow(Approved, Approved), Allow(Rejected, Approved), Allow(Pending, Approved)}}, "two rows for Pending -> Approved"},
		{"no unknown", &Transitions{Name: "x", Rows: []Transition{Allow(Pending, Approved), Allow(Approved, Approved), Allow(Rejected, Approved)}}, "unknown status"},
		{"no code", &Transitions{Name: "x", Unknown: bad, Rows: []Transition{Allow(Pending, Approved), Allow(Approved, Approved), Refuse(Rejected, Approved, Refusal{})}}, "without a code"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.ts.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want %q", err, tc.want)
			}
		})
	}
}
