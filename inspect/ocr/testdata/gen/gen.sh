#!/bin/sh
# Makes the OCR test pictures of inspect/ocr/testdata from the HTML sources
# here, with real software, as city staff make them: LibreOffice renders the
# documents to PDF, pdftoppm rasterises them like a scanner (200/300 dpi),
# ImageMagick adds the noise and the slight rotation of a paper scan or a
# photograph, and img2pdf and tiff2pdf wrap pictures into image-only PDFs the way a
# multifunction printer's "scan to PDF" does (JPEG as is, PNG as Flate, a
# black-and-white TIFF as CCITT Group 4). Run it from anywhere;
# it writes into ../ and needs: libreoffice-writer-nogui, poppler-utils,
# imagemagick, img2pdf, libtiff-tools, fonts-noto-cjk. The outputs are committed; the tests do not
# run this script.
#
# The numbers are made up: 3141 5926 5352 and 2718 2818 2840 are valid My
# Numbers (check digit) that belong to nobody.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$(dirname "$here")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HOME="$tmp" # LibreOffice's profile, not the user's

topdf() { # file.html → $tmp/file.pdf (HTML imported into Writer, as a document)
	soffice --headless --infilter="HTML (StarWriter)" --convert-to pdf:writer_pdf_Export \
		--outdir "$tmp" "$1" >/dev/null 2>&1
}

for f in form card namelist flyer; do topdf "$here/$f.html"; done

# A filled-in form with a My Number in boxes, scanned at 200 dpi in gray
# (upper part of the page), tilted by 1.2 degrees, with scanner noise.
pdftoppm -r 200 -gray -png -f 1 -l 1 -x 0 -y 0 -W 1654 -H 900 "$tmp/form.pdf" "$tmp/form"
convert "$tmp"/form-1.png -background white -rotate 1.2 +repage -attenuate 0.25 +noise Gaussian \
	-colorspace Gray -density 200 -units PixelsPerInch -quality 55 "$out/form-scan.jpg"
# The same at 300 dpi in black and white, as an image-only PDF (Flate).
pdftoppm -r 300 -gray -png -f 1 -l 1 -x 0 -y 0 -W 2480 -H 1350 "$tmp/form.pdf" "$tmp/form300"
convert "$tmp"/form300-1.png -background white -rotate -0.7 +repage -attenuate 0.2 +noise Gaussian \
	-colorspace Gray -threshold 55% -type Bilevel -density 300 -units PixelsPerInch "$tmp/form-scan-300.png"
img2pdf -o "$out/form-scan.pdf" "$tmp/form-scan-300.png"
# The 200 dpi JPEG as an image-only PDF too (DCTDecode, read as is).
img2pdf -o "$out/form-scan-jpeg.pdf" "$out/form-scan.jpg"

# A photographed My Number card: small, tilted, blurred, a camera's 72 dpi.
pdftoppm -r 150 -png -f 1 -l 1 -x 60 -y 60 -W 700 -H 420 "$tmp/card.pdf" "$tmp/card"
convert "$tmp"/card-1.png -background '#c8c0b0' -rotate -3 +repage -blur 0x0.6 -attenuate 0.4 +noise Gaussian \
	-density 72 -units PixelsPerInch -quality 70 "$out/card-photo.jpg"

# A scanned list of 14 people, two pages of a black-and-white multi-page
# TIFF at 300 dpi (Group 4, as scanners send it).
pdftoppm -r 300 -gray -png -f 1 -l 1 -x 0 -y 0 -W 2480 -H 1400 "$tmp/namelist.pdf" "$tmp/nl-a"
pdftoppm -r 300 -gray -png -f 1 -l 1 -x 0 -y 1400 -W 2480 -H 600 "$tmp/namelist.pdf" "$tmp/nl-b"
convert "$tmp"/nl-a-1.png "$tmp"/nl-b-1.png -background white -rotate 0.5 +repage -threshold 60% -type Bilevel \
	-density 300 -units PixelsPerInch -compress Group4 "$out/namelist-scan.tif"
# Its first page as a scanner's PDF (CCITT Group 4 in the PDF).
tiffsplit "$out/namelist-scan.tif" "$tmp/nl-page-"
tiff2pdf -o "$out/namelist-scan.pdf" "$tmp/nl-page-aaa.tif"

# Hard negatives: a scanned event flyer (dates, times, no identifiers) and
# a map drawn with labels and block numbers.
pdftoppm -r 150 -gray -png -f 1 -l 1 -x 0 -y 0 -W 1240 -H 700 "$tmp/flyer.pdf" "$tmp/flyer"
convert "$tmp"/flyer-1.png -background white -rotate 0.8 +repage -attenuate 0.25 +noise Gaussian \
	-colorspace Gray -density 150 -units PixelsPerInch -quality 55 "$tmp/flyer-scan.jpg"
img2pdf -o "$out/flyer-scan.pdf" "$tmp/flyer-scan.jpg"
convert -size 900x600 xc:'#f4f1e8' -stroke '#999999' -strokewidth 14 \
	-draw 'line 0,300 900,300' -draw 'line 450,0 450,600' -draw 'line 0,80 900,560' \
	-stroke none -fill '#a8d8a0' -draw 'rectangle 560,360 820,540' \
	-fill '#d0d0ff' -draw 'rectangle 120,360 330,520' \
	-font Noto-Sans-CJK-JP -fill black -pointsize 30 \
	-annotate +150+450 '市役所' -annotate +620+460 '中央公園' -annotate +480+260 '駅前通り' \
	-annotate +120+200 '本町3丁目' -annotate +600+150 '図書館' -annotate +30+580 '1:5000' \
	-density 96 -units PixelsPerInch "$out/map.png"
ls -l "$out"/*.jpg "$out"/*.pdf "$out"/*.tif "$out"/*.png
