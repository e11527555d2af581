package config

import (
	"strings"
	"testing"
	"time"
)

// TestReviewSettings: the review settings of the held-message lifecycle
// decode, default, and refuse bad values naming the setting.
func TestReviewSettings(t *testing.T) {
	c, err := Parse(nil, Default())
	if err != nil {
		t.Fatal(err)
	}
	if c.Review.TimeZone != "Asia/Tokyo" || c.Review.RemindBefore != 24*time.Hour || c.Review.AdminsApprove || c.Review.PassphraseChannel == "" {
		t.Fatalf("defaults: %+v", c.Review)
	}
	c, err = Parse([]byte("review:\n  time_zone: UTC\n  remind_before: 0s\n  admins_approve: true\n  passphrase_channel: 電話\n"), Default())
	if err != nil || c.Review.TimeZone != "UTC" || c.Review.RemindBefore != 0 || !c.Review.AdminsApprove || c.Review.PassphraseChannel != "電話" {
		t.Fatalf("set: %+v %v", c.Review, err)
	}
	for _, bad := range []struct{ yaml, want string }{
		{"review:\n  time_zone: Mars/Olympus\n", "review.time_zone"},
		{"review:\n  time_zone: \"\"\n", "review.time_zone"},
		{"review:\n  remind_before: -1h\n", "review.remind_before"},
	} {
		if _, err := Parse([]byte(bad.yaml), Default()); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want an error naming %s", bad.yaml, err, bad.want)
		}
	}
}
