package operation

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/arm"
)

// FuzzDocMarshalJSON holds the hand-written encoder to what encoding/json
// writes for Doc's fields (docJSON), over strings that need escapes (HTML
// characters, control characters, invalid UTF-8, U+2028), times in any
// zone and year, errors and payloads.
func FuzzDocMarshalJSON(f *testing.F) {
	f.Add("Running", int64(1740830400123456789), int64(0), "create", "/subscriptions/s/resourceGroups/rg", "westus", 0, "", []byte(nil), 0)
	f.Add("Failed", int64(-62135596800), int64(1), "<&>", "\u2028\x00\"\\", "a\xffb", 3, "Conflict", []byte(` { "a" : [1, 2 ,"<x>"] } `), 5400)
	f.Add("", int64(253402300800), int64(-1), "", "", "", -7, "x\u003cy", []byte(`"\u003c"`), -37)
	f.Add("Succeeded", int64(1), int64(2), "delete", "id", "", 1, "", []byte(`not json`), 1)
	f.Add("Running", int64(5), int64(7), "", "", "", 0, "", []byte("\"a\u2028b\u2029 <c>\""), 24*3600)
	f.Add("Running", int64(5), int64(-8), "", "", "", 0, "", []byte(nil), -100*3600)
	f.Fuzz(func(t *testing.T, status string, start, end int64, action, id, loc string, attempts int, code string, payload []byte, zoneSecs int) {
		zone := time.FixedZone("z", zoneSecs%(200*3600)) // beyond the 24 hours encoding/json takes
		startTime := time.Unix(0, start).In(zone)
		if start%3 == 0 {
			// Years outside 1677-2262, which time.Unix(0, n) cannot reach.
			startTime = time.Unix(start, 0).In(zone)
		}
		d := &Doc{
			Status:       status,
			StartTime:    startTime,
			Action:       action,
			ResourceID:   id,
			Subscription: loc + id,
			Namespace:    action,
			Location:     loc,
			Attempts:     attempts,
			StartedBy:    status,
			Runner:       code,
			Payload:      payload,
		}
		if end != 0 {
			e := time.Unix(end, end).In(zone)
			d.EndTime = &e
			if end%2 == 0 {
				r := e.Add(time.Duration(end) * time.Minute)
				d.RunnerUntil = &r
			}
		}
		if code != "" {
			d.Error = &arm.Error{Code: code, Message: id, Target: status, Details: []*arm.Error{{Code: action, Message: loc}},
				AdditionalInfo: []arm.AdditionalInfo{{Type: loc, Info: map[string]any{"k": action}}}}
		}
		want, wantErr := arm.Marshal((*docJSON)(d))
		got, err := d.MarshalJSON()
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("error %v, encoding/json's %v", err, wantErr)
		}
		if string(got) != string(want) {
			t.Fatalf("MarshalJSON:\n%s\nencoding/json:\n%s", got, want)
		}
		if err == nil {
			var back Doc
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("reading it back: %v", err)
			}
		}
	})
}
