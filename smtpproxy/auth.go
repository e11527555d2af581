package smtpproxy

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// dummyHash is compared against for unknown users so that the reply time
// does not tell which user names exist (cost 10, password "x").
const dummyHash = "$2a$10$9Gkf1zq7CZBgGJiz3XkdWOnHwmwhLiM/eUrS/jWBlaPv2ozS8c.ZS"

// checkPassword verifies user's password against the configured hash.
func (s *Server) checkPassword(user, password string) bool {
	hash, ok := s.config().Accounts[user]
	if !ok {
		VerifyPassword(dummyHash, password)
		return false
	}
	return VerifyPassword(hash, password)
}

// VerifyPassword checks password against a bcrypt or argon2id hash.
func VerifyPassword(hash, password string) bool {
	if strings.HasPrefix(hash, "$argon2id$") {
		ok, err := verifyArgon2id(hash, password)
		return err == nil && ok
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// HashPassword returns a bcrypt hash for the configuration file.
func HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	return string(h), err
}

// verifyArgon2id checks the PHC string format
// $argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash> (unpadded base64).
func verifyArgon2id(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v=19" {
		return false, errors.New("argon2id: bad format")
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false, fmt.Errorf("argon2id: bad parameters: %w", err)
	}
	// Bound the cost: a hash from the configuration must not make one
	// login take all memory.
	if m == 0 || m > 1<<20 || t == 0 || t > 16 || p == 0 {
		return false, errors.New("argon2id: parameters out of range")
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("argon2id: salt: %w", err)
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 128 {
		return false, errors.New("argon2id: bad hash")
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// loginServer is the server side of the LOGIN SASL mechanism
// (draft-murchison-sasl-login), which go-sasl lacks and Outlook and many
// multifunction printers still use: the server asks "Username:" then
// "Password:".
type loginServer struct {
	check func(user, pass string) error
	state int
	user  string
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.state {
	case 0:
		l.state = 1
		if response == nil {
			return []byte("Username:"), false, nil
		}
		// An initial response is the user name (AUTH LOGIN dXNlcg==).
		fallthrough
	case 1:
		l.user = string(response)
		l.state = 2
		return []byte("Password:"), false, nil
	case 2:
		l.state = 3
		if err := l.check(l.user, string(response)); err != nil {
			return nil, true, err
		}
		return nil, true, nil
	}
	return nil, true, errors.New("LOGIN: unexpected response")
}
