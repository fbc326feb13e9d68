package privatelink

import (
	"encoding/json"
	"testing"

	"github.com/privlink/privlink/internal/arm"
)

// TestParseLinkAsEncodingJSON: the link as privlink stores it reads the same
// through parseLink as through encoding/json, escapes and all.
func TestParseLinkAsEncodingJSON(t *testing.T) {
	for _, l := range []Link{
		{},
		{Target: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/a", GroupID: "blob",
			Connection: "/subscriptions/s/.../privateEndpointConnections/c", PrivateEndpoint: "/pe", Status: Approved, Description: "Auto-approved"},
		{Name: "n", Status: Pending, Description: `Please "approve" <this> & \ that, été 𝄞`},
	} {
		raw, err := arm.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := parseLink(raw)
		var want Link
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		if !ok || got != want {
			t.Errorf("parseLink(%s) = %+v, %v; want %+v", raw, got, ok, want)
		}
	}
	// Not as privlink writes it: read as encoding/json reads it, or left
	// to it (not ok).
	for _, raw := range []string{`{"target": "x"}`, `{"status":1}`, `[]`, `{ "status" : "a" , "target":"b"}`} {
		l, ok := parseLink([]byte(raw))
		var want Link
		if err := json.Unmarshal([]byte(raw), &want); ok && (err != nil || l != want) {
			t.Errorf("parseLink(%s) = %+v, true; encoding/json reads %+v, %v", raw, l, want, err)
		}
	}
}

// TestHandWrittenJSON holds connState's and idRef's AppendJSON to what
// encoding/json writes for the specs' shapes of them.
func TestHandWrittenJSON(t *testing.T) {
	type plural struct {
		Status          string `json:"status"`
		Description     string `json:"description"`
		ActionsRequired string `json:"actionsRequired"`
	}
	type singular struct {
		Status         string `json:"status"`
		Description    string `json:"description"`
		ActionRequired string `json:"actionRequired"`
	}
	type none struct {
		Status      string `json:"status"`
		Description string `json:"description"`
	}
	type plainRef idRef
	for _, s := range []string{"", "Approved", "Auto-approved", "<a & b>", "line\nbreak \"quoted\" \\ \u2028", "\xff"} {
		for _, pair := range []struct {
			v   arm.JSONAppender
			ref any
		}{
			{connState{Status: s, Description: s + "!", ActionsRequired: "None", actions: "actionsRequired"}, plural{Status: s, Description: s + "!", ActionsRequired: "None"}},
			{connState{Status: s, Description: s, ActionsRequired: "None", actions: "actionRequired"}, singular{Status: s, Description: s, ActionRequired: "None"}},
			{connState{Status: s, Description: s, ActionsRequired: "None"}, none{Status: s, Description: s}},
			{connState{actions: "actionsRequired"}, plural{}},
			{idRef{ID: s}, plainRef{ID: s}},
		} {
			got, err := arm.Marshal(pair.v)
			if err != nil {
				t.Fatal(err)
			}
			want, err := arm.Marshal(pair.ref)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("Marshal(%#v) = %s, encoding/json: %s", pair.v, got, want)
			}
		}
	}
}
