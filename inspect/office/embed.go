package office

import (
	"bytes"
	"errors"
	"io"
	"path"
	"strings"
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
	case bytes.HasPrefix(b, oleMagic):
		x.unread(name, "OLE object (legacy binary Office or packaged file)")
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
