package ocr

import "image"

// Form fields print their digits in boxes, one per cell (個人番号 on every
// application form). Tesseract reads the cell borders as strokes ("|1|4|")
// or loses the digits altogether, so the borders are taken out first:
// horizontal rules, then the vertical segments that join two of them (a
// cell's sides). Strokes of characters are never that long horizontally,
// and a vertical stroke is kept unless it starts or ends at a rule.
// The runs tolerate the slight tilt of a scan (±1 pixel per step).

const (
	darkBelow   = 128 // gray value under which a pixel is ink (the picture is black and white)
	minRuleFrac = 12  // a horizontal rule is at least width/minRuleFrac long…
	minRule     = 100 // …and at least this many pixels
	endSlack    = 3   // a cell side ends this close to a rule
	maxGap      = 3   // pixels missing from a line without ending it
	minSide     = 20  // a cell side is at least this long
)

// binarize makes g black and white at Otsu's threshold, in place, and
// returns it: the light grey edges of a line then go with it, and
// Tesseract gets what it would make of the page itself.
func binarize(g *image.Gray) {
	var hist [256]int
	b := g.Bounds()
	for y := 0; y < b.Dy(); y++ {
		for _, v := range g.Pix[y*g.Stride : y*g.Stride+b.Dx()] {
			hist[v]++
		}
	}
	total := b.Dx() * b.Dy()
	var sum float64
	for i, n := range hist {
		sum += float64(i * n)
	}
	var sumB, best float64
	wB, t := 0, 128
	for i, n := range hist {
		wB += n
		if wB == 0 {
			continue
		}
		wF := total - wB
		if wF == 0 {
			break
		}
		sumB += float64(i * n)
		mB, mF := sumB/float64(wB), (sum-sumB)/float64(wF)
		if between := float64(wB) * float64(wF) * (mB - mF) * (mB - mF); between > best {
			best, t = between, i
		}
	}
	for y := 0; y < b.Dy(); y++ {
		row := g.Pix[y*g.Stride : y*g.Stride+b.Dx()]
		for i, v := range row {
			if int(v) <= t {
				row[i] = 0
			} else {
				row[i] = 255
			}
		}
	}
}

// removeBoxes clears table rules and cell sides from g, in place. g is
// black and white (binarize): one byte a pixel of marks is all it adds.
func removeBoxes(g *image.Gray) {
	b := g.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < 50 || h < 50 {
		return
	}
	const rule, side = 1, 2
	mark := make([]uint8, w*h)
	inkAt := func(x, y int) bool {
		return x >= 0 && y >= 0 && x < w && y < h && g.Pix[y*g.Stride+x] < darkBelow
	}
	minLen := max(minRule, w/minRuleFrac)
	for y := 0; y < h; y++ {
		run, gap := 0, 0
		for x := 0; x <= w; x++ {
			if x < w && (inkAt(x, y) || inkAt(x, y-1) || inkAt(x, y+1)) {
				run += 1 + gap
				gap = 0
				continue
			}
			if x < w && run > 0 && gap < maxGap {
				gap++ // a speck of noise or a faint spot does not end a line
				continue
			}
			if run >= minLen {
				for xx := x - gap - run; xx < x-gap; xx++ {
					if inkAt(xx, y) {
						mark[y*w+xx] |= rule
					}
				}
			}
			run, gap = 0, 0
		}
	}
	ruleNear := func(x, y int) bool {
		for dy := -endSlack; dy <= endSlack; dy++ {
			for dx := -2; dx <= 2; dx++ {
				xx, yy := x+dx, y+dy
				if xx >= 0 && yy >= 0 && xx < w && yy < h && mark[yy*w+xx]&rule != 0 {
					return true
				}
			}
		}
		return false
	}
	for x := 0; x < w; x++ {
		run, gap := 0, 0
		for y := 0; y <= h; y++ {
			if y < h && (inkAt(x, y) || inkAt(x-1, y) || inkAt(x+1, y)) {
				run += 1 + gap
				gap = 0
				continue
			}
			if y < h && run > 0 && gap < maxGap {
				gap++
				continue
			}
			end := y - gap
			// A side leaves a rule; tilted, it may drift out of this
			// column before it reaches the next one, so one end at a rule
			// is enough, and the columns beside it are cleared too.
			if run >= minSide && (ruleNear(x, end-run) || ruleNear(x, end-1)) {
				for yy := end - run; yy < end; yy++ {
					for dx := -1; dx <= 1; dx++ {
						if inkAt(x+dx, yy) {
							mark[yy*w+x+dx] |= side
						}
					}
				}
			}
			run, gap = 0, 0
		}
	}
	for y := 0; y < h; y++ {
		for x, m := range mark[y*w : y*w+w] {
			if m != 0 {
				g.Pix[y*g.Stride+x] = 255
			}
		}
	}
}
