// Command gatehouse-bench is a load generator for OpenID Connect providers:
// Gatehouse, or any other (Ory Hydra for comparison), driven from its
// discovery document.
//
//	gatehouse-bench provision -kind gatehouse -issuer URL -state FILE -gatehouse-bin BIN -gatehouse-config FILE
//	gatehouse-bench provision -kind hydra -issuer URL -state FILE -hydra-admin URL
//	gatehouse-bench run -state FILE -workload code -c 16 -d 10s -warmup 3s -pid PID -out results.jsonl
//	gatehouse-bench calibrate -out costs.json
//	gatehouse-bench workloads
//
// provision registers one confidential client and the bench users and signs
// each user in once, keeping the browser session for later runs (for
// Gatehouse this registers an authenticator app, whose secret the generator
// keeps to compute TOTP codes). run drives one workload at a fixed
// concurrency: each virtual user keeps one operation in flight; after the
// warm-up it counts operations for the duration and reports operations per
// second, p50/p90/p99/max latency, errors by kind, and the server's RSS and
// CPU time from /proc when given its process ID. calibrate measures what
// the primitives (signatures, password and secret hashes) cost on this
// machine. See BENCHMARKS.md.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	if err := dispatch(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "gatehouse-bench: %v\n", err)
		os.Exit(1)
	}
}

func dispatch(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usage(stdout)
	}
	switch args[0] {
	case "provision":
		return provisionCmd(args[1:], stdout)
	case "run":
		return runCmd(args[1:], stdout)
	case "calibrate":
		return calibrateCmd(args[1:], stdout)
	case "workloads":
		for _, k := range sortedKeys(workloads) {
			fmt.Fprintf(stdout, "%-10s %s\n", k, workloads[k].about)
		}
		return nil
	case "-h", "--help", "help":
		return usage(stdout)
	}
	return fmt.Errorf("unknown command %q (provision, run, calibrate, workloads)", args[0])
}

func usage(w io.Writer) error {
	fmt.Fprintln(w, `usage:
  gatehouse-bench provision -kind gatehouse|hydra -issuer URL -state FILE [flags]
  gatehouse-bench run -state FILE -workload NAME -c N -d 10s -warmup 3s [-pid PID] [-out FILE]
  gatehouse-bench calibrate [-argon2 m,t,p] [-out FILE]
  gatehouse-bench workloads
Run "gatehouse-bench provision -h" or "gatehouse-bench run -h" for the flags.`)
	return nil
}
