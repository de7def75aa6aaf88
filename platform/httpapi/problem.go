package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// WriteProblem writes a problem+json response from a plain net/http handler
// or middleware (rate limiter, webhook intake, ...), in the same shape the
// Huma operations produce. An empty code is derived from the status. For a
// 5xx the message is logged and replaced by a generic one.
func WriteProblem(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	writeProblem(w, r, NewError(status, code, message))
}

// WriteError writes err as a problem+json response from a plain net/http
// handler: an *Error (also wrapped) as is, a huma status error with its
// status, a body that exceeded the size limit as 413 PAYLOAD_TOO_LARGE and
// anything else as a generic 500 whose cause is logged.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	writeProblem(w, r, problemFromError(r.Context(), err))
}

// problemFromError converts any error into a private *Error copy.
func problemFromError(ctx context.Context, err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.clone()
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return payloadTooLarge()
	}
	var hm *huma.ErrorModel
	if errors.As(err, &hm) {
		return fromHumaModel(hm)
	}
	var se huma.StatusError
	if errors.As(err, &se) {
		return NewError(se.GetStatus(), "", se.Error()).WithCause(err)
	}
	return internalError(ctx, err)
}

// writeProblem finalizes e and writes it with its headers.
func writeProblem(w http.ResponseWriter, r *http.Request, e *Error) {
	finalize(r.Context(), e)
	h := w.Header()
	for k, vs := range e.headers {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	if e.Status == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
		h.Set("WWW-Authenticate", "Bearer")
	}
	body, err := json.Marshal(e)
	if err != nil {
		// Cannot happen for this type; keep the status anyway.
		body = []byte(fmt.Sprintf(`{"status":%d}`, e.Status))
	}
	h.Set("Content-Type", ProblemContentType)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}

// payloadTooLarge is the problem for a body over the configured limit.
func payloadTooLarge() *Error {
	return NewError(http.StatusRequestEntityTooLarge, CodePayloadTooLarge, "Request body too large")
}

// internalError wraps an unexpected error as a 500 whose cause is logged. A
// cause that is the request's own deadline becomes a 503 instead.
func internalError(ctx context.Context, cause error) *Error {
	if errors.Is(cause, context.DeadlineExceeded) && ctx.Err() != nil {
		return NewError(http.StatusServiceUnavailable, CodeServiceUnavailable, "Request timed out").WithCause(cause)
	}
	return NewError(http.StatusInternalServerError, CodeInternalServerError, "Unexpected error").WithCause(cause)
}

// fromHumaModel converts a problem built by huma.NewError (for example by
// huma.Error404NotFound in a handler) into an *Error.
func fromHumaModel(m *huma.ErrorModel) *Error {
	e := NewError(m.Status, "", m.Detail)
	e.Errors = append(e.Errors, m.Errors...)
	return e
}
