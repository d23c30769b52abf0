package webtest

import (
	"strings"
	"testing"
)

func TestCheckLayout(t *testing.T) {
	page := func(content string) string {
		return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in – ` + District + `</title></head>` +
			`<body><main><header><p>` + District + `</p></header>` + content + `</main></body></html>`
	}
	if err := CheckLayout(page(`<form method="post" action="/x"><input type="text" name="a" required><button>Go</button></form>`)); err != nil {
		t.Errorf("a good page: %v", err)
	}
	for name, body := range map[string]string{
		"unclosed element":   page(`<div><p>text</div>`),
		"stray end tag":      page(`</form>`),
		"truncated":          strings.TrimSuffix(page(""), "</main></body></html>"),
		"no layout":          `<html><head><title>x</title></head><body><p>x</p></body></html>`,
		"another district":   strings.ReplaceAll(page(""), District, "Another District"),
		"content after main": strings.Replace(page(""), "</main>", "</main><main></main>", 1),
	} {
		if err := CheckLayout(body); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
