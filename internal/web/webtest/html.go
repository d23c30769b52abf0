package webtest

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// checkPage fails t unless p is an HTML page in Gatehouse's layout.
func checkPage(t testing.TB, p *Page) {
	t.Helper()
	if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("%s: %d with Content-Type %q, want an HTML page:\n%s", p.URL, p.Status, ct, p.Body)
		return
	}
	if err := CheckLayout(p.Body); err != nil {
		t.Errorf("%s: %d: %v:\n%s", p.URL, p.Status, err, p.Body)
	}
}

// layoutElements are the layout's, each once on a page.
var layoutElements = []string{"html", "head", "title", "body", "main", "header"}

// voidElements have no end tag.
var voidElements = []string{"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

// CheckLayout reports why body is not a well-formed page in the layout:
// every element closed in order, the title and header naming the district,
// and the page's content inside main.
func CheckLayout(body string) error {
	z := html.NewTokenizer(strings.NewReader(body))
	var open []string
	seen := map[string]bool{}
	var title, header strings.Builder
	inTitle, inHeader := false, false
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if err := z.Err(); !errors.Is(err, io.EOF) {
				return err
			}
			if len(open) > 0 {
				return errors.New("elements left open: " + strings.Join(open, " > "))
			}
			return layoutParts(seen, title.String(), header.String())
		case html.StartTagToken:
			name, _ := z.TagName()
			tag := string(name)
			if seen[tag] && slices.Contains(layoutElements, tag) {
				return errors.New("a second <" + tag + ">")
			}
			seen[tag] = true
			if !slices.Contains(voidElements, tag) {
				open = append(open, tag)
			}
			inTitle = inTitle || tag == "title"
			inHeader = inHeader || tag == "header"
			if tag == "main" && !slices.Equal(open, []string{"html", "body", "main"}) {
				return errors.New("main is not the body's: " + strings.Join(open, " > "))
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			tag := string(name)
			if len(open) == 0 || open[len(open)-1] != tag {
				return errors.New("</" + tag + "> closes nothing open; open: " + strings.Join(open, " > "))
			}
			open = open[:len(open)-1]
			inTitle = inTitle && tag != "title"
			inHeader = inHeader && tag != "header"
		case html.TextToken:
			if inTitle {
				title.Write(z.Text())
			}
			if inHeader {
				header.Write(z.Text())
			}
		}
	}
}

func layoutParts(seen map[string]bool, title, header string) error {
	for _, tag := range layoutElements {
		if !seen[tag] {
			return errors.New("no <" + tag + ">: not in the layout")
		}
	}
	if !strings.HasSuffix(title, " – "+District) {
		return errors.New("title " + title + " does not name the district")
	}
	if strings.TrimSpace(header) != District {
		return errors.New("header " + header + " is not the district's")
	}
	return nil
}
