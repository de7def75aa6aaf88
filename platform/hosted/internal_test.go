package hosted

import (
	"bytes"
	"html/template"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRenderTemplateErrorIsAClean500(t *testing.T) {
	t.Parallel()

	var logs bytes.Buffer
	r, err := New(Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	// A page whose template fails half-way, after writing output.
	r.pages[tmplMessage] = template.Must(template.New("x").Parse(`{{define "layout"}}<p>secret {{.Data.NoSuchField}}</p>{{end}}`))
	rec := httptest.NewRecorder()
	r.MessagePage(rec, http.StatusOK, MessageData{OK: true})
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.Equal(t, internalErrorPage, rec.Body.String())
	require.NotContains(t, rec.Body.String(), "secret")
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	require.Contains(t, logs.String(), "render hosted page")
	require.Contains(t, logs.String(), "page=message")
}

func TestParseColor(t *testing.T) {
	t.Parallel()

	for in, want := range map[string]string{"#abc": "#aabbcc", "#ABCDEF": "#abcdef", "#0a7": "#00aa77", "#123456": "#123456"} {
		got, ok := parseColor(in)
		require.True(t, ok, in)
		require.Equal(t, want, got)
	}
	for _, in := range []string{"", "#", "abc", "#ab", "#abcd", "#abcdeg", "#abcdef0", "##abcde", "rgb(0,0,0)", "#ab\x00"} {
		_, ok := parseColor(in)
		require.False(t, ok, in)
	}
}

func TestContrastRatio(t *testing.T) {
	t.Parallel()

	require.InDelta(t, 21.0, contrast("#000000", "#ffffff"), 0.01)
	require.InDelta(t, 1.0, contrast("#777777", "#777777"), 0.001)
	require.InDelta(t, 4.48, contrast("#777777", "#ffffff"), 0.01) // the classic just-failing grey
	require.InDelta(t, contrast("#1d4ed8", "#ffffff"), contrast("#ffffff", "#1d4ed8"), 1e-12)

	// Whatever the brand colour, the chosen button text reaches 4.5:1 and
	// links reach 4.5:1 against the white card.
	for _, c := range []string{"#000000", "#ffffff", "#777777", "#ff0000", "#00ff00", "#0000ff", "#ffff00", "#808080", "#0a7a7a"} {
		b := Branding{PrimaryColor: c}.normalize("AuthOS", DefaultPrimaryColor)
		require.GreaterOrEqual(t, contrast(b.Color, b.OnColor), 4.5, c)
		require.GreaterOrEqual(t, contrast(b.LinkColor, white), 4.5, c)
	}
}
