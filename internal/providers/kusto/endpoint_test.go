package kusto

import (
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/resource"
)

func TestCheckRequestMessage(t *testing.T) {
	stored := func(msg string) *resource.Doc {
		b, _ := arm.Marshal(map[string]any{"properties": map[string]string{"requestMessage": msg}})
		o, err := arm.ParseObject(b)
		if err != nil {
			t.Fatal(err)
		}
		return &resource.Doc{Obj: o}
	}
	long := strings.Repeat("x", 200)
	tests := []struct {
		name string
		msg  string
		old  *resource.Doc
		ok   bool
	}{
		{"empty", "", nil, true},
		{"140 ASCII", strings.Repeat("a", 140), nil, true},
		{"141 ASCII", strings.Repeat("a", 141), nil, false},
		{"140 two-byte characters", strings.Repeat("ü", 140), nil, true},
		{"140 three-byte characters", strings.Repeat("✓", 140), nil, true},
		{"70 emoji are 140 UTF-16 units", strings.Repeat("😀", 70), nil, true},
		{"70 emoji and one letter", strings.Repeat("😀", 70) + "a", nil, false},
		{"an over-long message stored before the bound may stay", long, stored(long), true},
		{"but may not change", long + "y", stored(long), false},
		{"nor grow from a short one", long, stored("short"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkRequestMessage(tt.msg, tt.old)
			if got := err == nil; got != tt.ok {
				t.Fatalf("checkRequestMessage = %v, want ok %v", err, tt.ok)
			}
			if err != nil {
				ae := arm.AsError(err)
				if ae == nil || ae.Code != "RequestMessageTooLong" || ae.HTTPStatus() != 400 || ae.Target != "properties.requestMessage" {
					t.Fatalf("error %+v, want a 400 RequestMessageTooLong on properties.requestMessage", ae)
				}
			}
		})
	}
}
