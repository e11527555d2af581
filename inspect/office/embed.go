package office

import (
	"bytes"
	"errors"
	"io"
	"path"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// embedded reads the objects embedded in the document: OOXML keeps them as
// parts under an "embeddings" folder (ECMA-376 Part 1, 15.2.11: an xlsx in
// a docx, an OLE object), ODF as "Object N" sub-documents or files (ODF 1.2
// Part 3, 3.2). Office documents among them are extracted into sections
// "embedded:NAME/…"; anything else is listed in Doc.Unread: an embedded
// spreadsheet is as much the message's content as the document is.
func (x *extractor) embedded() error {
	for _, f := range x.zfiles {
		name := f.Name
		lower := strings.ToLower(name)
		if strings.HasSuffix(lower, "/") {
			continue
		}
		switch {
		case strings.Contains(lower, "/embeddings/"):
			if err := x.embeddedFile(name); err != nil {
				return err
			}
		case strings.HasPrefix(lower, "objectreplacements/"), strings.HasPrefix(lower, "thumbnails/"):
			// ODF preview images of the objects: no text.
		case x.t.doc.Format != "" && strings.HasPrefix(x.t.doc.Format, "od") && strings.HasPrefix(lower, "object "):
			switch dir := path.Dir(name); {
			case dir == ".":
				// A foreign object stored as one file (often OLE).
				if err := x.embeddedFile(name); err != nil {
					return err
				}
			case path.Base(lower) == "content.xml":
				// An ODF sub-document (a chart with its data table, a
				// spreadsheet, a formula). Read as cells and text.
				prev := x.t.prefix
				x.t.prefix = prev + "embedded:" + dir + "/"
				err := x.odfPart(name, "ods", false)
				x.t.end()
				x.t.prefix = prev
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// embeddedFile reads one embedded file: an office document is extracted,
// anything else is recorded as unread.
func (x *extractor) embeddedFile(name string) error {
	rc, err := x.open(name)
	if err != nil {
		x.unread(name, err.Error())
		return nil
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		x.unread(name, err.Error())
		return nil
	}
	switch {
	case bytes.HasPrefix(b, []byte("PK\x03\x04")):
		if x.depth+1 > maxEmbedDepth {
			x.unread(name, "embedded too deep")
			return nil
		}
		room := x.t.max - x.t.n
		if room <= 0 {
			x.t.doc.Truncated = true
			return errFull
		}
		sub, err := extract(bytes.NewReader(b), int64(len(b)), room, x.maxEntry, x.depth+1)
		if sub != nil {
			for _, s := range sub.Sections {
				if err := x.t.section("embedded:"+name+"/"+s.Name, s.Table, s.Text); err != nil {
					return err
				}
			}
			for _, u := range sub.Unread {
				x.t.doc.Unread = append(x.t.doc.Unread, name+"/"+u)
			}
			if sub.Truncated {
				x.t.doc.Truncated = true
				return errFull
			}
		}
		switch {
		case errors.Is(err, ErrNotOffice):
			x.unread(name, "a ZIP that is not an office document")
		case errors.Is(err, ErrUnreadEmbedded):
			// already listed
		case err != nil:
			x.unread(name, err.Error())
		}
	case IsEncryptedOLE(bytes.NewReader(b), int64(len(b))):
		x.unread(name, "password-protected Office document")
	case bytes.HasPrefix(b, []byte(oleMagic)):
		x.unread(name, "OLE object (legacy binary Office or packaged file)")
	case looksHTML(b) && utf8.Valid(b):
		// An HTML altChunk: its text is part of the document.
		return x.t.section("embedded:"+name, false, htmlText(b))
	default:
		x.unread(name, "unknown format")
	}
	return nil
}

func (x *extractor) unread(name, why string) {
	if len(x.t.doc.Unread) < 100 {
		x.t.doc.Unread = append(x.t.doc.Unread, name+": "+why)
	}
}

// looksHTML: an HTML document, by its first tags.
func looksHTML(b []byte) bool {
	head := bytes.ToLower(b[:min(len(b), 1024)])
	return bytes.Contains(head, []byte("<html")) || bytes.Contains(head, []byte("<body")) || bytes.Contains(head, []byte("<!doctype html"))
}

// htmlText is the text of an HTML document: text nodes outside script and
// style, block ends as new lines, alt and title attributes kept.
func htmlText(b []byte) string {
	var out strings.Builder
	z := html.NewTokenizer(bytes.NewReader(b))
	skipDepth := 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			return out.String()
		case html.TextToken:
			if skipDepth == 0 {
				out.Write(z.Text())
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			switch string(name) {
			case "script", "style":
				skipDepth++
			case "br", "p", "div", "tr", "li", "h1", "h2", "h3":
				out.WriteByte('\n')
			case "td", "th":
				out.WriteByte('\t')
			}
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				if string(k) == "alt" || string(k) == "title" {
					out.WriteByte(' ')
					out.Write(v)
				}
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			if (string(name) == "script" || string(name) == "style") && skipDepth > 0 {
				skipDepth--
			}
		}
	}
}
