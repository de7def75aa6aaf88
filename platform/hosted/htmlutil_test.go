package hosted_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
)

// doc is a parsed hosted page.
type doc struct {
	root *html.Node
	body string
}

func parse(t *testing.T, rec *httptest.ResponseRecorder) doc {
	t.Helper()
	body := rec.Body.String()
	root, err := html.Parse(strings.NewReader(body))
	require.NoError(t, err)
	return doc{root: root, body: body}
}

func attr(n *html.Node, name string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val, true
		}
	}
	return "", false
}

func attrOf(n *html.Node, name string) string {
	v, _ := attr(n, name)
	return v
}

// all returns the elements for which match is true, in document order.
func (d doc) all(match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(d.root)
	return out
}

func (d doc) tags(tag string) []*html.Node {
	return d.all(func(n *html.Node) bool { return n.Data == tag })
}

func (d doc) byID(t *testing.T, id string) *html.Node {
	t.Helper()
	found := d.all(func(n *html.Node) bool { return attrOf(n, "id") == id })
	require.Len(t, found, 1, "element #%s", id)
	return found[0]
}

// input returns the form input named name inside form f.
func input(t *testing.T, f *html.Node, name string) *html.Node {
	t.Helper()
	var found []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "input" && attrOf(n, "name") == name {
			found = append(found, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(f)
	require.Len(t, found, 1, "input %q", name)
	return found[0]
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// requireAccessible is the accessibility smoke check every page passes.
func requireAccessible(t *testing.T, d doc) {
	t.Helper()
	htmls := d.tags("html")
	require.Len(t, htmls, 1)
	require.NotEmpty(t, attrOf(htmls[0], "lang"), "html lang")
	require.Len(t, d.tags("title"), 1)
	require.NotEmpty(t, text(d.tags("title")[0]))
	require.Len(t, d.tags("h1"), 1, "one h1 per page")
	require.NotEmpty(t, text(d.tags("h1")[0]))
	require.Len(t, d.tags("main"), 1)

	ids := map[string]bool{}
	for _, n := range d.all(func(n *html.Node) bool { _, ok := attr(n, "id"); return ok }) {
		id := attrOf(n, "id")
		require.False(t, ids[id], "duplicate id %q", id)
		ids[id] = true
	}
	labelled := map[string]bool{}
	for _, l := range d.tags("label") {
		f := attrOf(l, "for")
		require.True(t, ids[f], "label for=%q points at no element", f)
		require.NotEmpty(t, text(l), "label for=%q has no text", f)
		labelled[f] = true
	}
	for _, in := range d.all(func(n *html.Node) bool { return n.Data == "input" || n.Data == "select" || n.Data == "textarea" }) {
		switch attrOf(in, "type") {
		case "hidden", "submit", "button":
			continue
		}
		id := attrOf(in, "id")
		require.NotEmpty(t, id, "input %q has no id", attrOf(in, "name"))
		require.True(t, labelled[id], "input #%s has no label", id)
		for _, ref := range strings.Fields(attrOf(in, "aria-describedby")) {
			require.True(t, ids[ref], "input #%s aria-describedby=%q points at no element", id, ref)
		}
	}
	for _, img := range d.tags("img") {
		_, ok := attr(img, "alt")
		require.True(t, ok, "img without alt")
	}
	for _, b := range d.tags("button") {
		require.NotEmpty(t, text(b), "button without text")
		require.NotEmpty(t, attrOf(b, "type"), "button without type")
	}
	for _, a := range d.tags("a") {
		require.NotEmpty(t, text(a), "link without text")
	}
	for _, f := range d.tags("form") {
		require.Equal(t, "post", attrOf(f, "method"))
	}
	alerts := d.all(func(n *html.Node) bool { return attrOf(n, "role") == "alert" })
	require.Len(t, alerts, 1, "one alert region")
	require.Equal(t, "assertive", attrOf(alerts[0], "aria-live"))
	require.Empty(t, d.all(func(n *html.Node) bool { _, ok := attr(n, "style"); return ok }), "style attributes are blocked by the CSP")
	require.Empty(t, d.tags("script"), "hosted pages have no script")
}
