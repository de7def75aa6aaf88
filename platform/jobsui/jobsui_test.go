package jobsui_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/jobsui"
	"github.com/authos/authos/platform/testenv"
)

type noteArgs struct {
	Note string `json:"note"`
}

func (noteArgs) Kind() string { return "jobsui_test.note" }

type testBundle struct {
	pool *pgxpool.Pool
	srv  *httptest.Server
	h    *jobsui.Handler
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	pool := testenv.Postgres(t)
	h, err := jobsui.New(t.Context(), jobsui.Options{Pool: pool, Prefix: "/admin/jobs"})
	require.NoError(t, err)
	require.NoError(t, h.Start(t.Context()))
	t.Cleanup(h.Stop)
	mux := http.NewServeMux()
	mux.Handle("/admin/jobs", h)
	mux.Handle("/admin/jobs/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &testBundle{pool: pool, srv: srv, h: h}
}

func get(t *testing.T, c *http.Client, u, accept string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	require.NoError(t, err)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func TestNew(t *testing.T) {
	t.Parallel()

	t.Run("RequiresPool", func(t *testing.T) {
		t.Parallel()
		_, err := jobsui.New(t.Context(), jobsui.Options{})
		require.ErrorContains(t, err, "pool is required")
	})

	t.Run("DefaultsPrefix", func(t *testing.T) {
		t.Parallel()
		pool := testenv.Postgres(t)
		h, err := jobsui.New(t.Context(), jobsui.Options{Pool: pool})
		require.NoError(t, err)
		require.Equal(t, jobsui.DefaultPrefix, h.Prefix())
		h, err = jobsui.New(t.Context(), jobsui.Options{Pool: pool, Prefix: "ops/jobs/"})
		require.NoError(t, err)
		require.Equal(t, "/ops/jobs", h.Prefix())
	})
}

func TestHandler(t *testing.T) {
	t.Parallel()

	b := setup(t)
	client, err := river.NewClient(riverpgxv5.New(b.pool), &river.Config{})
	require.NoError(t, err)
	res, err := client.Insert(t.Context(), noteArgs{Note: "hello"}, &river.InsertOpts{Queue: "email"})
	require.NoError(t, err)
	jobID := res.Job.ID

	t.Run("ServesThePageWithEmbeddedAssets", func(t *testing.T) {
		t.Parallel()
		resp, body := get(t, b.srv.Client(), b.srv.URL+"/admin/jobs/", "text/html")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Contains(t, resp.Header.Get("Content-Type"), "text/html")
		require.Contains(t, body, `<div id="root"`)
		require.Contains(t, body, `/admin/jobs/api`) // the SPA's API base is prefixed

		// The script the page loads is served from the binary.
		m := regexp.MustCompile(`src="(/admin/jobs/assets/[^"]+\.js)"`).FindStringSubmatch(body)
		require.Len(t, m, 2, body)
		resp, js := get(t, b.srv.Client(), b.srv.URL+m[1], "")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Greater(t, len(js), 1000)
	})

	t.Run("DeepLinksServeThePage", func(t *testing.T) {
		t.Parallel()
		resp, body := get(t, b.srv.Client(), b.srv.URL+"/admin/jobs/jobs/"+strconv.FormatInt(jobID, 10), "text/html")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Contains(t, body, `<div id="root"`)
	})

	t.Run("RedirectsBarePrefix", func(t *testing.T) {
		t.Parallel()
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, _ := get(t, c, b.srv.URL+"/admin/jobs", "text/html")
		require.Equal(t, http.StatusMovedPermanently, resp.StatusCode)
		require.Equal(t, "/admin/jobs/", resp.Header.Get("Location"))
	})

	t.Run("APIListsTheJob", func(t *testing.T) {
		t.Parallel()
		resp, body := get(t, b.srv.Client(), b.srv.URL+"/admin/jobs/api/jobs?state=available", "application/json")
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		var list struct {
			Data []struct {
				ID    int64  `json:"id"`
				Kind  string `json:"kind"`
				Queue string `json:"queue"`
				State string `json:"state"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &list))
		require.Len(t, list.Data, 1)
		require.Equal(t, jobID, list.Data[0].ID)
		require.Equal(t, "jobsui_test.note", list.Data[0].Kind)
		require.Equal(t, "email", list.Data[0].Queue)
		require.Equal(t, "available", list.Data[0].State)
	})

	t.Run("APIGetsTheJob", func(t *testing.T) {
		t.Parallel()
		resp, body := get(t, b.srv.Client(), b.srv.URL+"/admin/jobs/api/jobs/"+strconv.FormatInt(jobID, 10), "application/json")
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		require.Contains(t, body, `"kind":"jobsui_test.note"`)
	})

	t.Run("RefusesCrossOriginMutations", func(t *testing.T) {
		t.Parallel()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.srv.URL+"/admin/jobs/api/jobs/cancel",
			strings.NewReader(`{"ids":["`+strconv.FormatInt(jobID, 10)+`"]}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		resp, err := b.srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode)

		var state string
		require.NoError(t, b.pool.QueryRow(t.Context(), "SELECT state::text FROM river_job WHERE id = $1", jobID).Scan(&state))
		require.Equal(t, "available", state)
	})

	t.Run("OutsidePrefixIsNotFound", func(t *testing.T) {
		t.Parallel()
		rec := httptest.NewRecorder()
		b.h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/elsewhere/api/jobs", nil))
		require.Equal(t, http.StatusNotFound, rec.Code)
	})
}
