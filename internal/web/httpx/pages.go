package httpx

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"

	"github.com/gatehouse/gatehouse/templates"
)

// Layout is what the shared layout and every page read; each page's view
// model embeds it and adds its own fields.
type Layout struct {
	Title, District, Domain         string
	HelpDeskURL, TroubleshootingURL string
	CSRF, Error                     string
	Notice                          string // a status line read out by screen readers
}

// Pages holds one parsed template set per page, checked at start-up so a
// missing or broken page stops the server instead of failing a user.
type Pages struct{ sets map[string]*template.Template }

// ParsePages parses templates/pages/<name>.html for each name, each inside
// the layout.
func ParsePages(names ...string) (*Pages, error) {
	layout, err := fs.ReadFile(templates.FS, "layout.html")
	if err != nil {
		return nil, err
	}
	p := &Pages{sets: map[string]*template.Template{}}
	for _, name := range names {
		t, err := template.New(name).Parse(string(layout))
		if err == nil {
			t, err = t.ParseFS(templates.FS, "pages/"+name+".html")
		}
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		p.sets[name] = t
	}
	return p, nil
}

// Render writes a page; it renders into a buffer first so a template error
// never leaves half a page behind.
func (p *Pages) Render(w http.ResponseWriter, status int, name string, view any) {
	var buf bytes.Buffer
	t, ok := p.sets[name]
	if !ok || t.ExecuteTemplate(&buf, "layout", view) != nil {
		http.Error(w, "The page could not be shown. Try again.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// Choice is one option of a radio group or list.
type Choice struct{ Value, Label string }
