#!/usr/bin/env bash
# bench/mix/gen.sh OUT — makes the realistic load for bench/relay.sh: the
# outbound mail of a city hall, from the few seeds committed beside this
# script.
#
# Real software writes every attachment: LibreOffice (headless) turns the
# HTML seeds into PDF and DOCX and CSV tables into XLSX, Info-ZIP zip packs
# some of them. Then `go run ./bench/mixload compose` writes OUT/eml/*.eml:
# Japanese bodies in ISO-2022-JP or UTF-8, replies with quoted history, and
# 0-3 attachments of 20 KB to 2 MB, mostly small (the weights are in
# bench/mixload/compose.go). Every message passes the default policy (no
# identifiers, no markings), so that all of them reach the upstream.
#
# Needs: soffice (libreoffice-writer-nogui, libreoffice-calc-nogui,
# fonts-noto-cjk), zip, go. Takes about a minute; outputs are not committed.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 OUT [MESSAGES]" >&2; exit 2; }
out=$1
n=${2:-300}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
for t in soffice zip go; do
	command -v "$t" >/dev/null || { echo "gen.sh: $t is missing" >&2; exit 1; }
done
mkdir -p "$out/src" "$out/files"
files=$(cd "$out/files" && pwd)
src=$(cd "$out/src" && pwd)
export TZ=UTC SOURCE_DATE_EPOCH=1775001600 # 2026-04-01: the same zips every run

# Documents of several lengths: the minutes seed repeated PAGES times.
minutes() { # minutes NAME SECTIONS
	{
		echo '<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><title>地域公共交通会議 会議録</title></head><body>'
		echo '<h1>地域公共交通会議 会議録</h1><p>日時：令和8年11月20日 14時00分～16時00分　場所：本庁舎3階 第1会議室</p>'
		for i in $(seq 1 "$2"); do sed "s/@N@/$i/" "$here/seed/minutes.html"; done
		echo '</body></html>'
	} >"$src/$1.html"
}
# Budget tables: item, budget, spent, remark (no personal data).
budget() { # budget NAME ROWS
	{
		echo '款,項,目,節,予算額,執行額,執行率,備考'
		awk -v n="$2" 'BEGIN { split("総務費 民生費 衛生費 土木費 教育費 消防費", k, " ");
			split("消耗品費 印刷製本費 委託料 使用料及び賃借料 備品購入費 通信運搬費", s, " ");
			srand(7); for (i = 1; i <= n; i++) { b = int(rand() * 9000 + 100) * 1000; e = int(b * rand());
			printf "%s,第%d項,第%d目,%s,%d,%d,%.1f%%,令和8年度 当初予算\n", k[i % 6 + 1], i % 9 + 1, i % 7 + 1, s[i % 6 + 1], b, e, 100 * e / b } }'
	} >"$src/$1.csv"
}
cp "$here/seed/notice.html" "$src/notice.html"
minutes minutes-short 4
minutes minutes-long 60
minutes minutes-book 400
budget budget-small 40
budget budget-large 6000

lo() { # lo FILTER EXT INFILTER SRC...: LibreOffice writes files/<name>.EXT
	local f=$1 ext=$2 in=$3 opt=(); shift 3
	[ "$in" = - ] || opt=("--infilter=$in")
	soffice --headless --norestore "-env:UserInstallation=file://$src/lo" "${opt[@]}" \
		--convert-to "$ext:$f" --outdir "$files" "$@" >/dev/null 2>&1
	for s in "$@"; do
		b=$(basename "${s%.*}")
		[ -s "$files/$b.$ext" ] || { echo "gen.sh: soffice did not write $b.$ext" >&2; exit 1; }
	done
}
lo writer_web_pdf_Export pdf - "$src/notice.html" "$src/minutes-short.html" "$src/minutes-long.html" "$src/minutes-book.html"
lo "MS Word 2007 XML" docx "HTML (StarWriter)" "$src/notice.html" "$src/minutes-long.html"
lo "Calc MS Excel 2007 XML" xlsx "Text - txt - csv (StarCalc):44,34,76,1" "$src/budget-small.csv" "$src/budget-large.csv"
cp "$src/budget-small.csv" "$src/budget-large.csv" "$files/"
(cd "$files" && rm -f 資料一式.zip && zip -q -X 資料一式.zip notice.pdf minutes-long.docx budget-small.xlsx)

(cd "$root" && go run ./bench/mixload compose -files "$files" -out "$out/eml" -n "$n")
