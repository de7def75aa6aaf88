// Command authos is the AuthOS operator CLI:
//
//	authos migrate                 apply database migrations (ours and River's)
//	authos api                     serve the HTTP API (same as cmd/api)
//	authos worker                  run background jobs (same as cmd/worker)
//	authos dev                     run everything locally: PostgreSQL, Redis, a mail catcher, api and worker
//	authos keys rotate             make a new active JWT signing key (previous keys keep verifying)
//	authos openapi [yaml|json]     print the OpenAPI document
//	authos with-services -- CMD    run CMD with throwaway PostgreSQL and Redis (used by `task test`)
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/authos/authos/cmd/internal/app"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, getenv app.Env, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	var err error
	switch args[0] {
	case "migrate":
		err = app.Migrate(ctx, getenv, stdout, stderr)
	case "api":
		err = app.RunAPI(ctx, getenv, stdout, stderr)
	case "worker":
		err = app.RunWorker(ctx, getenv, stdout, stderr)
	case "dev":
		err = app.Dev(ctx, getenv, stdout, stderr)
	case "keys":
		err = app.KeysRotate(ctx, getenv, args[1:], stdout, stderr)
	case "openapi":
		format := "yaml"
		if len(args) > 1 {
			format = args[1]
		}
		err = app.PrintOpenAPI(stdout, format)
	case "with-services":
		rest := args[1:]
		if len(rest) > 0 && rest[0] == "--" {
			rest = rest[1:]
		}
		err = app.WithServices(ctx, getenv, rest, stdout, stderr)
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "authos: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "authos "+args[0]+":", err)
		return app.ExitCode(err)
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: authos <command>

commands:
  migrate                 apply database migrations (ours and River's)
  api                     serve the HTTP API
  worker                  run background jobs
  dev                     run everything locally (PostgreSQL, Redis, mail catcher, api, worker)
  keys rotate             make a new active JWT signing key (previous keys keep verifying)
  openapi [yaml|json]     print the OpenAPI document
  with-services -- CMD    run CMD with throwaway PostgreSQL and Redis (TEST_DATABASE_URL, TEST_REDIS_URL)
`)
}
