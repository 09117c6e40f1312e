// Command apicount counts the exported names of a Go package's non-test
// files: top-level names (const, var, type, func), methods of exported
// types and interface methods, and fields of exported struct types.
//
//	go run ./internal/apicount .       # package webhook
//	go run ./internal/apicount . -v    # and list them
//
// The top-level count is the one to compare with the package's index in
// go doc; the total adds what a reader of each type's doc also meets.
package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"sort"
	"strings"
)

func main() {
	dir := "."
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		panic(err)
	}
	var top, methods, fields []string
	for _, p := range pkgs {
		for _, f := range p.Files {
			for _, decl := range f.Decls {
				switch d := decl.(type) {
				case *ast.FuncDecl:
					if !d.Name.IsExported() {
						continue
					}
					if d.Recv == nil {
						top = append(top, d.Name.Name)
						continue
					}
					t := d.Recv.List[0].Type
					if s, ok := t.(*ast.StarExpr); ok {
						t = s.X
					}
					if id, ok := t.(*ast.Ident); ok && id.IsExported() {
						methods = append(methods, id.Name+"."+d.Name.Name)
					}
				case *ast.GenDecl:
					for _, s := range d.Specs {
						switch s := s.(type) {
						case *ast.ValueSpec:
							for _, n := range s.Names {
								if n.IsExported() {
									top = append(top, n.Name)
								}
							}
						case *ast.TypeSpec:
							if !s.Name.IsExported() {
								continue
							}
							top = append(top, s.Name.Name)
							switch t := s.Type.(type) {
							case *ast.StructType:
								for _, fl := range t.Fields.List {
									for _, n := range fl.Names {
										if n.IsExported() {
											fields = append(fields, s.Name.Name+"."+n.Name)
										}
									}
									if len(fl.Names) == 0 { // embedded
										fields = append(fields, s.Name.Name+".(embedded)")
									}
								}
							case *ast.InterfaceType:
								for _, m := range t.Methods.List {
									for _, n := range m.Names {
										if n.IsExported() {
											methods = append(methods, s.Name.Name+"."+n.Name)
										}
									}
								}
							}
						}
					}
				}
			}
		}
	}
	sort.Strings(top)
	sort.Strings(methods)
	sort.Strings(fields)
	if len(os.Args) > 2 && os.Args[2] == "-v" {
		fmt.Println(strings.Join(top, "\n"))
		fmt.Println("--")
		fmt.Println(strings.Join(methods, "\n"))
		fmt.Println("--")
		fmt.Println(strings.Join(fields, "\n"))
	}
	fmt.Printf("top-level %d, methods %d, fields %d, total %d\n", len(top), len(methods), len(fields), len(top)+len(methods)+len(fields))
}
