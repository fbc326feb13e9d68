package arm_test

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/testkit/textenc"
)

func TestDecodeContent(t *testing.T) {
	const doc = `{"m":"café ✓ 😀 <&>"}`
	le, be := binary.LittleEndian, binary.BigEndian
	tests := []struct {
		name    string
		in      []byte
		want    string
		wantEnc string // the EncodingError's encoding, when refused
	}{
		{name: "UTF-8", in: []byte(doc), want: doc},
		{name: "empty", in: nil, want: ""},
		{name: "UTF-8 with BOM", in: append([]byte("\ufeff"), doc...), want: doc},
		{name: "UTF-8 BOM alone", in: []byte("\ufeff"), want: ""},
		{name: "UTF-8 BOM then whitespace", in: []byte("\ufeff \r\n" + doc), want: " \r\n" + doc},
		{name: "UTF-16 LE with BOM", in: textenc.UTF16(doc, le, true), want: doc},
		{name: "UTF-16 BE with BOM", in: textenc.UTF16(doc, be, true), want: doc},
		{name: "UTF-16 LE with BOM and CRLF", in: textenc.UTF16("\r\n"+doc+"\r\n", le, true), want: "\r\n" + doc + "\r\n"},
		{name: "UTF-16 LE BOM alone", in: []byte{0xFF, 0xFE}, want: ""},
		{name: "UTF-16 LE with an odd last byte", in: append(textenc.UTF16(doc, le, true), '}'), want: doc + "\uFFFD"},
		{name: "UTF-16 LE with an unpaired surrogate", in: append(textenc.UTF16(`{"m":"`, le, true), 0x00, 0xD8, '"', 0, '}', 0), want: `{"m":"` + "\uFFFD" + `"}`},
		{name: "UTF-32 LE with BOM", in: textenc.UTF32(doc, le, true), want: doc},
		{name: "UTF-32 BE with BOM", in: textenc.UTF32(doc, be, true), want: doc},
		{name: "UTF-16 LE without BOM", in: textenc.UTF16(doc, le, false), wantEnc: "UTF-16 (little-endian)"},
		{name: "UTF-16 BE without BOM", in: textenc.UTF16(doc, be, false), wantEnc: "UTF-16 (big-endian)"},
		{name: "UTF-16 LE without BOM, leading whitespace", in: textenc.UTF16(" "+doc, le, false), wantEnc: "UTF-16 (little-endian)"},
		{name: "UTF-32 LE without BOM", in: textenc.UTF32(doc, le, false), wantEnc: "UTF-32 (little-endian)"},
		{name: "UTF-32 BE without BOM", in: textenc.UTF32(doc, be, false), wantEnc: "UTF-32 (big-endian)"},
		{name: "Latin-1", in: []byte("{\"m\":\"caf\xe9\"}"), want: `{"m":"caf` + "\uFFFD" + `"}`},
		{name: "a stray continuation byte", in: []byte("{\"m\":\"a\x80b\"}"), want: `{"m":"a` + "\uFFFD" + `b"}`},
		{name: "two invalid bytes", in: []byte("{\"m\":\"\xff\xfe!\"}"), want: `{"m":"` + "\uFFFD\uFFFD" + `!"}`},
		{name: "one NUL-free byte", in: []byte("{"), want: "{"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := arm.DecodeContent(tt.in)
			if tt.wantEnc != "" {
				var ee *arm.EncodingError
				if !errors.As(err, &ee) {
					t.Fatalf("DecodeContent = %q, %v; want an *EncodingError", got, err)
				}
				if ee.Encoding != tt.wantEnc {
					t.Fatalf("encoding = %q, want %q", ee.Encoding, tt.wantEnc)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeContent: %v", err)
			}
			if string(got) != tt.want {
				t.Fatalf("DecodeContent = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEncodingErrorNamesTheEncoding(t *testing.T) {
	msg := (&arm.EncodingError{Encoding: "UTF-16 (big-endian)"}).Error()
	for _, want := range []string{"UTF-16 (big-endian) without a byte order mark", "UTF-8"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("message %q does not say %q", msg, want)
		}
	}
}
