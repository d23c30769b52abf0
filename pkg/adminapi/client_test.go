package adminapi_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/pkg/adminapi"
)

// TestErrors: every answer but success is an *Error with the status it
// came with; a 5xx, from the API or a proxy before it, is never "not
// found", and a 503 says when to retry.
func TestErrors(t *testing.T) {
	for _, c := range []struct {
		name      string
		status    int
		header    http.Header
		body      string
		want      adminapi.Error
		notFound  bool
		temporary bool
	}{
		{name: "not found", status: 404, body: `{"error":{"code":"not_found","message":"No such user."}}`,
			want: adminapi.Error{Status: 404, Code: "not_found", Message: "No such user."}, notFound: true},
		{name: "invalid", status: 422, body: `{"error":{"code":"invalid","message":"The request was not valid.","problems":["a","b"]}}`,
			want: adminapi.Error{Status: 422, Code: "invalid", Message: "The request was not valid.", Problems: []string{"a", "b"}}},
		{name: "storage down", status: 503, header: http.Header{"Retry-After": {"5"}},
			body: `{"error":{"code":"unavailable","message":"Try again."}}`,
			want: adminapi.Error{Status: 503, Code: "unavailable", Message: "Try again.", RetryAfter: 5 * time.Second}, temporary: true},
		{name: "a proxy's page", status: 502, body: "<html>Bad Gateway</html>",
			want: adminapi.Error{Status: 502, Message: "Bad Gateway"}, temporary: true},
		{name: "a 404 page from a proxy", status: 404, body: "<html>nope</html>",
			want: adminapi.Error{Status: 404, Message: "Not Found"}, notFound: true},
		{name: "internal", status: 500, body: `{"error":{"code":"internal","message":"Something went wrong; try again."}}`,
			want: adminapi.Error{Status: 500, Code: "internal", Message: "Something went wrong; try again."}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				for k, v := range c.header {
					w.Header()[k] = v
				}
				w.WriteHeader(c.status)
				w.Write([]byte(c.body))
			}))
			defer srv.Close()
			_, err := (&adminapi.Client{BaseURL: srv.URL, HTTPClient: srv.Client()}).GetUser(t.Context(), "jdoe")
			var e *adminapi.Error
			if !errors.As(err, &e) {
				t.Fatalf("%v is no *Error", err)
			}
			if e.Status != c.want.Status || e.Code != c.want.Code || e.Message != c.want.Message ||
				strings.Join(e.Problems, ",") != strings.Join(c.want.Problems, ",") || e.RetryAfter != c.want.RetryAfter {
				t.Errorf("got %+v, want %+v", *e, c.want)
			}
			if adminapi.IsNotFound(err) != c.notFound || e.Temporary() != c.temporary {
				t.Errorf("IsNotFound %v, Temporary %v", adminapi.IsNotFound(err), e.Temporary())
			}
		})
	}
}

// TestTokenRefusal: a token endpoint that refuses the client's credentials,
// or cannot answer, is an *Error too, and the API is never called.
func TestTokenRefusal(t *testing.T) {
	called := false
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		if id, _, _ := r.BasicAuth(); id == "busy" {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":"temporarily_unavailable","error_description":"retry in a moment"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":"invalid_client","error_description":"Client authentication failed"}`))
	})
	mux.HandleFunc(adminapi.Prefix+"/", func(http.ResponseWriter, *http.Request) { called = true })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for id, want := range map[string]adminapi.Error{
		"sync": {Status: 401, Code: "invalid_client"},
		"busy": {Status: 503, Code: "temporarily_unavailable", RetryAfter: time.Second},
	} {
		api := adminapi.New(adminapi.Config{BaseURL: srv.URL, ClientID: id, ClientSecret: "wrong", HTTPClient: srv.Client()})
		_, err := api.ListUsers(t.Context(), adminapi.UserQuery{})
		var e *adminapi.Error
		if !errors.As(err, &e) || e.Status != want.Status || e.Code != want.Code || e.RetryAfter != want.RetryAfter {
			t.Errorf("%s: %v; want %+v", id, err, want)
		}
	}
	if called {
		t.Error("the API was called without a token")
	}
}
