package pdf

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
)

// budget bounds decompression: maxStream for any one stream and total over
// the whole file, so that a few bombs (or one bomb referenced from every
// page) cannot take unbounded memory or time.
type budget struct {
	maxStream int64
	total     int64
	// work counts units of work (content tokens, content streams run,
	// objects parsed, pages, annotations, outline items, decoded bytes
	// /64); past maxWork every loop stops and the file is incomplete.
	work, maxWork int64
}

// Work limit: no file costs more than WorkPerByte units per byte of the
// file plus WorkBase (a unit is about a content token's worth of work).
// Decoded data is charged too, so a compressed file gets no more work
// than its size allows, however much it inflates; a legitimate file uses
// a few units per byte (FlateDecode text is 4-10 times smaller than what
// it decodes to, and a token is 2-8 bytes).
const (
	WorkPerByte = 32
	WorkBase    = 1 << 20
)

// errWork is the work limit, reported like errTooMuch: a note, and the
// result incomplete (a guard holds the file).
var errWork = errors.New("pdf: work limit reached (the file asks for far more work than its size)")

// spend charges n units; it reports whether the work limit is passed.
func (d *document) spend(n int64) bool {
	d.budget.work += n
	return d.budget.work > d.budget.maxWork
}

var errBudget = errors.New("pdf: decompression budget exhausted")

// errUnsupportedFilter marks a stream we cannot decode.
type errUnsupportedFilter struct{ name name }

func (e errUnsupportedFilter) Error() string { return fmt.Sprintf("unsupported filter /%s", e.name) }

// decodeStream decrypts and decodes a stream's data (§7.4). An error means
// the data could not be decoded; the caller notes it and goes on.
func (d *document) decodeStream(s *stream) ([]byte, error) {
	if d.spend(1 + int64(len(s.raw))/64) {
		return nil, errWork
	}
	data := s.raw
	if d.crypt != nil && s.dict["Type"] != name("XRef") {
		var err error
		data, err = d.crypt.decryptStream(s)
		if err != nil {
			return nil, err
		}
	}
	filters, parms := d.filters(s.dict)
	for i, f := range filters {
		var p dict
		if i < len(parms) {
			p = parms[i]
		}
		var err error
		data, err = d.applyFilter(f, p, data)
		if err != nil {
			return nil, err
		}
		if d.spend(int64(len(data)) / 64) {
			return nil, errWork
		}
	}
	return data, nil
}

func (d *document) filters(sd dict) ([]name, []dict) {
	var fs []name
	switch f := d.resolve(sd["Filter"]).(type) {
	case name:
		fs = []name{f}
	case array:
		for _, x := range f {
			if n, ok := d.resolve(x).(name); ok {
				fs = append(fs, n)
			}
		}
	}
	var ps []dict
	switch p := d.resolve(sd["DecodeParms"]).(type) {
	case dict:
		ps = []dict{p}
	case array:
		for _, x := range p {
			pd, _ := d.resolve(x).(dict)
			ps = append(ps, pd)
		}
	}
	return fs, ps
}

// limit is the most one decoder may produce now: maxStreamBytes, or what
// is left of the total budget.
func (d *document) limit() int64 { return min(d.budget.maxStream, d.budget.total) }

// take charges n decoded bytes to the budget.
func (d *document) take(n int64) error {
	if n > d.budget.maxStream {
		return fmt.Errorf("pdf: stream larger than %d bytes", d.budget.maxStream)
	}
	d.budget.total -= n
	if d.budget.total < 0 {
		return errBudget
	}
	return nil
}

func (d *document) applyFilter(f name, p dict, data []byte) ([]byte, error) {
	if err := d.ctx.Err(); err != nil {
		return nil, err
	}
	if d.limit() <= 0 {
		return nil, errBudget
	}
	var out []byte
	var err error
	switch f {
	case "FlateDecode", "Fl":
		out, err = d.inflate(data)
	case "ASCIIHexDecode", "AHx":
		out = asciiHex(data)
	case "ASCII85Decode", "A85":
		out = decodeA85(data)
	case "LZWDecode", "LZW":
		early := true
		if v, ok := d.resolve(p["EarlyChange"]).(int64); ok && v == 0 {
			early = false
		}
		out, err = lzwDecode(data, early, d.limit())
	case "RunLengthDecode", "RL":
		out = runLength(data, d.limit())
	case "Crypt":
		return data, nil // Identity crypt filter (§7.4.10); others are handled by the decrypter
	default:
		return nil, errUnsupportedFilter{f}
	}
	if err != nil && len(out) == 0 {
		return nil, err
	}
	if e := d.take(int64(len(out))); e != nil {
		return nil, e
	}
	if f == "FlateDecode" || f == "Fl" || f == "LZWDecode" || f == "LZW" {
		return d.unpredict(p, out)
	}
	return out, nil
}

// inflate decompresses zlib data, keeping what was decoded before a
// corruption (many writers get the checksum or the end wrong).
func (d *document) inflate(data []byte) ([]byte, error) {
	var err error
	if d.zr == nil {
		d.zr, err = zlib.NewReader(bytes.NewReader(data))
	} else {
		// Reuse the decompressor's window between streams.
		err = d.zr.(zlib.Resetter).Reset(bytes.NewReader(data), nil)
	}
	if err != nil {
		d.zr = nil
		// Some writers omit the zlib header; try raw deflate.
		return inflateRaw(data, d.limit())
	}
	zr := d.zr
	var out bytes.Buffer
	limit := d.limit()
	out.Grow(int(min(int64(len(data))*4+512, limit)))
	n, err := io.Copy(&out, io.LimitReader(zr, limit+1))
	if n > limit {
		return nil, fmt.Errorf("pdf: stream larger than %d bytes (or the budget left)", limit)
	}
	if err != nil && out.Len() == 0 {
		return nil, fmt.Errorf("flate: %w", err)
	}
	return out.Bytes(), nil
}

// unpredict undoes a PNG or TIFF predictor (§7.4.4.4), as xref streams use.
func (d *document) unpredict(p dict, data []byte) ([]byte, error) {
	if p == nil {
		return data, nil
	}
	pred, _ := d.resolve(p["Predictor"]).(int64)
	if pred <= 1 {
		return data, nil
	}
	colors, columns, bpc := int64(1), int64(1), int64(8)
	if v, ok := d.resolve(p["Colors"]).(int64); ok && v > 0 && v <= 32 {
		colors = v
	}
	if v, ok := d.resolve(p["Columns"]).(int64); ok && v > 0 && v <= 1<<20 {
		columns = v
	}
	if v, ok := d.resolve(p["BitsPerComponent"]).(int64); ok && v > 0 && v <= 16 {
		bpc = v
	}
	bpp := int((colors*bpc + 7) / 8)
	rowLen := int((colors*bpc*columns + 7) / 8)
	if pred == 2 { // TIFF: only 8-bit components are worth handling here
		if bpc != 8 {
			return data, nil
		}
		out := append([]byte(nil), data...)
		for r := 0; r+rowLen <= len(out); r += rowLen {
			for i := bpp; i < rowLen; i++ {
				out[r+i] += out[r+i-bpp]
			}
		}
		return out, nil
	}
	// PNG: each row starts with its filter type byte. A row longer than
	// the data is cut to it, so /Columns cannot make us allocate more than
	// the data.
	rowLen = min(rowLen, len(data))
	out := make([]byte, 0, len(data))
	prev := make([]byte, rowLen)
	cur := make([]byte, rowLen)
	for pos := 0; pos < len(data); pos += rowLen + 1 {
		ft := data[pos]
		row := data[pos+1 : min(len(data), pos+1+rowLen)]
		clear(cur)
		copy(cur, row)
		for i := 0; i < len(row); i++ {
			var a, b, c byte
			if i >= bpp {
				a = cur[i-bpp]
				c = prev[i-bpp]
			}
			b = prev[i]
			switch ft {
			case 1:
				cur[i] += a
			case 2:
				cur[i] += b
			case 3:
				cur[i] += byte((int(a) + int(b)) / 2)
			case 4:
				cur[i] += paeth(a, b, c)
			}
		}
		out = append(out, cur[:len(row)]...)
		prev, cur = cur, prev
	}
	return out, nil
}

func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	if pa <= pb && pa <= pc {
		return a
	}
	if pb <= pc {
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func asciiHex(data []byte) []byte {
	out, _ := appendHexDigits(make([]byte, 0, len(data)/2), data)
	return out
}

// appendHexDigits decodes hexadecimal digits from data up to a '>' (or
// the end), skipping anything else, and appends the bytes to b; an odd
// final digit is followed by 0 (§7.3.4.3, §7.4.2). It returns b and how
// much of data it consumed, the '>' included.
func appendHexDigits(b, data []byte) ([]byte, int) {
	var hi byte
	half := false
	n := 0
	for n < len(data) {
		c := data[n]
		n++
		if c == '>' {
			break
		}
		v, ok := unhex(c)
		if !ok {
			continue
		}
		if half {
			b = append(b, hi<<4|v)
		} else {
			hi = v
		}
		half = !half
	}
	if half {
		b = append(b, hi<<4)
	}
	return b, n
}

// ascii85 decodes ASCII base-85 (§7.4.3), tolerating a missing "~>".
func decodeA85(data []byte) []byte {
	if bytes.HasPrefix(data, []byte("<~")) {
		data = data[2:]
	}
	out := make([]byte, 0, len(data)*4/5+4)
	var group [5]byte
	n := 0
	flush := func(n int) {
		var v uint64
		for i := 0; i < 5; i++ {
			c := byte('u')
			if i < n {
				c = group[i]
			}
			v = v*85 + uint64(c-'!')
		}
		if v > 0xffffffff {
			v &= 0xffffffff
		}
		b := [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
		out = append(out, b[:n-1]...)
	}
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c == '~' {
			break
		}
		if isSpace(c) {
			continue
		}
		if c == 'z' && n == 0 {
			out = append(out, 0, 0, 0, 0)
			continue
		}
		if c < '!' || c > 'u' {
			continue
		}
		group[n] = c
		n++
		if n == 5 {
			flush(5)
			n = 0
		}
	}
	if n > 1 {
		flush(n)
	}
	return out
}

func runLength(data []byte, limit int64) []byte {
	var out []byte
	for i := 0; i < len(data) && int64(len(out)) <= limit; {
		l := int(data[i])
		i++
		switch {
		case l < 128:
			end := min(len(data), i+l+1)
			out = append(out, data[i:end]...)
			i = end
		case l > 128:
			if i < len(data) {
				out = append(out, bytes.Repeat([]byte{data[i]}, 257-l)...)
			}
			i++
		default:
			return out
		}
	}
	return out
}

// lzwDecode decodes LZW as PDF uses it (§7.4.4): MSB-first codes of 9 to 12
// bits, with the code width growing one code early unless EarlyChange is 0.
func lzwDecode(data []byte, early bool, limit int64) ([]byte, error) {
	var out []byte
	type entry struct {
		prefix int
		last   byte
		length int
	}
	table := make([]entry, 4096)
	for i := 0; i < 256; i++ {
		table[i] = entry{-1, byte(i), 1}
	}
	next := 258
	width := 9
	var bitbuf uint32
	nbits := 0
	prev := -1
	emit := func(code int) byte {
		l := table[code].length
		start := len(out)
		out = append(out, make([]byte, l)...)
		c := code
		for i := l - 1; i >= 0 && c >= 0; i-- {
			out[start+i] = table[c].last
			c = table[c].prefix
		}
		return out[start]
	}
	for _, b := range data {
		bitbuf = bitbuf<<8 | uint32(b)
		nbits += 8
		for nbits >= width {
			code := int(bitbuf>>(nbits-width)) & (1<<width - 1)
			nbits -= width
			switch {
			case code == 256:
				next, width, prev = 258, 9, -1
				continue
			case code == 257:
				return out, nil
			}
			var first byte
			if code < next && (code < 256 || table[code].length > 0) {
				first = emit(code)
				if prev >= 0 && next < 4096 {
					table[next] = entry{prev, first, table[prev].length + 1}
					next++
				}
			} else if code == next && prev >= 0 {
				// KwKwK case.
				f := out[len(out)-table[prev].length]
				if next < 4096 {
					table[next] = entry{prev, f, table[prev].length + 1}
					next++
				}
				emit(code)
			} else {
				return out, errors.New("lzw: bad code")
			}
			prev = code
			if int64(len(out)) > limit {
				return nil, fmt.Errorf("pdf: stream larger than %d bytes", limit)
			}
			lim := next
			if early {
				lim++
			}
			if lim >= 1<<width && width < 12 {
				width++
			}
		}
	}
	return out, nil
}

func inflateRaw(data []byte, limit int64) ([]byte, error) {
	fr := flate.NewReader(bytes.NewReader(data))
	defer fr.Close()
	var out bytes.Buffer
	n, err := io.Copy(&out, io.LimitReader(fr, limit+1))
	if n > limit {
		return nil, fmt.Errorf("pdf: stream larger than %d bytes", limit)
	}
	if err != nil && out.Len() == 0 {
		return nil, fmt.Errorf("flate: %w", err)
	}
	return out.Bytes(), nil
}
