package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRetries holds the client commands to the Azure SDKs' retry policy:
// a cut connection and the statuses azcore retries are tried again (after
// Retry-After when the answer gives one), other answers are not, and the
// last answer stands once the retries are spent. A test server is the only
// way to cut a connection on purpose at a chosen try.
func TestRetries(t *testing.T) {
	cases := []struct {
		name string
		// answer serves try n (from 1); it may cut the connection.
		answer    func(w http.ResponseWriter, n int32)
		wantTries int32
		wantCode  int // 0: a connection error
	}{
		{"cut once", func(w http.ResponseWriter, n int32) {
			if n == 1 {
				cut(t, w)
				return
			}
			w.WriteHeader(http.StatusCreated)
		}, 2, http.StatusCreated},
		{"503 with Retry-After, then 200", func(w http.ResponseWriter, n int32) {
			if n < 3 {
				w.Header().Set("retry-after-ms", "5")
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusOK)
		}, 3, http.StatusOK},
		{"429 without Retry-After, then 200", func(w http.ResponseWriter, n int32) {
			if n == 1 {
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			w.WriteHeader(http.StatusOK)
		}, 2, http.StatusOK},
		{"400 is the client's mistake: no retry", func(w http.ResponseWriter, n int32) {
			w.WriteHeader(http.StatusBadRequest)
		}, 1, http.StatusBadRequest},
		{"404: no retry", func(w http.ResponseWriter, n int32) {
			w.WriteHeader(http.StatusNotFound)
		}, 1, http.StatusNotFound},
		{"503 every time: four tries, the last answer", func(w http.ResponseWriter, n int32) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}, maxRetries + 1, http.StatusServiceUnavailable},
		{"cut every time: four tries, the error", func(w http.ResponseWriter, n int32) {
			cut(t, w)
		}, maxRetries + 1, 0},
		{"Retry-After past azcore's cap: no retry", func(w http.ResponseWriter, n int32) {
			w.Header().Set("Retry-After", "61")
			w.WriteHeader(http.StatusServiceUnavailable)
		}, 1, http.StatusServiceUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var tries atomic.Int32
			var bodies []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				bodies = append(bodies, string(b))
				tc.answer(w, tries.Add(1))
			}))
			defer srv.Close()
			c := &client{g: &globals{stderr: io.Discard}, p: &profile{Endpoint: srv.URL, AccessToken: "t"}, http: srv.Client(), retryDelay: time.Millisecond}
			r, err := c.do(http.MethodPut, "/x", []byte(`{"a":1}`))
			if got := tries.Load(); got != tc.wantTries {
				t.Errorf("tries = %d, want %d", got, tc.wantTries)
			}
			for i, b := range bodies {
				if b != `{"a":1}` {
					t.Errorf("try %d sent body %q, want the request's body every time", i+1, b)
				}
			}
			switch {
			case tc.wantCode == 0 && err == nil:
				t.Fatalf("got %d, want a connection error", r.Status)
			case tc.wantCode == 0:
				if !strings.Contains(err.Error(), "EOF") {
					t.Errorf("error %v, want the cut connection's EOF", err)
				}
			case err != nil:
				t.Fatalf("error %v, want %d", err, tc.wantCode)
			case r.Status != tc.wantCode:
				t.Errorf("status %d, want %d", r.Status, tc.wantCode)
			}
		})
	}
}

// cut closes the connection of w's request without an answer, as a
// replica killed mid-request does.
func cut(t *testing.T, w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	conn.Close()
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		h    http.Header
		want time.Duration
	}{
		{http.Header{"Retry-After": {"5"}}, 5 * time.Second},
		{http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"5"}}, 250 * time.Millisecond},
		{http.Header{"X-Ms-Retry-After-Ms": {"40"}}, 40 * time.Millisecond},
		{http.Header{"Retry-After": {"soon"}}, 0},
		{http.Header{}, 0},
	} {
		if got := retryAfter(tc.h); got != tc.want {
			t.Errorf("retryAfter(%v) = %v, want %v", tc.h, got, tc.want)
		}
	}
	// An HTTP date: how long until then.
	at := time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)
	if got := retryAfter(http.Header{"Retry-After": {at}}); got < 28*time.Second || got > 31*time.Second {
		t.Errorf("retryAfter(%s) = %v, want about 30s", at, got)
	}
}

// TestNoRetry: a refused connection and a certificate that does not verify
// fail at once, with no retry (see retriable).
func TestNoRetry(t *testing.T) {
	untrusted := httptest.NewTLSServer(http.NotFoundHandler())
	defer untrusted.Close()
	for name, endpoint := range map[string]string{"refused": closedURL(t), "untrusted certificate": untrusted.URL} {
		t.Run(name, func(t *testing.T) {
			var stderr strings.Builder
			c := &client{g: &globals{stderr: &stderr, verbose: true}, p: &profile{Endpoint: endpoint, AccessToken: "t"}, http: &http.Client{}, retryDelay: time.Millisecond}
			if _, err := c.do(http.MethodGet, "/x", nil); err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(stderr.String(), "retrying") {
				t.Errorf("retried:\n%s", stderr.String())
			}
		})
	}
	// The same client retries a cut connection, and says so with -v.
	tries := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tries++; tries == 1 {
			cut(t, w)
		}
	}))
	defer srv.Close()
	var stderr strings.Builder
	c := &client{g: &globals{stderr: &stderr, verbose: true}, p: &profile{Endpoint: srv.URL, AccessToken: "t"}, http: &http.Client{}, retryDelay: time.Millisecond}
	if _, err := c.do(http.MethodGet, "/x", nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "retrying GET "+srv.URL+"/x in ") || !strings.Contains(stderr.String(), "(try 2 of 4): ") {
		t.Errorf("-v output lacks the retry:\n%s", stderr.String())
	}
}

// TestPostNotRepeated: a POST that reached the server is not sent again,
// whether its connection was cut or it was answered 503, since it may
// have created something (a service principal, a secret).
func TestPostNotRepeated(t *testing.T) {
	for name, answer := range map[string]func(w http.ResponseWriter){
		"cut": func(w http.ResponseWriter) { cut(t, w) },
		"503": func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) },
	} {
		t.Run(name, func(t *testing.T) {
			var tries atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tries.Add(1)
				answer(w)
			}))
			defer srv.Close()
			c := &client{g: &globals{stderr: io.Discard}, p: &profile{Endpoint: srv.URL, AccessToken: "t"}, http: srv.Client(), retryDelay: time.Millisecond}
			_, _ = c.do(http.MethodPost, "/x", []byte(`{}`))
			if got := tries.Load(); got != 1 {
				t.Errorf("POST tried %d times, want 1", got)
			}
		})
	}
}

// TestLostAnswer: when a write's first answer is lost and the write took
// effect, the retry's answer is read for what it is: a create whose
// operation is running (409 AnotherOperationInProgress) goes on with the
// resource's document, a delete that finds nothing says "deleted".
func TestLostAnswer(t *testing.T) {
	var tries atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := tries.Add(1)
		switch {
		case n == 1:
			cut(t, w) // the write is done; its answer is lost
		case r.Method == http.MethodPut:
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"error":{"code":"AnotherOperationInProgress","message":"Another operation (Create) is in progress."}}`)
		case r.Method == http.MethodGet:
			_, _ = io.WriteString(w, `{"name":"mpe1","properties":{"provisioningState":"Creating"}}`)
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	var stderr strings.Builder
	c := &client{g: &globals{stderr: &stderr}, p: &profile{Endpoint: srv.URL, AccessToken: "t"}, http: srv.Client(), retryDelay: time.Millisecond}
	r, err := c.do(http.MethodPut, "/mpe1", []byte(`{}`))
	if err == nil {
		r, err = c.afterLostPut(r, "/mpe1")
	}
	if err != nil || r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"Creating"`) {
		t.Fatalf("PUT after a lost answer: %v %+v, want the resource's document", err, r)
	}
	if !strings.Contains(stderr.String(), "the first try's answer was lost") {
		t.Errorf("stderr does not say the answer was lost: %q", stderr.String())
	}

	// Without a lost try, the same 409 stands.
	r = &response{Status: http.StatusConflict, Body: []byte(`{"error":{"code":"AnotherOperationInProgress"}}`)}
	if got, _ := c.afterLostPut(r, "/mpe1"); got != r {
		t.Errorf("a 409 with no lost try became %+v", got)
	}

	tries.Store(0)
	stderr.Reset()
	existed, err := c.remove("/mpe1", "nothing to delete", "deletion accepted", false)
	if err != nil || !existed || !strings.Contains(stderr.String(), "deleted") || strings.Contains(stderr.String(), "nothing to delete") {
		t.Errorf("DELETE after a lost answer: existed %v, %v, stderr %q; want deleted", existed, err, stderr.String())
	}
}
