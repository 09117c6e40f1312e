package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestQuickstart(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(&out))
	s := out.String()
	require.Equal(t, 4, strings.Count(s, "signature verified"), s)
	require.NotContains(t, s, "REJECTED")
	require.Contains(t, s, "answers 503")
	require.Contains(t, s, "attempt 2: 200")
	require.Contains(t, s, "all deliveries delivered")
}
