package authos_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// modulePath is the import path of this repository's Go module.
const modulePath = "github.com/authos/authos"

// listedPackage is the part of `go list -json` output the dependency rules read.
type listedPackage struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// importViolation is one import that breaks the dependency rules.
type importViolation struct {
	From, To string
	Test     bool // the import is made by a _test.go file
	Rule     string
}

func (v importViolation) String() string {
	where := ""
	if v.Test {
		where = " (in a _test.go file)"
	}
	return fmt.Sprintf("%s imports %s%s: %s", v.From, v.To, where, v.Rule)
}

// moduleOf returns the module name X for a package under modules/X, and ""
// for anything else.
func moduleOf(importPath string) string {
	rest, ok := strings.CutPrefix(importPath, modulePath+"/modules/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// infraLayer returns the top-level folder (platform, jobs or migrations) of
// a package that must import no module, and "" for anything else.
func infraLayer(importPath string) string {
	for _, layer := range []string{"platform", "jobs", "migrations"} {
		root := modulePath + "/" + layer
		if importPath == root || strings.HasPrefix(importPath, root+"/") {
			return layer
		}
	}
	return ""
}

// findImportViolations applies the design's dependency rules to a package
// graph: a module imports no other module (nor its internal packages), and
// platform, jobs and migrations import no module at all. cmd/* is the
// composition root and may import anything. A module's external test
// package (package x_test) is a composition root too: it may wire another
// module's public package to test with real components, but never reach
// into another module's internal packages.
func findImportViolations(pkgs []listedPackage) []importViolation {
	var out []importViolation
	for _, p := range pkgs {
		fromModule, fromInfra := moduleOf(p.ImportPath), infraLayer(p.ImportPath)
		if fromModule == "" && fromInfra == "" {
			continue
		}
		check := func(to string, test, xtest bool) {
			toModule := moduleOf(to)
			switch {
			case toModule == "":
			case xtest && fromInfra == "" && toModule != fromModule && !strings.Contains(to, "/internal/") && !strings.HasSuffix(to, "/internal"):
			case fromInfra != "":
				out = append(out, importViolation{
					From: p.ImportPath, To: to, Test: test,
					Rule: fromInfra + "/ must not import modules/; move the shared piece into " + fromInfra + "/ or platform/",
				})
			case toModule != fromModule:
				out = append(out, importViolation{
					From: p.ImportPath, To: to, Test: test,
					Rule: "modules/" + fromModule + " must not import modules/" + toModule +
						"; declare a small interface in modules/" + fromModule + " and let cmd/* pass the other module's service in",
				})
			}
		}
		for _, to := range p.Imports {
			check(to, false, false)
		}
		for _, to := range p.TestImports {
			check(to, true, false)
		}
		for _, to := range p.XTestImports {
			check(to, true, true)
		}
	}
	return out
}

// repoRoot returns the directory holding go.mod, wherever the test runs.
func repoRoot(t *testing.T) string {
	t.Helper()
	out := goCommand(t, "", "env", "GOMOD")
	gomod := strings.TrimSpace(out)
	require.NotEmpty(t, gomod, "go env GOMOD: not inside a module")
	require.NotEqual(t, "/dev/null", gomod, "go env GOMOD: not inside a module")
	return filepath.Dir(gomod)
}

// goCommand runs the go tool in dir and returns its standard output.
func goCommand(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "go %s: %s", strings.Join(args, " "), stderr.String())
	return stdout.String()
}

// listModulePackages lists every package of the module with its imports.
// -e keeps packages that do not compile: imports are read from the source
// files, so the rules still apply to code that is half written.
func listModulePackages(t *testing.T) []listedPackage {
	t.Helper()
	out := goCommand(t, repoRoot(t), "list", "-e", "-json=ImportPath,Imports,TestImports,XTestImports", "./...")
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var p listedPackage
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "decode go list output")
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestArchitecture(t *testing.T) {
	t.Parallel()

	t.Run("RepositoryFollowsDependencyRules", func(t *testing.T) {
		t.Parallel()
		pkgs := listModulePackages(t)

		var names []string
		for _, p := range pkgs {
			names = append(names, p.ImportPath)
		}
		// The listing must reach the layers the rules are about, or a
		// broken `go list` would pass silently.
		require.Contains(t, names, modulePath+"/platform/config")
		require.Contains(t, names, modulePath+"/jobs")
		require.Contains(t, names, modulePath+"/migrations")
		require.NotEmpty(t, slices.DeleteFunc(slices.Clone(names), func(n string) bool { return moduleOf(n) == "" }),
			"go list found no package under modules/")

		var report []string
		for _, v := range findImportViolations(pkgs) {
			report = append(report, v.String())
		}
		require.Empty(t, report, "dependency rule violations:\n%s", strings.Join(report, "\n"))
	})

	t.Run("RulesCatchBadImports", func(t *testing.T) {
		t.Parallel()
		const m = modulePath + "/modules/"
		graph := []listedPackage{
			{ImportPath: modulePath + "/cmd/internal/app", Imports: []string{m + "billing", m + "tenancy", modulePath + "/platform/config"}},
			{ImportPath: m + "billing", Imports: []string{"context", modulePath + "/platform/db", modulePath + "/jobs", m + "billing/internal/billingdb"}},
			{ImportPath: m + "billing/internal/billingdb", Imports: []string{"github.com/jackc/pgx/v5"}},
			{ImportPath: m + "identity", Imports: []string{m + "tenancy/internal/tenancydb"}},
			{ImportPath: m + "tenancy", XTestImports: []string{m + "identity", m + "identity/internal/token"}, TestImports: []string{m + "billing"}},
			{ImportPath: modulePath + "/platform/mail", Imports: []string{m + "compliance"}},
			{ImportPath: modulePath + "/jobs", Imports: []string{modulePath + "/platform/mail"}},
			{ImportPath: modulePath + "/migrations", TestImports: []string{m + "tenancy"}},
			{ImportPath: modulePath + "/modulesextra", Imports: []string{m + "tenancy"}},
		}

		got := findImportViolations(graph)

		type edge struct {
			From, To string
			Test     bool
		}
		var edges []edge
		for _, v := range got {
			edges = append(edges, edge{v.From, v.To, v.Test})
			require.Contains(t, v.String(), v.From)
			require.Contains(t, v.String(), v.To)
		}
		require.Equal(t, []edge{
			{m + "identity", m + "tenancy/internal/tenancydb", false},
			{m + "tenancy", m + "billing", true},
			{m + "tenancy", m + "identity/internal/token", true},
			{modulePath + "/platform/mail", m + "compliance", false},
			{modulePath + "/migrations", m + "tenancy", true},
		}, edges)
	})

	t.Run("ModuleOfAndInfraLayer", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, "billing", moduleOf(modulePath+"/modules/billing"))
		require.Equal(t, "billing", moduleOf(modulePath+"/modules/billing/internal/billingdb"))
		require.Empty(t, moduleOf(modulePath+"/modulesx/billing"))
		require.Empty(t, moduleOf("example.com/other/modules/billing"))
		require.Equal(t, "platform", infraLayer(modulePath+"/platform/config"))
		require.Equal(t, "jobs", infraLayer(modulePath+"/jobs"))
		require.Equal(t, "migrations", infraLayer(modulePath+"/migrations"))
		require.Empty(t, infraLayer(modulePath+"/platformx"))
		require.Empty(t, infraLayer(modulePath+"/cmd/api"))
	})
}
