package classify

import (
	"testing"

	"dlpguard/inspect"
)

// TestTicketContext (issue 12): a number whose nearest label is a ticket's
// (受付番号, 注文番号, 伝票番号, 問合せ番号, 管理番号, 予約番号, 整理番号 …)
// is that ticket's number for every numeric detector, not only My Number;
// a positive keyword nearer than the ticket label keeps the finding.
func TestTicketContext(t *testing.T) {
	c := mustNew(t, Config{})
	tests := []struct {
		name string
		text string
		det  string
		want Confidence // "" = not found
	}{
		// hard negatives: the ticket label is the nearest
		{"pension near 受付番号", "年金の手続きについて、受付番号 4744-954239 でお問い合わせください。", PensionNumber, ""},
		{"pension near 問合せ番号", "基礎年金の件 問合せ番号4744954239", PensionNumber, ""},
		{"pension near 整理番号 after", "年金相談 4744-954239（整理番号）", PensionNumber, ""},
		{"licence near 予約番号", "運転免許の更新 予約番号 902529252941 です", DriversLicense, ""},
		{"passport near 予約番号", "旅券の申請、予約番号 TK1234567 でお越しください", Passport, ""},
		{"card near 注文番号", "クレジットカードでお支払いのご注文 注文番号 3528 8711 6989 3386", CreditCard, ""},
		{"card grouped near 伝票番号", "伝票番号 3528-8711-6989-3386", CreditCard, ""},
		{"card near tracking", "Tracking 3528 8711 6989 3386", CreditCard, ""},
		{"resident near 管理番号", "住基ネットの照会 管理番号 12345678901", ResidentCode, ""},
		{"bank near 受付番号", "普通 受付番号 9393308", BankAccount, ""},
		{"corporate near 注文番号", "法人番号のご案内とは別に、注文番号 7010705000725", CorporateNumber, Medium},
		// the same numbers with their own label nearest: found as before
		{"pension own label nearer", "受付番号 A-12 の件、基礎年金番号 4744-954239", PensionNumber, High},
		{"pension label both sides", "基礎年金番号 4744-954239（受付番号 A-12）", PensionNumber, High},
		{"licence own label", "予約は別。運転免許証番号 902529252941", DriversLicense, High},
		{"passport own label", "予約番号は別紙。旅券番号 TK1234567", Passport, High},
		{"card own label", "注文番号 12345、カード番号 3528 8711 6989 3386", CreditCard, High},
		{"resident own label", "住民票コード 12345678901", ResidentCode, High},
		{"bank own label", "受付番号 55、普通 口座番号 9393308", BankAccount, High},
		{"corporate own label", "法人番号 7010705000725", CorporateNumber, High},
		// My Number keeps its own lowering (one rank), as before
		{"my number near 受付番号", "受付番号 123456789018", MyNumber, Low},
		{"my number keyword and 受付番号", "個人番号の届出 受付番号 123456789018", MyNumber, Medium},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantFinding(t, c.ScanText("body", inspect.KindBody, tt.text), tt.text, tt.det, tt.want)
		})
	}
}

// TestTicketColumn: a table column headed by a ticket label holds ticket
// numbers, whatever other label stands in the table.
func TestTicketColumn(t *testing.T) {
	c := mustNew(t, Config{})
	scan := func(text string) Report {
		s := c.NewScanner()
		s.Chunk(inspect.Chunk{Location: "attachment:a.xlsx", Kind: inspect.KindAttachment, Table: true, Text: text})
		return s.Report()
	}
	table := "基礎年金関係の受付一覧\n受付番号\t件名\n4744-954239\t年金の相談\n1234-567890\t年金手帳の再交付\n"
	if f := scan(table).Find(PensionNumber); f != nil {
		t.Errorf("ticket column read as pension numbers: %+v", f)
	}
	own := "基礎年金番号\t氏名\n4744-954239\t山田太郎\n1234-567890\t佐藤花子\n"
	if f := scan(own).Find(PensionNumber); f == nil || f.Count != 2 {
		t.Errorf("a column headed 基礎年金番号: %+v", f)
	}
}

// wantFinding checks detector det in rep: absent when want is "", else
// found with confidence want.
func wantFinding(t *testing.T, rep Report, text, det string, want Confidence) {
	t.Helper()
	f := rep.Find(det)
	switch {
	case want == "" && f != nil:
		t.Errorf("%q: %s found: %+v", text, det, f)
	case want != "" && f == nil:
		t.Errorf("%q: %s not found (report %+v)", text, det, rep)
	case want != "" && f.Confidence != want:
		t.Errorf("%q: %s confidence %s, want %s", text, det, f.Confidence, want)
	}
}
