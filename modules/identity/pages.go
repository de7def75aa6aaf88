package identity

import (
	"errors"
	"html/template"
	"net/http"
)

var verifyPage = template.Must(template.New("verify").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} – AuthOS</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f4f5;color:#18181b;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}
main{background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.1);padding:40px;max-width:420px;text-align:center}
h1{font-size:24px;margin:0 0 12px}
p{margin:0;line-height:1.5}
.ok{color:#15803d}.bad{color:#b91c1c}
</style>
</head>
<body>
<main role="main">
<h1 class="{{if .OK}}ok{{else}}bad{{end}}">{{.Title}}</h1>
<p>{{.Message}}</p>
</main>
</body>
</html>
`))

type pageData struct {
	OK             bool
	Title, Message string
}

// verifyEmailPage consumes a verification token and renders the result.
func (s *Service) verifyEmailPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	err := s.VerifyEmail(r.Context(), r.URL.Query().Get("token"))
	data := pageData{OK: true, Title: "Email Verified!", Message: "Your email address is verified. You can close this page and sign in."}
	status := http.StatusOK
	switch {
	case err == nil:
	case errors.Is(err, ErrTokenUsed):
		status, data = http.StatusBadRequest, pageData{Title: "Link already used", Message: "This verification link was already used. If your email is verified you can sign in."}
	case errors.Is(err, ErrTokenExpired):
		status, data = http.StatusBadRequest, pageData{Title: "Link expired", Message: "This verification link has expired. Request a new one from the sign-in page."}
	case errors.Is(err, ErrEmailTaken):
		status, data = http.StatusBadRequest, pageData{Title: "Email already in use", Message: "This email address now belongs to another account. Your email address was not changed."}
	case errors.Is(err, ErrInvalidToken), errors.Is(err, ErrUserNotFound):
		status, data = http.StatusBadRequest, pageData{Title: "Invalid link", Message: "This verification link is not valid."}
	default:
		s.logger.ErrorContext(r.Context(), "verify email", "error", err)
		status, data = http.StatusInternalServerError, pageData{Title: "Something went wrong", Message: "Please try again later."}
	}
	w.WriteHeader(status)
	_ = verifyPage.Execute(w, data)
}
