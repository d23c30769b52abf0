package identity

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// weakWordsGz is every entry of at least 3 characters, lower-cased, sorted
// and de-duplicated, of four lists in github.com/trustelem/zxcvbn v1.0.1
// (MIT License, Copyright (c) 2018 Vincent Vanackere and Trustelem), the
// lists zxcvbn 4.4.2 built: data/passwords.txt (47,023 passwords ranked
// from Mark Burnett's ten million leaked passwords), english_wikipedia.txt
// (the 100,000 most frequent words of English Wikipedia), female_names.txt
// and male_names.txt (US census first names). 130,134 entries.
//
//go:embed weak_words.txt.gz
var weakWordsGz []byte

// weakWords is built on first use so commands that never check a password
// do not pay for it.
var weakWords = sync.OnceValue(func() map[string]struct{} {
	zr, err := gzip.NewReader(bytes.NewReader(weakWordsGz))
	if err != nil {
		panic("identity: weak_words.txt.gz: " + err.Error()) // embedded at build time
	}
	set := make(map[string]struct{}, 131072)
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		set[sc.Text()] = struct{}{}
	}
	if err := sc.Err(); err != nil {
		panic("identity: weak_words.txt.gz: " + err.Error())
	}
	return set
})

// PasswordRule says in words exactly what CheckPasswordPolicy refuses, for
// the hint beside every new-password field.
func PasswordRule(minLength int) string {
	return "At least " + strconv.Itoa(minLength) + " characters. Not a common password, word or name, even with letters " +
		"swapped for look-alikes (p@ssw0rd) or digits and symbols added at the start or end; not repeated text, " +
		"a sequence or a keyboard row (aaaa, abcd, 1234, qwerty); and not containing your name, your username " +
		"or the district's name."
}

// guessableReason returns why password (already long enough) is easy to
// guess, or "" when it is not. personal are words tied to the person and
// the district, each with the message for a password containing it.
func guessableReason(password string, personal []personalWord) string {
	lower := strings.ToLower(password)
	forms := append([]string{lower}, unleet(lower)...)
	for _, w := range personal {
		for _, f := range forms {
			if strings.Contains(f, w.word) {
				return w.msg
			}
		}
	}
	if isPattern(lower) {
		return "the password is too easy to guess: it repeats itself or follows a sequence or keyboard row (like aaaa, abcd, 1234 or qwerty)"
	}
	if isCommon(lower) {
		return "the password is too common: it is a common password, word or name, perhaps with look-alike characters or digits and symbols added"
	}
	return ""
}

// personalWord is something a password must not contain.
type personalWord struct{ word, msg string }

// isCommon reports whether the password, once lower-cased, stripped of
// leading and trailing digits and symbols, undone of look-alike
// substitutions and of repetition, is on the list.
func isCommon(lower string) bool {
	words := weakWords()
	stripped := strings.TrimFunc(lower, func(r rune) bool { return !unicode.IsLetter(r) })
	for _, c := range append([]string{lower, stripped}, unleet(stripped)...) {
		for _, form := range []string{c, repeatedUnit(c)} {
			if _, ok := words[form]; ok {
				return true
			}
		}
	}
	return false
}

// leet maps look-alike characters back to letters; 1 may stand for i or l.
var leet = []*strings.Replacer{
	strings.NewReplacer("0", "o", "1", "i", "3", "e", "4", "a", "5", "s", "7", "t", "8", "b", "9", "g", "@", "a", "$", "s", "!", "i", "|", "l", "+", "t"),
	strings.NewReplacer("0", "o", "1", "l", "3", "e", "4", "a", "5", "s", "7", "t", "8", "b", "9", "g", "@", "a", "$", "s", "!", "l", "|", "l", "+", "t"),
}

func unleet(s string) []string {
	out := make([]string, len(leet))
	for i, r := range leet {
		out[i] = r.Replace(s)
	}
	return out
}

// repeatedUnit returns the shortest text s repeats ("password" for
// "passwordpassword"), or s.
func repeatedUnit(s string) string {
	for n := 1; n <= len(s)/2; n++ {
		if len(s)%n == 0 && strings.Repeat(s[:n], len(s)/n) == s {
			return s[:n]
		}
	}
	return s
}

// keyboardRows are the rows of a US keyboard, for runs like "qwerty" or
// "lkjh".
var keyboardRows = []string{"`1234567890-=", "qwertyuiop[]\\", "asdfghjkl;'", "zxcvbnm,./"}

// isPattern reports whether the password is repeated text, or is made of
// runs of at least three repeated, sequential or keyboard-adjacent
// characters with fewer than four characters outside them.
func isPattern(lower string) bool {
	if repeatedUnit(lower) != lower {
		return true
	}
	rs := []rune(lower)
	outside := 0
	for i := 0; i < len(rs); {
		n := longestRun(rs[i:])
		if n < 3 {
			outside++
			n = 1
		}
		i += n
	}
	return outside < 4
}

// longestRun is the length of the run at the start of rs: one character
// repeated, a step of +1 or -1 in the alphabet or digits, or a step along
// one keyboard row in one direction.
func longestRun(rs []rune) int {
	if len(rs) < 2 {
		return len(rs)
	}
	best := 1
	for _, step := range []func(a, b rune) bool{
		func(a, b rune) bool { return a == b },
		func(a, b rune) bool { return b == a+1 && sameClass(a, b) },
		func(a, b rune) bool { return b == a-1 && sameClass(a, b) },
		func(a, b rune) bool { return keyboardStep(a, b, 1) },
		func(a, b rune) bool { return keyboardStep(a, b, -1) },
	} {
		n := 1
		for n < len(rs) && step(rs[n-1], rs[n]) {
			n++
		}
		best = max(best, n)
	}
	return best
}

func sameClass(a, b rune) bool {
	return unicode.IsLetter(a) && unicode.IsLetter(b) || unicode.IsDigit(a) && unicode.IsDigit(b)
}

func keyboardStep(a, b rune, dir int) bool {
	for _, row := range keyboardRows {
		i, j := strings.IndexRune(row, a), strings.IndexRune(row, b)
		if i >= 0 && j >= 0 && j-i == dir {
			return true
		}
	}
	return false
}
