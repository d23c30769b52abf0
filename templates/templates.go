// Package templates embeds Gatehouse's HTML pages into the binary.
package templates

import "embed"

// FS holds layout.html and pages/*.html.
//
//go:embed layout.html pages/*.html
var FS embed.FS
