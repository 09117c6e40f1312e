// Package cursor encodes the opaque page cursors of the stores' listings:
// which listing made it, in which order, and the key of the last item
// returned, sealed with a checksum. A cursor that was not made by Encode
// for the same listing and order, or that was cut short or altered, does
// not decode.
package cursor

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"unicode/utf8"
)

// ErrInvalid is returned by Decode for a cursor that was tampered with or
// made for another listing or order.
var ErrInvalid = errors.New("not a cursor of this listing")

// maxKey bounds the key a cursor carries.
const maxKey = 256

var enc = base64.RawURLEncoding.Strict()

// Encode returns the cursor after key in the listing named kind, in the
// order named order ("asc" or "desc").
func Encode(kind, order, key string) string {
	text := kind + ":" + order + ":" + key
	b := binary.BigEndian.AppendUint32([]byte(text), crc32.ChecksumIEEE([]byte(text)))
	return enc.EncodeToString(b)
}

// Decode returns the key of a cursor made by Encode(kind, order, key). An
// empty cursor decodes to an empty key (the first page).
func Decode(c, kind, order string) (string, error) {
	if c == "" {
		return "", nil
	}
	if len(c) > 2*maxKey {
		return "", ErrInvalid
	}
	b, err := enc.DecodeString(c)
	if err != nil || len(b) < 4 {
		return "", ErrInvalid
	}
	text, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(text) != sum {
		return "", ErrInvalid
	}
	key, ok := strings.CutPrefix(string(text), kind+":"+order+":")
	if !ok || key == "" || len(key) > maxKey || !utf8.ValidString(key) {
		return "", ErrInvalid
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x21 || c == 0x7f {
			return "", ErrInvalid
		}
	}
	return key, nil
}
