package api

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/pkg/adminapi"
)

type document struct {
	Paths      map[string]map[string]operation `json:"paths"`
	Components struct {
		Schemas map[string]*schema `json:"schemas"`
	} `json:"components"`
}

type content map[string]struct {
	Schema *schema `json:"schema"`
}

type operation struct {
	Parameters  []parameter           `json:"parameters"`
	Security    []map[string][]string `json:"security"`
	RequestBody *struct {
		Content content `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Content content `json:"content"`
	} `json:"responses"`
}

type parameter struct {
	Name string `json:"name"`
	In   string `json:"in"` // query, path
}

type schema struct {
	Ref                  string             `json:"$ref"`
	Type                 types              `json:"type"`
	Format               string             `json:"format"`
	Enum                 []any              `json:"enum"`
	Items                *schema            `json:"items"`
	Properties           map[string]*schema `json:"properties"`
	AdditionalProperties *schema            `json:"additionalProperties"`
	OneOf                []*schema          `json:"oneOf"`
}

// types is a schema's type: one name, or (OpenAPI 3.1) a list of them.
type types []string

func (t *types) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*t = types{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(t))
}

func loadDocument(t *testing.T) *document {
	var doc document
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	return &doc
}

// wireTypes are the document's schemas, by name, and the pkg/adminapi type
// each describes.
var wireTypes = map[string]reflect.Type{
	"Error":              reflect.TypeFor[adminapi.ErrorBody](),
	"ClientInput":        reflect.TypeFor[adminapi.ApplicationInput](),
	"Client":             reflect.TypeFor[adminapi.Application](),
	"ClientList":         reflect.TypeFor[adminapi.ApplicationList](),
	"RotatedSecret":      reflect.TypeFor[adminapi.RotatedSecret](),
	"UserInput":          reflect.TypeFor[adminapi.UserInput](),
	"User":               reflect.TypeFor[adminapi.User](),
	"UserList":           reflect.TypeFor[adminapi.UserList](),
	"RolesInput":         reflect.TypeFor[adminapi.RolesInput](),
	"GroupsInput":        reflect.TypeFor[adminapi.GroupsInput](),
	"TemporaryPassword":  reflect.TypeFor[adminapi.TemporaryPassword](),
	"AccessCode":         reflect.TypeFor[adminapi.AccessCode](),
	"ImportResult":       reflect.TypeFor[adminapi.ImportResult](),
	"ImportRow":          reflect.TypeFor[adminapi.ImportRow](),
	"FieldChange":        reflect.TypeFor[adminapi.FieldChange](),
	"AuditEvent":         reflect.TypeFor[adminapi.AuditEvent](),
	"AuditList":          reflect.TypeFor[adminapi.AuditList](),
	"PolicySettings":     reflect.TypeFor[adminapi.PolicySettings](),
	"Grace":              reflect.TypeFor[adminapi.Grace](),
	"Limits":             reflect.TypeFor[adminapi.Limits](),
	"SSPR":               reflect.TypeFor[adminapi.SSPR](),
	"PolicyInput":        reflect.TypeFor[adminapi.PolicyInput](),
	"Policy":             reflect.TypeFor[adminapi.Policy](),
	"PolicyList":         reflect.TypeFor[adminapi.PolicyList](),
	"PolicyVersion":      reflect.TypeFor[adminapi.PolicyVersion](),
	"PolicyChange":       reflect.TypeFor[adminapi.PolicyChange](),
	"PolicyVersionList":  reflect.TypeFor[adminapi.PolicyVersionList](),
	"EffectivePolicy":    reflect.TypeFor[adminapi.EffectivePolicy](),
	"GroupReport":        reflect.TypeFor[adminapi.GroupReport](),
	"RegistrationReport": reflect.TypeFor[adminapi.RegistrationReport](),
}

// exchange is what one route reads and answers, by schema name.
type exchange struct {
	body     string // "" for none, "csv" for a CSV file
	status   string
	response string // "" for no body
}

var exchanges = map[string]exchange{
	"GET /clients":                     {"", "200", "ClientList"},
	"POST /clients":                    {"ClientInput", "201", "Client"},
	"GET /clients/{id}":                {"", "200", "Client"},
	"PATCH /clients/{id}":              {"ClientInput", "200", "Client"},
	"DELETE /clients/{id}":             {"", "204", ""},
	"POST /clients/{id}/rotate-secret": {"", "200", "RotatedSecret"},
	"POST /clients/{id}/disable":       {"", "204", ""},
	"POST /clients/{id}/enable":        {"", "204", ""},
	"GET /users":                       {"", "200", "UserList"},
	"POST /users":                      {"UserInput", "201", "User"},
	"POST /users/import":               {"csv", "200", "ImportResult"},
	"GET /users/{id}":                  {"", "200", "User"},
	"DELETE /users/{id}":               {"", "204", ""},
	"PUT /users/{id}/roles":            {"RolesInput", "200", "User"},
	"PUT /users/{id}/groups":           {"GroupsInput", "200", "User"},
	"GET /users/{id}/policy":           {"", "200", "EffectivePolicy"},
	"POST /users/{id}/disable":         {"", "204", ""},
	"POST /users/{id}/enable":          {"", "204", ""},
	"POST /users/{id}/reset-password":  {"", "200", "TemporaryPassword"},
	"POST /users/{id}/reset-methods":   {"", "204", ""},
	"POST /users/{id}/revoke-sessions": {"", "204", ""},
	"POST /users/{id}/unlock":          {"", "204", ""},
	"POST /users/{id}/access-code":     {"", "200", "AccessCode"},
	"GET /audit":                       {"", "200", "AuditList"},
	"GET /policies":                    {"", "200", "PolicyList"},
	"PUT /policies/{name}":             {"PolicyInput", "200", "Policy"},
	"DELETE /policies/{name}":          {"", "204", ""},
	"GET /policies/{name}/versions":    {"", "200", "PolicyVersionList"},
	"GET /reports/registration":        {"", "200", "RegistrationReport"},
}

// TestOpenAPIRoutes: the document lists exactly the routes adminapi.Routes
// names, each with the scope it names, and the API serves exactly those.
func TestOpenAPIRoutes(t *testing.T) {
	doc := loadDocument(t)
	scopes := map[string]string{}
	for _, rt := range adminapi.Routes() {
		scopes[rt.Pattern()] = rt.Scope
	}
	served := slices.Sorted(maps.Keys((&API{}).handlers()))
	if routes := slices.Sorted(maps.Keys(scopes)); !slices.Equal(served, routes) {
		t.Errorf("the API serves %v,\nadminapi.Routes lists %v", served, routes)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			pattern := strings.ToUpper(method) + " " + path
			documented[pattern] = true
			if pattern == "GET /openapi.json" {
				continue
			}
			scope, ok := scopes[pattern]
			if !ok {
				t.Errorf("%s is documented but not in adminapi.Routes", pattern)
				continue
			}
			var got []string
			for _, req := range op.Security {
				got = append(got, req["oauth2"]...)
			}
			if !slices.Equal(got, []string{scope}) {
				t.Errorf("%s: documented scopes %v, adminapi.Routes says %s", pattern, got, scope)
			}
		}
	}
	for pattern := range scopes {
		if !documented[pattern] {
			t.Errorf("%s is in adminapi.Routes but not documented", pattern)
		}
	}
}

// TestOpenAPITypes: every schema of the document describes a type of
// pkg/adminapi property for property, with the JSON type encoding/json
// gives each field; every route reads and answers the schemas it should;
// every error answer is an Error.
func TestOpenAPITypes(t *testing.T) {
	doc := loadDocument(t)
	for name := range doc.Components.Schemas {
		if wireTypes[name] == nil {
			t.Errorf("schema %s describes no adminapi type", name)
		}
	}
	for name, typ := range wireTypes {
		s, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("%s (adminapi.%s) is not documented", name, typ.Name())
			continue
		}
		doc.match(t, name, s, typ)
	}
	if len(exchanges) != len(adminapi.Routes()) {
		t.Errorf("exchanges lists %d routes, adminapi.Routes %d", len(exchanges), len(adminapi.Routes()))
	}
	for _, rt := range adminapi.Routes() {
		pattern := rt.Pattern()
		want, ok := exchanges[pattern]
		if !ok {
			t.Errorf("%s: no exchange listed", pattern)
			continue
		}
		op := doc.Paths[rt.Path][strings.ToLower(rt.Method)]
		var body string
		if op.RequestBody != nil {
			body = refName(op.RequestBody.Content, "application/json")
			if _, ok := op.RequestBody.Content["text/csv"]; ok {
				body = "csv"
			}
		}
		if body != want.body {
			t.Errorf("%s: documented body %q, want %q", pattern, body, want.body)
		}
		resp, ok := op.Responses[want.status]
		if !ok {
			t.Errorf("%s: no %s answer documented", pattern, want.status)
		}
		if got := refName(resp.Content, "application/json"); got != want.response {
			t.Errorf("%s: documented %s answer %q, want %q", pattern, want.status, got, want.response)
		}
		for status, r := range op.Responses {
			if status[0] != '4' && status[0] != '5' {
				continue
			}
			got := refName(r.Content, "application/json")
			if pattern == "POST /users/import" && status == "422" {
				// Rows rejected: the rows say why; an unreadable file: an Error.
				s := r.Content["application/json"].Schema
				if s == nil || len(s.OneOf) != 2 || s.OneOf[0].Ref != ref("ImportResult") || s.OneOf[1].Ref != ref("Error") {
					t.Errorf("%s 422: want oneOf ImportResult, Error", pattern)
				}
				continue
			}
			if got != "Error" {
				t.Errorf("%s: documented %s answer %q, want Error", pattern, status, got)
			}
		}
		if _, ok := op.Responses["503"]; !ok {
			t.Errorf("%s: no 503 documented", pattern)
		}
	}
}

func ref(name string) string { return "#/components/schemas/" + name }

// refName is the schema name a content type refers to, "" when it has
// none; a schema given inline would escape TestOpenAPITypes, so it is
// "inline".
func refName(c content, mediaType string) string {
	s := c[mediaType].Schema
	switch {
	case s == nil:
		return ""
	case s.Ref == "":
		return "inline"
	}
	return strings.TrimPrefix(s.Ref, ref(""))
}

var timeType = reflect.TypeFor[time.Time]()

// match checks that s describes typ as encoding/json writes and reads it;
// a $ref must name the schema of typ.
func (d *document) match(t *testing.T, where string, s *schema, typ reflect.Type) {
	t.Helper()
	if s.Ref != "" {
		name := strings.TrimPrefix(s.Ref, ref(""))
		if wireTypes[name] != typ {
			t.Errorf("%s: refers to %s, but is adminapi.%s", where, name, typ.Name())
		}
		return
	}
	nullable := typ.Kind() == reflect.Pointer
	if nullable {
		typ = typ.Elem()
	}
	want := jsonType(typ)
	var got []string
	for _, ty := range s.Type {
		if ty != "null" {
			got = append(got, ty)
		}
	}
	if len(got) == 0 && s.Enum != nil {
		got = []string{enumType(s.Enum)}
	}
	if len(got) != 1 || got[0] != want {
		t.Errorf("%s: documented type %v, adminapi's %s is %s", where, s.Type, typ, want)
		return
	}
	if slices.Contains(s.Type, "null") && !nullable {
		t.Errorf("%s: documented as nullable, but %s never is null", where, typ)
	}
	if typ == timeType && s.Format != "date-time" {
		t.Errorf("%s: a time without format date-time", where)
	}
	switch {
	case typ == reflect.TypeFor[json.RawMessage]():
		// Any JSON object, as given (an inline JWKS).
	case typ.Kind() == reflect.Slice:
		if s.Items == nil {
			t.Errorf("%s: an array without items", where)
			return
		}
		d.match(t, where+"[]", s.Items, typ.Elem())
	case typ.Kind() == reflect.Map:
		if s.AdditionalProperties == nil {
			t.Errorf("%s: a map without additionalProperties", where)
			return
		}
		d.match(t, where+"{}", s.AdditionalProperties, typ.Elem())
	case typ.Kind() == reflect.Struct && typ != timeType:
		fields := jsonFields(typ)
		got, want := slices.Sorted(maps.Keys(s.Properties)), slices.Sorted(maps.Keys(fields))
		if !slices.Equal(got, want) {
			t.Errorf("%s: documented properties %v, adminapi.%s has %v", where, got, typ.Name(), want)
		}
		for name, prop := range s.Properties {
			if f, ok := fields[name]; ok {
				d.match(t, where+"."+name, prop, f)
			}
		}
	}
}

// jsonType is the JSON type encoding/json writes typ as.
func jsonType(typ reflect.Type) string {
	switch {
	case typ == timeType:
		return "string"
	case typ == reflect.TypeFor[json.RawMessage]():
		return "object"
	}
	switch typ.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return typ.Kind().String()
}

// enumType is the JSON type of an enum's values, "mixed" when they differ.
func enumType(values []any) string {
	kinds := map[string]bool{}
	for _, v := range values {
		switch v.(type) {
		case string:
			kinds["string"] = true
		case float64:
			kinds["integer"] = true
		case bool:
			kinds["boolean"] = true
		default:
			kinds["other"] = true
		}
	}
	if len(kinds) != 1 {
		return "mixed"
	}
	for k := range kinds {
		return k
	}
	return ""
}

// jsonFields are the JSON properties encoding/json uses for a struct, with
// their types; embedded structs' fields are the struct's own.
func jsonFields(typ reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range typ.Fields() {
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case tag == "-" || !f.IsExported():
		case f.Anonymous && tag == "":
			maps.Copy(out, jsonFields(f.Type))
		case tag != "":
			out[tag] = f.Type
		default:
			out[f.Name] = f.Type
		}
	}
	return out
}
