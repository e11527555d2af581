package hold

import "io"

// SealContent returns a writer that encrypts what is written to w in the
// hold store's at-rest format (AES-256-GCM in 64 KiB segments, a key per
// file derived from master; clause 3.3.4), bound to id: content sealed
// for one id does not open as another's. Close seals the last segment and
// must be called. Other stores of held content (the download links'
// files) use it so that there is one format and one key.
func SealContent(w io.Writer, master []byte, id string) (io.WriteCloser, error) {
	return newSealWriter(w, master, id)
}

// OpenContent returns a reader that decrypts and authenticates content
// written by SealContent for id, one segment at a time (a 25 MB file is
// never held whole). A read error (ErrTampered) means that nothing read
// may be used.
func OpenContent(r io.Reader, master []byte, id string) (io.Reader, error) {
	return newOpenReader(r, master, id)
}
