package console

import "strings"

// clauseText is the text of the clauses of the standard (対策基準 概要版)
// that the default policy cites, shown beside each rule so that reviewers
// see what the rule enforces. Titles of other clauses come from the rule
// itself; policy keeps the full list of titles for validation.
var clauseText = map[string]struct{ Title, Text string }{
	"3.3.5": {"情報の送信", "重要性Ⅰ・Ⅱの情報を業務上の必要から送信する場合は、情報セキュリティ管理責任者の許可を得なければならない（個人情報等の電子メール又はFAXによる送信は原則禁止）。電子メールで送信する情報には、暗号化又はパスワード設定等の措置を講じなければならない。共通: 誤送信等を防止する適切な措置を講じなければならない。"},
	"4":     {"特定個人情報等の取扱い", "特定個人情報等の取扱いは重要性Ⅰの遵守事項によるほか、「特定個人情報の適正な取扱いに関するガイドライン（行政機関等・地方公共団体等編）」に基づく安全管理措置を講じなければならない。"},
	"8.4":   {"例外措置", "遵守事項とは異なる方法を採用し又は遵守事項を実施しないことについて合理的な理由がある場合には、CISO 又は統括情報セキュリティ責任者の許可を得て例外措置を取ることができる。"},
	"3.3.7": {"情報の提供・公表", "情報を提供・公表する場合は、情報セキュリティ管理責任者の許可を得なければならない。情報の提供は「3.3.5. 情報の送信」の遵守事項に準じて行わなければならない。"},
}

// Clause is one clause a rule cites, with its text when known.
type Clause struct {
	Number, Title, Text string
}

// clausesOf splits a rule's clause field ("3.3.5, 4") into clauses.
func clausesOf(s string) []Clause {
	var out []Clause
	for _, c := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '、' || r == ' ' || r == ';' }) {
		c = strings.TrimSuffix(strings.TrimSpace(c), ".")
		if c == "" {
			continue
		}
		t := clauseText[c]
		out = append(out, Clause{Number: c, Title: t.Title, Text: t.Text})
	}
	return out
}
