package totp

import (
	"fmt"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// qrPixels is the rendered width and height of the QR code in CSS pixels.
const qrPixels = 256

// QRCodeSVG renders content (the provisioning URI) as a QR code in a
// standalone SVG document: one path of dark modules on a white square,
// with the four-module quiet zone the QR specification requires. The SVG
// has no scripts or external references, so it can be inlined in a page.
func QRCodeSVG(content string) (string, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("totp: qr code: %w", err)
	}
	return bitmapSVG(q.Bitmap()), nil
}

// bitmapSVG draws each horizontal run of dark modules as one rectangle in
// module units.
func bitmapSVG(bm [][]bool) string {
	n := len(bm)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d" height="%d" viewBox="0 0 %d %d" shape-rendering="crispEdges">`,
		qrPixels, qrPixels, n, n)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/><path fill="#000000" d="`, n, n)
	for y, row := range bm {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			start := x
			for x < len(row) && row[x] {
				x++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", start, y, x-start, x-start)
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String()
}
