package console

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestUsers(t *testing.T) {
	forEachUsers(t, func(t *testing.T, kind string) {
		ctx := context.Background()
		u := openTestUsers(t, kind)
		u.MaxFailures, u.Lockout = 3, 15*time.Minute
		now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
		bad := []struct {
			name string
			usr  User
			pw   string
		}{
			{"no department", User{Username: "a", Email: "a@x.jp", Role: RoleApprover}, "long enough pw"},
			{"bad role", User{Username: "a", Email: "a@x.jp", Role: "root"}, "long enough pw"},
			{"no mail", User{Username: "a", Role: RoleAdmin}, "long enough pw"},
			{"short password", User{Username: "a", Email: "a@x.jp", Role: RoleAdmin}, "short"},
			{"space in name", User{Username: "a b", Email: "a@x.jp", Role: RoleAdmin}, "long enough pw"},
		}
		for _, b := range bad {
			if err := u.Add(ctx, b.usr, b.pw, now); err == nil {
				t.Errorf("%s: accepted", b.name)
			}
		}
		if err := u.Add(ctx, User{Username: "Kacho", Email: "Kacho@City.example.lg.jp", Role: RoleApprover, Departments: []string{"福祉課", " "}}, "long enough pw", now); err != nil {
			t.Fatal(err)
		}
		if err := u.Add(ctx, User{Username: "kacho", Email: "k@x.jp", Role: RoleAdmin}, "long enough pw", now); err == nil {
			t.Fatal("duplicate user accepted")
		}
		got, err := u.Authenticate(ctx, "KACHO", "long enough pw", now)
		if err != nil || got.Email != "kacho@city.example.lg.jp" || len(got.Departments) != 1 || !got.LastLogin.Equal(now) {
			t.Fatalf("authenticate: %+v %v", got, err)
		}
		for i := 1; i <= 3; i++ {
			_, err := u.Authenticate(ctx, "kacho", "wrong", now)
			want := ErrBadLogin
			if i == 3 {
				want = ErrLocked
			}
			if !errors.Is(err, want) {
				t.Fatalf("failure %d: %v, want %v", i, err, want)
			}
		}
		if _, err := u.Authenticate(ctx, "kacho", "long enough pw", now.Add(14*time.Minute)); !errors.Is(err, ErrLocked) {
			t.Fatalf("while locked: %v", err)
		}
		if _, err := u.Authenticate(ctx, "kacho", "long enough pw", now.Add(16*time.Minute)); err != nil {
			t.Fatalf("after the lockout: %v", err)
		}
		if err := u.SetDisabled(ctx, "kacho", true); err != nil {
			t.Fatal(err)
		}
		if _, err := u.Authenticate(ctx, "kacho", "long enough pw", now); !errors.Is(err, ErrDisabled) {
			t.Fatalf("disabled: %v", err)
		}
		if err := u.SetDisabled(ctx, "nobody", true); !errors.Is(err, ErrNoUser) {
			t.Fatalf("disable unknown: %v", err)
		}
		list, err := u.List(ctx)
		if err != nil || len(list) != 1 || !list[0].Disabled {
			t.Fatalf("list: %+v %v", list, err)
		}
	})
}

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("パスワード long")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$") {
		t.Fatalf("not a PHC argon2id string: %s", h)
	}
	if !VerifyPassword(h, "パスワード long") || VerifyPassword(h, "パスワード lonG") {
		t.Fatal("verify")
	}
	for _, broken := range []string{"", "$argon2id$", "$argon2id$v=19$m=0,t=1,p=1$AA$AA", "$2a$10$abc", h + "x$"} {
		if VerifyPassword(broken, "x") {
			t.Errorf("accepted %q", broken)
		}
	}
	if VerifyPassword(dummyHash, "") {
		t.Error("dummy hash matches the empty password")
	}
}

func TestEnsureDemoAdmin(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	pw, created, err := EnsureDemoAdmin(ctx, dir, "admin@city.example.lg.jp")
	if err != nil || !created || len(pw) < 16 {
		t.Fatalf("first: %q %v %v", pw, created, err)
	}
	pw2, created, err := EnsureDemoAdmin(ctx, dir, "admin@city.example.lg.jp")
	if err != nil || created || pw2 != "" {
		t.Fatalf("second: %q %v %v", pw2, created, err)
	}
	u, err := OpenUsers(ctx, UsersPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if usr, err := u.Authenticate(ctx, "admin", pw, time.Now()); err != nil || usr.Role != RoleAdmin {
		t.Fatalf("demo admin: %+v %v", usr, err)
	}
}

// TestLockoutConcurrentGuesses: guesses in parallel all count.
func TestLockoutConcurrentGuesses(t *testing.T) {
	forEachUsers(t, func(t *testing.T, kind string) {
		ctx := context.Background()
		u := openTestUsers(t, kind)
		now := time.Now()
		if err := u.Add(ctx, User{Username: "a", Email: "a@x.jp", Role: RoleAdmin}, "long enough pw", now); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 8)
		for i := 0; i < 8; i++ {
			go func() { _, err := u.Authenticate(ctx, "a", "guess", now); done <- err }()
		}
		for i := 0; i < 8; i++ {
			<-done
		}
		got, err := u.Get(ctx, "a")
		if err != nil || got.Failures < DefaultMaxFailures || !got.LockedUntil.After(now) {
			t.Fatalf("after 8 parallel guesses: %+v %v", got, err)
		}
	})
}
