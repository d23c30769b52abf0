package rp_test

import (
	"go/build"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/gatehouse/gatehouse"

// TestPkgImportsNoInternal: district apps import pkg/..., which Go forbids
// to reach into internal/: no package under pkg may depend on one, directly
// or through another of this module's packages. Other modules cannot import
// our internal packages, so this module's own imports are all to follow.
func TestPkgImportsNoInternal(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var start []string
	err = filepath.WalkDir(filepath.Join(root, "pkg"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		start = append(start, module+"/"+filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{} // package -> the package that imported it
	var visit func(pkg, from string)
	visit = func(pkg, from string) {
		if _, ok := seen[pkg]; ok {
			return
		}
		seen[pkg] = from
		if strings.Contains(pkg+"/", "/internal/") {
			chain := pkg
			for p := from; p != ""; p = seen[p] {
				chain = p + " -> " + chain
			}
			t.Errorf("a pkg package depends on an internal one: %s", chain)
			return
		}
		bp, err := build.ImportDir(filepath.Join(root, strings.TrimPrefix(pkg, module)), 0)
		if _, none := err.(*build.NoGoError); none {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", pkg, err)
		}
		for _, imp := range bp.Imports {
			if imp == module || strings.HasPrefix(imp, module+"/") {
				visit(imp, pkg)
			}
		}
	}
	for _, pkg := range start {
		visit(pkg, "")
	}
	if _, ok := seen[module+"/pkg/rp/resource"]; !ok {
		t.Errorf("pkg/rp/resource was not checked; checked %v", seen)
	}
}
