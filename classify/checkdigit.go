package classify

// Check-digit rules. Each takes ASCII digits only; anything else is invalid.

// ValidMyNumber reports whether s is 12 digits with the check digit of
// 総務省令第八十五号 第5条: weights Qn = n+1 (n ≤ 6), n−5 (n ≥ 7) over the
// 11 digits counted from the right; remainder ≤ 1 gives 0.
func ValidMyNumber(s string) bool {
	if len(s) != 12 || !allDigits(s) {
		return false
	}
	sum := 0
	for n := 1; n <= 11; n++ {
		q := n + 1
		if n >= 7 {
			q = n - 5
		}
		sum += int(s[11-n]-'0') * q
	}
	r, cd := sum%11, 0
	if r > 1 {
		cd = 11 - r
	}
	return int(s[11]-'0') == cd
}

// ValidCorporateNumber reports whether s is 13 digits whose leading check
// digit follows 財務省令第七十号 第2条: 9 − (Σ Pn×Qn mod 9), Qn 1 for odd n
// and 2 for even n, counted from the right of the 12-digit base.
func ValidCorporateNumber(s string) bool {
	if len(s) != 13 || !allDigits(s) || s[0] == '0' {
		return false
	}
	sum := 0
	for n := 1; n <= 12; n++ {
		q := 1
		if n%2 == 0 {
			q = 2
		}
		sum += int(s[13-n]-'0') * q
	}
	return int(s[0]-'0') == 9-sum%9
}

// ValidLuhn reports whether s passes the Luhn check (ISO/IEC 7812).
func ValidLuhn(s string) bool {
	if len(s) < 2 || !allDigits(s) {
		return false
	}
	sum := 0
	for i := 0; i < len(s); i++ {
		d := int(s[len(s)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// cardBrandOK reports whether a Luhn-valid number has an issuer prefix
// and a length that belong together (detectors.md §7).
func cardBrandOK(s string) bool {
	n := len(s)
	p2 := atoi(s[:2])
	p3 := atoi(s[:3])
	p4 := atoi(s[:4])
	switch {
	case p4 >= 3528 && p4 <= 3589: // JCB
		return n == 16
	case s[0] == '4': // Visa
		return n == 13 || n == 16 || n == 19
	case (p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720): // Mastercard
		return n == 16
	case p2 == 34 || p2 == 37: // Amex
		return n == 15
	case p2 == 36 || (p3 >= 300 && p3 <= 305) || p2 == 38: // Diners
		return n >= 14 && n <= 16
	case p4 == 6011 || (p3 >= 644 && p3 <= 649) || p2 == 65: // Discover
		return n >= 16 && n <= 19
	case p2 == 62: // UnionPay
		return n >= 16 && n <= 19
	}
	return false
}

// validDriversLicense applies the community check digit (detectors.md §5,
// unofficial): it may raise confidence, never decide alone.
func validDriversLicense(s string) bool {
	if len(s) != 12 || !allDigits(s) {
		return false
	}
	w := [10]int{5, 4, 3, 2, 7, 6, 5, 4, 3, 2}
	sum := 0
	for i := 0; i < 10; i++ {
		sum += int(s[i]-'0') * w[i]
	}
	return int(s[10]-'0') == (11-sum%11)%10
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// validatorFor returns the check of a custom detector's validator name.
func validatorFor(name string) (func(string) bool, bool) {
	switch name {
	case "":
		return nil, true
	case "my_number":
		return ValidMyNumber, true
	case "corporate_number":
		return ValidCorporateNumber, true
	case "luhn":
		return ValidLuhn, true
	}
	return nil, false
}
