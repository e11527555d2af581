package password

import (
	"strings"
	"testing"
)

// bcryptX is bcrypt("x"), cost 10, as `dlpguard hash-password` wrote it
// before argon2id.
const bcryptX = "$2a$10$9Gkf1zq7CZBgGJiz3XkdWOnHwmwhLiM/eUrS/jWBlaPv2ozS8c.ZS"

func TestHashVerify(t *testing.T) {
	h, err := Hash("パスワード long")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("not a PHC argon2id string with the default parameters: %s", h)
	}
	h2, _ := Hash("パスワード long")
	if h == h2 {
		t.Fatal("two hashes of one password are equal (no salt)")
	}
	tests := []struct {
		hash, pw string
		ok       bool
	}{
		{h, "パスワード long", true},
		{h, "パスワード lonG", false},
		{bcryptX, "x", true},
		{bcryptX, "y", false},
		{"", "", false},
		{"$argon2id$", "x", false},
		{"$argon2id$v=19$m=0,t=1,p=1$AA$AA", "x", false},
		{"$argon2id$v=19$m=99999999,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "password", false},
		{"$argon2id$v=18$m=64,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "password", false},
		{"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$AAAA", "password", false}, // key too short
		{"$2a$10$abc", "x", false},
		{h + "x$", "パスワード long", false},
		{"plain", "plain", false},
		{Dummy, "", false},
	}
	for _, tc := range tests {
		if got := Verify(tc.hash, tc.pw); got != tc.ok {
			t.Errorf("Verify(%q, %q) = %v, want %v", tc.hash, tc.pw, got, tc.ok)
		}
	}
}
