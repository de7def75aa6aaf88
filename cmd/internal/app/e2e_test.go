package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/migrations"
	"github.com/authos/authos/modules/compliance"
	"github.com/authos/authos/platform/config"
	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/events"
	"github.com/authos/authos/platform/localenv"
	"github.com/authos/authos/platform/mail"
	"github.com/authos/authos/platform/mailcatch"
	"github.com/authos/authos/platform/testenv"
)

// TestE2EEmailJobSharesTheTransaction: an email job inserted with InsertTx
// next to a row is delivered by the real worker binary when the transaction
// commits, and never exists when it rolls back.
func TestE2EEmailJobSharesTheTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := testenv.PostgresURL(t)
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	catcher, err := mailcatch.Start(ctx, "127.0.0.1:0", "")
	require.NoError(t, err)
	t.Cleanup(func() { _ = catcher.Close() })
	host, port := splitHostPort(t, catcher.SMTPAddr())

	env := baseEnv(t, dbURL, testenv.RedisURL(t))
	env["SMTP_HOST"], env["SMTP_PORT"], env["SMTP_TLS"] = host, port, "none"
	env["SMTP_FROM_EMAIL"] = "noreply@authos.test"
	startProc(t, binary(t, "worker"), env)
	waitStatus(t, "http://127.0.0.1:"+env["WORKER_PORT"]+"/health/ready", http.StatusOK, 30*time.Second)

	ring, err := crypto.ParseKeyRing("k1", config.DevelopmentEncryptionKey, "")
	require.NoError(t, err)
	insert, err := jobs.NewInsertOnlyClient(pool, nil)
	require.NoError(t, err)
	audit, err := compliance.New(compliance.Deps{Pool: pool})
	require.NoError(t, err)
	org := uuid.New()
	_, err = pool.Exec(ctx, `INSERT INTO organizations (id, slug, name) VALUES ($1, 'e2e-org', 'E2E')`, org)
	require.NoError(t, err)

	enqueue := func(to, link string) func(tx pgx.Tx) error {
		return func(tx pgx.Tx) error {
			if err := audit.Recorder().Record(ctx, tx, events.Event{Type: "user.invited", OrgID: &org, Details: map[string]any{"email": to}}); err != nil {
				return err
			}
			args, err := jobs.NewEmail(ring, nil, to, "verify_email", mail.LinkData{
				Branding: mail.Branding{AppName: "AuthOS"}, Link: link, ExpiresIn: "24 hours",
			})
			if err != nil {
				return err
			}
			_, err = insert.InsertTx(ctx, tx, args, nil)
			return err
		}
	}

	// Rolled back first: if it could ever be sent, it would arrive before
	// the committed one that we wait for.
	errRollback := db.InTx(ctx, pool, func(tx pgx.Tx) error {
		require.NoError(t, enqueue("ghost@example.com", "https://app.example/verify?token=ghost")(tx))
		return context.Canceled
	})
	require.ErrorIs(t, errRollback, context.Canceled)
	require.NoError(t, db.InTx(ctx, pool, enqueue("alice@example.com", "https://app.example/verify?token=secret-token-123")))

	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	msg, err := catcher.WaitFor(waitCtx, func(c mailcatch.Captured) bool { return len(c.To) == 1 && c.To[0] == "alice@example.com" })
	require.NoError(t, err)
	require.Contains(t, msg.Text, "https://app.example/verify?token=secret-token-123")
	require.Contains(t, msg.HTML, "https://app.example/verify?token=secret-token-123")
	require.NotEmpty(t, msg.Subject)

	// Exactly one audit row and one job exist: the rolled-back pair left nothing.
	var auditRows, jobRows int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM organization_audit_log WHERE org_id = $1", org).Scan(&auditRows))
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM river_job WHERE kind = 'email.send'").Scan(&jobRows))
	require.Equal(t, 1, auditRows)
	require.Equal(t, 1, jobRows)
	for _, m := range catcher.Messages() {
		require.NotContains(t, m.To, "ghost@example.com")
	}

	// The token never sits readable in the job table.
	var rawArgs string
	require.NoError(t, pool.QueryRow(ctx, "SELECT args::text FROM river_job WHERE kind = 'email.send'").Scan(&rawArgs))
	require.NotContains(t, rawArgs, "secret-token-123")

	// The job completed.
	require.Eventually(t, func() bool {
		var state string
		_ = pool.QueryRow(ctx, "SELECT state::text FROM river_job WHERE kind = 'email.send'").Scan(&state)
		return state == string(rivertype.JobStateCompleted)
	}, 10*time.Second, 50*time.Millisecond)
}

// TestE2EInvalidConfigurationExits: every problem is listed, exit status 1.
func TestE2EInvalidConfigurationExits(t *testing.T) {
	t.Parallel()
	for _, bin := range []string{"api", "worker"} {
		t.Run(bin, func(t *testing.T) {
			t.Parallel()
			p := startProc(t, binary(t, bin), map[string]string{
				"AUTHOS_ENV": "production", "PORT": "eighty", "BILLING_PROVIDER": "paypal", "ENCRYPTION_KEY": "",
			})
			require.Equal(t, 1, p.exitCode(t, 20*time.Second))
			out := p.out.String()
			require.Contains(t, out, "invalid configuration")
			require.Contains(t, out, "PORT: want an integer")
			require.Contains(t, out, "BILLING_PROVIDER: must be none, disabled or stripe")
			require.Contains(t, out, "ENCRYPTION_KEY: required outside development")
		})
	}
}

// TestE2ERefusesStaleSchema: the API and worker never migrate implicitly
// and refuse to start when the schema is behind.
func TestE2ERefusesStaleSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := testenv.PostgresURL(t)
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	st, err := migrations.GetStatus(ctx, pool)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, "DELETE FROM goose_db_version WHERE version_id = $1", st.Target)
	require.NoError(t, err)

	for _, bin := range []string{"api", "worker"} {
		p := startProc(t, binary(t, bin), baseEnv(t, dbURL, testenv.RedisURL(t)))
		require.Equal(t, 1, p.exitCode(t, 30*time.Second), bin)
		require.Contains(t, p.out.String(), "authos migrate", bin)
	}
	after, err := migrations.GetStatus(ctx, pool)
	require.NoError(t, err)
	require.True(t, after.Behind(), "nothing was migrated implicitly")
}

// TestE2EDependencyOutages: with PostgreSQL stopped, readiness turns 503
// within two seconds naming the database while liveness stays 200, and the
// API recovers by itself when the database returns. With Redis stopped,
// readiness names Redis.
func TestE2EDependencyOutages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "authos-outage-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	pg, err := localenv.StartPostgres(ctx, localenv.PostgresOptions{Dir: filepath.Join(dir, "pg")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pg.Stop() })
	require.NoError(t, pg.EnsureDatabase(ctx, "authos"))
	rds, err := localenv.StartRedis(ctx, localenv.RedisOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rds.Stop() })

	env := baseEnv(t, pg.URL("authos"), rds.URL())
	mig := startProc(t, binary(t, "authos"), env, "migrate")
	require.Equal(t, 0, mig.exitCode(t, 60*time.Second), mig.out.String())
	startProc(t, binary(t, "api"), env)
	base := "http://127.0.0.1:" + env["PORT"]
	waitStatus(t, base+"/health/ready", http.StatusOK, 30*time.Second)

	require.NoError(t, pg.Stop())
	start := time.Now()
	body := readyBody(t, base)
	require.Less(t, time.Since(start), 2*time.Second, "readiness must answer within 2s with the database down")
	require.Equal(t, "unhealthy", body["status"])
	require.Equal(t, "disconnected", body["database"])
	require.Equal(t, "connected", body["redis"])
	waitStatus(t, base+"/health/live", http.StatusOK, time.Second)

	pg, err = localenv.StartPostgres(ctx, localenv.PostgresOptions{Dir: pg.Dir, Port: pg.Port})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pg.Stop() })
	waitStatus(t, base+"/health/ready", http.StatusOK, 20*time.Second)

	require.NoError(t, rds.Stop())
	body = readyBody(t, base)
	require.Equal(t, "disconnected", body["redis"])
	require.Equal(t, "connected", body["database"])
	waitStatus(t, base+"/health/live", http.StatusOK, time.Second)
}

func readyBody(t *testing.T, base string) map[string]any {
	t.Helper()
	resp, err := http.Get(base + "/health/ready")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return body
}

// TestE2EGracefulStop: SIGTERM stops both processes cleanly (exit 0).
func TestE2EGracefulStop(t *testing.T) {
	t.Parallel()
	env := baseEnv(t, testenv.PostgresURL(t), testenv.RedisURL(t))
	api := startProc(t, binary(t, "api"), env)
	worker := startProc(t, binary(t, "worker"), env)
	waitStatus(t, "http://127.0.0.1:"+env["PORT"]+"/health/ready", http.StatusOK, 30*time.Second)
	waitStatus(t, "http://127.0.0.1:"+env["WORKER_PORT"]+"/health/ready", http.StatusOK, 30*time.Second)
	for _, p := range []*proc{api, worker} {
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
		require.Equal(t, 0, p.exitCode(t, 30*time.Second), p.out.String())
	}
	require.Contains(t, api.out.String(), "api stopped")
	require.Contains(t, worker.out.String(), "worker stopped")
}
