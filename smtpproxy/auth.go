package smtpproxy

import (
	"errors"

	"dlpguard/internal/password"
)

// checkPassword verifies user's password against the configured hash.
// Unknown users are checked against password.Dummy, so that the reply time
// does not tell which user names exist.
func (s *Server) checkPassword(user, pw string) bool {
	hash, ok := s.config().Accounts[user]
	if !ok {
		password.Verify(password.Dummy, pw)
		return false
	}
	return password.Verify(hash, pw)
}

// VerifyPassword checks pw against an argon2id or bcrypt hash
// (password.Verify).
func VerifyPassword(hash, pw string) bool { return password.Verify(hash, pw) }

// HashPassword returns an argon2id hash for the configuration file
// (password.Hash).
func HashPassword(pw string) (string, error) { return password.Hash(pw) }

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
