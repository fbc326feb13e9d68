package expr

import (
	"encoding/binary"
	"math/bits"
	"strings"

	"github.com/google/uuid"
)

// UniqueString is uniqueString(args...): a 13-character base-32 string of
// a 64-bit hash of the arguments joined with "-". The hash is the
// two-lane 32-bit MurmurHash variant of Azure's ResourceStack library, as
// described in the project's template digest (§3.1), with uint32 wrapping
// arithmetic throughout; its published vectors are in the tests.
func UniqueString(args ...string) string {
	v := murmur64([]byte(strings.Join(args, "-")))
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	var b [13]byte
	for i := range b {
		b[i] = alphabet[(v>>59)&31]
		v <<= 5
	}
	return string(b[:])
}

const (
	mc1 = 0x239B961B
	mc2 = 0xAB0E9789
)

// Hash64 is the 64-bit hash uniqueString() is made of, for callers that
// need a stable fingerprint of bytes (a template's hash).
func Hash64(data []byte) uint64 { return murmur64(data) }

func murmur64(data []byte) uint64 {
	var h1, h2 uint32
	n := len(data)
	i := 0
	for ; i+8 <= n; i += 8 {
		k1 := binary.LittleEndian.Uint32(data[i:])
		k2 := binary.LittleEndian.Uint32(data[i+4:])
		k1 *= mc1
		k1 = bits.RotateLeft32(k1, 15)
		k1 *= mc2
		h1 ^= k1
		h1 = bits.RotateLeft32(h1, 19)
		h1 += h2
		h1 = h1*5 + 0x561CCD1B
		k2 *= mc2
		k2 = bits.RotateLeft32(k2, 17)
		k2 *= mc1
		h2 ^= k2
		h2 = bits.RotateLeft32(h2, 13)
		h2 += h1
		h2 = h2*5 + 0x0BCAA747
	}
	if rem := data[i:]; len(rem) > 0 {
		var k1 uint32
		for j := 0; j < len(rem) && j < 4; j++ {
			k1 |= uint32(rem[j]) << (8 * j)
		}
		k1 *= mc1
		k1 = bits.RotateLeft32(k1, 15)
		k1 *= mc2
		h1 ^= k1
		if len(rem) > 4 {
			var k2 uint32
			for j := 4; j < len(rem); j++ {
				k2 |= uint32(rem[j]) << (8 * (j - 4))
			}
			k2 *= mc2
			k2 = bits.RotateLeft32(k2, 17)
			k2 *= mc1
			h2 ^= k2
		}
	}
	h1 ^= uint32(n)
	h2 ^= uint32(n)
	h1 += h2
	h2 += h1
	h1 = fmix32(h1)
	h2 = fmix32(h2)
	h1 += h2
	h2 += h1
	return uint64(h2)<<32 | uint64(h1)
}

func fmix32(h uint32) uint32 {
	h ^= h >> 16
	h *= 0x85EBCA6B
	h ^= h >> 13
	h *= 0xC2B2AE35
	h ^= h >> 16
	return h
}

// guidNamespace is the namespace ARM's guid() hashes its arguments in.
var guidNamespace = uuid.MustParse("11fb06fb-712d-4ddd-98c7-e71bbd588830")

// GUID is guid(args...): an RFC 4122 version 5 (SHA-1) UUID of the
// arguments joined with "-" in ARM's namespace, lower-case.
func GUID(args ...string) string {
	return uuid.NewSHA1(guidNamespace, []byte(strings.Join(args, "-"))).String()
}
