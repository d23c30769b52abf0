// Package systemtest runs the whole of Gatehouse, wired as the binary
// wires it, on a real listener with a real OpenID Connect relying party:
// the protocol, the sign-in pages, attacks, outages, replicas, costs and
// the model test that hunts for the next bypass. A failure here that no
// package's own tests show is a wiring or an interplay problem.
package systemtest
