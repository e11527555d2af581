package office

import (
	"bytes"
	"fmt"
	"os"
	"testing"
	"unicode/utf8"
)

func TestZZRepro(t *testing.T) {
	s, _ := os.ReadFile("/tmp/cgen/utf8.bin")
	d, err := Extract(bytes.NewReader(s), int64(len(s)), 1<<16, 1<<20)
	fmt.Println(err)
	for _, sec := range d.Sections {
		if !utf8.ValidString(sec.Text) || !utf8.ValidString(sec.Name) {
			fmt.Printf("%q %q\n", sec.Name, sec.Text)
		}
	}
}
