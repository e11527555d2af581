package office

import (
	"archive/zip"
	"bytes"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bigXLSX builds a roster workbook of rows×6 cells shaped like the one
// LibreOffice writes (shared strings, numbers, date styles), returning the
// file and the total size of its XML parts.
func bigXLSX(rows int) ([]byte, int) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	xmlBytes := 0
	add := func(name, body string) {
		w, err := zw.Create(name)
		if err != nil {
			panic(err)
		}
		w.Write([]byte(body))
		xmlBytes += len(body)
	}
	add("[Content_Types].xml", ctTypes+`<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>`)
	add("xl/workbook.xml", `<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="職員名簿" sheetId="1" r:id="rId1"/></sheets></workbook>`)
	add("xl/_rels/workbook.xml.rels", `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>`)
	add("xl/styles.xml", `<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy/mm/dd"/></numFmts><cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="164"/></cellXfs></styleSheet>`)
	var ss, sh strings.Builder
	ss.WriteString(`<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`)
	sh.WriteString(`<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
	for r := 1; r <= rows; r++ {
		base := (r - 1) * 4
		fmt.Fprintf(&ss, `<si><t>山田太郎%d</t></si><si><t>ヤマダタロウ</t></si><si><t>東京都若葉市本町%d-2-3</t></si><si><t>03-1234-%04d</t></si>`, r, r%100, r%10000)
		fmt.Fprintf(&sh, `<row r="%d"><c r="A%d" t="s"><v>%d</v></c><c r="B%d" t="s"><v>%d</v></c><c r="C%d" t="s"><v>%d</v></c><c r="D%d" t="s"><v>%d</v></c><c r="E%d" s="1"><v>%d</v></c><c r="F%d"><v>%d</v></c></row>`,
			r, r, base, r, base+1, r, base+2, r, base+3, r, 29000+r%5000, r, 123456789018+int64(r)*11)
	}
	ss.WriteString(`</sst>`)
	sh.WriteString(`</sheetData></worksheet>`)
	add("xl/sharedStrings.xml", ss.String())
	add("xl/worksheets/sheet1.xml", sh.String())
	zw.Close()
	return buf.Bytes(), xmlBytes
}

// BenchmarkXLSX reports extraction speed over the file (MB/s) and over its
// XML (xml-MB/s).
func BenchmarkXLSX(b *testing.B) {
	data, xmlBytes := bigXLSX(20000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		d, err := Extract(bytes.NewReader(data), int64(len(data)), -1, 0)
		if err != nil || len(d.Sections) < 2 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(xmlBytes)*float64(b.N)/b.Elapsed().Seconds()/1e6, "xml-MB/s")
	// On a shared machine wall time says little: CPU time of this process
	// (all threads, GC included) per byte of XML.
	if cpu := (cpuTime() - cpu0).Seconds(); cpu > 0 {
		b.ReportMetric(float64(xmlBytes)*float64(b.N)/cpu/1e6, "xml-MB/cpu-s")
	}
}

// cpuTime is the user+system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDOCX over the generated document.docx.
func BenchmarkDOCX(b *testing.B) {
	data := load(b, "office/document.docx")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Extract(bytes.NewReader(data), int64(len(data)), -1, 0); err != nil {
			b.Fatal(err)
		}
	}
}
