// Package hosted renders the browser pages AuthOS serves itself: sign-in
// (/authorize), the MFA challenge, device activation (/activate and
// /activate/success), password reset, invitation acceptance, and a generic
// result page (e-mail verification, "Authentication Failed").
//
// The pages are server-rendered with html/template from templates embedded
// in the binary: no JavaScript, no front-end build. They are accessible
// (html lang, one h1, every field labelled, hints and errors tied to fields
// with aria-describedby, an alert region for errors, visible focus,
// WCAG AA contrast whatever the brand colour) and branded per organization
// (Branding: name, https logo, primary colour), with every tenant-supplied
// value validated or escaped.
//
// Each page method sets strict headers: Cache-Control no-store,
// Referrer-Policy no-referrer, X-Frame-Options DENY, nosniff, and a CSP of
// default-src 'none' with a per-response style nonce, img-src https: data:,
// form-action 'self' plus Page.FormActionOrigins, frame-ancestors 'none'
// and base-uri 'none'.
//
// A handler typically does:
//
//	// GET
//	r.LoginPage(w, http.StatusOK, hosted.LoginData{
//		Page:   hosted.Page{Branding: b, CSRFToken: csrf.Token(w, req), FormActionOrigins: []string{redirectURI}},
//		Action: "/authorize", Hidden: []hosted.HiddenField{{Name: "state", Value: state}},
//	})
//	// POST
//	if !csrf.Valid(req) { r.LoginPage(w, http.StatusForbidden, …Error: "Your session expired. Please try again."…) }
//
// Limit the request body (http.MaxBytesReader) before CSRF.Valid parses it.
package hosted
