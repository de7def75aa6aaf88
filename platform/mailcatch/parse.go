package mailcatch

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

const maxMIMEDepth = 10

var wordDecoder = &mime.WordDecoder{
	// Decode the charsets mail senders use in practice; others stay encoded.
	CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
		switch strings.ToLower(charset) {
		case "utf-8", "us-ascii":
			return input, nil
		case "iso-8859-1", "latin1":
			return latin1Reader(input)
		default:
			return nil, fmt.Errorf("unsupported charset %q", charset)
		}
	},
}

// parseMessage decodes raw into a Captured (without envelope fields). When
// the structure cannot be decoded, ParseError says why and the fields that
// could be read are kept.
func parseMessage(raw []byte) Captured {
	c := Captured{Raw: raw}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		c.ParseError = fmt.Sprintf("read message: %v", err)
		return c
	}
	c.Header = msg.Header
	if subject, err := wordDecoder.DecodeHeader(msg.Header.Get("Subject")); err == nil {
		c.Subject = subject
	} else {
		c.Subject = msg.Header.Get("Subject")
	}
	var p parts
	if err := p.walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, 0); err != nil {
		c.ParseError = err.Error()
	}
	c.Text = normalizeNewlines(p.text)
	c.HTML = normalizeNewlines(p.html)
	return c
}

// parts collects the first text/plain and text/html leaf of a message.
type parts struct {
	text, html         string
	haveText, haveHTML bool
}

func (p *parts) walk(contentType, encoding string, body io.Reader, depth int) error {
	if depth > maxMIMEDepth {
		return errors.New("mime parts nested too deeply")
	}
	if contentType == "" {
		contentType = "text/plain; charset=us-ascii"
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("parse content type: %w", err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		boundary := params["boundary"]
		if boundary == "" {
			return errors.New("multipart without boundary")
		}
		mr := multipart.NewReader(body, boundary)
		for {
			part, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read mime part: %w", err)
			}
			if err := p.walk(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part, depth+1); err != nil {
				return err
			}
		}
	}
	if mediaType != "text/plain" && mediaType != "text/html" {
		return nil // attachments and other parts are kept only in Raw
	}
	if (mediaType == "text/plain" && p.haveText) || (mediaType == "text/html" && p.haveHTML) {
		return nil
	}
	decoded, err := decodeBody(body, encoding, params["charset"])
	if err != nil {
		return err
	}
	if mediaType == "text/plain" {
		p.text, p.haveText = decoded, true
	} else {
		p.html, p.haveHTML = decoded, true
	}
	return nil
}

func decodeBody(body io.Reader, encoding, charset string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body) // skips CR and LF
	case "", "7bit", "8bit", "binary":
	default:
		return "", fmt.Errorf("unsupported transfer encoding %q", encoding)
	}
	if cs := strings.ToLower(charset); cs == "iso-8859-1" || cs == "latin1" {
		r, err := latin1Reader(body)
		if err != nil {
			return "", err
		}
		body = r
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return "", fmt.Errorf("decode %s body: %w", encoding, err)
	}
	return string(b), nil
}

func normalizeNewlines(s string) string {
	return strings.ReplaceAll(s, "\r\n", "\n")
}

// latin1Reader converts ISO-8859-1 bytes to UTF-8.
func latin1Reader(r io.Reader) (io.Reader, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read latin1: %w", err)
	}
	runes := make([]rune, len(b))
	for i, c := range b {
		runes[i] = rune(c)
	}
	return strings.NewReader(string(runes)), nil
}
