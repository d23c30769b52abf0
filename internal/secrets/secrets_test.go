package secrets

import (
	"bytes"
	"testing"
)

func TestBoxRoundTripAndBinding(t *testing.T) {
	key := RandomToken(KeySize)
	box, err := NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed := box.Seal([]byte("private key"), []byte("kid-1"))
	got, err := box.Open(sealed, []byte("kid-1"))
	if err != nil || !bytes.Equal(got, []byte("private key")) {
		t.Fatalf("open = %q, %v", got, err)
	}
	if _, err := box.Open(sealed, []byte("kid-2")); err == nil {
		t.Fatal("a value sealed for one record opened for another")
	}
	other, _ := NewBox(RandomToken(KeySize))
	if _, err := other.Open(sealed, []byte("kid-1")); err == nil {
		t.Fatal("a value opened under another key")
	}
	if _, err := box.Open([]byte("short"), nil); err == nil {
		t.Fatal("a truncated value opened")
	}
}

func TestDeriveSeparatesPurposes(t *testing.T) {
	master := RandomToken(KeySize)
	if bytes.Equal(Derive(master, "csrf"), Derive(master, "keys")) {
		t.Fatal("two purposes share a key")
	}
	if !bytes.Equal(Derive(master, "csrf"), Derive(master, "csrf")) {
		t.Fatal("derivation is not deterministic")
	}
}
