// Command worker runs AuthOS background jobs (emails, webhook deliveries,
// exports, rollups) from River queues, and serves /health/live and
// /health/ready on WORKER_PORT. Run as many replicas as the queues need.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/authos/authos/cmd/internal/app"
)

func main() {
	if err := app.RunWorker(context.Background(), os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(app.ExitCode(err))
	}
}
