package mimemsg

import "testing"

func TestPlainASCII(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"", true},
		{"hello, world: 0123456789 ~!@#", true},
		{"abcdefgh\x1bijklmnop", false},
		{"abcdefghijklmno\x1b", false},
		{"\x1b", false},
		{"abcdefgh日本", false},
		{"abc\x7f\x00\x1a\x1c", true},
		{"\x80", false},
	} {
		if got := PlainASCII([]byte(tc.in)); got != tc.want {
			t.Errorf("plainASCII(%q) = %v, want %v", tc.in, got, tc.want)
		}
		// every position of a single ESC or high byte is found
	}
	for i := 0; i < 20; i++ {
		b := []byte("aaaaaaaaaaaaaaaaaaaa")
		b[i] = 0x1b
		if PlainASCII(b) {
			t.Errorf("ESC at %d missed", i)
		}
		b[i] = 0xe3
		if PlainASCII(b) {
			t.Errorf("high byte at %d missed", i)
		}
	}
}
