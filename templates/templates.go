// Package templates embeds Gatehouse's HTML pages into the binary.
package templates

import "embed"

// FS holds layout.html and pages/*.html, and the admin console's
// admin/*.html.
//
//go:embed layout.html pages/*.html admin/*.html
var FS embed.FS
