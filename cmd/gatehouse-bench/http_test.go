package main

import (
	"net/url"
	"testing"
)

func TestCallback(t *testing.T) {
	const app, iss = "http://127.0.0.1:18099/callback", "http://op.example"
	at := func(raw string) *url.URL { u, _ := url.Parse(raw); return u }
	for _, tc := range []struct {
		name     string
		p        page
		wantCode string
		wantKind string
	}{
		{"code", page{Status: 303, URL: at(iss + "/oauth2/authorize"), Location: app + "?code=c1&state=s&iss=" + url.QueryEscape(iss)}, "c1", ""},
		{"no iss is fine", page{Status: 302, URL: at(iss + "/oauth2/auth"), Location: app + "?code=c2&state=s"}, "c2", ""},
		{"error to the app", page{Status: 303, URL: at(iss + "/oauth2/authorize"), Location: app + "?error=access_denied&state=s"}, "", "authorize_access_denied"},
		{"provider error page", page{Status: 502, URL: at("http://127.0.0.1:14446/error?error=request_forbidden&error_description=x")}, "", "authorize_request_forbidden"},
		{"wrong state", page{Status: 303, URL: at(iss), Location: app + "?code=c&state=other"}, "", "state"},
		{"wrong iss", page{Status: 303, URL: at(iss), Location: app + "?code=c&state=s&iss=http://evil.example"}, "", "iss"},
		{"server error", page{Status: 503, URL: at(iss + "/login/password")}, "", "http_503"},
		{"a sign-in page", page{Status: 200, URL: at(iss + "/login/username")}, "", "page"},
	} {
		code, err := callback(&tc.p, app, "s", iss)
		if code != tc.wantCode || (err == nil) != (tc.wantKind == "") || err != nil && errorKind(err) != tc.wantKind {
			t.Errorf("%s: code %q, err %v; want %q, kind %q", tc.name, code, err, tc.wantCode, tc.wantKind)
		}
	}
}
