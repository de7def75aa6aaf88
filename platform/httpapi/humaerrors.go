package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
)

// overrideOnce guards the one sanctioned global of AuthOS: the replacement of
// huma.NewErrorWithContext.
var overrideOnce sync.Once

// installErrorOverride makes every error Huma itself produces (validation,
// body parsing, unexpected handler errors) an AuthOS *Error. It is idempotent.
func installErrorOverride() {
	overrideOnce.Do(func() {
		huma.NewErrorWithContext = newErrorWithContext
	})
}

// newErrorWithContext is the replacement for huma.NewErrorWithContext. Huma
// calls it with a status, a lowercase message and the underlying errors.
func newErrorWithContext(hctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
	ctx := context.Background()
	if hctx != nil {
		ctx = hctx.Context()
	}
	errs = compact(errs)

	// A problem handed to huma.WriteErr (by the auth middleware or a resolver)
	// is rendered as it is.
	if len(errs) == 1 {
		var pe *Error
		if errors.As(errs[0], &pe) && pe.Status == status {
			return pe
		}
	}
	for _, err := range errs {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return payloadTooLarge()
		}
	}

	switch {
	case status == http.StatusRequestEntityTooLarge:
		return payloadTooLarge()
	case status == http.StatusUnsupportedMediaType:
		return NewError(http.StatusBadRequest, CodeBadRequest, "Content-Type must be application/json")
	case status >= 500:
		cause := errors.New(msg)
		if len(errs) > 0 {
			cause = fmt.Errorf("%s: %w", msg, errors.Join(errs...))
		}
		if status == http.StatusInternalServerError {
			return internalError(ctx, cause)
		}
		return NewError(status, "", msg).WithCause(cause)
	}

	details := toDetails(errs)
	if status == http.StatusBadRequest && isJSONRequest(hctx) {
		for _, d := range details {
			if d.Location == "body" {
				// Never echo the raw body back: it may be large or hold secrets.
				d.Value = nil
				return NewError(status, CodeBadRequest, "JSON syntax error: "+d.Message).WithDetails(details...)
			}
		}
	}
	if status == http.StatusUnprocessableEntity {
		return NewError(status, CodeValidationError, "Validation failed").WithDetails(details...)
	}
	return NewError(status, "", capitalize(msg)).WithDetails(details...)
}

// transformError is a Huma transformer run on every response body. It turns
// error bodies (our *Error, or a huma.ErrorModel a handler built with
// huma.Error404NotFound and friends) into a finalized private *Error, which
// strips and logs the detail of any 5xx: Huma's default 500 path copies
// err.Error() into the body and this is where that stops.
func transformError(hctx huma.Context, _ string, v any) (any, error) {
	var e *Error
	switch b := v.(type) {
	case *Error:
		e = b.clone()
	case *huma.ErrorModel:
		e = fromHumaModel(b)
	default:
		return v, nil
	}
	finalize(hctx.Context(), e)
	hctx.SetHeader("Cache-Control", "no-store")
	if e.Status == http.StatusUnauthorized && e.headers.Get("WWW-Authenticate") == "" {
		hctx.SetHeader("WWW-Authenticate", "Bearer")
	}
	return e, nil
}

// writeHumaError renders e from a Huma middleware, with its headers.
func writeHumaError(api huma.API, hctx huma.Context, e *Error) {
	for k, vs := range e.headers {
		for _, v := range vs {
			hctx.AppendHeader(k, v)
		}
	}
	_ = huma.WriteErr(api, hctx, e.Status, e.Detail, e)
}

// documentErrorSchema adds the AuthOS members to the ErrorModel schema Huma
// uses for every documented error response, so the OpenAPI matches the body.
func documentErrorSchema(reg huma.Registry) {
	reg.Schema(reflect.TypeFor[huma.ErrorModel](), true, "")
	s := reg.Map()["ErrorModel"]
	if s == nil || s.Properties == nil {
		return
	}
	s.Properties["error"] = &huma.Schema{Type: "string", Description: "Same as detail.", Examples: []any{"Organization not found"}}
	s.Properties["error_code"] = &huma.Schema{Type: "string", Description: "Stable machine-readable error code.", Examples: []any{"NOT_FOUND"}}
	s.Properties["timestamp"] = &huma.Schema{Type: "string", Format: "date-time", Description: "When the error occurred (RFC 3339, UTC)."}
	if inst := s.Properties["instance"]; inst != nil {
		inst.Format = ""
		inst.Description = "The request id of this occurrence; quote it when reporting a problem."
		inst.Examples = []any{"0b7c6f2e-3d0a-4a8e-9c61-2f4f4f6a1d2b"}
	}
	s.Required = []string{"type", "title", "status", "detail", "instance", "error", "error_code", "timestamp"}
	s.PrecomputeMessages()
}

// documentUnauthorized adds the 401 problem response to every operation that
// declares Security, since the auth middleware may answer it.
func documentUnauthorized(_ *huma.OpenAPI, op *huma.Operation) {
	if len(op.Security) == 0 {
		return
	}
	if op.Responses == nil {
		op.Responses = map[string]*huma.Response{}
	}
	if _, ok := op.Responses["401"]; ok {
		return
	}
	op.Responses["401"] = &huma.Response{
		Description: "Missing, invalid or expired credentials",
		Content: map[string]*huma.MediaType{
			ProblemContentType: {Schema: &huma.Schema{Ref: "#/components/schemas/ErrorModel"}},
		},
	}
}

// delegateBodyLimit lets the router's body limit govern operations that kept
// Huma's implicit 1 MiB default, so there is one limit and one 413 answer.
func delegateBodyLimit(_ *huma.OpenAPI, op *huma.Operation) {
	const humaDefault = 1024 * 1024
	if op.MaxBodyBytes == humaDefault {
		op.MaxBodyBytes = -1
	}
}

func toDetails(errs []error) []*huma.ErrorDetail {
	details := make([]*huma.ErrorDetail, 0, len(errs))
	for _, err := range errs {
		var d *huma.ErrorDetail
		var pe *Error
		var ed huma.ErrorDetailer
		switch {
		case errors.As(err, &pe):
			d = &huma.ErrorDetail{Message: pe.Detail}
		case errors.As(err, &ed):
			cp := *ed.ErrorDetail()
			d = &cp
		default:
			d = &huma.ErrorDetail{Message: err.Error()}
		}
		// Never echo request-body values: a failing field may be a
		// password, a client secret or an SMTP password.
		if d.Location == "body" || strings.HasPrefix(d.Location, "body.") || strings.HasPrefix(d.Location, "body[") {
			d.Value = nil
		}
		details = append(details, d)
	}
	return details
}

func compact(errs []error) []error {
	out := errs[:0:0]
	for _, err := range errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// isJSONRequest reports whether the request body was meant to be JSON.
func isJSONRequest(hctx huma.Context) bool {
	if hctx == nil {
		return false
	}
	ct := strings.ToLower(hctx.Header("Content-Type"))
	return ct == "" || strings.Contains(ct, "json")
}

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}
