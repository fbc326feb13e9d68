package arm

import (
	"bytes"
	"encoding/binary"
	"unicode/utf16"
	"unicode/utf8"
)

// Byte order marks.
var (
	bomUTF8    = []byte{0xEF, 0xBB, 0xBF}
	bomUTF16LE = []byte{0xFF, 0xFE}
	bomUTF16BE = []byte{0xFE, 0xFF}
	bomUTF32LE = []byte{0xFF, 0xFE, 0x00, 0x00}
	bomUTF32BE = []byte{0x00, 0x00, 0xFE, 0xFF}
)

// EncodingError says that content is in a Unicode encoding other than UTF-8
// and has no byte order mark to say so.
type EncodingError struct {
	// Encoding is what the content looks like: "UTF-16 (little-endian)", ...
	Encoding string
}

func (e *EncodingError) Error() string {
	return "The content is " + e.Encoding + " without a byte order mark. Send it as UTF-8, or as " + e.Encoding + " that starts with a byte order mark."
}

// DecodeContent returns request content as UTF-8 text, reading it the way
// ARM does: ARM and the resource providers are .NET services, whose readers
// detect a byte order mark and decode by it. So
//
//   - a UTF-8 byte order mark (Notepad, PowerShell's Out-File -Encoding utf8)
//     is dropped;
//   - UTF-16 and UTF-32 content that starts with its byte order mark, little-
//     or big-endian (Windows PowerShell's Out-File and '>' write UTF-16 LE
//     with a mark), is decoded;
//   - UTF-16 or UTF-32 content without a mark is refused with an
//     *EncodingError naming the encoding. .NET would read it as UTF-8 and fail
//     on the first NUL byte with a message that says nothing about encodings;
//     JSON starts with an ASCII character, so the NUL bytes around it tell
//     the encoding apart (RFC 4627, section 3), and saying so is the help
//     the user needs;
//   - bytes that are not valid UTF-8 become U+FFFD, as .NET's UTF-8 decoder
//     replaces them, so that nothing privlink stores or serves is invalid
//     UTF-8 (privlink replaces each invalid byte, .NET each maximal invalid
//     sequence: a truncated sequence can give more replacement characters
//     here than there).
//
// A charset in the Content-Type is not consulted: the mark decides, as it
// does for .NET's readers, and JSON without one is UTF-8 (RFC 8259).
// Content that needs none of this is returned as it is.
func DecodeContent(b []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(b, bomUTF8):
		b = b[len(bomUTF8):]
	case bytes.HasPrefix(b, bomUTF32LE):
		return decodeUTF32(b[4:], binary.LittleEndian), nil
	case bytes.HasPrefix(b, bomUTF32BE):
		return decodeUTF32(b[4:], binary.BigEndian), nil
	case bytes.HasPrefix(b, bomUTF16LE):
		return decodeUTF16(b[2:], binary.LittleEndian), nil
	case bytes.HasPrefix(b, bomUTF16BE):
		return decodeUTF16(b[2:], binary.BigEndian), nil
	default:
		if enc := unmarkedEncoding(b); enc != "" {
			return nil, &EncodingError{Encoding: enc}
		}
	}
	if !utf8.Valid(b) {
		return replaceInvalidUTF8(b), nil
	}
	return b, nil
}

// unmarkedEncoding recognizes UTF-16 and UTF-32 without a byte order mark
// from the NUL bytes around the first (ASCII) character.
func unmarkedEncoding(b []byte) string {
	if len(b) < 2 || (b[0] != 0 && b[1] != 0) {
		return ""
	}
	switch {
	case len(b) >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] != 0:
		return "UTF-32 (big-endian)"
	case len(b) >= 4 && b[0] != 0 && b[1] == 0 && b[2] == 0 && b[3] == 0:
		return "UTF-32 (little-endian)"
	case b[0] == 0 && b[1] != 0:
		return "UTF-16 (big-endian)"
	case b[0] != 0 && b[1] == 0:
		return "UTF-16 (little-endian)"
	}
	return ""
}

// decodeUTF16 decodes UTF-16 code units; unpaired surrogates and an odd
// last byte become U+FFFD.
func decodeUTF16(b []byte, order binary.ByteOrder) []byte {
	units := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		units = append(units, order.Uint16(b[i:]))
	}
	out := make([]byte, 0, len(b))
	for _, r := range utf16.Decode(units) {
		out = utf8.AppendRune(out, r)
	}
	if len(b)%2 == 1 {
		out = utf8.AppendRune(out, utf8.RuneError)
	}
	return out
}

// decodeUTF32 decodes UTF-32; invalid code points and a partial last unit
// become U+FFFD.
func decodeUTF32(b []byte, order binary.ByteOrder) []byte {
	out := make([]byte, 0, len(b)/2)
	for i := 0; i+3 < len(b); i += 4 {
		r := rune(order.Uint32(b[i:]))
		if !utf8.ValidRune(r) {
			r = utf8.RuneError
		}
		out = utf8.AppendRune(out, r)
	}
	if len(b)%4 != 0 {
		out = utf8.AppendRune(out, utf8.RuneError)
	}
	return out
}

// replaceInvalidUTF8 replaces every byte that does not belong to a valid
// UTF-8 sequence with U+FFFD.
func replaceInvalidUTF8(b []byte) []byte {
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return out
}
