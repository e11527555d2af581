package ocr

import (
	"container/list"
	"sync"
)

// cacheEntries bounds the pictures whose text is remembered, and
// cacheEntryBytes the text of one: a logo has a few words; a page of text
// (which rarely comes twice) is not kept. At most 512 × 64 KiB in all.
const (
	cacheEntries    = 512
	cacheEntryBytes = 64 << 10
)

// cache remembers the text of the last image files read, by their SHA-256:
// least recently used out first. Only successful reads are kept, so a
// failure (a timeout under load) is tried again next time.
type cache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *cacheEntry, most recent first
	byKey map[[32]byte]*list.Element
}

type cacheEntry struct {
	key   [32]byte
	pages []string
}

func newCache(n int) *cache {
	return &cache{max: n, order: list.New(), byKey: map[[32]byte]*list.Element{}}
}

func (c *cache) get(k [32]byte) ([]string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[k]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return append([]string(nil), el.Value.(*cacheEntry).pages...), true
}

func (c *cache) put(k [32]byte, pages []string) {
	n := 0
	for _, p := range pages {
		n += len(p)
	}
	if n > cacheEntryBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[k]; ok {
		c.order.MoveToFront(el)
		return
	}
	c.byKey[k] = c.order.PushFront(&cacheEntry{key: k, pages: append([]string(nil), pages...)})
	for c.order.Len() > c.max {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.byKey, old.Value.(*cacheEntry).key)
	}
}
