package config

import (
	"fmt"
	"strings"
)

// MarkdownTable renders every variable as the README's configuration table.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| Variable | Default | Description |\n|---|---|---|\n")
	for _, v := range Vars() {
		def := v.Default
		switch {
		case v.Secret && def != "" && !strings.Contains(def, "://"):
			def = "*(secret)*"
		case def == "":
			def = "—"
		default:
			def = "`" + def + "`"
		}
		desc := v.Description
		if v.Secret {
			desc += " *Secret: masked in logs.*"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", v.Name, def, strings.ReplaceAll(desc, "|", "\\|"))
	}
	return b.String()
}
