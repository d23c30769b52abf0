package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/store"
)

// The audit log: admins only (the service checks).

const (
	auditPageSize  = 200
	auditExportMax = 1000 // the most the store returns at once
)

var errBadDate = errors.New("dates must look like 2026-09-01")

type auditFilter struct {
	User, Type, Since, Until string
}

func (f auditFilter) query() string {
	return url.Values{"user": {f.User}, "type": {f.Type}, "since": {f.Since}, "until": {f.Until}}.Encode()
}

type auditRow struct {
	audit.Event
	Actor, Subject, Client string // names, where they are known
	Details                string
	Summary                string // the start of long details, which open on demand
}

type auditPage struct {
	Filter auditFilter
	Rows   []auditRow
	Export string
	Capped bool // more events match than are shown
}

// readFilter turns the form into a filter. Dates are whole UTC days, until
// included.
func (c *Console) readFilter(q *request, limit int) (auditFilter, audit.Filter, error) {
	v := q.r.URL.Query()
	f := auditFilter{User: strings.TrimSpace(v.Get("user")), Type: strings.TrimSpace(v.Get("type")),
		Since: v.Get("since"), Until: v.Get("until")}
	af := audit.Filter{Type: f.Type, Limit: limit}
	for _, d := range []struct {
		raw  string
		dst  *time.Time
		days int
	}{{f.Since, &af.Since, 0}, {f.Until, &af.Until, 1}} {
		if d.raw == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, d.raw)
		if err != nil {
			return f, af, errBadDate
		}
		*d.dst = t.AddDate(0, 0, d.days)
	}
	if f.User != "" {
		af.SubjectID = f.User
		// A username or ID of someone who still exists; otherwise the raw
		// value, which finds a deleted person's events by their ID.
		if u, err := c.svc.GetUser(q.r.Context(), q.actor, f.User); err == nil {
			af.SubjectID = u.ID
		} else if !errors.Is(err, store.ErrNotFound) {
			return f, af, err
		}
	}
	return f, af, nil
}

func (c *Console) auditPage(q *request) {
	f, af, err := c.readFilter(q, auditPageSize+1)
	p := auditPage{Filter: f, Export: Prefix + "/audit/export?" + f.query()}
	v := c.view(q, "Audit log", &p)
	switch {
	case errors.Is(err, errBadDate):
		v.Error = "Dates must look like 2026-09-01."
		c.render(q.w, http.StatusUnprocessableEntity, "audit", v)
		return
	case err != nil:
		c.serviceError(q, "user", err)
		return
	}
	events, err := c.svc.AuditEvents(q.r.Context(), q.actor, af)
	if err != nil {
		c.serviceError(q, "user", err)
		return
	}
	if len(events) > auditPageSize {
		events, p.Capped = events[:auditPageSize], true
	}
	p.Rows = c.describe(q, events)
	c.render(q.w, http.StatusOK, "audit", v)
}

// describe names the people and applications in events, looking each up
// once.
func (c *Console) describe(q *request, events []audit.Event) []auditRow {
	ctx := q.r.Context()
	people := map[string]string{"": "", "cli": "Server CLI"}
	person := func(id string) string {
		if name, ok := people[id]; ok {
			return name
		}
		name := id
		if u, err := c.svc.GetUser(ctx, q.actor, id); err == nil {
			name = strings.TrimSuffix(u.Username, "@"+c.svc.Users.Domain())
		}
		people[id] = name
		return name
	}
	apps := map[string]string{}
	if list, err := c.svc.ListClients(ctx, q.actor); err == nil {
		for _, cl := range list {
			apps[cl.ID] = cl.Name
		}
	}
	app := func(id string) string {
		if name, ok := apps[id]; ok {
			return name
		}
		return id
	}
	rows := make([]auditRow, len(events))
	for i, e := range events {
		var actor string
		if id, ok := strings.CutPrefix(e.ActorID, "client:"); ok {
			actor = "App " + app(id)
		} else {
			actor = person(e.ActorID)
		}
		rows[i] = auditRow{Event: e, Actor: actor, Subject: person(e.SubjectID), Client: app(e.ClientID), Details: details(e.Details)}
		if r := []rune(rows[i].Details); len(r) > 80 {
			rows[i].Summary = string(r[:60]) + "…"
		}
	}
	return rows
}

func details(d map[string]string) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + d[k]
	}
	return strings.Join(parts, "; ")
}

// auditExport writes the filtered events as CSV, with the JSON API's columns.
func (c *Console) auditExport(q *request) {
	var events []audit.Event
	_, af, err := c.readFilter(q, auditExportMax)
	if errors.Is(err, errBadDate) {
		c.failFor(q, http.StatusBadRequest, "Export not valid", "Dates must look like 2026-09-01.", nil)
		return
	}
	if err == nil {
		events, err = c.svc.AuditEvents(q.r.Context(), q.actor, af)
	}
	if err != nil {
		c.serviceError(q, "user", err)
		return
	}
	w := q.w
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="gatehouse-audit-%s.csv"`, time.Now().UTC().Format("20060102-1504")))
	if err := audit.WriteCSV(w, events); err != nil {
		c.logger.Error("console: audit export", "err", err)
	}
}
