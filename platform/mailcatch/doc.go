// Package mailcatch is an SMTP server that keeps every message it receives
// in memory instead of delivering it. Tests use it to assert on sent mail,
// and `authos dev` runs it as the development mail catcher with a small web
// view (list, message detail, JSON API).
//
// It accepts any sender and recipient, optional AUTH PLAIN or LOGIN with any
// credentials, and optionally STARTTLS or implicit TLS when given a
// certificate. Options.RejectRecipient lets tests answer RCPT with an error
// reply (550, 451, ...) to exercise permanent and temporary failures.
//
// Captured HTML is never rendered with the web view's origin: it is shown
// escaped, and previewed only inside a sandboxed iframe.
package mailcatch
