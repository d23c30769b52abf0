// Package secrets seals data at rest (AES-256-GCM) and derives purpose-bound
// subkeys from the one master key every replica shares.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// KeySize is the length of the master key and of every derived key.
const KeySize = 32

// Derive returns a subkey for one purpose, so that a leak of (say) the CSRF
// key reveals nothing about the key sealing signing keys.
func Derive(master []byte, purpose string) []byte {
	key, err := hkdf.Key(sha256.New, master, nil, "gatehouse/"+purpose, KeySize)
	if err != nil {
		panic(fmt.Sprintf("hkdf: %v", err)) // only for impossible lengths
	}
	return key
}

// Box seals and opens small secrets with AES-256-GCM.
type Box struct{ aead cipher.AEAD }

// NewBox returns a Box for a 32-byte key.
func NewBox(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secrets: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext bound to context (for example a record's ID), so a
// sealed value copied onto another record does not open.
func (b *Box) Seal(plaintext, context []byte) []byte {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	return b.aead.Seal(nonce, nonce, plaintext, context)
}

// ErrOpen means a sealed value was tampered with, or sealed under another key.
var ErrOpen = errors.New("secrets: cannot open sealed value (wrong master key?)")

// Open decrypts a value made by Seal with the same context.
func (b *Box) Open(sealed, context []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n+b.aead.Overhead() {
		return nil, ErrOpen
	}
	out, err := b.aead.Open(nil, sealed[:n], sealed[n:], context)
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}

// RandomToken returns n random bytes; crypto/rand never fails on supported platforms.
func RandomToken(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}
