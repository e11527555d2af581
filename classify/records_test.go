package classify

import (
	"fmt"
	"strings"
	"testing"

	"dlpguard/inspect"
)

// TestListLayouts (issue 12): a list of people is a list whatever its
// shape: each layout with ten records is a personal list (the default
// policy holds it), nine are not; organisations stay out.
func TestListLayouts(t *testing.T) {
	c := mustNew(t, Config{Organisation: Organisation{Domains: []string{"city.example.lg.jp"}}})
	fam := []string{"高橋", "佐藤", "鈴木", "田中", "伊藤", "渡辺", "山本", "小林", "加藤", "吉田", "山田", "松本"}
	giv := []string{"花子", "太郎", "一郎", "美咲", "健太", "陽子", "翔", "大輔", "直樹", "愛", "誠", "恵"}
	rows := func(n int, f func(k int) string) string {
		var b strings.Builder
		for k := 0; k < n; k++ {
			b.WriteString(f(k))
		}
		return b.String()
	}
	type layout struct {
		name  string
		head  string // header line(s), "" for none
		row   func(k int) string
		table bool
		list  bool // ten rows make a list
	}
	layouts := []layout{
		{"numbered, birth 生, street without prefecture", "", func(k int) string {
			return fmt.Sprintf("%d. %s %s（平成2年5月%d日生）緑町4-5-%d\n", k+1, fam[k], giv[k], k+1, k+1)
		}, false, true},
		{"bulleted, phone only", "", func(k int) string { return fmt.Sprintf("・%s %s 090-1234-%04d\n", fam[k], giv[k], 1000+k) }, false, true},
		{"name and e-mail", "", func(k int) string { return fmt.Sprintf("%s %s <user%d@example.com>\n", fam[k], giv[k], k) }, false, true},
		{"name and age", "", func(k int) string { return fmt.Sprintf("%s %s（%d歳）\n", fam[k], giv[k], 30+k) }, false, true},
		{"address labels", "", func(k int) string {
			return fmt.Sprintf("〒123-45%02d\n若葉市緑町%d-2-3\n%s %s 様\n\n", k, k+1, fam[k], giv[k])
		}, false, true},
		{"name and bank account", "", func(k int) string {
			return fmt.Sprintf("%s %s 若葉銀行 本店 普通 12345%02d\n", fam[k], giv[k], k)
		}, false, true},
		{"birth 生まれ", "", func(k int) string { return fmt.Sprintf("%s %s 1990年4月%d日生まれ\n", fam[k], giv[k], k+1) }, false, true},
		{"CSV 姓,名,住所", "姓,名,住所\n", func(k int) string { return fmt.Sprintf("%s,%s,若葉市緑町%d-2-3\n", fam[k], giv[k], k+1) }, true, true},
		{"CSV 氏,名,電話番号", "氏,名,電話番号\n", func(k int) string { return fmt.Sprintf("%s,%s,090-1234-%04d\n", fam[k], giv[k], 1000+k) }, true, true},
		{"TSV セイ,メイ,生年月日", "セイ\tメイ\t生年月日\n", func(k int) string { return fmt.Sprintf("タカハシ\tハナコ\t1990/4/%d\n", k+1) }, true, true},
		{"CSV no header, name column", "", func(k int) string {
			return fmt.Sprintf("%s %s,若葉市緑町%d-2-3,090-1234-%04d\n", fam[k], giv[k], k+1, 1000+k)
		}, true, true},
		// hard negatives
		{"課 directory", "", func(k int) string { return fmt.Sprintf("%s課 %s係 03-5555-%04d\n", fam[k], giv[k], 1000+k) }, false, false},
		{"法人 list", "法人名,所在地,電話番号\n", func(k int) string {
			return fmt.Sprintf("株式会社%s%s,東京都千代田区%d-2-3,03-5555-%04d\n", fam[k], giv[k], k+1, 1000+k)
		}, true, false},
		{"委託業者 list", "", func(k int) string {
			return fmt.Sprintf("・%s%s株式会社 担当 090-1234-%04d\n", fam[k], giv[k], 1000+k)
		}, false, false},
		{"names only", "出席者\n", func(k int) string { return fmt.Sprintf("%s %s\n", fam[k], giv[k]) }, false, false},
		{"staff e-mail (own domain)", "", func(k int) string {
			return fmt.Sprintf("%s %s <user%d@city.example.lg.jp>\n", fam[k], giv[k], k)
		}, false, false},
		{"single-digit table", "回答\t設問1\t設問2\n", func(k int) string { return fmt.Sprintf("%d\t%d\t%d\n", k, k%3, k%5) }, true, false},
		{"order numbers with dates", "", func(k int) string { return fmt.Sprintf("注文番号 %d 2026年4月%d日 発送\n", 1000+k, k+1) }, false, false},
	}
	for _, l := range layouts {
		for _, n := range []int{9, 10} {
			t.Run(fmt.Sprintf("%s/%d", l.name, n), func(t *testing.T) {
				s := c.NewScanner()
				s.Chunk(inspect.Chunk{Location: "body", Kind: inspect.KindBody, Table: l.table, Text: l.head + rows(n, l.row)})
				rep := s.Report()
				assertMasked(t, rep, nil)
				f := rep.Find(PersonalList)
				want := l.list && n >= 10
				switch {
				case want && (f == nil || f.Count < 10):
					t.Errorf("not a list of %d: %+v", n, f)
				case !want && f != nil:
					t.Errorf("a list: %+v", f)
				}
			})
		}
	}
}
