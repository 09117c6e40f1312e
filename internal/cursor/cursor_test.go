package cursor

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	c := Encode("deliveries", "desc", "dlv_01JX")
	got, err := Decode(c, "deliveries", "desc")
	require.NoError(t, err)
	require.Equal(t, "dlv_01JX", got)
	got, err = Decode("", "deliveries", "desc")
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestInvalid(t *testing.T) {
	c := Encode("deliveries", "desc", "dlv_01JX")
	for name, bad := range map[string]string{
		"other listing": Encode("events", "desc", "dlv_01JX"),
		"other order":   Encode("deliveries", "asc", "dlv_01JX"),
		"not base64":    "%%%",
		"truncated":     c[:len(c)-3],
		"bad utf-8":     Encode("deliveries", "desc", "dlv_\xff"),
		"control":       Encode("deliveries", "desc", "dlv_\x00"),
		"empty key":     Encode("deliveries", "desc", ""),
		"raw id":        "dlv_01JX",
		"one changed":   changed(c, 5),
		"cut short":     c[:len(c)-1],
	} {
		_, err := Decode(bad, "deliveries", "desc")
		require.ErrorIs(t, err, ErrInvalid, name)
	}
}

// changed returns c with its i-th character replaced by another.
func changed(c string, i int) string {
	r := byte('A')
	if c[i] == 'A' {
		r = 'B'
	}
	return c[:i] + string(r) + c[i+1:]
}
