#!/usr/bin/env bash
# gen.sh regenerates inspect/testdata/files/{office,archive}/ from real
# software: LibreOffice (headless, and through UNO for passwords),
# msoffcrypto-tool (to check the passwords), Info-ZIP zip, 7-Zip,
# lha, gcab, GNU tar/gzip and python3 (only to corrupt a file and to name one in CP932).
# It is run by hand, not by CI: CI uses the committed outputs.
#
#   apt-get install -y libreoffice-writer-nogui libreoffice-calc-nogui \
#     libreoffice-impress-nogui fonts-noto-cjk python3-uno \
#     python3-msoffcrypto-tool p7zip-full zip unzip jlha-utils gcab
#   bash testdata/gen/gen.sh
#
# The sources are the flat ODF files in src/ (hand-written, so their content,
# and so every My Number below, is known); LibreOffice writes every real
# document from them. Running it again overwrites the outputs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
src=$here/src
office=$root/inspect/testdata/files/office
arch=$root/inspect/testdata/files/archive
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$office" "$arch"

for t in soffice msoffcrypto-tool zip unzip 7z lha gcab tar gzip python3; do
	command -v "$t" >/dev/null || { echo "gen.sh: $t is missing" >&2; exit 1; }
done

# Fixed times so that archives come out the same on every run.
export TZ=UTC SOURCE_DATE_EPOCH=1775001600 # 2026-04-01
stamp=202604010000

convert() { # convert SRC FILTER OUTEXT NAME: LibreOffice writes office/NAME
	soffice --headless --norestore "-env:UserInstallation=file://$tmp/lo" \
		--convert-to "$3:$2" --outdir "$tmp/conv" "$1" >/dev/null 2>&1
	base=$(basename "${1%.*}")
	test -s "$tmp/conv/$base.$3" || { echo "gen.sh: soffice did not write $base.$3" >&2; exit 1; }
	mv "$tmp/conv/$base.$3" "$office/$4"
}

# --- office documents -----------------------------------------------------
convert "$src/document.fodt" "writer8" odt document.odt
convert "$src/document.fodt" "MS Word 2007 XML" docx document.docx
convert "$src/roster.fods" "calc8" ods roster.ods
convert "$src/roster.fods" "Calc MS Excel 2007 XML" xlsx roster.xlsx
# A chart: its data table travels inside the file (docx: the chart's
# cached values; odt: the "Object 1" sub-document).
convert "$src/chart.fodt" "writer8" odt chart.odt
convert "$src/chart.fodt" "MS Word 2007 XML" docx chart.docx
# Legacy binary Word: an OLE file that is not encrypted.
convert "$src/secret.fodt" "MS Word 97" doc legacy.doc
convert "$src/slides.fodp" "impress8" odp slides.odp
convert "$src/slides.fodp" "Impress MS PowerPoint 2007 XML" pptx slides.pptx
convert "$src/drawing.fodg" "draw8" odg drawing.odg
# Forms (issue 12): one digit per cell beside and under a 個人番号 label;
# and a survey of single-digit answers without any label (hard negative).
convert "$src/form.fods" "Calc MS Excel 2007 XML" xlsx form.xlsx
convert "$src/form.fods" "calc8" ods form.ods
convert "$src/digits.fods" "Calc MS Excel 2007 XML" xlsx digits.xlsx
convert "$src/digits.fods" "calc8" ods digits.ods

# Password-protected OOXML, saved by LibreOffice through UNO (an OLE
# container with EncryptionInfo and EncryptedPackage); msoffcrypto-tool then
# proves that the password opens them. (secret.fodt has no comment: Writer
# crashes laying out comment windows when driven headless over UNO.)
pipe=dlpguardgen$$
soffice --headless --norestore "-env:UserInstallation=file://$tmp/lo" \
	"--accept=pipe,name=$pipe;urp;" >/dev/null 2>&1 &
lopid=$!
trap 'kill $lopid 2>/dev/null; rm -rf "$tmp"' EXIT
# The system python3: it has the uno module (python3-uno).
/usr/bin/python3 "$here/lo_password.py" "$pipe" himitsu \
	"MS Word 2007 XML" "$src/secret.fodt" "$office/document-encrypted.docx" \
	"Calc MS Excel 2007 XML" "$src/roster.fods" "$office/roster-encrypted.xlsx" \
	"writer8" "$src/secret.fodt" "$office/document-encrypted.odt"
wait $lopid || true
trap 'rm -rf "$tmp"' EXIT
for f in document-encrypted.docx roster-encrypted.xlsx; do
	msoffcrypto-tool -p himitsu "$office/$f" "$tmp/$f.plain"
	unzip -tq "$tmp/$f.plain" >/dev/null
done

# --- archives -------------------------------------------------------------
w=$tmp/w
mkdir -p "$w/plain/資料"
cp "$office/roster.xlsx" "$w/plain/資料/名簿.xlsx"
printf '個人番号 123456789018\r\n' >"$w/plain/資料/メモ.txt"
printf 'readme: no personal data\n' >"$w/plain/readme.txt"
find "$w" -exec touch -t $stamp {} +

# Plain zip; Info-ZIP sets the UTF-8 flag for non-ASCII names in a UTF-8 locale.
(cd "$w/plain" && rm -f "$arch/plain.zip" && LC_ALL=C.UTF-8 zip -qrX "$arch/plain.zip" readme.txt 資料)

# ZipCrypto (traditional PKWARE encryption).
(cd "$w/plain" && rm -f "$arch/zipcrypto.zip" && LC_ALL=C.UTF-8 zip -qrX -P himitsu "$arch/zipcrypto.zip" 資料/メモ.txt readme.txt)

# A zip that merely holds an xlsx, stored (zip -0): an archive, not an xlsx,
# even though the xlsx's own part names show through the stored bytes.
(cd "$w/plain/資料" && rm -f "$arch/stored-xlsx.zip" && zip -qX -0 "$arch/stored-xlsx.zip" 名簿.xlsx)

# WinZip AES-256 (method 99).
(cd "$w/plain" && rm -f "$arch/aes256.zip" && 7z a -bd -tzip -mem=AES256 -phimitsu "$arch/aes256.zip" 資料/メモ.txt >/dev/null)

# CP932 entry names without the UTF-8 flag, as Windows Explorer writes them:
# the file names on disk are CP932 bytes and zip runs in the C locale.
mkdir -p "$w/sjis"
python3 - "$w/sjis" <<'PY'
import os, sys
d = os.fsencode(sys.argv[1])
for name, body in (("名簿.txt", "マイナンバー 176749365367\n"), ("申請書/表紙.txt", "表紙\n")):
    p = os.path.join(d, name.encode("cp932"))
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(body.encode("utf-8"))
PY
find "$w/sjis" -exec touch -t $stamp {} +
(cd "$w/sjis" && rm -f "$arch/cp932.zip" && LC_ALL=C zip -qrX "$arch/cp932.zip" .)

# Nested: a zip inside a zip.
mkdir -p "$w/nest"
printf '内側のファイル 個人番号 398259791905\n' >"$w/nest/inner.txt"
touch -t $stamp "$w/nest/inner.txt"
(cd "$w/nest" && rm -f inner.zip && zip -qX inner.zip inner.txt && touch -t $stamp inner.zip && rm -f "$arch/nested.zip" && zip -qX "$arch/nested.zip" inner.zip)

# Zip bomb (small): 20 MiB of zeros in one deflated member.
mkdir -p "$w/bomb"
head -c $((20 << 20)) /dev/zero >"$w/bomb/zeros.bin"
touch -t $stamp "$w/bomb/zeros.bin"
(cd "$w/bomb" && rm -f "$arch/bomb.zip" && zip -qX -9 "$arch/bomb.zip" zeros.bin)

# Corrupt: the deflated data of the one member overwritten, CRC no longer matches.
mkdir -p "$w/bad"
seq 1 2000 | sed 's/^/行 /' >"$w/bad/data.txt"
touch -t $stamp "$w/bad/data.txt"
(cd "$w/bad" && rm -f "$arch/corrupt.zip" && zip -qX -9 "$arch/corrupt.zip" data.txt)
python3 - "$arch/corrupt.zip" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
n, m = struct.unpack("<HH", b[26:30])  # local header: name and extra lengths
start = 30 + n + m
for i in range(start + 40, start + 60):  # keep it a valid deflate start, break the data
    b[i] ^= 0x55
open(sys.argv[1], "wb").write(bytes(b))
PY

# Damaged document (issue 12): document.docx with its main part's root end
# tag renamed — a valid ZIP whose word/document.xml is not well-formed XML.
python3 - "$office/document.docx" "$office/damaged.docx" <<'PY'
import sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zo:
    for info in zi.infolist():
        data = zi.read(info)
        if info.filename == "word/document.xml":
            data = data.replace(b"</w:document>", b"</w:documen>")
        zo.writestr(info, data)
PY

# tar and tar.gz (GNU tar, fixed owner and order).
tarflags=(--sort=name --owner=0 --group=0 --numeric-owner --mtime=@$SOURCE_DATE_EPOCH)
(cd "$w/plain" && tar "${tarflags[@]}" -cf "$arch/plain.tar" readme.txt 資料)
(cd "$w/plain" && tar "${tarflags[@]}" -cf - readme.txt 資料 | gzip -n -9 >"$arch/plain.tar.gz")
# A lone gzip file (its header carries the original name).
cp "$w/plain/資料/メモ.txt" "$w/memo.txt" && touch -t $stamp "$w/memo.txt"
(cd "$w" && gzip -9 -c memo.txt >"$arch/memo.txt.gz")

# 7z, plain and with encrypted headers (-mhe).
(cd "$w/plain" && rm -f "$arch/plain.7z" && 7z a -bd -t7z "$arch/plain.7z" 資料/メモ.txt >/dev/null)
(cd "$w/plain" && rm -f "$arch/encrypted-headers.7z" && 7z a -bd -t7z -mhe=on -phimitsu "$arch/encrypted-headers.7z" 資料/メモ.txt >/dev/null)

# LZH (still met in Japan) and CAB: recognised, not read.
(cd "$w" && rm -f "$arch/memo.lzh" && lha aq "$arch/memo.lzh" memo.txt)
(cd "$w" && rm -f "$arch/memo.cab" && gcab -c "$arch/memo.cab" memo.txt)

# Fuzz seed corpora (go test runs them as tests): the small files above.
corpus() { # corpus DIR FILE...
	python3 - "$@" <<'PY'
import os, sys
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
for p in sys.argv[2:]:
    b = open(p, "rb").read()
    if len(b) > 16 << 10:
        continue
    lit = "".join(chr(c) if 32 <= c < 127 and c not in (34, 92) else "\\x%02x" % c for c in b)
    name = os.path.basename(p).replace(".", "_")
    with open(os.path.join(d, "seed_" + name), "w") as f:
        f.write('go test fuzz v1\n[]byte("%s")\n' % lit)
PY
}
corpus "$root/inspect/office/testdata/fuzz/FuzzOfficeExtract" "$office"/*.docx "$office"/*.xlsx "$office"/*.pptx "$office"/*.od?
corpus "$root/inspect/office/testdata/fuzz/FuzzIsEncryptedOLE" "$office"/*-encrypted.docx "$office"/*-encrypted.xlsx "$office"/*.doc
corpus "$root/inspect/archive/testdata/fuzz/FuzzArchive" "$arch"/*

ls -l "$office" "$arch"
