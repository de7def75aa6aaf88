package mailcatch

import (
	"encoding/json"
	"html/template"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// Handler returns the web view: GET / lists messages newest first,
// GET /messages/{id} shows one, GET /api/messages returns them as JSON
// (newest first) and DELETE /api/messages clears them. Pages link
// relatively, so the handler also works mounted under a prefix with
// http.StripPrefix; Start serves it at the root of Options.HTTPAddr.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handleList)
	mux.HandleFunc("GET /messages/{id}", s.handleMessage)
	mux.HandleFunc("GET /api/messages", s.handleAPIList)
	mux.HandleFunc("DELETE /api/messages", s.handleAPIClear)
	return securityHeaders(mux)
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// The srcdoc preview inherits this policy: no scripts, no forms, no
		// network fetches except images.
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src * data:; frame-src 'self'; base-uri 'none'; form-action 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// apiMessage is the JSON form of a Captured message.
type apiMessage struct {
	ID         int                 `json:"id"`
	From       string              `json:"from"`
	To         []string            `json:"to"`
	Subject    string              `json:"subject"`
	Text       string              `json:"text"`
	HTML       string              `json:"html"`
	Headers    map[string][]string `json:"headers"`
	ReceivedAt time.Time           `json:"received_at"`
	Username   string              `json:"username,omitempty"`
	TLS        bool                `json:"tls"`
	ParseError string              `json:"parse_error,omitempty"`
	Raw        string              `json:"raw"`
}

func toAPIMessage(c Captured) apiMessage {
	return apiMessage{
		ID: c.ID, From: c.From, To: c.To, Subject: c.Subject, Text: c.Text, HTML: c.HTML,
		Headers: c.Header, ReceivedAt: c.ReceivedAt, Username: c.Username, TLS: c.TLS,
		ParseError: c.ParseError, Raw: string(c.Raw),
	}
}

func (s *Server) newestFirst() []Captured {
	msgs := s.Messages()
	slices.Reverse(msgs)
	return msgs
}

func (s *Server) handleAPIList(w http.ResponseWriter, _ *http.Request) {
	msgs := s.newestFirst()
	out := make([]apiMessage, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, toAPIMessage(m))
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"messages": out, "total": len(out)})
}

func (s *Server) handleAPIClear(w http.ResponseWriter, _ *http.Request) {
	s.Clear()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleList(w http.ResponseWriter, _ *http.Request) {
	render(w, listPage, s.newestFirst())
}

var linkPattern = regexp.MustCompile(`https?://[^\s<>"']+`)

func (s *Server) handleMessage(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	m, ok := s.Message(id)
	if !ok {
		http.NotFound(w, r)
		return
	}
	render(w, messagePage, struct {
		Captured
		Links []string
		Raw   string
	}{Captured: m, Links: linkPattern.FindAllString(m.Text, 20), Raw: string(m.Raw)})
}

func render(w http.ResponseWriter, t *template.Template, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := t.Execute(w, data); err != nil {
		http.Error(w, "render page", http.StatusInternalServerError)
	}
}

const pageStyle = `<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#18181b}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #e4e4e7;vertical-align:top}
pre{white-space:pre-wrap;word-break:break-word;background:#f4f4f5;padding:1rem;border-radius:6px}
iframe{width:100%;height:32rem;border:1px solid #e4e4e7;border-radius:6px}
.muted{color:#71717a}
</style>`

var listPage = template.Must(template.New("list").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>mailcatch</title>` + pageStyle + `</head>
<body>
<h1>Captured mail</h1>
{{if .}}
<table>
<thead><tr><th>Received</th><th>To</th><th>Subject</th></tr></thead>
<tbody>
{{range .}}<tr>
<td class="muted">{{.ReceivedAt.Format "2006-01-02 15:04:05Z07:00"}}</td>
<td>{{range $i, $to := .To}}{{if $i}}, {{end}}{{$to}}{{end}}</td>
<td><a href="messages/{{.ID}}">{{if .Subject}}{{.Subject}}{{else}}(no subject){{end}}</a></td>
</tr>
{{end}}</tbody>
</table>
{{else}}
<p class="muted">No messages yet.</p>
{{end}}
</body></html>
`))

var messagePage = template.Must(template.New("message").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Subject}} – mailcatch</title>` + pageStyle + `</head>
<body>
<p><a href="../">&larr; All messages</a></p>
<h1>{{if .Subject}}{{.Subject}}{{else}}(no subject){{end}}</h1>
<table>
<tr><th>From</th><td>{{.From}}</td></tr>
<tr><th>To</th><td>{{range $i, $to := .To}}{{if $i}}, {{end}}{{$to}}{{end}}</td></tr>
<tr><th>Received</th><td>{{.ReceivedAt.Format "2006-01-02 15:04:05Z07:00"}}{{if .TLS}} over TLS{{end}}{{with .Username}} as {{.}}{{end}}</td></tr>
{{with .ParseError}}<tr><th>Parse error</th><td>{{.}}</td></tr>{{end}}
</table>
{{if .Links}}<h2>Links</h2>
<ul>{{range .Links}}<li><a href="{{.}}" rel="noreferrer noopener" target="_blank">{{.}}</a></li>{{end}}</ul>{{end}}
{{if .Text}}<h2>Text</h2>
<pre>{{.Text}}</pre>{{end}}
{{if .HTML}}<h2>HTML preview</h2>
<iframe sandbox="" referrerpolicy="no-referrer" title="HTML preview" srcdoc="{{.HTML}}"></iframe>
<h2>HTML source</h2>
<pre>{{.HTML}}</pre>{{end}}
<h2>Raw message</h2>
<pre>{{.Raw}}</pre>
</body></html>
`))
