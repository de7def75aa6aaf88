package httpapi

import (
	"bytes"
	"embed"
	"net/http"
	"path"
	"time"

	"github.com/go-chi/chi/v5"
)

// The API reference page is Stoplight Elements 9.0.25 (Apache-2.0), vendored
// from the npm package @stoplight/elements so /docs works offline and loads
// nothing from a CDN. To upgrade: `npm pack @stoplight/elements@X`, copy
// web-components.min.js, styles.min.css and the licence files into
// docsassets/, and bump elementsVersion (it busts browser caches).
const elementsVersion = "9.0.25"

//go:embed docsassets/web-components.min.js docsassets/styles.min.css
var docsAssets embed.FS

// docsCSP allows the page its own script and stylesheet and nothing from
// elsewhere; Elements needs inline styles and fetches /openapi.json.
const docsCSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; " +
	"script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; " +
	"connect-src 'self'; worker-src 'self' blob:"

const docsHTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="referrer" content="no-referrer">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>AuthOS API reference</title>
    <link rel="stylesheet" href="/docs/assets/styles.min.css?v=` + elementsVersion + `">
    <script src="/docs/assets/web-components.min.js?v=` + elementsVersion + `"></script>
  </head>
  <body style="height: 100vh; margin: 0;">
    <elements-api
      apiDescriptionUrl="/openapi.json"
      router="hash"
      layout="sidebar"
      tryItCredentialsPolicy="same-origin"
    ></elements-api>
  </body>
</html>
`

// docsAssetType returns the media type of a served asset; ok is false for
// any other name.
func docsAssetType(name string) (ct string, ok bool) {
	switch name {
	case "web-components.min.js":
		return "text/javascript; charset=utf-8", true
	case "styles.min.css":
		return "text/css; charset=utf-8", true
	}
	return "", false
}

// mountDocs serves the reference page at /docs and its assets at
// /docs/assets/{name}.
func mountDocs(r chi.Router) {
	r.Get("/docs", func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", docsCSP)
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write([]byte(docsHTML))
	})
	r.Get("/docs/assets/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := chi.URLParam(r, "name")
		ct, ok := docsAssetType(name)
		if !ok {
			WriteProblem(w, r, http.StatusNotFound, CodeNotFound, "Not found")
			return
		}
		data, err := docsAssets.ReadFile(path.Join("docsassets", name))
		if err != nil {
			WriteError(w, r, err)
			return
		}
		h := w.Header()
		h.Set("Content-Type", ct)
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
	})
}
