package main

import (
	"encoding/binary"
	"unicode/utf16"
)

// utf16Text encodes s as UTF-16, big-endian when be, after a byte order mark when bom.
func utf16Text(s string, be, bom bool) string {
	var order binary.ByteOrder = binary.LittleEndian
	if be {
		order = binary.BigEndian
	}
	units := utf16.Encode([]rune(s))
	if bom {
		units = append([]uint16{0xFEFF}, units...)
	}
	b := make([]byte, 2*len(units))
	for i, u := range units {
		order.PutUint16(b[2*i:], u)
	}
	return string(b)
}
