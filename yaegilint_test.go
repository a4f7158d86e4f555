package descopeoidc

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"strings"
	"testing"
)

// nilTupleAssignments returns the tuple assignments in f with an untyped nil on the right (`f.rep, f.err = nil, err`).
// Under Yaegi v0.16.1 such an assignment panics with `reflect: New(nil)`: the interpreter gives the nil no type when it
// builds the assignment's temporaries. Compiled tests cannot see it (a logout during a background refresh panicked
// only under Traefik), so the plugin's sources are checked for it.
func nilTupleAssignments(f *ast.File) []token.Pos {
	var found []token.Pos
	ast.Inspect(f, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || len(as.Lhs) < 2 || len(as.Rhs) != len(as.Lhs) {
			return true
		}
		for _, r := range as.Rhs {
			if id, ok := r.(*ast.Ident); ok && id.Name == "nil" {
				found = append(found, as.Pos())
				break
			}
		}
		return true
	})
	return found
}

// variadicFuncFields returns the struct fields of f whose type is a variadic func (`logf func(int, string, ...any)`).
// Under Yaegi v0.16.1 a call through such a field with more arguments than parameters fails when the package loads
// (index out of range in callBin), and Traefik then disables the middleware: use a method of a small type instead.
func variadicFuncFields(f *ast.File) []token.Pos {
	var found []token.Pos
	ast.Inspect(f, func(n ast.Node) bool {
		st, ok := n.(*ast.StructType)
		if !ok {
			return true
		}
		for _, field := range st.Fields.List {
			ft, ok := field.Type.(*ast.FuncType)
			if !ok || ft.Params == nil || len(ft.Params.List) == 0 {
				continue
			}
			if _, ok := ft.Params.List[len(ft.Params.List)-1].Type.(*ast.Ellipsis); ok {
				found = append(found, field.Pos())
			}
		}
		return true
	})
	return found
}

// methodValues returns the method values in f (`p.get(ctx, p.fetchMetadata)`): a selector that go/types resolves to a
// method and that is not called. Yaegi v0.16.1 builds a reflect wrapper for a method value each time it is evaluated,
// and the wrapper's first build caches its reflect type without a lock: two requests evaluating it first at once are a
// data race in the interpreter (caught by -race on the provider's hot path). Pass data, not functions.
func methodValues(f *ast.File, info *types.Info) []token.Pos {
	called := map[ast.Expr]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok {
			called[ast.Unparen(c.Fun)] = true
		}
		return true
	})
	var found []token.Pos
	ast.Inspect(f, func(n ast.Node) bool {
		se, ok := n.(*ast.SelectorExpr)
		if !ok || called[se] {
			return true
		}
		if sel := info.Selections[se]; sel != nil && (sel.Kind() == types.MethodVal || sel.Kind() == types.MethodExpr) {
			found = append(found, se.Pos())
		}
		return true
	})
	return found
}

// funcLitArguments returns the func literals passed as call arguments (`c.dropRevoked(func(d *sessionData) bool
// {...})`): Yaegi wraps each with reflect when the call is made (genFuncValue), with the same unlocked first build of
// its type as a method value.
func funcLitArguments(f *ast.File) []token.Pos {
	var found []token.Pos
	ast.Inspect(f, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok {
			for _, a := range c.Args {
				if _, ok := a.(*ast.FuncLit); ok {
					found = append(found, a.Pos())
				}
			}
		}
		return true
	})
	return found
}

// TestWarmListsEveryMethod: warm.go evaluates every method of every type of the package (so that Yaegi's type cache
// is filled before requests run), and nothing else.
func TestWarmListsEveryMethod(t *testing.T) {
	fset, parsed := pluginSources(t)
	info := typeInfo(fset, parsed)
	listed := map[string]bool{}
	for se, sel := range info.Selections {
		if fset.Position(se.Pos()).Filename == "warm.go" && sel.Kind() == types.MethodVal && sel.Obj().Pkg().Name() == "descopeoidc" {
			listed[recvName(sel.Recv())+"."+sel.Obj().Name()] = true
		}
	}
	want := map[string]bool{}
	for _, f := range parsed {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv != nil {
				want[recvName(info.Types[fd.Recv.List[0].Type].Type)+"."+fd.Name.Name] = true
			}
		}
	}
	for m := range want {
		if !listed[m] {
			t.Errorf("warm.go does not evaluate %s", m)
		}
	}
	for m := range listed {
		if !want[m] {
			t.Errorf("warm.go evaluates %s, which is not a method of the package", m)
		}
	}
	if len(want) < 200 {
		t.Errorf("%d methods found, want the package's", len(want))
	}
}

// pluginSources parses the plugin's own files (not its tests).
func pluginSources(t *testing.T) (*token.FileSet, []*ast.File) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var parsed []*ast.File
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, f)
	}
	return fset, parsed
}

// recvName is a receiver type's name without its pointer.
func recvName(t types.Type) string {
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	if n, ok := t.(*types.Named); ok {
		return n.Obj().Name()
	}
	return t.String()
}

// typeInfo type-checks files well enough to resolve selectors (import errors, e.g. of the vendored jwt, are ignored:
// their selectors stay unresolved, the package's own are what matter).
func typeInfo(fset *token.FileSet, files []*ast.File) *types.Info {
	info := &types.Info{Selections: map[*ast.SelectorExpr]*types.Selection{}, Types: map[ast.Expr]types.TypeAndValue{}}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil), Error: func(error) {}}
	_, _ = conf.Check("descopeoidc", fset, files, info)
	return info
}

func TestNoYaegiHazardsInSource(t *testing.T) {
	fset, parsed := pluginSources(t)
	info := typeInfo(fset, parsed)
	for _, f := range parsed {
		if fset.Position(f.Pos()).Filename == "warm.go" {
			continue // builds every method's wrapper once, on purpose, before any request
		}
		for _, pos := range funcLitArguments(f) {
			t.Errorf("%s: a func literal passed as an argument is wrapped with reflect on every call under Yaegi, racing on its type cache: pass data", fset.Position(pos))
		}
		for _, pos := range methodValues(f, info) {
			t.Errorf("%s: a method value is wrapped with reflect on every evaluation under Yaegi, racing on its type cache: pass data, not the method", fset.Position(pos))
		}
		for _, pos := range nilTupleAssignments(f) {
			t.Errorf("%s: tuple assignment with an untyped nil panics under Yaegi (reflect: New(nil)): assign each target on its own", fset.Position(pos))
		}
		for _, pos := range variadicFuncFields(f) {
			t.Errorf("%s: a struct field of variadic func type fails to load under Yaegi when called with several variadic arguments: use a method", fset.Position(pos))
		}
	}
	if len(parsed) < 10 {
		t.Fatalf("checked %d plugin files, want the package's sources", len(parsed))
	}
}

// TestVariadicFuncFieldsRule: the rule finds the field that broke loading, and leaves other func fields alone.
func TestVariadicFuncFieldsRule(t *testing.T) {
	for src, want := range map[string]int{
		"logf func(level int, format string, args ...any)": 1,
		"now func() time.Time":                             0,
		"renew func(ctx context.Context, e *int) error":    0,
	} {
		code := "package p\ntype s struct {\n" + src + "\n}\n"
		f, err := parser.ParseFile(token.NewFileSet(), "p.go", code, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(variadicFuncFields(f)); got != want {
			t.Errorf("%q: %d findings, want %d", src, got, want)
		}
	}
}

// TestMethodValuesRule: the rule finds the method value that raced and leaves calls and fields alone.
func TestMethodValuesRule(t *testing.T) {
	for src, want := range map[string]int{
		"p.get(ctx, p.fetchMetadata)": 1,
		"f := p.fetchMetadata; f(1)":  1,
		"p.fetchMetadata(ctx)":        0,
		"x := p.issuer; _ = x":        0,
		"y := p.now; _ = y":           0,
		"(p.fetchMetadata)(ctx)":      0,
	} {
		code := "package p\ntype P struct{ issuer string; now func() int }\nfunc (p *P) fetchMetadata(int) {}\nfunc (p *P) get(int, func(int)) {}\n" +
			"func h(p *P, ctx int) {\n" + src + "\n}\n"
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, "p.go", code, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(methodValues(f, typeInfo(fset, []*ast.File{f}))); got != want {
			t.Errorf("%q: %d findings, want %d", src, got, want)
		}
	}
}

// TestNilTupleAssignmentsRule: the rule finds the statement that panicked and leaves alone what Yaegi runs correctly.
func TestNilTupleAssignmentsRule(t *testing.T) {
	for src, want := range map[string]int{
		"f.rep, f.err = nil, errSessionEnded":  1,
		"a, b = x, nil":                        1,
		"f.rep = nil; f.err = errSessionEnded": 0,
		"a, b := g()":                          0,
		"a, b = b, a":                          0,
	} {
		code := "package p\nfunc h() {\n" + src + "\n}\n"
		f, err := parser.ParseFile(token.NewFileSet(), "p.go", code, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(nilTupleAssignments(f)); got != want {
			t.Errorf("%q: %d findings, want %d", src, got, want)
		}
	}
}
