package mail

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"sort"
	"strings"
	"time"
)

// ErrInvalidMessage is wrapped by every error about a message or address that
// can never be sent as given: an empty recipient list, a malformed address, a
// CR or LF in a header (header injection), a reserved custom header or an
// empty body. IsPermanent reports true for it.
var ErrInvalidMessage = errors.New("invalid mail message")

// Message is one email to send. Text and HTML are alternatives of the same
// content; at least one must be non-empty. Headers adds extra header fields
// (for example "Reply-To" or "X-AuthOS-Org"); structural fields such as From,
// To, Subject, Date, Message-ID and Content-Type cannot be set through it.
type Message struct {
	To      []string
	Subject string
	Text    string
	HTML    string
	Headers map[string]string
}

// reservedHeaders are produced by the sender and cannot be overridden.
var reservedHeaders = []string{
	"Bcc", "Cc", "Content-Transfer-Encoding", "Content-Type", "Date", "From",
	"Message-Id", "Mime-Version", "Return-Path", "Sender", "Subject", "To",
}

// envelope is a validated message ready for the SMTP transaction.
type envelope struct {
	from string
	to   []string
	data []byte
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidMessage, fmt.Sprintf(format, args...))
}

// buildMessage validates m and renders the full RFC 5322 message.
func buildMessage(from mail.Address, m Message, now time.Time, messageID string) (*envelope, error) {
	if len(m.To) == 0 {
		return nil, invalidf("no recipients")
	}
	if m.Text == "" && m.HTML == "" {
		return nil, invalidf("empty body")
	}
	if err := checkHeaderValue("Subject", m.Subject); err != nil {
		return nil, err
	}
	to := make([]string, 0, len(m.To))
	toHeader := make([]string, 0, len(m.To))
	for _, raw := range m.To {
		addr, err := parseAddress("To", raw)
		if err != nil {
			return nil, err
		}
		to = append(to, addr.Address)
		toHeader = append(toHeader, addr.String())
	}

	var buf bytes.Buffer
	writeHeader(&buf, "From", from.String())
	writeHeader(&buf, "To", strings.Join(toHeader, ", "))
	writeHeader(&buf, "Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	writeHeader(&buf, "Date", now.Format(time.RFC1123Z))
	writeHeader(&buf, "Message-ID", messageID)
	writeHeader(&buf, "MIME-Version", "1.0")
	if err := writeCustomHeaders(&buf, m.Headers); err != nil {
		return nil, err
	}

	switch {
	case m.Text != "" && m.HTML != "":
		mw := multipart.NewWriter(&buf)
		writeHeader(&buf, "Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
		buf.WriteString("\r\n")
		for _, part := range []struct{ mediaType, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
			w, err := mw.CreatePart(textproto.MIMEHeader{
				"Content-Type":              {part.mediaType + "; charset=utf-8"},
				"Content-Transfer-Encoding": {"quoted-printable"},
			})
			if err != nil {
				return nil, fmt.Errorf("create mime part: %w", err)
			}
			if err := writeQuotedPrintable(w, part.body); err != nil {
				return nil, err
			}
		}
		if err := mw.Close(); err != nil {
			return nil, fmt.Errorf("close multipart: %w", err)
		}
	default:
		mediaType, body := "text/plain", m.Text
		if m.Text == "" {
			mediaType, body = "text/html", m.HTML
		}
		writeHeader(&buf, "Content-Type", mediaType+"; charset=utf-8")
		writeHeader(&buf, "Content-Transfer-Encoding", "quoted-printable")
		buf.WriteString("\r\n")
		if err := writeQuotedPrintable(&buf, body); err != nil {
			return nil, err
		}
	}
	return &envelope{from: from.Address, to: to, data: buf.Bytes()}, nil
}

func writeCustomHeaders(buf *bytes.Buffer, headers map[string]string) error {
	names := make([]string, 0, len(headers))
	for name := range headers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !validHeaderName(name) {
			return invalidf("header name %q is not a valid field name", name)
		}
		canonical := textproto.CanonicalMIMEHeaderKey(name)
		for _, reserved := range reservedHeaders {
			if canonical == reserved {
				return invalidf("header %s is set by the sender", canonical)
			}
		}
		value := headers[name]
		if canonical == "Reply-To" {
			addr, err := parseAddress(canonical, value)
			if err != nil {
				return err
			}
			writeHeader(buf, canonical, addr.String())
			continue
		}
		if err := checkHeaderValue(canonical, value); err != nil {
			return err
		}
		writeHeader(buf, canonical, mime.QEncoding.Encode("utf-8", value))
	}
	return nil
}

// checkHeaderValue refuses control characters (CR and LF above all: they
// would start a new header or the body).
func checkHeaderValue(name, value string) error {
	for _, r := range value {
		if r == '\t' {
			continue
		}
		if r < 0x20 || r == 0x7f {
			return invalidf("header %s contains a control character", name)
		}
	}
	return nil
}

// parseAddress accepts "user@example.com" or "Name <user@example.com>" and
// requires an ASCII address with a domain.
func parseAddress(field, raw string) (*mail.Address, error) {
	if err := checkHeaderValue(field, raw); err != nil {
		return nil, err
	}
	addr, err := mail.ParseAddress(raw)
	if err != nil {
		return nil, invalidf("%s address %q is malformed", field, raw)
	}
	at := strings.LastIndexByte(addr.Address, '@')
	if at <= 0 || at == len(addr.Address)-1 {
		return nil, invalidf("%s address %q has no domain", field, raw)
	}
	for i := range len(addr.Address) {
		if addr.Address[i] >= 0x7f || addr.Address[i] <= ' ' {
			return nil, invalidf("%s address %q must be ASCII (use punycode for the domain)", field, raw)
		}
	}
	return addr, nil
}

func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := range len(name) {
		if c := name[i]; c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

// writeHeader writes "Name: value" folded at spaces so that lines stay near
// 78 characters (RFC 5322 §2.2.3). Values never contain CR or LF here.
func writeHeader(buf *bytes.Buffer, name, value string) {
	const limit = 78
	line := name + ":"
	for i, word := range strings.Split(value, " ") {
		switch {
		case i == 0 && len(line)+1+len(word) > limit:
			// A long first word (an encoded-word is up to 75 characters)
			// starts on a continuation line rather than overflowing.
			buf.WriteString(line + "\r\n")
			line = " " + word
		case i == 0:
			line += " " + word
		case len(line)+1+len(word) > limit:
			buf.WriteString(line + "\r\n")
			line = " " + word
		default:
			line += " " + word
		}
	}
	buf.WriteString(line + "\r\n")
}

func writeQuotedPrintable(w io.Writer, body string) error {
	qp := quotedprintable.NewWriter(w)
	if _, err := io.WriteString(qp, body); err != nil {
		return fmt.Errorf("encode body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return fmt.Errorf("encode body: %w", err)
	}
	return nil
}
