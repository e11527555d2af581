package pdf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// xrefEntry locates one object: at a byte offset in the file, or as the
// index-th object of the object stream stm (§7.5.8.3).
type xrefEntry struct {
	offset int64
	stm    int // object number of the containing object stream; 0 when direct
	index  int
	gen    int
	free   bool
}

// document is one parsed PDF file.
type document struct {
	ctx     context.Context
	buf     []byte
	base    int64 // offset of "%PDF"; some files carry junk before it
	xref    map[int]xrefEntry
	trailer dict
	objs    map[int]any // resolved objects
	scanned map[int]int // object number → offset, from the fallback scan
	allObjs []int       // offsets of every "N G obj" in the file, in order
	crypt   *decrypter  // nil when not encrypted or not yet set up
	budget  *budget
	notes   *notes
	// objstm cache: the most recently decoded object stream.
	stmNum  int
	stmData []byte
	stmOffs []int // offsets of its objects, by index
	stmNums []int
	zr      io.ReadCloser // reused zlib reader
	// esFrom, esAt cache the last search for "endstream".
	esFrom, esAt int
	// resolving guards against reference cycles during resolution of
	// objects stored in object streams and of stream lengths.
	resolving map[int]bool
}

// maxResolveDepth bounds nested resolution (an object whose /Length is in
// an object stream whose /Length is in another…).
const maxResolveDepth = 32

// maxXrefSections bounds the /Prev chain of incremental updates.
const maxXrefSections = 256

// maxObjects bounds the object numbers we believe in (§C.2 gives 8,388,607
// as a practical limit).
const maxObjects = 8388607

var errNoTrailer = errors.New("pdf: no trailer")

func newDocument(ctx context.Context, buf []byte, b *budget, n *notes) *document {
	d := &document{
		ctx:       ctx,
		buf:       buf,
		xref:      map[int]xrefEntry{},
		objs:      map[int]any{},
		budget:    b,
		notes:     n,
		stmNum:    -1,
		esFrom:    -1,
		resolving: map[int]bool{},
	}
	if i := bytes.Index(buf[:min(len(buf), 1024)], []byte("%PDF-")); i > 0 {
		d.base = int64(i)
	}
	return d
}

// load reads the cross-reference data; when it is unusable, it rebuilds it
// by scanning the file for "N G obj" (what viewers do with damaged files).
func (d *document) load() error {
	err := d.readXref()
	if err == nil {
		if _, ok := d.trailer["Root"]; ok {
			return nil
		}
		err = errNoTrailer
	}
	d.notes.info("cross-reference damaged, file rebuilt by scanning (%v)", err)
	d.scan()
	return d.rebuildTrailer()
}

// readXref follows startxref and the /Prev chain (§7.5.5, §7.5.6).
func (d *document) readXref() error {
	tail := d.buf[max(0, len(d.buf)-2048):]
	i := bytes.LastIndex(tail, []byte("startxref"))
	if i < 0 {
		return errors.New("no startxref")
	}
	l := &lexer{buf: tail, pos: i + len("startxref")}
	off, ok := l.next().(int64)
	if !ok {
		return errors.New("bad startxref")
	}
	seen := map[int64]bool{}
	first := true
	for n := 0; n < maxXrefSections; n++ {
		if seen[off] {
			break
		}
		seen[off] = true
		tr, err := d.readXrefSection(off)
		if err != nil {
			if first {
				return err
			}
			// An older section is damaged: keep what the newer ones say.
			d.notes.info("older cross-reference section at %d unreadable: %v", off, err)
			break
		}
		if first {
			d.trailer = tr
			first = false
		} else {
			// Keys such as /Encrypt and /ID may only be in an older trailer
			// of a damaged update; newer values win.
			for k, v := range tr {
				if _, ok := d.trailer[k]; !ok && k != "Prev" && k != "XRefStm" {
					d.trailer[k] = v
				}
			}
		}
		// Hybrid files carry the xref stream of the same update in
		// /XRefStm (§7.5.8.4).
		if xs, ok := tr["XRefStm"].(int64); ok && !seen[xs] {
			seen[xs] = true
			if _, err := d.readXrefSection(xs); err != nil {
				d.notes.add("xref stream at %d unreadable: %v", xs, err)
			}
		}
		prev, ok := tr["Prev"].(int64)
		if !ok {
			break
		}
		off = prev
	}
	return nil
}

// at returns a lexer at file offset off, trying the offset as written and
// relative to a late header.
func (d *document) at(off int64) (*lexer, bool) {
	for _, o := range []int64{off, off + d.base} {
		if o >= 0 && o < int64(len(d.buf)) {
			return &lexer{buf: d.buf, pos: int(o)}, true
		}
		if d.base == 0 {
			break
		}
	}
	return nil, false
}

func (d *document) readXrefSection(off int64) (dict, error) {
	for _, o := range []int64{off, off + d.base} {
		if o < 0 || o >= int64(len(d.buf)) {
			continue
		}
		l := &lexer{buf: d.buf, pos: int(o)}
		l.skipSpace()
		if l.hasKeywordAt("xref") {
			l.pos += 4
			return d.readXrefTable(l)
		}
		if tr, err := d.readXrefStream(l); err == nil {
			return tr, nil
		}
		if d.base == 0 {
			break
		}
	}
	return nil, fmt.Errorf("no xref at offset %d", off)
}

// readXrefTable reads a classic table (§7.5.4) and its trailer.
func (d *document) readXrefTable(l *lexer) (dict, error) {
	for {
		if err := d.ctx.Err(); err != nil {
			return nil, err
		}
		l.skipSpace()
		if l.pos >= len(l.buf) {
			return nil, errors.New("xref table: no trailer")
		}
		if l.hasKeywordAt("trailer") {
			l.pos += len("trailer")
			tr, ok := l.next().(dict)
			if !ok {
				return nil, errors.New("xref table: bad trailer")
			}
			return tr, nil
		}
		start, ok1 := l.next().(int64)
		count, ok2 := l.next().(int64)
		if !ok1 || !ok2 || start < 0 || count < 0 || start+count > maxObjects {
			return nil, errors.New("xref table: bad subsection header")
		}
		for i := int64(0); i < count; i++ {
			// Entries are "nnnnnnnnnn ggggg n" (§7.5.4); read them as tokens
			// to tolerate writers that get the 20-byte layout wrong.
			o, ok1 := l.next().(int64)
			g, ok2 := l.next().(int64)
			t, ok3 := l.next().(keyword)
			if !ok1 || !ok2 || !ok3 {
				return nil, errors.New("xref table: bad entry")
			}
			num := int(start + i)
			if _, dup := d.xref[num]; dup {
				continue // a newer section already said
			}
			d.xref[num] = xrefEntry{offset: o, gen: int(g), free: t != "n"}
		}
	}
}

// readXrefStream reads a cross-reference stream (§7.5.8).
func (d *document) readXrefStream(l *lexer) (dict, error) {
	_, o, err := d.parseIndirect(l, 0)
	if err != nil {
		return nil, err
	}
	s, ok := o.(*stream)
	if !ok || s.dict["Type"] != name("XRef") {
		return nil, errors.New("not an xref stream")
	}
	data, err := d.decodeStream(s) // never encrypted (§7.6.1)
	if err != nil {
		return nil, err
	}
	w, _ := s.dict["W"].(array)
	if len(w) != 3 {
		return nil, errors.New("xref stream: bad /W")
	}
	var ws [3]int
	rowLen := 0
	for i := range ws {
		v, _ := w[i].(int64)
		if v < 0 || v > 8 {
			return nil, errors.New("xref stream: bad /W")
		}
		ws[i] = int(v)
		rowLen += ws[i]
	}
	if rowLen == 0 {
		return nil, errors.New("xref stream: empty /W")
	}
	size, _ := s.dict["Size"].(int64)
	index, _ := s.dict["Index"].(array)
	if len(index) == 0 {
		index = array{int64(0), size}
	}
	pos := 0
	for k := 0; k+1 < len(index); k += 2 {
		start, _ := index[k].(int64)
		count, _ := index[k+1].(int64)
		if start < 0 || count < 0 || start+count > maxObjects {
			return nil, errors.New("xref stream: bad /Index")
		}
		for i := int64(0); i < count; i++ {
			if pos+rowLen > len(data) {
				return s.dict, nil // short stream: keep what is there
			}
			field := func(n int) int64 {
				var v int64
				for j := 0; j < ws[n]; j++ {
					v = v<<8 | int64(data[pos])
					pos++
				}
				return v
			}
			typ := int64(1) // default when W[0] is 0
			if ws[0] > 0 {
				typ = field(0)
			}
			f2, f3 := field(1), field(2)
			num := int(start + i)
			if _, dup := d.xref[num]; dup {
				continue
			}
			switch typ {
			case 0:
				d.xref[num] = xrefEntry{free: true}
			case 1:
				d.xref[num] = xrefEntry{offset: f2, gen: int(f3)}
			case 2:
				if f2 > 0 && f2 < maxObjects {
					d.xref[num] = xrefEntry{stm: int(f2), index: int(f3)}
				}
			}
		}
	}
	return s.dict, nil
}

// parseIndirect parses "N G obj ... endobj" at l. want, when nonzero, is the
// object number expected there.
func (d *document) parseIndirect(l *lexer, want int) (objRef, any, error) {
	num, ok1 := l.next().(int64)
	gen, ok2 := l.next().(int64)
	kw, ok3 := l.next().(keyword)
	if !ok1 || !ok2 || !ok3 || kw != "obj" {
		return objRef{}, nil, errors.New("no object header")
	}
	if want != 0 && int(num) != want {
		return objRef{}, nil, fmt.Errorf("object %d found where %d expected", num, want)
	}
	ref := objRef{int(num), int(gen)}
	o := l.next()
	if _, eof := o.(lexEOF); eof {
		return ref, nil, nil
	}
	dct, isDict := o.(dict)
	if !isDict {
		if k, ok := o.(keyword); ok && k == "endobj" {
			return ref, nil, nil
		}
		return ref, o, nil
	}
	l.skipSpace()
	if !l.hasKeywordAt("stream") {
		return ref, dct, nil
	}
	l.pos += len("stream")
	// The keyword is followed by CRLF or LF (§7.3.8.1); accept a lone CR.
	if l.pos < len(l.buf) && l.buf[l.pos] == '\r' {
		l.pos++
	}
	if l.pos < len(l.buf) && l.buf[l.pos] == '\n' {
		l.pos++
	}
	start := l.pos
	end := -1
	if n, ok := d.lengthOf(dct["Length"]); ok && n >= 0 && int64(start)+n <= int64(len(l.buf)) {
		e := start + int(n)
		// Trust /Length only when "endstream" follows it.
		k := &lexer{buf: l.buf, pos: e}
		k.skipSpace()
		if k.hasKeywordAt("endstream") {
			end = e
		}
	}
	if end < 0 {
		i := d.endstream(l.buf, start)
		if i < 0 {
			end = len(l.buf)
		} else {
			end = i
			// Drop the end-of-line before "endstream".
			if end > start && l.buf[end-1] == '\n' {
				end--
			}
			if end > start && l.buf[end-1] == '\r' {
				end--
			}
		}
	}
	l.pos = end
	return ref, &stream{dict: dct, raw: l.buf[start:end:end], ref: ref, off: start}, nil
}

// endstream finds the next "endstream" (or "endobj") at or after start in
// buf, or -1.
// The last answer for the file buffer is remembered, so that many streams
// with a wrong /Length cost one pass, not one pass each.
func (d *document) endstream(buf []byte, start int) int {
	shared := len(buf) == len(d.buf) && len(buf) > 0 && &buf[0] == &d.buf[0]
	if shared && d.esFrom >= 0 && start >= d.esFrom && (d.esAt < 0 || start <= d.esAt) {
		return d.esAt
	}
	// A stream without "endstream" ends at "endobj": do not let it run to
	// the end of the file.
	i := -1
	for p := start; p < len(buf); {
		j := bytes.Index(buf[p:], []byte("end"))
		if j < 0 {
			break
		}
		p += j
		if bytes.HasPrefix(buf[p+3:], []byte("stream")) || bytes.HasPrefix(buf[p+3:], []byte("obj")) {
			i = p
			break
		}
		p += 3
	}
	if shared {
		d.esFrom, d.esAt = start, i
	}
	return i
}

// lengthOf resolves a stream /Length, which may be an indirect reference
// (LibreOffice writes it after the stream).
func (d *document) lengthOf(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case objRef:
		if d.resolving[x.num] {
			return 0, false
		}
		n, ok := d.resolve(x).(int64)
		return n, ok
	}
	return 0, false
}

// scan finds every "N G obj" in the file (§7.5.4 allows no recovery; this is
// what every viewer does). Later definitions win, as with updates.
func (d *document) scan() {
	if d.scanned != nil {
		return
	}
	d.scanned = map[int]int{}
	b := d.buf
	for i := 0; ; {
		j := bytes.Index(b[i:], []byte("obj"))
		if j < 0 {
			return
		}
		p := i + j
		i = p + 3
		if p+3 < len(b) && isRegular(b[p+3]) {
			continue
		}
		// Walk back over "N G ".
		q := p - 1
		for q >= 0 && isSpace(b[q]) {
			q--
		}
		ge := q + 1
		for q >= 0 && b[q] >= '0' && b[q] <= '9' {
			q--
		}
		if q+1 == ge || ge-q > 7 {
			continue
		}
		gs := q + 1
		for q >= 0 && isSpace(b[q]) {
			q--
		}
		if q+1 == gs {
			continue
		}
		ne := q + 1
		for q >= 0 && b[q] >= '0' && b[q] <= '9' {
			q--
		}
		if q+1 == ne || ne-q > 9 {
			continue
		}
		if q >= 0 && isRegular(b[q]) {
			continue
		}
		num, err := strconv.Atoi(string(b[q+1 : ne]))
		if err != nil || num <= 0 || num > maxObjects {
			continue
		}
		d.scanned[num] = q + 1
		d.allObjs = append(d.allObjs, q+1)
	}
}

// rebuildTrailer finds the trailer of a damaged file: the last "trailer"
// dictionary or xref stream that names a /Root, else the catalog object.
func (d *document) rebuildTrailer() error {
	d.xref = map[int]xrefEntry{}
	for num, off := range d.scanned {
		d.xref[num] = xrefEntry{offset: int64(off)}
	}
	tr := dict{}
	for i := len(d.buf); ; {
		j := bytes.LastIndex(d.buf[:i], []byte("trailer"))
		if j < 0 {
			break
		}
		i = j
		l := &lexer{buf: d.buf, pos: j + len("trailer")}
		if t, ok := l.next().(dict); ok {
			for k, v := range t {
				if _, have := tr[k]; !have {
					tr[k] = v
				}
			}
		}
	}
	// Object streams hold objects that the scan cannot see; find them
	// through the xref streams and the object streams themselves.
	for num, off := range d.scanned {
		l := &lexer{buf: d.buf, pos: off}
		_, o, err := d.parseIndirect(l, num)
		if err != nil {
			continue
		}
		s, ok := o.(*stream)
		if !ok {
			continue
		}
		switch s.dict["Type"] {
		case name("XRef"):
			for k, v := range s.dict {
				if _, have := tr[k]; !have && (k == "Root" || k == "Encrypt" || k == "ID" || k == "Info") {
					tr[k] = v
				}
			}
		case name("ObjStm"):
			d.indexObjStm(num, s)
		}
	}
	if _, ok := tr["Root"]; !ok {
		for num := range d.xref {
			if dd, ok := d.resolve(objRef{num, 0}).(dict); ok && dd["Type"] == name("Catalog") {
				tr["Root"] = objRef{num, 0}
				break
			}
		}
	}
	d.trailer = tr
	if _, ok := tr["Root"]; !ok {
		return errors.New("pdf: no document catalog")
	}
	return nil
}

// indexObjStm adds the objects of an object stream to the xref (used only
// when the xref was rebuilt).
func (d *document) indexObjStm(num int, s *stream) {
	data, err := d.decodeStream(s)
	if err != nil {
		return
	}
	n, _ := s.dict["N"].(int64)
	l := &lexer{buf: data}
	for i := 0; i < int(n) && i < 1<<20; i++ {
		on, ok1 := l.next().(int64)
		_, ok2 := l.next().(int64)
		if !ok1 || !ok2 {
			break
		}
		if e, have := d.xref[int(on)]; !have || e.stm == 0 {
			if _, direct := d.scanned[int(on)]; !direct {
				d.xref[int(on)] = xrefEntry{stm: num, index: i}
			}
		}
	}
}

// resolve returns the object a reference points to (nil when missing:
// §7.3.10 says a reference to a missing object is null). Non-references are
// returned as they are.
func (d *document) resolve(v any) any {
	for i := 0; i < 8; i++ { // references to references, bounded
		r, ok := v.(objRef)
		if !ok {
			return v
		}
		v = d.object(r)
	}
	return nil
}

func (d *document) object(r objRef) any {
	if o, ok := d.objs[r.num]; ok {
		return o
	}
	if d.resolving[r.num] || len(d.resolving) > maxResolveDepth {
		return nil // a cycle, or a chain too deep to be honest
	}
	d.resolving[r.num] = true
	defer delete(d.resolving, r.num)
	o, err := d.load1(r)
	if err != nil {
		// The xref may be wrong for this object: try the scan.
		d.scan()
		if off, ok := d.scanned[r.num]; ok {
			l := &lexer{buf: d.buf, pos: off}
			if ref, o2, err2 := d.parseIndirect(l, r.num); err2 == nil {
				o, err = d.decryptObject(o2, ref), nil
			}
		}
	}
	if err != nil {
		o = nil
	}
	d.objs[r.num] = o
	return o
}

func (d *document) load1(r objRef) (any, error) {
	if d.spend(1) {
		return nil, errWork
	}
	e, ok := d.xref[r.num]
	if !ok || e.free {
		return nil, fmt.Errorf("object %d not in xref", r.num)
	}
	if e.stm != 0 {
		return d.fromObjStm(r.num, e)
	}
	l, ok := d.at(e.offset)
	if !ok {
		return nil, fmt.Errorf("object %d: offset %d out of range", r.num, e.offset)
	}
	save := l.pos
	ref, o, err := d.parseIndirect(l, r.num)
	if err != nil && d.base > 0 {
		l.pos = save + int(d.base)
		if l.pos < len(l.buf) {
			ref, o, err = d.parseIndirect(l, r.num)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("object %d: %w", r.num, err)
	}
	return d.decryptObject(o, ref), nil
}

// fromObjStm loads an object stored in an object stream (§7.5.7). Objects
// in object streams are not encrypted on their own: the stream was.
func (d *document) fromObjStm(num int, e xrefEntry) (any, error) {
	if d.stmNum != e.stm {
		s, ok := d.resolve(objRef{e.stm, 0}).(*stream)
		if !ok {
			return nil, fmt.Errorf("object %d: object stream %d missing", num, e.stm)
		}
		data, err := d.decodeStream(s)
		if err != nil {
			return nil, fmt.Errorf("object stream %d: %w", e.stm, err)
		}
		n, _ := s.dict["N"].(int64)
		first, _ := s.dict["First"].(int64)
		if n < 0 || n > 1<<20 || first < 0 || first > int64(len(data)) {
			return nil, fmt.Errorf("object stream %d: bad /N or /First", e.stm)
		}
		l := &lexer{buf: data[:first]}
		var offs, nums []int
		for i := int64(0); i < n; i++ {
			on, ok1 := l.next().(int64)
			oo, ok2 := l.next().(int64)
			if !ok1 || !ok2 {
				break
			}
			nums = append(nums, int(on))
			offs = append(offs, int(first+oo))
		}
		d.stmNum, d.stmData, d.stmOffs, d.stmNums = e.stm, data, offs, nums
	}
	idx := e.index
	if idx < 0 || idx >= len(d.stmOffs) || d.stmNums[idx] != num {
		// The index is wrong: look the number up.
		idx = -1
		for i, n := range d.stmNums {
			if n == num {
				idx = i
				break
			}
		}
		if idx < 0 {
			return nil, fmt.Errorf("object %d not in object stream %d", num, e.stm)
		}
	}
	off := d.stmOffs[idx]
	if off < 0 || off > len(d.stmData) {
		return nil, fmt.Errorf("object %d: bad offset in object stream", num)
	}
	l := &lexer{buf: d.stmData, pos: off}
	o := l.next()
	switch o.(type) {
	case lexEOF, keyword:
		return nil, nil
	}
	return o, nil
}

// get returns d[key], resolved.
func (d *document) get(dd dict, key name) any {
	if dd == nil {
		return nil
	}
	return d.resolve(dd[key])
}

func (d *document) getDict(dd dict, key name) dict {
	switch v := d.get(dd, key).(type) {
	case dict:
		return v
	case *stream:
		return v.dict
	}
	return nil
}

func (d *document) getArray(dd dict, key name) array {
	a, _ := d.get(dd, key).(array)
	return a
}

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}
