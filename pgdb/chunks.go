package pgdb

import (
	"context"
	"io"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// CopyFile writes the file at path, as it is, into chunk rows of id (a
// ChunkWriter of insert and size): storage migrate's copy of a file that
// is sealed already.
func CopyFile(ctx context.Context, tx pgx.Tx, insert, id string, size int, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	cw := NewChunkWriter(ctx, tx, insert, id, size)
	if _, err := io.Copy(cw, f); err != nil {
		return err
	}
	return cw.Flush()
}

// ChunkWriter writes a stream (sealed content: the database never sees
// plaintext) as rows of a fixed size in one transaction, so that a large
// message or file is never whole in memory. Insert is the statement with
// $1 the ID, $2 the row's sequence number from 0 and $3 the bytes.
type ChunkWriter struct {
	ctx    context.Context
	tx     pgx.Tx
	insert string
	id     string
	seq    int
	buf    []byte
}

// NewChunkWriter returns a ChunkWriter of rows of size bytes; the caller
// calls Flush after the last Write.
func NewChunkWriter(ctx context.Context, tx pgx.Tx, insert, id string, size int) *ChunkWriter {
	return &ChunkWriter{ctx: ctx, tx: tx, insert: insert, id: id, buf: make([]byte, 0, size)}
}

func (w *ChunkWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		c := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+c]
		p, n = p[c:], n+c
		if len(w.buf) == cap(w.buf) {
			if err := w.Flush(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// Flush writes what is buffered as the next row.
func (w *ChunkWriter) Flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	if _, err := w.tx.Exec(w.ctx, w.insert, w.id, w.seq, w.buf); err != nil {
		return err
	}
	w.seq++
	w.buf = w.buf[:0]
	return nil
}

// ChunkReader reads what a ChunkWriter wrote, a row at a time. Running out
// of rows is io.EOF: the content format's final flag tells complete
// content from a cut one. Query selects the bytes with $1 the ID and $2
// the sequence number.
type ChunkReader struct {
	ctx   context.Context
	pool  *pgxpool.Pool
	query string
	id    string
	seq   int
	buf   []byte
	off   int
	eof   bool
}

// NewChunkReader returns the reader of id's rows.
func NewChunkReader(ctx context.Context, pool *pgxpool.Pool, query, id string) *ChunkReader {
	return &ChunkReader{ctx: ctx, pool: pool, query: query, id: id}
}

func (r *ChunkReader) Read(p []byte) (int, error) {
	for r.off == len(r.buf) {
		if r.eof {
			return 0, io.EOF
		}
		found, err := r.next()
		if err != nil {
			return 0, err
		}
		if !found {
			r.eof, r.buf, r.off = true, r.buf[:0], 0
			continue
		}
		r.seq++
		r.off = 0
	}
	n := copy(p, r.buf[r.off:])
	r.off += n
	return n, nil
}

// next reads the next row into buf, reusing it: the driver's bytes are
// copied, not a new slice per row (a 25 MB file is 25 rows, not 25
// allocations of a row each).
func (r *ChunkReader) next() (bool, error) {
	rows, err := r.pool.Query(r.ctx, r.query, r.id, r.seq)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return false, rows.Err()
	}
	var b pgtype.DriverBytes
	if err := rows.Scan(&b); err != nil {
		return false, err
	}
	r.buf = append(r.buf[:0], b...)
	return true, nil
}
