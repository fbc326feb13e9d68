package expr

import (
	"encoding/json"

	"github.com/privlink/privlink/internal/arm"
)

// ParseLenientJSON reads JSON as ARM's json() and base64ToJson() read it,
// with JSON.NET's leniency (arm.ReadJSONNET: strings in single or double
// quotes, property names without quotes, comments, trailing commas), into
// values as ParseJSON makes them. Errors are JSON.NET's.
func ParseLenientJSON(s string) (any, error) {
	b := []byte(s)
	if !json.Valid(b) {
		var err error
		if b, err = arm.ReadJSONNET(b); err != nil {
			return nil, err
		}
	}
	return ParseJSON(b)
}
