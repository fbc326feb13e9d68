package replicas

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/testkit"
)

// ctx is the context of the tests' SDK calls.
var ctx = context.Background()

// call sends a request through env's clients (the round robin) with env's
// token and returns the status, the headers and the body.
func call(t *testing.T, env *testkit.Env, token, method, path, body string) (int, http.Header, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(method, env.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := env.HTTP.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

// armErrorCode is the code of an ARM error body ({"error":{"code":...}}), or "".
func armErrorCode(body []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error.Code
}
