package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// ProblemContentType is the media type of every error body (RFC 9457).
const ProblemContentType = "application/problem+json"

// Error codes used by this package. Modules define their own specific codes
// (ORGANIZATION_NOT_ACTIVE, TOKEN_EXPIRED, ...) as they need them.
const (
	CodeBadRequest          = "BAD_REQUEST"
	CodeUnauthorized        = "UNAUTHORIZED"
	CodeForbidden           = "FORBIDDEN"
	CodeNotFound            = "NOT_FOUND"
	CodeMethodNotAllowed    = "METHOD_NOT_ALLOWED"
	CodeDuplicateConstraint = "DUPLICATE_CONSTRAINT"
	CodePayloadTooLarge     = "PAYLOAD_TOO_LARGE"
	CodeValidationError     = "VALIDATION_ERROR"
	CodeTooManyRequests     = "TOO_MANY_REQUESTS"
	CodeInternalServerError = "INTERNAL_SERVER_ERROR"
	CodeServiceUnavailable  = "SERVICE_UNAVAILABLE"
)

// Error is an AuthOS problem: an RFC 9457 problem details object extended
// with the AuthOS members error (always equal to detail), error_code and
// timestamp. Handlers return it (directly or wrapped) to answer with a
// specific status, code and message; it may carry response headers
// (Retry-After, ...) and an internal cause that is logged, never rendered.
//
// Instance and Timestamp are filled when the error is rendered, so an *Error
// may be built once and returned many times. For 5xx statuses only a generic
// message is ever sent; Detail and the cause go to the log.
type Error struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail"`
	Instance  string              `json:"instance"`
	Message   string              `json:"error"`
	Code      string              `json:"error_code"`
	Timestamp time.Time           `json:"timestamp"`
	Errors    []*huma.ErrorDetail `json:"errors,omitempty"`
	// ErrorDescription is set on OAuth endpoint errors (see WithOAuthError),
	// where error carries the RFC 6749/8628 code instead of the message.
	ErrorDescription string `json:"error_description,omitempty"`

	headers   http.Header
	cause     error
	oauthCode string
}

// WithOAuthError makes e an OAuth endpoint error (RFC 6749 §5.2, RFC 8628
// §3.5): the error member carries code (authorization_pending, ...) so
// standard OAuth clients understand it, and error_description the message;
// the other AuthOS members stay.
func (e *Error) WithOAuthError(code string) *Error {
	c := e.clone()
	c.oauthCode = code
	return c
}

// NewError returns a problem with the given status, error code and
// human-readable message. An empty code is derived from the status
// ([CodeForStatus]).
//
//	return nil, httpapi.NewError(403, "ORGANIZATION_NOT_ACTIVE",
//		"Organization is not active. Current status: pending")
func NewError(status int, code, message string) *Error {
	if code == "" {
		code = CodeForStatus(status)
	}
	return &Error{Status: status, Code: code, Detail: message}
}

// Error returns the problem's message.
func (e *Error) Error() string { return e.Detail }

// Unwrap returns the internal cause attached with [Error.WithCause].
func (e *Error) Unwrap() error { return e.cause }

// GetStatus returns the HTTP status; it makes *Error a huma.StatusError.
func (e *Error) GetStatus() int { return e.Status }

// GetHeaders returns the extra response headers; it makes *Error a
// huma.HeadersError.
func (e *Error) GetHeaders() http.Header { return e.headers }

// ContentType maps application/json to application/problem+json; it makes
// *Error a huma.ContentTypeFilter.
func (e *Error) ContentType(ct string) string {
	if ct == "application/json" {
		return ProblemContentType
	}
	return ct
}

// WithHeader returns a copy of e that also sends the response header key:
// value (for example Retry-After on a 429).
func (e *Error) WithHeader(key, value string) *Error {
	cp := e.clone()
	cp.headers.Add(key, value)
	return cp
}

// WithCause returns a copy of e carrying cause. The cause is logged with the
// request id when the error is a 5xx and is never sent to the client.
func (e *Error) WithCause(cause error) *Error {
	cp := e.clone()
	cp.cause = cause
	return cp
}

// WithDetails returns a copy of e listing per-field problems in errors[].
func (e *Error) WithDetails(details ...*huma.ErrorDetail) *Error {
	cp := e.clone()
	cp.Errors = append(cp.Errors, details...)
	return cp
}

func (e *Error) clone() *Error {
	cp := *e
	cp.headers = e.headers.Clone()
	if cp.headers == nil {
		cp.headers = http.Header{}
	}
	cp.Errors = append([]*huma.ErrorDetail(nil), e.Errors...)
	return &cp
}

// CodeForStatus returns the AuthOS error_code used when a handler sets none:
// the table of the spec (409 DUPLICATE_CONSTRAINT, 413 PAYLOAD_TOO_LARGE,
// 422 VALIDATION_ERROR, ...) and otherwise the status text in upper snake
// case (415 UNSUPPORTED_MEDIA_TYPE).
func CodeForStatus(status int) string {
	switch status {
	case http.StatusConflict:
		return CodeDuplicateConstraint
	case http.StatusRequestEntityTooLarge:
		return CodePayloadTooLarge
	case http.StatusUnprocessableEntity:
		return CodeValidationError
	}
	text := http.StatusText(status)
	if text == "" {
		if status >= 500 {
			return CodeInternalServerError
		}
		return CodeBadRequest
	}
	return strings.ToUpper(strings.NewReplacer(" ", "_", "-", "_", "'", "").Replace(text))
}

// genericMessage is the only message a 5xx body may carry.
func genericMessage(status int) string {
	if status == http.StatusServiceUnavailable {
		return "Service unavailable"
	}
	return "Internal server error"
}

// finalize fills the members that depend on the request and strips 5xx
// bodies down to a generic message, logging what was stripped. e must be a
// private copy.
func finalize(ctx context.Context, e *Error) {
	if e.Status == 0 {
		e.Status = http.StatusInternalServerError
	}
	if e.Code == "" {
		e.Code = CodeForStatus(e.Status)
	}
	e.Type = "about:blank"
	e.Title = http.StatusText(e.Status)
	if e.Instance == "" {
		e.Instance = RequestIDFrom(ctx)
	}
	if e.Timestamp.IsZero() {
		e.Timestamp = time.Now().UTC().Truncate(time.Second)
	}
	if e.Status >= 500 {
		logServerError(ctx, e)
		e.Detail = genericMessage(e.Status)
		e.Errors = nil
	}
	e.Message = e.Detail
	if e.oauthCode != "" {
		e.Message, e.ErrorDescription = e.oauthCode, e.Detail
	}
}

// logServerError records everything a 5xx response hides from the client.
func logServerError(ctx context.Context, e *Error) {
	attrs := []any{"status", e.Status, "error_code", e.Code, "detail", e.Detail}
	if st := stateFrom(ctx); st != nil && st.operation != "" {
		attrs = append(attrs, "operation", st.operation)
	}
	if e.cause != nil {
		attrs = append(attrs, "cause", e.cause.Error())
	}
	for _, d := range e.Errors {
		attrs = append(attrs, "error_detail", d.Error())
	}
	loggerFrom(ctx).ErrorContext(ctx, "request failed", attrs...)
}
