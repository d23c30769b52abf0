package wording

import (
	"html/template"
	"net/url"
	"strings"
)

// RecoveryCodes is the page that shows a new set of recovery codes, the
// only time they are shown: from registration and from My Account.
type RecoveryCodes struct {
	Codes []string
	// Download is the codes as a text file in a data: URL, so saving them
	// needs no script and no second request: the server keeps no copy to
	// serve one from.
	Download template.URL
	FileName string
	// Done continues: a POST to DoneAction with DoneField=DoneValue (the
	// registration step) or a link to DoneLink (My Account).
	DoneAction, DoneField, DoneValue string
	DoneLink                         string
}

// NewRecoveryCodes words a new set of codes for the person signed in as
// username in district.
func NewRecoveryCodes(codes []string, district, username string) *RecoveryCodes {
	var b strings.Builder
	b.WriteString("Recovery codes for " + username + " (" + district + ")\r\n\r\n")
	b.WriteString("Each code works once. At the sign-in code page, choose Sign in another way,\r\n")
	b.WriteString("then Use a recovery code. Keep this file somewhere safe, away from your phone.\r\n\r\n")
	for _, c := range codes {
		b.WriteString(c + "\r\n")
	}
	return &RecoveryCodes{Codes: codes, FileName: "recovery-codes.txt",
		Download: template.URL("data:text/plain;charset=utf-8," + url.PathEscape(b.String()))}
}
