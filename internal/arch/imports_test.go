package arch_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/gatehouse/gatehouse/"

// imports maps each package of the module (its path under the module) to
// the module's packages its non-test files import.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		for _, spec := range f.Imports {
			p, _ := strconv.Unquote(spec.Path.Value)
			if strings.HasPrefix(p, module) {
				out[pkg] = append(out[pkg], strings.TrimPrefix(p, module))
			}
		}
		if _, ok := out[pkg]; !ok {
			out[pkg] = nil
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func under(pkg, dir string) bool { return pkg == dir || strings.HasPrefix(pkg, dir+"/") }

// layer names where a package sits; "" for the domain.
func layer(pkg string) string {
	for _, l := range []string{"cmd", "pkg", "internal/app", "internal/web", "internal/admin", "internal/store", "internal/testenv", "internal/demorp"} {
		if under(pkg, l) {
			return l
		}
	}
	return ""
}

// allowed reports whether a package in layer from may import one in to.
func allowed(from, to, target string) bool {
	switch to {
	case "internal/app":
		return from == "cmd"
	case "internal/web":
		// The console shares only the base of the browser pages.
		return from == "cmd" || from == "internal/app" || from == "internal/web" || from == "internal/admin" && target == "internal/web/httpx"
	case "internal/admin":
		return from == "cmd" || from == "internal/app" || from == "internal/admin"
	case "cmd":
		return false
	case "internal/demorp":
		return from == "cmd" || from == "internal/app"
	}
	return true
}

// TestImportsGoOneWay checks every import of the module's own packages
// against the layers.
func TestImportsGoOneWay(t *testing.T) {
	for pkg, deps := range imports(t) {
		from := layer(pkg)
		for _, dep := range deps {
			to := layer(dep)
			switch {
			case testSupport(dep) && !testSupport(pkg):
				t.Errorf("%s imports %s, which exists for tests only", pkg, dep)
			case testSupport(pkg):
				// Test support stands outside the layers, as tests do.
			case from == "pkg" && strings.HasPrefix(dep, "internal/"):
				t.Errorf("%s imports %s: pkg/ must be usable without internal/", pkg, dep)
			case from == "internal/store" && to == "" && dep != "internal/store" && serviceOnly(dep):
				t.Errorf("%s imports %s: a store must not depend on a domain service", pkg, dep)
			case !allowed(from, to, dep):
				t.Errorf("%s (%s) imports %s (%s)", pkg, name(from), dep, name(to))
			}
		}
	}
}

// testSupport reports whether pkg exists for tests only (testenv,
// webtest, storetest, kvtest …).
func testSupport(pkg string) bool {
	return pkg == "internal/testenv" || strings.HasSuffix(pkg, "test")
}

// serviceOnly are domain packages that hold services and no types a store
// could need.
func serviceOnly(dep string) bool {
	switch dep {
	case "internal/lockout", "internal/session", "internal/flow", "internal/delivery", "internal/metrics":
		return true
	}
	return false
}

func name(layer string) string {
	if layer == "" {
		return "domain"
	}
	return layer
}

// TestLayersSeeEveryPackage guards the test itself: it must find the
// packages it judges.
func TestLayersSeeEveryPackage(t *testing.T) {
	got := imports(t)
	for _, want := range []string{"cmd/gatehouse", "internal/app", "internal/web/signin", "internal/identity", "internal/store/sqlstore", "pkg/assurance", "pkg/rp", "pkg/rp/resource"} {
		if _, ok := got[want]; !ok {
			t.Errorf("did not find %s", want)
		}
	}
	if _, err := os.Stat("../../go.mod"); err != nil {
		t.Fatal(err)
	}
}
