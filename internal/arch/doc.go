// Package arch holds the test that keeps Gatehouse's imports one way:
// cmd → app (wiring) → web/*, admin/* → domain → store/*, with pkg/
// importable by district apps without anything under internal/.
package arch
