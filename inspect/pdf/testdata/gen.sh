#!/bin/sh
# gen.sh makes the real PDFs in inspect/testdata/files/pdf with LibreOffice
# (headless) and qpdf. Run by hand from anywhere, not by CI; the outputs are
# committed. Needs: libreoffice-writer-nogui, fonts-noto-cjk, qpdf, python3,
# groff-base and ghostscript (a second producer: Type1C fonts, word spaces
# written as character spacing, table rows as one TJ array).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$here/../../testdata/files/pdf
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

python3 - "$work" <<'PY'
import sys, os
w = sys.argv[1]

def mynumber(base11):
    # check digit per the My Number ordinance (個人番号の検査用数字)
    d = [int(c) for c in base11]
    s = 0
    for n in range(1, 12):
        p = d[11 - n]
        q = n + 1 if n <= 6 else n - 5
        s += p * q
    r = s % 11
    return base11 + str(0 if r <= 1 else 11 - r)

def page(title, body):
    return ('<!DOCTYPE html><html><head><meta charset="utf-8"><title>%s</title>'
            '<style>body{font-family:"Noto Sans CJK JP";font-size:11pt}'
            'td,th{border:1px solid #000;padding:2px}</style></head><body>%s</body></html>') % (title, body)

def save(name, html):
    with open(os.path.join(w, name + '.html'), 'w', encoding='utf-8') as f:
        f.write(html)

save('japanese', page('お知らせ',
    '<h1>住民税の申告について</h1>'
    '<p>令和七年度の住民税申告書の受付を開始します。申告期限は三月十五日です。</p>'
    '<p>提出先：市民課 税務係（本庁舎二階）。お問い合わせは平日の午前八時三十分から午後五時十五分まで受け付けます。</p>'
    '<p>English line: Tax return desk opens at 8:30.</p>'))

names = ['山田 太郎','佐藤 花子','鈴木 一郎','高橋 美咲','田中 健二','伊藤 直子','渡辺 誠','山本 由美','中村 大輔','小林 恵子',
         '加藤 翔太','吉田 陽子','山口 拓也','松本 明美','井上 隆','木村 沙織','林 和也','斎藤 真理','清水 浩','山崎 愛']
rows = ''.join('<tr><td>%d</td><td>%s</td><td>東京都千代田区霞が関%d-%d-%d</td><td>03-%04d-%04d</td></tr>'
               % (i+1, n, i%3+1, i%9+1, i+10, 1000+i, 5000+i*7) for i, n in enumerate(names))
save('table', page('名簿', '<h2>民生委員名簿</h2><table><tr><th>番号</th><th>氏名</th><th>住所</th><th>電話</th></tr>%s</table>' % rows))

mn = mynumber('12345678901')
save('mynumber', page('通知', '<p>個人番号通知</p><p>氏名：山田 太郎</p><p>個人番号：%s</p><p>上記の番号を確認してください。</p>' % mn))
with open(os.path.join(w, 'mynumber.txt'), 'w') as f:
    f.write(mn)

# A form with one box per digit, as 個人番号 fields are printed.
cells = ''.join('<td style="width:14pt;text-align:center">%s</td>' % c for c in mn)
save('boxes', page('様式', '<p>扶養控除等申告書</p><table><tr><td>個人番号</td>%s</tr><tr><td>氏名</td><td colspan="12">山田 太郎</td></tr></table>' % cells))

paras = []
for p in range(1, 41):
    paras.append('<h2 style="page-break-before:always">第%d章 事務処理要領</h2>' % p)
    for k in range(6):
        paras.append('<p>第%d章第%d節。市民サービスの向上のため、各課は窓口業務の手順を定期的に見直し、記録を保存する。'
                     'Section %d.%d: every department reviews its counter procedures and keeps records for five years.</p>' % (p, k+1, p, k+1))
save('multipage', page('事務処理要領', ''.join(paras)))
PY

cd "$work"
for f in japanese table mynumber multipage boxes; do
  soffice -env:UserInstallation=file://$work/profile --headless \
    --infilter="HTML (StarWriter)" --convert-to pdf:writer_pdf_Export "$f.html" >/dev/null 2>&1
  cp "$f.pdf" "$out/$f.pdf"
done
mn=$(cat mynumber.txt)

qpdf --object-streams=generate mynumber.pdf "$out/objstm.pdf"
qpdf --encrypt "" owner 128 --use-aes=y -- mynumber.pdf "$out/empty_r4_aes128.pdf"
qpdf --encrypt "" owner 256 -- mynumber.pdf "$out/empty_r6_aes256.pdf"
qpdf --encrypt "" owner 128 --use-aes=n -- mynumber.pdf "$out/empty_r3_rc4.pdf" 2>/dev/null ||
  qpdf --allow-weak-crypto --encrypt "" owner 128 --use-aes=n -- mynumber.pdf "$out/empty_r3_rc4.pdf"
qpdf --allow-weak-crypto --encrypt "" owner 40 -- mynumber.pdf "$out/empty_r2_rc4_40.pdf"
qpdf --encrypt secret owner 128 --use-aes=y -- mynumber.pdf "$out/pw_r4_aes128.pdf"
qpdf --encrypt secret owner 256 -- mynumber.pdf "$out/pw_r6_aes256.pdf"
qpdf --allow-weak-crypto --encrypt secret owner 40 -- mynumber.pdf "$out/pw_r2_rc4_40.pdf"
qpdf --linearize --object-streams=generate --encrypt "" owner 256 -- table.pdf "$out/linearized_r6_objstm.pdf"
qpdf --encrypt "" owner 256 -- --object-streams=generate mynumber.pdf "$out/empty_r6_objstm.pdf" 2>/dev/null ||
  qpdf --object-streams=generate --encrypt "" owner 256 -- mynumber.pdf "$out/empty_r6_objstm.pdf"
# Ghostscript: a Latin text through groff, LibreOffice's table rewritten,
# and a page that is only an image (a scan without OCR).
printf 'Staff list\n.sp\nPersonal number: 1234 5678 9018\n.sp\nTax office \\(em open from 8:30 to 17:15, fi fl ligatures.\n' > groff.tr
groff -Tps groff.tr > groff.ps
ps2pdf groff.ps "$out/gs_groff.pdf"
gs -q -sDEVICE=pdfwrite -o "$out/gs_table.pdf" table.pdf
cat > scan.ps <<'PS'
%!PS
72 600 translate 200 50 scale
16 4 8 [16 0 0 -4 0 4]
{<00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff>}
image
showpage
PS
ps2pdf scan.ps "$out/gs_scan.pdf"

# Ghostscript composite (Type0, CIDFontType2) fonts of the Adobe-Japan1
# collection, as older Japanese software writes them: one with the
# predefined UniJIS-UCS2-H CMap and no ToUnicode (codes are UTF-16), one
# with Identity-H and no ToUnicode (codes are Japan1 CIDs: only digits and
# Latin can be read). DejaVu Sans stands in for the CID font: the glyphs
# do not matter, the codes do.
mkdir -p cidmap
echo '/Ryumin-Light << /FileType /TrueType /Path (/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf) /SubfontID 0 /CSI [(Japan1) 2] >> ;' > cidmap/cidfmap
cat > ucs2.ps <<'PS'
%!PS
/JFont /UniJIS-UCS2-H [/Ryumin-Light /CIDFont findresource] composefont pop
/JFont findfont 12 scalefont setfont
72 700 moveto <500B4EBA756A53F7FF1A0031003200330034003500360037003800390030003100380020> show
72 680 moveto <6C0F540DFF1A5C717530592A90CE> show
showpage
PS
gs -q -dNOPAUSE -dBATCH -Icidmap -sDEVICE=pdfwrite -o "$out/gs_cid_ucs2.pdf" ucs2.ps
cat > identity.ps <<'PS'
%!PS
/JFontI /Identity-H [/Ryumin-Light /CIDFont findresource] composefont pop
/JFontI findfont 12 scalefont setfont
72 700 moveto <00120013001400150016001700180019001A001100120019> show
72 680 moveto <030D030E030F031003110312031303140315030C030D0314> show
showpage
PS
gs -q -dNOPAUSE -dBATCH -Icidmap -sDEVICE=pdfwrite -o "$out/gs_cid_identity.pdf" identity.ps

echo "My Number in mynumber.pdf: $mn"
ls -l "$out"
