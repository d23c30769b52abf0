package api

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/identity"
)

type document struct {
	Paths      map[string]map[string]operation `json:"paths"`
	Components struct {
		Schemas map[string]*schema `json:"schemas"`
	} `json:"components"`
}

type operation struct {
	Security    []map[string][]string `json:"security"`
	RequestBody *struct {
		Content map[string]struct {
			Schema *schema `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Content map[string]struct {
			Schema *schema `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

type schema struct {
	Ref        string             `json:"$ref"`
	AllOf      []*schema          `json:"allOf"`
	Properties map[string]*schema `json:"properties"`
}

func loadDocument(t *testing.T) *document {
	var doc document
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	return &doc
}

// properties are a schema's property names, through $ref and allOf.
func (d *document) properties(t *testing.T, s *schema) []string {
	if s.Ref != "" {
		ref, ok := d.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
		if !ok {
			t.Fatalf("dangling $ref %s", s.Ref)
		}
		return d.properties(t, ref)
	}
	names := slices.Collect(maps.Keys(s.Properties))
	for _, part := range s.AllOf {
		names = append(names, d.properties(t, part)...)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// jsonNames are the JSON property names encoding/json uses for typ.
func jsonNames(typ reflect.Type) []string {
	var names []string
	for f := range typ.Fields() {
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case tag == "-" || !f.IsExported():
		case f.Anonymous && tag == "":
			names = append(names, jsonNames(f.Type)...)
		case tag != "":
			names = append(names, tag)
		default:
			names = append(names, f.Name)
		}
	}
	slices.Sort(names)
	return names
}

// TestOpenAPIRoutes: the document lists exactly the routes the API serves,
// each with the scope the API demands.
func TestOpenAPIRoutes(t *testing.T) {
	doc := loadDocument(t)
	served := map[string]string{"GET /openapi.json": ""}
	for _, rt := range (&API{}).routes() {
		served[rt.pattern] = rt.scope
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			pattern := strings.ToUpper(method) + " " + path
			documented[pattern] = true
			scope, ok := served[pattern]
			if !ok {
				t.Errorf("%s is documented but not served", pattern)
				continue
			}
			var scopes []string
			for _, req := range op.Security {
				scopes = append(scopes, req["oauth2"]...)
			}
			if want := []string{scope}; scope != "" && !slices.Equal(scopes, want) {
				t.Errorf("%s: documented scopes %v, the API demands %v", pattern, scopes, want)
			}
		}
	}
	for pattern := range served {
		if !documented[pattern] {
			t.Errorf("%s is served but not documented", pattern)
		}
	}
}

// TestOpenAPITypes: the request and response schemas name the properties
// the API's JSON types read and write.
func TestOpenAPITypes(t *testing.T) {
	doc := loadDocument(t)
	body := func(pattern string) *schema {
		method, path, _ := strings.Cut(pattern, " ")
		op := doc.Paths[path][strings.ToLower(method)]
		if op.RequestBody == nil || op.RequestBody.Content["application/json"].Schema == nil {
			t.Fatalf("%s documents no JSON request body", pattern)
		}
		return op.RequestBody.Content["application/json"].Schema
	}
	response := func(pattern, status string) *schema {
		method, path, _ := strings.Cut(pattern, " ")
		s := doc.Paths[path][strings.ToLower(method)].Responses[status].Content["application/json"].Schema
		if s == nil {
			t.Fatalf("%s documents no JSON %s response", pattern, status)
		}
		return s
	}
	for name, c := range map[string]struct {
		schema *schema
		typ    any
	}{
		"POST /clients body":        {body("POST /clients"), clientBody{}},
		"PATCH /clients/{id} body":  {body("PATCH /clients/{id}"), clientBody{}},
		"POST /clients 201":         {response("POST /clients", "201"), clientWithSecret{}},
		"GET /clients/{id} 200":     {response("GET /clients/{id}", "200"), clientWithSecret{}},
		"POST /users body":          {body("POST /users"), userBody{}},
		"POST /users 201":           {response("POST /users", "201"), admin.UserView{}},
		"GET /users/{id} 200":       {response("GET /users/{id}", "200"), admin.UserView{}},
		"PUT /users/{id}/roles":     {body("PUT /users/{id}/roles"), rolesBody{}},
		"PUT /users/{id}/groups":    {body("PUT /users/{id}/groups"), groupsBody{}},
		"PUT /policies/{name} body": {body("PUT /policies/{name}"), policyBody{}},
		"error":                     {doc.Components.Schemas["Error"].Properties["error"], apiError{}},
		"POST /users/import 200":    {response("POST /users/import", "200"), importResult{}},
		"ImportRow":                 {doc.Components.Schemas["ImportRow"], importRow{}},
		"FieldChange":               {doc.Components.Schemas["FieldChange"], identity.FieldChange{}},
	} {
		got, want := doc.properties(t, c.schema), jsonNames(reflect.TypeOf(c.typ))
		if !slices.Equal(got, want) {
			t.Errorf("%s: documented properties %v, the API uses %v", name, got, want)
		}
	}
}
