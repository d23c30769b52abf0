package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Revision is one saved version of a policy, or its deletion.
type Revision struct {
	Record
	Deleted bool `json:"deleted"`
}

// Change is one setting that differs between two versions, as the JSON
// path of its field (grace.days, sspr.enabled) and its values.
type Change struct {
	Field  string `json:"field"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// Changes lists what differs from before to after: priority, groups and
// every setting, in field order.
func Changes(before, after Record) []Change {
	b, a := flatten(before), flatten(after)
	fields := make([]string, 0, len(a))
	for f := range a {
		fields = append(fields, f)
	}
	for f := range b {
		if _, ok := a[f]; !ok {
			fields = append(fields, f)
		}
	}
	slices.Sort(fields)
	out := []Change{}
	for _, f := range fields {
		if b[f] != a[f] {
			out = append(out, Change{Field: f, Before: b[f], After: a[f]})
		}
	}
	return out
}

// flatten renders a record's priority, groups and settings as field path
// to value: lists joined with commas, dates as RFC 3339.
func flatten(r Record) map[string]string {
	out := map[string]string{"priority": fmt.Sprint(r.Priority), "groups": strings.Join(r.Groups, ", ")}
	raw, _ := json.Marshal(r.Policy) // a Policy always marshals
	// Numbers keep their text: 1000000, not float64's 1e+06.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var settings map[string]any
	_ = dec.Decode(&settings)
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, sub := range v {
				walk(prefix+k+".", sub)
			}
		case []any:
			parts := make([]string, len(v))
			for i, e := range v {
				parts[i] = fmt.Sprint(e)
			}
			out[strings.TrimSuffix(prefix, ".")] = strings.Join(parts, ", ")
		default:
			out[strings.TrimSuffix(prefix, ".")] = fmt.Sprint(v)
		}
	}
	walk("", settings)
	return out
}
