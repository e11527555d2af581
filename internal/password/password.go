// Package password hashes and checks the passwords of SMTP accounts (the
// configuration's smtp.accounts) and console accounts alike: new hashes
// are argon2id (PHC string, OWASP's minimum parameters); bcrypt hashes
// written by earlier versions of `dlpguard hash-password` are still read.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// argon2id parameters of new hashes (OWASP's minimum: 19 MiB, 2 passes,
// 1 lane).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// Dummy is verified for unknown users, so that the time of the answer
// does not tell which names exist; it has the parameters of new hashes and
// its password is unknown.
const Dummy = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Ym9ndXNib2d1c2JvZ3VzYm9ndXNib2d1c2JvZ3VzMDA"

// Hash returns an argon2id PHC string:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key> (unpadded base64).
func Hash(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether pw matches an argon2id or bcrypt ($2a$, $2b$,
// $2y$) hash. A malformed hash matches nothing (fail closed).
func Verify(hash, pw string) bool {
	if strings.HasPrefix(hash, "$argon2id$") {
		ok, err := verifyArgon2id(hash, pw)
		return err == nil && ok
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

func verifyArgon2id(hash, pw string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false, errors.New("argon2id: bad format")
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false, fmt.Errorf("argon2id: bad parameters: %w", err)
	}
	// Bound the cost: a hash from a file or the database must not make one
	// sign-in take all memory (1 GiB, 16 passes at most).
	if m == 0 || m > 1<<20 || t == 0 || t > 16 || p == 0 {
		return false, errors.New("argon2id: parameters out of range")
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("argon2id: salt: %w", err)
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 128 {
		return false, errors.New("argon2id: bad hash")
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
