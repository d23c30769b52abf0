package oauth

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/url"
)

// formPostScript submits the form_post page at once; the page allows this
// one script by its hash, so no other script can run there.
const formPostScript = `document.forms[0].submit()`

// FormPostTemplate renders the OAuth 2.0 Form Post Response Mode page: the
// parameters (code or error, state, iss) as hidden fields posted to the
// application's redirect URI, with a button for browsers without scripts.
var FormPostTemplate = template.Must(template.New("form_post").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Returning to the application</title></head>
<body>
<form method="post" action="{{.RedirURL}}">
{{range $key, $values := .Parameters}}{{range $values}}<input type="hidden" name="{{$key}}" value="{{.}}">
{{end}}{{end}}<noscript><p>Choose Continue to return to the application.</p><button type="submit">Continue</button></noscript>
</form>
<script>` + formPostScript + `</script>
</body>
</html>
`))

var formPostScriptHash = func() string {
	sum := sha256.Sum256([]byte(formPostScript))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// FormPostCSP is the Content-Security-Policy of a form_post page: its one
// script, and a form that may post only to the application's redirect URI.
func FormPostCSP(redirectURI *url.URL) string {
	return "default-src 'none'; script-src " + formPostScriptHash + "; form-action " + Origin(redirectURI) +
		"; frame-ancestors 'none'; base-uri 'none'"
}

// Origin is the CSP source expression of u's origin (scheme, host and port).
func Origin(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
}
