package authos_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/config"
)

// Docker cannot run in the test environment, so these tests check what can
// be checked statically: compose.yaml against the config package, and the
// Dockerfile and .dockerignore against the Go packages they build.

// authosServices returns the compose services that run the AuthOS image.
func authosServices() []string { return []string{"migrate", "api", "worker"} }

// testEncryptionKey stands in for the operator's ENCRYPTION_KEY.
const testEncryptionKey = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"

// ---- compose.yaml ----

// loadCompose decodes compose.yaml into generic maps; go-yaml resolves
// anchors, aliases and `<<` merge keys while decoding.
func loadCompose(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "compose.yaml"))
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(data, &doc), "parse compose.yaml")
	return doc
}

// child returns m[key] as a map, failing when it is missing or not a map.
func child(t *testing.T, m map[string]any, keys ...string) map[string]any {
	t.Helper()
	cur := m
	for i, k := range keys {
		next, ok := cur[k].(map[string]any)
		require.True(t, ok, "%s: want a mapping, got %T", strings.Join(keys[:i+1], "."), cur[k])
		cur = next
	}
	return cur
}

// stringList returns v (a YAML sequence of scalars) as strings.
func stringList(t *testing.T, v any, what string) []string {
	t.Helper()
	items, ok := v.([]any)
	require.True(t, ok, "%s: want a list, got %T", what, v)
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, fmt.Sprint(it))
	}
	return out
}

// serviceEnv returns a service's environment (mapping form) as strings.
func serviceEnv(t *testing.T, doc map[string]any, service string) map[string]string {
	t.Helper()
	raw := child(t, doc, "services", service, "environment")
	env := make(map[string]string, len(raw))
	for k, v := range raw {
		if v == nil {
			env[k] = ""
			continue
		}
		env[k] = fmt.Sprint(v)
	}
	return env
}

var interpolationRe = regexp.MustCompile(`\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))`)

// interpolate expands compose's ${VAR}, ${VAR:-default}, ${VAR-default},
// ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, ${VAR+alt}, $VAR and $$ in s.
func interpolate(s string, lookup func(string) (string, bool)) (string, error) {
	var firstErr error
	out := interpolationRe.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		sub := interpolationRe.FindStringSubmatch(m)
		name, op, arg := sub[1], sub[2], sub[3]
		if name == "" {
			name = sub[4]
		}
		val, set := lookup(name)
		present := set && (val != "" || !strings.HasPrefix(op, ":"))
		switch strings.TrimPrefix(op, ":") {
		case "-":
			if !present {
				return arg
			}
		case "?":
			if !present && firstErr == nil {
				firstErr = fmt.Errorf("required variable %s is missing a value: %s", name, arg)
			}
		case "+":
			if present {
				return arg
			}
			return ""
		}
		return val
	})
	return out, firstErr
}

// resolvedEnv interpolates a service's environment as compose would with the
// given host variables.
func resolvedEnv(t *testing.T, doc map[string]any, service string, host map[string]string) (map[string]string, error) {
	t.Helper()
	lookup := func(name string) (string, bool) { v, ok := host[name]; return v, ok }
	out := map[string]string{}
	for k, v := range serviceEnv(t, doc, service) {
		r, err := interpolate(v, lookup)
		if err != nil {
			return nil, fmt.Errorf("%s.environment.%s: %w", service, k, err)
		}
		out[k] = r
	}
	return out, nil
}

// serviceConfig loads the config a service would see when the operator set
// only ENCRYPTION_KEY.
func serviceConfig(t *testing.T, doc map[string]any, service string) config.Config {
	t.Helper()
	env, err := resolvedEnv(t, doc, service, map[string]string{"ENCRYPTION_KEY": testEncryptionKey})
	require.NoError(t, err)
	cfg, err := config.Load(func(name string) string { return env[name] })
	require.NoError(t, err, "%s: compose environment fails config validation", service)
	return cfg
}

func TestCompose(t *testing.T) {
	t.Parallel()

	t.Run("DefinesEveryService", func(t *testing.T) {
		t.Parallel()
		services := child(t, loadCompose(t), "services")
		for _, name := range []string{"postgres", "redis", "mailpit", "stripe-mock", "migrate", "api", "worker"} {
			require.Contains(t, services, name)
		}
	})

	t.Run("EnvironmentNamesAreConfigVars", func(t *testing.T) {
		t.Parallel()
		doc := loadCompose(t)
		known := map[string]bool{}
		for _, v := range config.Vars() {
			known[v.Name] = true
		}
		shared := child(t, doc, "x-authos-env")
		require.NotEmpty(t, shared)
		for _, svc := range authosServices() {
			env := serviceEnv(t, doc, svc)
			for name := range env {
				require.True(t, known[name], "%s.environment.%s is not a variable platform/config reads", svc, name)
			}
			// The shared anchor (merged or aliased) reached every service.
			for name := range shared {
				require.Contains(t, env, name, "%s.environment lacks shared %s", svc, name)
			}
		}
	})

	t.Run("EnvironmentPassesConfigValidation", func(t *testing.T) {
		t.Parallel()
		doc := loadCompose(t)
		for _, svc := range authosServices() {
			cfg := serviceConfig(t, doc, svc)
			require.Equal(t, config.EnvProduction, cfg.Env, svc)
			require.Equal(t, testEncryptionKey, cfg.Security.EncryptionKey, svc)
			require.Empty(t, cfg.Owner.Email, "%s: owner is optional and unset by default", svc)
		}
	})

	t.Run("RequiresEncryptionKeyFromOperator", func(t *testing.T) {
		t.Parallel()
		doc := loadCompose(t)
		for _, svc := range authosServices() {
			_, err := resolvedEnv(t, doc, svc, map[string]string{})
			require.ErrorContains(t, err, "ENCRYPTION_KEY", svc)
			_, err = resolvedEnv(t, doc, svc, map[string]string{"ENCRYPTION_KEY": ""})
			require.ErrorContains(t, err, "ENCRYPTION_KEY", svc)
		}
	})

	t.Run("EnvironmentPointsAtComposeServices", func(t *testing.T) {
		t.Parallel()
		doc := loadCompose(t)
		pg := serviceEnv(t, doc, "postgres")
		for _, svc := range authosServices() {
			cfg := serviceConfig(t, doc, svc)

			db, err := url.Parse(cfg.Database.URL)
			require.NoError(t, err)
			require.Equal(t, "postgres", db.Hostname(), svc)
			require.Equal(t, "5432", db.Port(), svc)
			require.Equal(t, pg["POSTGRES_USER"], db.User.Username(), svc)
			pass, _ := db.User.Password()
			require.Equal(t, pg["POSTGRES_PASSWORD"], pass, svc)
			require.Equal(t, "/"+pg["POSTGRES_DB"], db.Path, svc)

			rdb, err := url.Parse(cfg.Redis.URL)
			require.NoError(t, err)
			require.Equal(t, "redis", rdb.Hostname(), svc)

			require.Equal(t, "mailpit", cfg.SMTP.Host, svc)
			require.Equal(t, 1025, cfg.SMTP.Port, svc)
			require.Equal(t, "none", cfg.SMTP.TLS, svc)

			stripe, err := url.Parse(cfg.Billing.StripeAPIBaseURL)
			require.NoError(t, err)
			require.Equal(t, "stripe-mock", stripe.Hostname(), svc)
			require.Equal(t, "12111", stripe.Port(), svc)
		}
	})

	t.Run("HealthChecksHitReadiness", func(t *testing.T) {
		t.Parallel()
		doc := loadCompose(t)
		stages := dockerStages(t, loadDockerfile(t))
		base := stages[len(stages)-1].Image
		for svc, port := range map[string]int{
			"api":    serviceConfig(t, doc, "api").HTTP.Port,
			"worker": serviceConfig(t, doc, "worker").Worker.Port,
		} {
			test := stringList(t, child(t, doc, "services", svc, "healthcheck")["test"], svc+".healthcheck.test")
			require.Equal(t, "CMD", test[0], "%s: exec form keeps the check free of a shell", svc)
			require.Contains(t, test, fmt.Sprintf("http://127.0.0.1:%d/health/ready", port), svc)
			// The image must carry the probe: busybox wget comes with alpine.
			require.Equal(t, "wget", test[1], svc)
			require.True(t, strings.HasPrefix(base, "alpine:"), "%s: health check needs wget, final image is %s", svc, base)
		}
		require.Contains(t, stringList(t, child(t, doc, "services", "postgres", "healthcheck")["test"], "postgres"), "pg_isready")
		require.Equal(t, []string{"CMD", "redis-cli", "ping"}, stringList(t, child(t, doc, "services", "redis", "healthcheck")["test"], "redis"))
	})

	t.Run("StartOrder", func(t *testing.T) {
		t.Parallel()
		doc := loadCompose(t)
		condition := func(svc, dep string) string {
			return fmt.Sprint(child(t, doc, "services", svc, "depends_on", dep)["condition"])
		}
		require.Equal(t, "service_healthy", condition("migrate", "postgres"))
		require.Equal(t, "no", child(t, doc, "services", "migrate")["restart"], "migrate is one-shot")
		for _, svc := range []string{"api", "worker"} {
			require.Equal(t, "service_completed_successfully", condition(svc, "migrate"), svc)
			require.Equal(t, "service_healthy", condition(svc, "redis"), svc)
			require.Equal(t, "service_healthy", condition(svc, "postgres"), svc)
		}
	})

	t.Run("StopGraceCoversShutdownTimeout", func(t *testing.T) {
		t.Parallel()
		doc := loadCompose(t)
		for _, svc := range []string{"api", "worker"} {
			raw, ok := child(t, doc, "services", svc)["stop_grace_period"].(string)
			require.True(t, ok, "%s: stop_grace_period must be set", svc)
			grace, err := time.ParseDuration(raw)
			require.NoError(t, err, svc)
			require.GreaterOrEqual(t, grace, 30*time.Second, svc)
			require.Greater(t, grace, serviceConfig(t, doc, svc).HTTP.ShutdownTimeout,
				"%s: SIGKILL would arrive before SHUTDOWN_TIMEOUT_SECS ends", svc)
		}
	})

	t.Run("ImagesArePinned", func(t *testing.T) {
		t.Parallel()
		for name, svc := range child(t, loadCompose(t), "services") {
			s, ok := svc.(map[string]any)
			require.True(t, ok, name)
			if _, built := s["build"]; built {
				continue
			}
			image, ok := s["image"].(string)
			require.True(t, ok, "%s: image must be set", name)
			requirePinned(t, image)
		}
	})

	t.Run("PublishesAPIPort", func(t *testing.T) {
		t.Parallel()
		doc := loadCompose(t)
		port := serviceConfig(t, doc, "api").HTTP.Port
		ports := stringList(t, child(t, doc, "services", "api")["ports"], "api.ports")
		require.True(t, slices.ContainsFunc(ports, func(p string) bool { return strings.HasSuffix(p, ":"+strconv.Itoa(port)) }),
			"api.ports %v does not publish container port %d", ports, port)
	})

	t.Run("CommandsAreBuiltBinaries", func(t *testing.T) {
		t.Parallel()
		doc := loadCompose(t)
		root := repoRoot(t)
		build := dockerBuild(t, loadDockerfile(t))
		copied := copiedBinaries(t, loadDockerfile(t), build)
		for _, svc := range authosServices() {
			s := child(t, doc, "services", svc)
			require.Contains(t, s, "build", "%s must run the image built from the Dockerfile", svc)
			cmd := stringList(t, s["command"], svc+".command")
			pkg, ok := copied[cmd[0]]
			require.True(t, ok, "%s: command %q is not a binary the Dockerfile builds and copies (have %v)", svc, cmd[0], copied)
			if len(cmd) > 1 {
				require.Contains(t, caseLabels(t, root, pkg), cmd[1],
					"%s: %s does not handle subcommand %q", svc, pkg, cmd[1])
			}
		}
		require.Equal(t, []string{"authos", "migrate"}, stringList(t, child(t, doc, "services", "migrate")["command"], "migrate.command"))
	})

	t.Run("InterpolationHelper", func(t *testing.T) {
		t.Parallel()
		host := map[string]string{"SET": "v", "EMPTY": ""}
		lookup := func(name string) (string, bool) { v, ok := host[name]; return v, ok }
		for in, want := range map[string]string{
			"${SET}":          "v",
			"$SET-x":          "v-x",
			"${UNSET:-d}":     "d",
			"${EMPTY:-d}":     "d",
			"${EMPTY-d}":      "",
			"${UNSET-d}":      "d",
			"${SET:+alt}":     "alt",
			"${EMPTY:+alt}":   "",
			"a$$b":            "a$b",
			"${SET:?missing}": "v",
		} {
			got, err := interpolate(in, lookup)
			require.NoError(t, err, in)
			require.Equal(t, want, got, in)
		}
		_, err := interpolate("${EMPTY:?give it}", lookup)
		require.EqualError(t, err, "required variable EMPTY is missing a value: give it")
		_, err = interpolate("${EMPTY?give it}", lookup)
		require.NoError(t, err)
	})
}

// requirePinned fails unless image names a tag that fixes at least the major
// version (postgres:16, axllent/mailpit:v1.33, golang:1.26-bookworm).
func requirePinned(t *testing.T, image string) {
	t.Helper()
	slash := strings.LastIndex(image, "/")
	colon := strings.LastIndex(image, ":")
	require.Greater(t, colon, slash, "image %s has no tag", image)
	tag := image[colon+1:]
	require.Regexp(t, `^v?[0-9]+`, tag, "image %s: tag must pin a major version", image)
}

// ---- Dockerfile ----

// dockerInstruction is one Dockerfile instruction with continuations joined.
type dockerInstruction struct {
	Cmd  string // upper-cased keyword
	Args string
}

func loadDockerfile(t *testing.T) []dockerInstruction {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	require.NoError(t, err)
	return parseDockerfile(string(data))
}

// parseDockerfile splits a Dockerfile into instructions, dropping comments
// and parser directives and joining backslash-continued lines.
func parseDockerfile(src string) []dockerInstruction {
	var out []dockerInstruction
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		out = append(out, dockerInstruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)})
	}
	for raw := range strings.SplitSeq(src, "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "#") {
			continue // comments may also sit inside a continued instruction
		}
		if body, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(strings.TrimSpace(body) + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	flush()
	return out
}

// dockerStage is one FROM block.
type dockerStage struct {
	Image, Name  string
	Instructions []dockerInstruction
}

func dockerStages(t *testing.T, ins []dockerInstruction) []dockerStage {
	t.Helper()
	var stages []dockerStage
	for _, in := range ins {
		if in.Cmd == "FROM" {
			fields := slices.DeleteFunc(strings.Fields(in.Args), func(f string) bool { return strings.HasPrefix(f, "--") })
			require.NotEmpty(t, fields, "FROM without an image")
			st := dockerStage{Image: fields[0]}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				st.Name = fields[2]
			}
			stages = append(stages, st)
			continue
		}
		require.NotEmpty(t, stages, "%s before the first FROM", in.Cmd)
		stages[len(stages)-1].Instructions = append(stages[len(stages)-1].Instructions, in)
	}
	require.NotEmpty(t, stages, "Dockerfile has no FROM")
	return stages
}

// goBuildStep is what the Dockerfile's `go build` produces.
type goBuildStep struct {
	Stage    string
	OutDir   string
	Packages []string          // as written: ./cmd/authos
	Binaries map[string]string // binary name → package
	LinkVars []string          // -X targets: import/path.Name
}

// dockerBuild finds the single `go build` RUN step of the Dockerfile.
func dockerBuild(t *testing.T, ins []dockerInstruction) goBuildStep {
	t.Helper()
	var steps []goBuildStep
	for _, st := range dockerStages(t, ins) {
		for _, in := range st.Instructions {
			if in.Cmd != "RUN" || !strings.Contains(in.Args, "go build") {
				continue
			}
			_, after, _ := strings.Cut(in.Args, "go build")
			step := goBuildStep{Stage: st.Name, Binaries: map[string]string{}}
			fields := strings.Fields(after)
			for i, f := range fields {
				switch {
				case f == "-o" && i+1 < len(fields):
					step.OutDir = fields[i+1]
				case strings.HasPrefix(f, "./"):
					step.Packages = append(step.Packages, f)
					step.Binaries[path.Base(f)] = f
				case f == "-X" && i+1 < len(fields):
					target, _, _ := strings.Cut(strings.Trim(fields[i+1], `"'`), "=")
					step.LinkVars = append(step.LinkVars, target)
				}
			}
			steps = append(steps, step)
		}
	}
	require.Len(t, steps, 1, "want exactly one RUN ... go build in the Dockerfile")
	step := steps[0]
	require.NotEmpty(t, step.Stage, "the build stage needs a name (FROM ... AS build)")
	require.True(t, strings.HasSuffix(step.OutDir, "/"), "go build -o must name a directory (ending in /) when building several packages, got %q", step.OutDir)
	require.NotEmpty(t, step.Packages)
	return step
}

// copiedBinaries returns the binaries the final stage copies from the build
// stage into /usr/local/bin, mapped to the package they are built from.
func copiedBinaries(t *testing.T, ins []dockerInstruction, build goBuildStep) map[string]string {
	t.Helper()
	stages := dockerStages(t, ins)
	final := stages[len(stages)-1]
	out := map[string]string{}
	for _, in := range final.Instructions {
		if in.Cmd != "COPY" || !strings.Contains(in.Args, "--from="+build.Stage) {
			continue
		}
		fields := slices.DeleteFunc(strings.Fields(in.Args), func(f string) bool { return strings.HasPrefix(f, "--") })
		require.GreaterOrEqual(t, len(fields), 2, "COPY %s", in.Args)
		dest := fields[len(fields)-1]
		if dest != "/usr/local/bin/" && dest != "/usr/local/bin" {
			continue
		}
		for _, src := range fields[:len(fields)-1] {
			if dir, name := path.Split(src); dir == build.OutDir {
				if pkg, ok := build.Binaries[name]; ok {
					out[name] = pkg
				}
			}
		}
	}
	return out
}

// caseLabels returns the string constants used as switch case labels in a
// package, i.e. the subcommands a CLI main handles.
func caseLabels(t *testing.T, root, pkg string) []string {
	t.Helper()
	dir := strings.TrimSpace(goCommand(t, root, "list", "-f", "{{.Dir}}", pkg))
	files := strings.Fields(goCommand(t, root, "list", "-f", `{{join .GoFiles " "}}`, pkg))
	var labels []string
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			if cc, ok := n.(*ast.CaseClause); ok {
				for _, e := range cc.List {
					if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, err := strconv.Unquote(lit.Value)
						require.NoError(t, err)
						labels = append(labels, s)
					}
				}
			}
			return true
		})
	}
	return labels
}

// packageHasStringVar reports whether the package in dir declares a
// package-level `var name string` (or `var name = "..."`), the only kind of
// variable `-ldflags -X` can set.
func packageHasStringVar(t *testing.T, dir string, files []string, name string) bool {
	t.Helper()
	fset := token.NewFileSet()
	for _, file := range files {
		f, err := parser.ParseFile(fset, filepath.Join(dir, file), nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if id.Name != name {
						continue
					}
					if ident, ok := vs.Type.(*ast.Ident); ok && ident.Name == "string" {
						return true
					}
					if vs.Type == nil && i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							return true
						}
					}
				}
			}
		}
	}
	return false
}

// goDirective returns the `go` version of go.mod.
func goDirective(t *testing.T, root string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^go ([0-9.]+)\s*$`).FindSubmatch(data)
	require.NotNil(t, m, "go.mod has no go directive")
	return string(m[1])
}

func TestDockerfile(t *testing.T) {
	t.Parallel()

	t.Run("ParsesInstructions", func(t *testing.T) {
		t.Parallel()
		got := parseDockerfile("# syntax=docker/dockerfile:1\nFROM a:1 AS b\nRUN x \\\n  # note\n  y\n\ncmd [\"z\"]\n")
		require.Equal(t, []dockerInstruction{
			{Cmd: "FROM", Args: "a:1 AS b"},
			{Cmd: "RUN", Args: "x y"},
			{Cmd: "CMD", Args: `["z"]`},
		}, got)
	})

	t.Run("BuildsMainPackages", func(t *testing.T) {
		t.Parallel()
		root := repoRoot(t)
		build := dockerBuild(t, loadDockerfile(t))
		for _, want := range []string{"authos", "api", "worker"} {
			require.Contains(t, build.Binaries, want)
		}
		for _, pkg := range build.Packages {
			name := strings.TrimSpace(goCommand(t, root, "list", "-f", "{{.Name}}", pkg))
			require.Equal(t, "main", name, "%s is not a main package", pkg)
		}
	})

	t.Run("LinkerSetsAnExistingVersionVar", func(t *testing.T) {
		t.Parallel()
		root := repoRoot(t)
		build := dockerBuild(t, loadDockerfile(t))
		require.NotEmpty(t, build.LinkVars, "go build should stamp the version with -ldflags -X")
		for _, target := range build.LinkVars {
			dot := strings.LastIndex(target, ".")
			require.Positive(t, dot, target)
			pkg, name := target[:dot], target[dot+1:]
			dir := strings.TrimSpace(goCommand(t, root, "list", "-f", "{{.Dir}}", pkg))
			files := strings.Fields(goCommand(t, root, "list", "-f", `{{join .GoFiles " "}}`, pkg))
			require.True(t, packageHasStringVar(t, dir, files, name),
				"-X %s: %s declares no package-level string var %s (the linker would silently ignore it)", target, pkg, name)
		}
	})

	t.Run("FinalImage", func(t *testing.T) {
		t.Parallel()
		ins := loadDockerfile(t)
		build := dockerBuild(t, ins)
		copied := copiedBinaries(t, ins, build)
		require.Len(t, copied, len(build.Binaries), "every built binary is copied to /usr/local/bin")

		stages := dockerStages(t, ins)
		final := stages[len(stages)-1]
		var user, cmd string
		var exposed []string
		for _, in := range final.Instructions {
			switch in.Cmd {
			case "USER":
				user = in.Args
			case "CMD":
				cmd = in.Args
			case "EXPOSE":
				exposed = append(exposed, strings.Fields(in.Args)...)
			case "ENTRYPOINT":
				require.Equal(t, "[]", strings.ReplaceAll(in.Args, " ", ""), "CMD names the binary; no entrypoint wraps it")
			}
		}
		uid, _, _ := strings.Cut(user, ":")
		require.NotContains(t, []string{"", "0", "root"}, uid, "the final image must run as a non-root user")

		var argv []string
		require.NoError(t, json.Unmarshal([]byte(cmd), &argv), "CMD must use the exec (JSON) form")
		require.NotEmpty(t, argv)
		require.Contains(t, copied, argv[0], "default CMD is not a copied binary")

		require.Contains(t, exposed, "8080")
		require.Contains(t, exposed, "8081")
	})

	t.Run("BaseImagesArePinned", func(t *testing.T) {
		t.Parallel()
		root := repoRoot(t)
		for _, st := range dockerStages(t, loadDockerfile(t)) {
			requirePinned(t, st.Image)
			if rest, ok := strings.CutPrefix(st.Image, "golang:"); ok {
				// Official golang images set GOTOOLCHAIN=local, so the image
				// must be at least go.mod's version.
				// A major.minor tag floats to the newest patch release.
				tagVersion, _, _ := strings.Cut(rest, "-")
				modVersion := goDirective(t, root)
				require.Equal(t, majorMinor(modVersion), majorMinor(tagVersion),
					"builder %s and go.mod (go %s) disagree on the Go release", st.Image, modVersion)
				if strings.Count(tagVersion, ".") >= 2 {
					require.True(t, versionAtLeast(tagVersion, modVersion),
						"builder %s is older than go.mod's go %s", st.Image, modVersion)
				}
			}
		}
	})
}

func majorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	return strings.Join(parts[:min(2, len(parts))], ".")
}

// versionAtLeast compares dotted numeric versions.
func versionAtLeast(have, want string) bool {
	h, w := strings.Split(have, "."), strings.Split(want, ".")
	for i := range max(len(h), len(w)) {
		var hn, wn int
		if i < len(h) {
			hn, _ = strconv.Atoi(h[i])
		}
		if i < len(w) {
			wn, _ = strconv.Atoi(w[i])
		}
		if hn != wn {
			return hn > wn
		}
	}
	return true
}

// ---- .dockerignore ----

// dockerignorePattern is one .dockerignore line.
type dockerignorePattern struct {
	re      *regexp.Regexp
	exclude bool // false for "!pattern" exceptions
}

// parseDockerignore compiles .dockerignore lines with the builder's rules:
// paths are relative to the context root, `*` and `?` stay within one path
// element, `**` spans any number of them, and a pattern that matches a
// directory excludes everything under it.
func parseDockerignore(src string) ([]dockerignorePattern, error) {
	var out []dockerignorePattern
	for raw := range strings.SplitSeq(src, "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := dockerignorePattern{exclude: true}
		if rest, ok := strings.CutPrefix(line, "!"); ok {
			p.exclude, line = false, strings.TrimSpace(rest)
		}
		line = strings.TrimPrefix(path.Clean(line), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case c == '*' && strings.HasPrefix(line[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case c == '*' && strings.HasPrefix(line[i:], "**"):
				re.WriteString(".*")
				i++
			case c == '*':
				re.WriteString("[^/]*")
			case c == '?':
				re.WriteString("[^/]")
			case c == '[' || c == '\\':
				return nil, fmt.Errorf("pattern %q: character classes and escapes are not supported here", line)
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString("$")
		compiled, err := regexp.Compile(re.String())
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", line, err)
		}
		p.re = compiled
		out = append(out, p)
	}
	return out, nil
}

// dockerignored reports whether rel (slash-separated, relative to the
// context) is left out of the build context.
func dockerignored(patterns []dockerignorePattern, rel string) bool {
	ignored := false
	for _, p := range patterns {
		for cand := rel; cand != "." && cand != "/" && cand != ""; cand = path.Dir(cand) {
			if p.re.MatchString(cand) {
				ignored = p.exclude
				break
			}
		}
	}
	return ignored
}

func TestDockerignore(t *testing.T) {
	t.Parallel()

	loadPatterns := func(t *testing.T) []dockerignorePattern {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(repoRoot(t), ".dockerignore"))
		require.NoError(t, err)
		patterns, err := parseDockerignore(string(data))
		require.NoError(t, err)
		return patterns
	}

	t.Run("Matcher", func(t *testing.T) {
		t.Parallel()
		patterns, err := parseDockerignore("# c\n.git\n/bin\n**/*.test\ntmp/*.log\ndocs\n!docs/keep.md\n")
		require.NoError(t, err)
		for rel, want := range map[string]bool{
			".git":               true,
			".git/HEAD":          true,
			"bin/authos":         true,
			"cmd/bin/x":          false,
			"app.test":           true,
			"platform/x.test":    true,
			"platform/x_test.go": false,
			"tmp/a.log":          true,
			"tmp/sub/a.log":      false,
			"docs/a.md":          true,
			"docs/keep.md":       false,
			"go.mod":             false,
		} {
			require.Equal(t, want, dockerignored(patterns, rel), rel)
		}
		_, err = parseDockerignore("[ab]\n")
		require.Error(t, err)
	})

	t.Run("KeepsEverythingTheBuildReads", func(t *testing.T) {
		t.Parallel()
		root := repoRoot(t)
		patterns := loadPatterns(t)
		build := dockerBuild(t, loadDockerfile(t))

		needed := []string{"go.mod", "go.sum"}
		args := append([]string{"list", "-deps", "-e", "-f", `{{if .Module}}{{if eq .Module.Path "` + modulePath + `"}}{{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{range .EmbedFiles}} {{.}}{{end}}{{end}}{{end}}`}, build.Packages...)
		for line := range strings.SplitSeq(goCommand(t, root, args...), "\n") {
			fields := strings.Fields(line)
			if len(fields) == 0 {
				continue
			}
			dir, err := filepath.Rel(root, fields[0])
			require.NoError(t, err)
			for _, f := range fields[1:] {
				needed = append(needed, filepath.ToSlash(filepath.Join(dir, f)))
			}
		}
		require.Greater(t, len(needed), 10, "go list found too few source files")
		require.True(t, slices.ContainsFunc(needed, func(f string) bool { return strings.HasPrefix(f, "migrations/") && strings.HasSuffix(f, ".sql") }),
			"embedded migrations should be among the build inputs")
		for _, f := range needed {
			require.False(t, dockerignored(patterns, f), ".dockerignore drops %s, which the image build needs", f)
		}
	})

	t.Run("DropsLocalState", func(t *testing.T) {
		t.Parallel()
		patterns := loadPatterns(t)
		for _, rel := range []string{".git/config", ".data/postgres/PG_VERSION", "bin/authos", "tmp/x", ".env", "cmd/api/api.test"} {
			require.True(t, dockerignored(patterns, rel), "%s should not be sent to the builder", rel)
		}
	})
}
