package rp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
)

// sealContext binds a sealed value to its use: nothing else sealed with the
// same key opens as a Login.
var sealContext = []byte("gatehouse rp login v1")

// ErrSealed: a sealed Login that does not open with this key (tampered,
// truncated, or sealed with another key).
var ErrSealed = errors.New("rp: the sealed sign-in does not open")

// SealLogin encrypts and authenticates l (AES-256-GCM under a 32-byte key
// the app keeps secret) for an app that keeps it in a cookie rather than
// server-side: the PKCE verifier and nonce must not be readable by anyone
// who sees the cookie. The cookie should be HttpOnly, SameSite=Lax, and no
// longer-lived than Config.LoginLifetime; Callback refuses it after that.
func SealLogin(key []byte, l Login) (string, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return "", err
	}
	plain, err := json.Marshal(l)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, plain, sealContext)), nil
}

// OpenLogin opens what SealLogin sealed with the same key.
func OpenLogin(key []byte, sealed string) (Login, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return Login{}, err
	}
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(raw) < aead.NonceSize() {
		return Login{}, ErrSealed
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], sealContext)
	if err != nil {
		return Login{}, ErrSealed
	}
	var l Login
	if err := json.Unmarshal(plain, &l); err != nil {
		return Login{}, ErrSealed
	}
	return l, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, errors.New("rp: the sealing key must be 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
