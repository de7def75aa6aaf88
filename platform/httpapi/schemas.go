package httpapi

import (
	"reflect"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// schemaNamer names OpenAPI schemas like Huma's default namer, but prefixes
// types declared in a module package (…/modules/<name>[/…]) with the
// module's name, so two modules may both declare, say, a UserBody without
// colliding in components/schemas (identity's becomes IdentityUserBody).
func schemaNamer(t reflect.Type, hint string) string {
	name := huma.DefaultSchemaNamer(t, hint)
	base := t
	for base.Kind() == reflect.Pointer || base.Kind() == reflect.Slice || base.Kind() == reflect.Array || base.Kind() == reflect.Map {
		base = base.Elem()
	}
	pkg := base.PkgPath()
	i := strings.LastIndex(pkg, "/modules/")
	if i < 0 || base.Name() == "" {
		return name
	}
	module, _, _ := strings.Cut(pkg[i+len("/modules/"):], "/")
	if module == "" {
		return name
	}
	prefix := strings.ToUpper(module[:1]) + module[1:]
	if strings.HasPrefix(name, prefix) {
		return name
	}
	return prefix + name
}
