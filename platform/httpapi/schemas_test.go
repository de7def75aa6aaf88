package httpapi

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/events"
)

func TestSchemaNamer(t *testing.T) {
	t.Parallel()
	// Types outside modules keep Huma's default names.
	require.Equal(t, "Event", schemaNamer(reflect.TypeFor[events.Event](), "x"))
	require.Equal(t, "Event", schemaNamer(reflect.TypeFor[*events.Event](), "x"))
	// Anonymous types keep the hint-based name.
	require.Equal(t, "Hint", schemaNamer(reflect.TypeFor[struct{ A int }](), "hint"))
}
