package web_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The limits issue 12 set for the browser layer: no flow package over
// about a thousand lines, no function over a cyclomatic complexity of 20.
const (
	maxPackageLines = 1000
	maxComplexity   = 20
)

// TestFlowPackagesStaySmall measures every package under internal/web:
// lines of non-test Go, and each function's cyclomatic complexity counted
// as gocyclo counts it (1, plus one per if, for, range, non-default case,
// select case, && and ||; function literals count toward the function
// that holds them).
func TestFlowPackagesStaySmall(t *testing.T) {
	dirs, err := filepath.Glob("*")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		if info, err := os.Stat(dir); err != nil || !info.IsDir() || dir == "testdata" {
			continue
		}
		lines, funcs := measure(t, dir)
		t.Logf("%-12s %4d lines", dir, lines)
		if lines > maxPackageLines {
			t.Errorf("internal/web/%s has %d lines of Go; split it (limit %d)", dir, lines, maxPackageLines)
		}
		for name, c := range funcs {
			if c > maxComplexity {
				t.Errorf("internal/web/%s: %s has cyclomatic complexity %d; split it (limit %d)", dir, name, c, maxComplexity)
			}
		}
	}
}

func measure(t *testing.T, dir string) (lines int, complexity map[string]int) {
	t.Helper()
	complexity = map[string]int{}
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines += strings.Count(string(src), "\n")
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Body != nil {
				complexity[funcName(fn)] = cyclomatic(fn.Body)
			}
		}
	}
	return lines, complexity
}

func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	recv := fn.Recv.List[0].Type
	if star, ok := recv.(*ast.StarExpr); ok {
		recv = star.X
	}
	if id, ok := recv.(*ast.Ident); ok {
		return id.Name + "." + fn.Name.Name
	}
	return fn.Name.Name
}

func cyclomatic(body *ast.BlockStmt) int {
	c := 1
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.IfStmt, *ast.ForStmt, *ast.RangeStmt:
			c++
		case *ast.CaseClause:
			if n.List != nil {
				c++
			}
		case *ast.CommClause:
			if n.Comm != nil {
				c++
			}
		case *ast.BinaryExpr:
			if n.Op == token.LAND || n.Op == token.LOR {
				c++
			}
		}
		return true
	})
	return c
}

// TestComplexityCountsLikeGocyclo pins the counting on a known function.
func TestComplexityCountsLikeGocyclo(t *testing.T) {
	src := `package p
func f(a, b bool, xs []int, ch chan int) {
	if a && b { }
	for range xs { }
	switch { case a: case b || a: default: }
	select { case <-ch: default: }
	_ = func() { if a {} }
}`
	f, err := parser.ParseFile(token.NewFileSet(), "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	// 1 + if + && + range + 2 cases + || + select case + the literal's if
	if got := cyclomatic(f.Decls[0].(*ast.FuncDecl).Body); got != 9 {
		t.Fatalf("complexity = %d, want 9", got)
	}
}
