package office

import (
	"archive/zip"
	"bytes"
	"testing"
	"unicode/utf8"
)

// storedZip builds a ZIP whose members are stored, not deflated, so that
// the fuzzer's mutations land in the XML itself.
func storedZip(members ...string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i+1 < len(members); i += 2 {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: members[i], Method: zip.Store})
		if err != nil {
			panic(err)
		}
		w.Write([]byte(members[i+1]))
	}
	zw.Close()
	return buf.Bytes()
}

const ctTypes = `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">`

// fuzzSeeds are small documents of every format, stored.
func fuzzSeeds() [][]byte {
	return [][]byte{
		storedZip(
			"[Content_Types].xml", ctTypes+`<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/header1.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.header+xml"/></Types>`,
			"word/document.xml", `<w:document xmlns:w="w"><w:body><w:p><w:r><w:t>個人番号</w:t><w:tab/><w:t>123456789018</w:t></w:r></w:p><w:tbl><w:tr><w:tc><w:tcPr><w:gridSpan w:val="2"/></w:tcPr><w:p><w:r><w:t>a</w:t></w:r></w:p></w:tc><w:tc><w:tbl><w:tr><w:tc><w:p><w:r><w:t>n</w:t></w:r></w:p></w:tc></w:tr></w:tbl></w:tc></w:tr></w:tbl><mc:AlternateContent xmlns:mc="mc"><mc:Choice><w:t>c</w:t></mc:Choice><mc:Fallback><w:t>f</w:t></mc:Fallback></mc:AlternateContent></w:body></w:document>`,
			"word/header1.xml", `<w:hdr xmlns:w="w"><w:p><w:r><w:t>機密性2</w:t></w:r></w:p></w:hdr>`,
		),
		storedZip(
			"[Content_Types].xml", ctTypes+`<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>`,
			"xl/workbook.xml", `<workbook xmlns:r="r"><workbookPr date1904="0"/><sheets><sheet name="名簿" sheetId="1" r:id="rId1"/></sheets></workbook>`,
			"xl/_rels/workbook.xml.rels", `<Relationships><Relationship Id="rId1" Type="http://x/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://x/sharedStrings" Target="sharedStrings.xml"/><Relationship Id="rId3" Type="http://x/styles" Target="/xl/styles.xml"/></Relationships>`,
			"xl/sharedStrings.xml", `<sst><si><t>氏名</t></si><si><r><t>山田</t></r><r><t>太郎</t></r><rPh><t>ヤマダ</t></rPh></si></sst>`,
			"xl/styles.xml", `<styleSheet><numFmts><numFmt numFmtId="164" formatCode="yyyy/mm/dd"/></numFmts><cellXfs><xf numFmtId="0"/><xf numFmtId="164"/></cellXfs></styleSheet>`,
			"xl/worksheets/sheet1.xml", `<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="C1" t="s"><v>1</v></c></row><row r="2"><c r="A2"><v>1.23456789018E+11</v></c><c r="B2" s="1"><v>29312</v></c><c t="inlineStr"><is><t>x</t></is></c><c t="b"><v>1</v></c><c><f>1+1</f><v>2</v></c></row></sheetData><headerFooter><oddHeader>&amp;C&amp;"Gothic"秘</oddHeader></headerFooter></worksheet>`,
		),
		storedZip(
			"[Content_Types].xml", ctTypes+`<Override PartName="/ppt/presentation.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"/><Override PartName="/ppt/slides/slide1.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.slide+xml"/></Types>`,
			"ppt/presentation.xml", `<p:presentation xmlns:p="p" xmlns:r="r"><p:sldIdLst><p:sldId id="256" r:id="rId2"/></p:sldIdLst></p:presentation>`,
			"ppt/_rels/presentation.xml.rels", `<Relationships><Relationship Id="rId2" Type="x/slide" Target="slides/slide1.xml"/></Relationships>`,
			"ppt/slides/slide1.xml", `<p:sld xmlns:p="p" xmlns:a="a"><a:p><a:r><a:t>スライド</a:t></a:r><a:br/><a:fld type="slidenum"><a:t>1</a:t></a:fld></a:p></p:sld>`,
			"ppt/slides/_rels/slide1.xml.rels", `<Relationships><Relationship Id="rId1" Type="x/notesSlide" Target="../notesSlides/notesSlide1.xml"/></Relationships>`,
			"ppt/notesSlides/notesSlide1.xml", `<p:notes xmlns:p="p" xmlns:a="a"><a:p><a:r><a:t>ノート</a:t></a:r></a:p></p:notes>`,
		),
		storedZip(
			"mimetype", "application/vnd.oasis.opendocument.spreadsheet",
			"content.xml", `<office:document-content xmlns:office="o" xmlns:table="t" xmlns:text="x"><office:body><office:spreadsheet><table:table table:name="S"><table:table-row table:number-rows-repeated="2"><table:table-cell office:value-type="float" office:value="123456789018" table:number-columns-repeated="3"><text:p>1.23E+11</text:p></table:table-cell><table:table-cell table:number-columns-repeated="2"/><table:table-cell office:value-type="date" office:date-value="1980-04-01"><text:p>x<text:s text:c="3"/>y<office:annotation><dc:creator>a</dc:creator><text:p>注</text:p></office:annotation></text:p></table:table-cell><table:table-cell office:value-type="string"><text:p>x<text:s text:c="3"/>y</text:p></table:table-cell><table:table-cell table:number-columns-repeated="16000"/></table:table-row><table:table-row table:number-rows-repeated="1048000"><table:table-cell table:number-columns-repeated="16384"/></table:table-row></table:table></office:spreadsheet></office:body></office:document-content>`,
			"styles.xml", `<office:document-styles xmlns:office="o" xmlns:style="s" xmlns:text="x"><office:master-styles><style:master-page><style:header><text:p>ヘッダー</text:p></style:header></style:master-page></office:master-styles></office:document-styles>`,
		),
		storedZip(
			"mimetype", "application/vnd.oasis.opendocument.text",
			"content.xml", `<office:document-content xmlns:office="o" xmlns:text="x" xmlns:draw="d"><office:body><office:text><text:p>本文<text:tab/><text:line-break/><text:note><text:note-citation>1</text:note-citation><text:note-body><text:p>脚注</text:p></text:note-body></text:note></text:p><draw:page><text:p>p</text:p></draw:page></office:text></office:body></office:document-content>`,
			"META-INF/manifest.xml", `<manifest:manifest xmlns:manifest="m"><manifest:file-entry manifest:full-path="/"/></manifest:manifest>`,
		),
	}
}

// FuzzOfficeExtract: no panic, no hang, bounded output, valid UTF-8, for
// any bytes. Seeds: the small documents below and, in testdata/fuzz, the
// generated files (testdata/gen/gen.sh).
func FuzzOfficeExtract(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const maxText = 1 << 16
		d, _ := Extract(bytes.NewReader(data), int64(len(data)), maxText, 1<<20)
		if d == nil {
			return
		}
		n := 0
		for _, s := range d.Sections {
			n += len(s.Text)
			if !utf8.ValidString(s.Text) || !utf8.ValidString(s.Name) {
				t.Errorf("section %q: invalid UTF-8", s.Name)
			}
		}
		if n > maxText {
			t.Errorf("%d bytes of text over the %d limit", n, maxText)
		}
	})
}

// FuzzIsEncryptedOLE: no panic, no hang on any bytes (cycles in the FAT
// and DIFAT chains, offsets past the end).
func FuzzIsEncryptedOLE(f *testing.F) {
	f.Add(append([]byte(oleMagic), make([]byte, 1024)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		IsEncryptedOLE(bytes.NewReader(data), int64(len(data)))
	})
}
