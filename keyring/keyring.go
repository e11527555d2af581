// Package keyring keeps the OpenPGP public keys of the people released
// messages are sent to, so that release can encrypt every attachment for
// all recipients (clause 3.3.5: information sent by e-mail is encrypted).
//
// Keys are stored one file per key, Dir/FINGERPRINT.pgp (binary, public
// parts only), each written atomically. Lookup matches recipient addresses
// against the keys' user IDs; expired and revoked keys are listed but never
// returned for encryption.
//
// Address matching: the whole address is compared in lower case. RFC 5321
// §2.4 lets the local part be case-sensitive, but no mail system the city
// uses treats it so, and a key listed as Taro.Yamada@ must be found for
// taro.yamada@; a miss would only mean "no key", never a wrong recipient
// in practice.
package keyring

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"dlpguard/internal/keyfile"
)

// ErrNotFound is returned by Remove when nothing matched.
var ErrNotFound = errors.New("keyring: no such key")

// Key describes one stored public key.
type Key struct {
	Fingerprint string    `json:"fingerprint"` // upper-case hex
	UserIDs     []string  `json:"user_ids"`
	Addresses   []string  `json:"addresses"` // lower case
	Algorithm   string    `json:"algorithm"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires,omitzero"` // zero: never
	Revoked     bool      `json:"revoked"`
	// Usable is true when the key can encrypt now: not expired, not
	// revoked, with a valid encryption (sub)key.
	Usable bool `json:"usable"`
}

// Keyring is a folder of public keys with an in-memory index. It is safe
// for concurrent use; changes made by another process (the CLI) are seen at
// the next call, because every call checks the folder's listing (names,
// sizes, times) and reloads when it changed.
type Keyring struct {
	dir string
	now func() time.Time
	log *slog.Logger

	mu      sync.RWMutex
	stamp   string
	byFpr   map[string]*openpgp.Entity
	byAddr  map[string][]string // address → fingerprints
	loadErr []error
}

// Open opens (creating, mode 0700) the key folder dir.
func Open(dir string, logger *slog.Logger) (*Keyring, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if logger == nil {
		logger = slog.Default()
	}
	k := &Keyring{dir: dir, now: time.Now, log: logger}
	// Temp files of an import that was interrupted.
	if tmps, err := filepath.Glob(filepath.Join(dir, ".tmp-*")); err == nil {
		for _, p := range tmps {
			if fi, err := os.Stat(p); err == nil && time.Since(fi.ModTime()) > 10*time.Minute {
				os.Remove(p)
			}
		}
	}
	if err := k.refresh(true); err != nil {
		return nil, err
	}
	return k, nil
}

// SetClock replaces the clock used to judge expiry (tests).
func (k *Keyring) SetClock(now func() time.Time) { k.now = now }

// refresh reloads the index when the folder changed (or always with force).
func (k *Keyring) refresh(force bool) error {
	ents, err := os.ReadDir(k.dir)
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	// The folder's state: names, sizes and times of the key files (file
	// times are coarse, so the folder's own time alone could miss a
	// change made within the same tick).
	h := sha256.New()
	for _, e := range ents {
		if fi, err := e.Info(); err == nil {
			fmt.Fprintf(h, "%s %d %d\n", e.Name(), fi.Size(), fi.ModTime().UnixNano())
		}
	}
	stamp := hex.EncodeToString(h.Sum(nil))
	k.mu.RLock()
	same := !force && stamp == k.stamp
	k.mu.RUnlock()
	if same {
		return nil
	}
	byFpr := map[string]*openpgp.Entity{}
	byAddr := map[string][]string{}
	var errs []error
	for _, e := range ents {
		fpr, ok := strings.CutSuffix(e.Name(), ".pgp")
		if !ok || e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(k.dir, e.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		el, err := openpgp.ReadKeyRing(bytes.NewReader(b))
		if err != nil || len(el) != 1 || fingerprint(el[0]) != fpr {
			// One bad file must not hide the other keys.
			k.log.Warn("keyring: unreadable key file", "file", e.Name(), "err", err)
			errs = append(errs, fmt.Errorf("keyring: %s: unreadable", e.Name()))
			continue
		}
		byFpr[fpr] = el[0]
		for _, a := range addresses(el[0]) {
			byAddr[a] = append(byAddr[a], fpr)
		}
	}
	k.mu.Lock()
	k.byFpr, k.byAddr, k.loadErr = byFpr, byAddr, errs
	k.stamp = stamp
	k.mu.Unlock()
	return nil
}

func fingerprint(e *openpgp.Entity) string {
	return strings.ToUpper(fmt.Sprintf("%x", e.PrimaryKey.Fingerprint))
}

// NormalizeAddress is how addresses are compared: trimmed, angle brackets
// removed, lower case.
func NormalizeAddress(a string) string {
	a = strings.TrimSpace(a)
	a = strings.TrimSuffix(strings.TrimPrefix(a, "<"), ">")
	return strings.ToLower(a)
}

func addresses(e *openpgp.Entity) []string {
	var out []string
	for _, id := range e.Identities {
		if id.UserId == nil || id.UserId.Email == "" {
			continue
		}
		a := NormalizeAddress(id.UserId.Email)
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

func describe(e *openpgp.Entity, now time.Time) Key {
	k := Key{
		Fingerprint: fingerprint(e),
		Addresses:   addresses(e),
		Created:     e.PrimaryKey.CreationTime.UTC(),
		Revoked:     e.Revoked(now),
		Algorithm:   algoName(e.PrimaryKey),
	}
	for name := range e.Identities {
		k.UserIDs = append(k.UserIDs, name)
	}
	slices.Sort(k.UserIDs)
	if sig, _ := e.PrimarySelfSignature(); sig != nil && sig.KeyLifetimeSecs != nil && *sig.KeyLifetimeSecs != 0 {
		k.Expires = e.PrimaryKey.CreationTime.Add(time.Duration(*sig.KeyLifetimeSecs) * time.Second).UTC()
	}
	_, k.Usable = e.EncryptionKey(now)
	return k
}

func algoName(pk *packet.PublicKey) string {
	bits, _ := pk.BitLength()
	switch pk.PubKeyAlgo {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSAEncryptOnly, packet.PubKeyAlgoRSASignOnly:
		return fmt.Sprintf("rsa%d", bits)
	case packet.PubKeyAlgoEdDSA:
		return "eddsa"
	case packet.PubKeyAlgoECDSA:
		return fmt.Sprintf("ecdsa%d", bits)
	case packet.PubKeyAlgoEd25519:
		return "ed25519"
	case packet.PubKeyAlgoEd448:
		return "ed448"
	case packet.PubKeyAlgoDSA:
		return fmt.Sprintf("dsa%d", bits)
	}
	return fmt.Sprintf("algo%d", pk.PubKeyAlgo)
}

// readKeys reads armored or binary keys: armor is recognised by its
// "-----BEGIN PGP" line, anything else is read as binary packets.
func readKeys(r io.Reader) (openpgp.EntityList, error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(512)
	if bytes.Contains(head, []byte("-----BEGIN PGP")) {
		return openpgp.ReadArmoredKeyRing(br)
	}
	return openpgp.ReadKeyRing(br)
}

// Import reads one or more public (or secret: only the public parts are
// kept) keys, armored or binary, and stores them. A key already present is
// replaced by the imported one, keeping revocations it had, so a revoked
// key cannot be un-revoked by importing an old copy.
func (k *Keyring) Import(r io.Reader) ([]Key, error) {
	el, err := readKeys(io.LimitReader(r, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("keyring: import: %w", err)
	}
	if len(el) == 0 {
		return nil, errors.New("keyring: import: no keys found")
	}
	if err := k.refresh(false); err != nil {
		return nil, err
	}
	now := k.now()
	var out []Key
	for _, e := range el {
		fpr := fingerprint(e)
		if sig, _ := e.PrimarySelfSignature(); sig == nil {
			return out, fmt.Errorf("keyring: import %s: no valid self-signature", fpr)
		}
		k.mu.RLock()
		old := k.byFpr[fpr]
		k.mu.RUnlock()
		if old != nil {
			mergeRevocations(e, old)
		}
		var buf bytes.Buffer
		if err := e.Serialize(&buf); err != nil {
			return out, fmt.Errorf("keyring: import %s: %w", fpr, err)
		}
		// Parse what we are about to store, so the file is known to load.
		back, err := openpgp.ReadKeyRing(bytes.NewReader(buf.Bytes()))
		if err != nil || len(back) != 1 {
			return out, fmt.Errorf("keyring: import %s: does not re-read: %v", fpr, err)
		}
		if err := keyfile.WriteFile(filepath.Join(k.dir, fpr+".pgp"), buf.Bytes()); err != nil {
			return out, fmt.Errorf("keyring: import %s: %w", fpr, err)
		}
		d := describe(back[0], now)
		k.log.Info("keyring: imported", "fingerprint", fpr, "addresses", d.Addresses, "usable", d.Usable)
		out = append(out, d)
	}
	return out, k.refresh(true)
}

func mergeRevocations(e, old *openpgp.Entity) {
	have := func(list []*packet.Signature, s *packet.Signature) bool {
		for _, x := range list {
			if x.CreationTime.Equal(s.CreationTime) && x.SigType == s.SigType {
				return true
			}
		}
		return false
	}
	for _, s := range old.Revocations {
		if !have(e.Revocations, s) {
			e.Revocations = append(e.Revocations, s)
		}
	}
	for _, os := range old.Subkeys {
		for i := range e.Subkeys {
			if bytes.Equal(e.Subkeys[i].PublicKey.Fingerprint, os.PublicKey.Fingerprint) {
				for _, s := range os.Revocations {
					if !have(e.Subkeys[i].Revocations, s) {
						e.Subkeys[i].Revocations = append(e.Subkeys[i].Revocations, s)
					}
				}
			}
		}
	}
}

// ImportFile imports the keys in the file at path.
func (k *Keyring) ImportFile(path string) ([]Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	defer f.Close()
	return k.Import(f)
}

// List returns every stored key, sorted by first address then fingerprint.
func (k *Keyring) List() ([]Key, error) {
	if err := k.refresh(false); err != nil {
		return nil, err
	}
	now := k.now()
	k.mu.RLock()
	out := make([]Key, 0, len(k.byFpr))
	for _, e := range k.byFpr {
		out = append(out, describe(e, now))
	}
	k.mu.RUnlock()
	slices.SortFunc(out, func(a, b Key) int {
		aa, ba := "", ""
		if len(a.Addresses) > 0 {
			aa = a.Addresses[0]
		}
		if len(b.Addresses) > 0 {
			ba = b.Addresses[0]
		}
		if c := strings.Compare(aa, ba); c != 0 {
			return c
		}
		return strings.Compare(a.Fingerprint, b.Fingerprint)
	})
	return out, nil
}

// Remove deletes the key with this fingerprint (full, upper or lower case,
// spaces allowed), or every key for this address. It returns what it
// removed, or ErrNotFound.
func (k *Keyring) Remove(fingerprintOrAddress string) ([]Key, error) {
	if err := k.refresh(false); err != nil {
		return nil, err
	}
	q := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(fingerprintOrAddress), " ", ""))
	now := k.now()
	k.mu.RLock()
	var fprs []string
	if _, ok := k.byFpr[q]; ok {
		fprs = []string{q}
	} else if strings.Contains(fingerprintOrAddress, "@") {
		fprs = slices.Clone(k.byAddr[NormalizeAddress(fingerprintOrAddress)])
	}
	var out []Key
	for _, f := range fprs {
		out = append(out, describe(k.byFpr[f], now))
	}
	k.mu.RUnlock()
	if len(fprs) == 0 {
		return nil, fmt.Errorf("keyring: remove %q: %w", fingerprintOrAddress, ErrNotFound)
	}
	for _, f := range fprs {
		if err := os.Remove(filepath.Join(k.dir, f+".pgp")); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("keyring: remove %s: %w", f, err)
		}
		k.log.Info("keyring: removed", "fingerprint", f)
	}
	if err := keyfile.SyncDir(k.dir); err != nil {
		return out, fmt.Errorf("keyring: %w", err)
	}
	return out, k.refresh(true)
}

// Entity returns the stored key with this fingerprint, usable or not.
func (k *Keyring) Entity(fpr string) (*openpgp.Entity, bool) {
	if k.refresh(false) != nil {
		return nil, false
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	e, ok := k.byFpr[strings.ToUpper(fpr)]
	return e, ok
}

// Lookup returns the keys for address that can encrypt now (not expired,
// not revoked). An empty list with a nil error means "no usable key".
func (k *Keyring) Lookup(address string) (openpgp.EntityList, error) {
	if err := k.refresh(false); err != nil {
		return nil, err
	}
	now := k.now()
	k.mu.RLock()
	defer k.mu.RUnlock()
	var out openpgp.EntityList
	addr := NormalizeAddress(address)
	for _, f := range k.byAddr[addr] {
		e := k.byFpr[f]
		if _, ok := e.EncryptionKey(now); ok && validIdentity(e, addr, now) {
			out = append(out, e)
		}
	}
	return out, nil
}

// validIdentity reports whether e has a user ID for addr that is neither
// revoked nor expired: a key whose owner withdrew an old address must not
// be used for that address.
func validIdentity(e *openpgp.Entity, addr string, now time.Time) bool {
	for _, id := range e.Identities {
		if id.UserId == nil || NormalizeAddress(id.UserId.Email) != addr {
			continue
		}
		if id.SelfSignature != nil && !id.SelfSignature.SigExpired(now) && !id.Revoked(now) {
			return true
		}
	}
	return false
}

// ForRecipients returns one usable key per recipient (the newest, when a
// recipient has several) and the recipients that have none.
func (k *Keyring) ForRecipients(recipients []string) (keys openpgp.EntityList, missing []string, err error) {
	seen := map[string]bool{}
	for _, r := range recipients {
		el, err := k.Lookup(r)
		if err != nil {
			return nil, nil, err
		}
		if len(el) == 0 {
			missing = append(missing, r)
			continue
		}
		best := el[0]
		for _, e := range el[1:] {
			if e.PrimaryKey.CreationTime.After(best.PrimaryKey.CreationTime) {
				best = e
			}
		}
		if f := fingerprint(best); !seen[f] {
			seen[f] = true
			keys = append(keys, best)
		}
	}
	return keys, missing, nil
}
