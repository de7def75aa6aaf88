// Command api serves the AuthOS HTTP API. It is stateless: run as many
// replicas as load requires behind a load balancer.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/authos/authos/cmd/internal/app"
)

func main() {
	if err := app.RunAPI(context.Background(), os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(app.ExitCode(err))
	}
}
