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
	w := &layoutWalk{seen: map[string]bool{}}
	for {
		var err error
		switch z.Next() {
		case html.ErrorToken:
			return w.finish(z.Err())
		case html.StartTagToken:
			name, _ := z.TagName()
			err = w.start(string(name))
		case html.EndTagToken:
			name, _ := z.TagName()
			err = w.end(string(name))
		case html.TextToken:
			w.text(z.Text())
		}
		if err != nil {
			return err
		}
	}
}

// layoutWalk is what CheckLayout has read of a page so far.
type layoutWalk struct {
	open              []string
	seen              map[string]bool
	title, header     strings.Builder
	inTitle, inHeader bool
}

func (w *layoutWalk) start(tag string) error {
	if w.seen[tag] && slices.Contains(layoutElements, tag) {
		return errors.New("a second <" + tag + ">")
	}
	w.seen[tag] = true
	if !slices.Contains(voidElements, tag) {
		w.open = append(w.open, tag)
	}
	w.inTitle = w.inTitle || tag == "title"
	w.inHeader = w.inHeader || tag == "header"
	if tag == "main" && !slices.Equal(w.open, []string{"html", "body", "main"}) {
		return errors.New("main is not the body's: " + strings.Join(w.open, " > "))
	}
	return nil
}

func (w *layoutWalk) end(tag string) error {
	if len(w.open) == 0 || w.open[len(w.open)-1] != tag {
		return errors.New("</" + tag + "> closes nothing open; open: " + strings.Join(w.open, " > "))
	}
	w.open = w.open[:len(w.open)-1]
	w.inTitle = w.inTitle && tag != "title"
	w.inHeader = w.inHeader && tag != "header"
	return nil
}

func (w *layoutWalk) text(b []byte) {
	if w.inTitle {
		w.title.Write(b)
	}
	if w.inHeader {
		w.header.Write(b)
	}
}

// finish checks the page as a whole once the tokenizer stopped with err.
func (w *layoutWalk) finish(err error) error {
	if !errors.Is(err, io.EOF) {
		return err
	}
	if len(w.open) > 0 {
		return errors.New("elements left open: " + strings.Join(w.open, " > "))
	}
	return layoutParts(w.seen, w.title.String(), w.header.String())
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
