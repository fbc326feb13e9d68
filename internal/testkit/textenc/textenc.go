// Package textenc encodes text as UTF-16 and UTF-32 for tests of clients
// that send it that way (Windows PowerShell's Out-File, .NET's Encoding.Unicode).
package textenc

import (
	"encoding/binary"
	"unicode/utf16"
)

// UTF16 encodes s as UTF-16 in order, after a byte order mark when bom.
func UTF16(s string, order binary.ByteOrder, bom bool) []byte {
	units := utf16.Encode([]rune(s))
	if bom {
		units = append([]uint16{0xFEFF}, units...)
	}
	b := make([]byte, 2*len(units))
	for i, u := range units {
		order.PutUint16(b[2*i:], u)
	}
	return b
}

// UTF32 encodes s as UTF-32 in order, after a byte order mark when bom.
func UTF32(s string, order binary.ByteOrder, bom bool) []byte {
	rs := []rune(s)
	if bom {
		rs = append([]rune{0xFEFF}, rs...)
	}
	b := make([]byte, 4*len(rs))
	for i, r := range rs {
		order.PutUint32(b[4*i:], uint32(r))
	}
	return b
}
