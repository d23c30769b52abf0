#!/usr/bin/env bash
# The whole Gatehouse vs Ory Hydra v2.3.0 comparison in one go (BENCHMARKS.md):
# builds both, starts Gatehouse (PostgreSQL + Redis, production shape) and
# Hydra (PostgreSQL, max_conns=128) with its auto-accept login/consent app,
# provisions, waits for a quiet machine, runs every workload against each
# server alternately at the same concurrency levels, counts database and
# Redis operations per flow, profiles Gatehouse under load, and writes the
# results, table, plot and profiles under bench/results/<run>/ (binaries,
# logs and the state files, which hold client secrets, stay in
# $TMPDIR/gatehouse-bench/<run>/).
#
#   scripts/bench.sh                 # the full run (~30 min, plus waiting for quiet)
#   SMOKE=1 scripts/bench.sh         # a few seconds per workload: checks the setup
#
# Knobs (environment): LEVELS, LOGIN_LEVELS, WORKLOADS, DURATION, WARMUP,
# USERS, QUIET_LOAD, QUIET_WAIT_MIN, PROFILE=0, OPCOUNT=0, UPDATE_DOC=1
# (rewrite the generated section of BENCHMARKS.md), RUN_ID, GH_ID_TOKEN_ALG.
#
# Needs: Go, PostgreSQL at 127.0.0.1:5432 (user postgres, trust), Redis at
# 127.0.0.1:6379. Creates and drops the databases bench_gatehouse and
# bench_hydra; uses Redis DB 9 under the key prefix ghbench: and deletes
# those keys at the end. All traffic stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SMOKE=${SMOKE:-0}
if [[ $SMOKE == 1 ]]; then
	LEVELS=${LEVELS:-"1 4"}
	LOGIN_LEVELS=${LOGIN_LEVELS:-"1 4"}
	DURATION=${DURATION:-2s}
	WARMUP=${WARMUP:-1s}
	USERS=${USERS:-24}
	QUIET_WAIT_MIN=${QUIET_WAIT_MIN:-0}
	PROFILE_SECONDS=${PROFILE_SECONDS:-4}
	OPCOUNT_OPS=${OPCOUNT_OPS:-20}
	UPDATE_DOC=${UPDATE_DOC:-0}
	RUN_ID=${RUN_ID:-smoke-$(date -u +%Y%m%dT%H%M%SZ)}
else
	LEVELS=${LEVELS:-"1 4 16 64 256"}
	# A first sign-in spends ~170 ms of both cores on argon2id, so 64 of them
	# at once already queue ~6 s each; at 256 they would queue past
	# request_timeout (15 s) and be answered 503 by design. 64 shows the curve.
	LOGIN_LEVELS=${LOGIN_LEVELS:-"1 4 16 64"}
	DURATION=${DURATION:-10s}
	WARMUP=${WARMUP:-3s}
	USERS=${USERS:-400}
	QUIET_WAIT_MIN=${QUIET_WAIT_MIN:-30}
	PROFILE_SECONDS=${PROFILE_SECONDS:-15}
	OPCOUNT_OPS=${OPCOUNT_OPS:-300}
	UPDATE_DOC=${UPDATE_DOC:-1}
	RUN_ID=${RUN_ID:-$(date -u +%Y%m%dT%H%M%SZ)}
fi
# First sign-ins last: the memory their hashes take is handed back only once
# they stop, and would otherwise show in the next workload's RSS.
WORKLOADS=${WORKLOADS:-"cc code refresh introspect userinfo mixed login"}
QUIET_LOAD=${QUIET_LOAD:-1.0}
PROFILE=${PROFILE:-1}
# The bench app registers ES256 for its ID tokens, as a district registers
# every app whose library supports it; the last part of the run repeats the
# token workloads with the server's default, RS256.
GH_ID_TOKEN_ALG=${GH_ID_TOKEN_ALG:-ES256}
OPCOUNT=${OPCOUNT:-1}

# Everything is written outside the repository while the run lasts (so a
# `git clean` or checkout elsewhere cannot pull it away mid-run) and the
# results are copied to bench/results/<run>/ at the end.
STAGE=${BENCH_TMP:-${TMPDIR:-/tmp}/gatehouse-bench}/$RUN_ID
OUT=$STAGE/out       # results, table, plot, profiles: copied to $FINAL
WORK=$STAGE/work     # logs, state files with client secrets: stay here
FINAL=bench/results/$RUN_ID
BIN=${BENCH_BIN:-$STAGE/bin}
PGHOST=127.0.0.1
PGUSER=postgres
GH_DB=bench_gatehouse
HY_DB=bench_hydra
REDIS_DB=9
REDIS_PREFIX=ghbench:
GH_URL=http://127.0.0.1:18080
HY_URL=http://127.0.0.1:14444
HY_ADMIN=http://127.0.0.1:14445
CONSENT_ADDR=127.0.0.1:14446
PPROF_ADDR=127.0.0.1:16060
ARGON2=65536,3,2 # password.argon2 in bench/gatehouse.yaml (the defaults)

mkdir -p "$OUT" "$WORK" "$BIN"
export PGHOST PGUSER
RESULTS=$OUT/results.jsonl
: >"$RESULTS"

log() { echo "[$(date -u +%T)] $*" | tee -a "$OUT/bench.log"; }
psql_q() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# --- processes we start, and cleanup -----------------------------------
declare -A PIDS=()
stop_proc() { # name
	local pid=${PIDS[$1]:-}
	[[ -z $pid ]] && return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	unset "PIDS[$1]"
}
redis_cleanup() {
	# One SCAN pass over DB $REDIS_DB (bounded by its size), then UNLINK our
	# keys 5000 at a time; SCAN returns every key that exists throughout.
	local keys=$WORK/redis-keys.txt n
	redis-cli -n "$REDIS_DB" --scan --pattern "${REDIS_PREFIX}*" >"$keys"
	n=$(wc -l <"$keys")
	xargs -r -n 5000 -a "$keys" redis-cli -n "$REDIS_DB" unlink >/dev/null
	rm -f "$keys"
	log "redis: deleted $n keys under $REDIS_PREFIX in DB $REDIS_DB"
}
cleanup() {
	local rc=$?
	# Only the script itself cleans up, once (subshells inherit the trap).
	[[ $BASHPID == "$$" ]] || return 0
	trap - EXIT INT TERM
	set +e
	for name in "${!PIDS[@]}"; do stop_proc "$name"; done
	psql_q -d postgres -c "DROP DATABASE IF EXISTS $GH_DB WITH (FORCE)" -c "DROP DATABASE IF EXISTS $HY_DB WITH (FORCE)"
	log "dropped databases $GH_DB and $HY_DB"
	redis_cleanup
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_bg() { # name logfile cmd...
	local name=$1 logf=$2
	shift 2
	"$@" >"$logf" 2>&1 &
	PIDS[$name]=$!
	log "started $name (pid ${PIDS[$name]})"
}
wait_http() { # url seconds
	for _ in $(seq 1 $(($2 * 5))); do
		curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null && return 0
		sleep 0.2
	done
	log "timed out waiting for $1"
	return 1
}
port_free() { ! ss -ltnH "sport = :$1" 2>/dev/null | grep -q .; }
rss_mib() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

for p in 18080 14444 14445 14446 16060; do
	port_free "$p" || { echo "port $p is in use; stop what listens there first" >&2; exit 1; }
done

# --- build ---------------------------------------------------------------
log "building (run $RUN_ID)"
go build -o "$BIN/gatehouse" ./cmd/gatehouse
go build -o "$BIN/gatehouse-bench" ./cmd/gatehouse-bench
(cd bench/hydra && go build -ldflags "-X github.com/ory/hydra/v2/driver/config.Version=v2.3.0" -o "$BIN/hydra" github.com/ory/hydra/v2)
(cd bench && go build -o "$BIN/consent" ./consent && go build -o "$BIN/report" ./report)
log "built"

# --- databases, Redis ---------------------------------------------------
psql_q -d postgres -c "DROP DATABASE IF EXISTS $GH_DB WITH (FORCE)" -c "CREATE DATABASE $GH_DB" \
	-c "DROP DATABASE IF EXISTS $HY_DB WITH (FORCE)" -c "CREATE DATABASE $HY_DB"
redis_cleanup

# --- Gatehouse ------------------------------------------------------------
GATEHOUSE_SECRETS_MASTER_KEY=$(head -c 32 /dev/urandom | base64)
GATEHOUSE_DATA_DIR=$WORK/gatehouse-data
export GATEHOUSE_SECRETS_MASTER_KEY GATEHOUSE_DATA_DIR
GH_CONFIG=bench/gatehouse.yaml
start_gatehouse() { # log-name command...
	local logname=$1
	shift
	start_bg gatehouse "$WORK/gatehouse-$logname.log" "$@"
	wait_http "$GH_URL/readyz" 60
}
# The loopback-only profiler (debug.pprof_listen) costs nothing until a
# profile is taken, after the comparison.
start_gatehouse serve env GATEHOUSE_DEBUG_PPROF_LISTEN="$PPROF_ADDR" "$BIN/gatehouse" --config "$GH_CONFIG" serve

# --- Hydra and its login/consent app -------------------------------------
export DSN="postgres://postgres@127.0.0.1:5432/$HY_DB?sslmode=disable&max_conns=128"
SECRETS_SYSTEM=$(head -c 32 /dev/urandom | base64 | tr -d '=+/')
export SECRETS_SYSTEM
"$BIN/hydra" migrate sql up -e --yes >"$WORK/hydra-migrate.log" 2>&1
start_bg hydra "$WORK/hydra.log" "$BIN/hydra" serve all --dev --sqa-opt-out --config bench/hydra/hydra.yaml
start_bg consent "$WORK/consent.log" "$BIN/consent" -listen "$CONSENT_ADDR" -admin "$HY_ADMIN"
wait_http "$HY_URL/health/ready" 60
wait_http "http://$CONSENT_ADDR/healthz" 30
sleep 2
GH_RSS_FRESH=$(rss_mib "${PIDS[gatehouse]}")
HY_RSS_FRESH=$(rss_mib "${PIDS[hydra]}")
CONSENT_RSS_FRESH=$(rss_mib "${PIDS[consent]}")
log "fresh RSS: gatehouse $GH_RSS_FRESH MiB, hydra $HY_RSS_FRESH MiB, consent app $CONSENT_RSS_FRESH MiB"

# --- provisioning -------------------------------------------------------------
max_level=$(tr ' ' '\n' <<<"$LEVELS $LOGIN_LEVELS" | sort -n | tail -1)
GH_STATE=$WORK/gatehouse-state.json
HY_STATE=$WORK/hydra-state.json
gh_users=$((USERS > max_level ? USERS : max_level))
log "provisioning Gatehouse: a client (CLI) and $gh_users users (CLI import), each signed in once with an authenticator app registered"
"$BIN/gatehouse-bench" provision -kind gatehouse -issuer "$GH_URL" -state "$GH_STATE" -users "$gh_users" -c 2 \
	-id-token-alg "$GH_ID_TOKEN_ALG" -gatehouse-bin "$BIN/gatehouse" -gatehouse-config "$GH_CONFIG" -argon2 "$ARGON2" | tee -a "$OUT/bench.log"
log "provisioning Hydra: a client (admin API) and $max_level users, each signed in once"
"$BIN/gatehouse-bench" provision -kind hydra -issuer "$HY_URL" -hydra-admin "$HY_ADMIN" -state "$HY_STATE" -users "$max_level" -c 4 | tee -a "$OUT/bench.log"

# --- wait for a quiet machine ----------------------------------------------------
load1() { cut -d' ' -f1 /proc/loadavg; }
quiet=false
waited=0
for ((i = 0; i <= QUIET_WAIT_MIN; i++)); do
	if awk -v l="$(load1)" -v q="$QUIET_LOAD" 'BEGIN { exit !(l < q) }'; then quiet=true; break; fi
	((i == QUIET_WAIT_MIN)) && break
	log "load average $(load1) ≥ $QUIET_LOAD; waiting (minute $((i + 1)) of $QUIET_WAIT_MIN)"
	sleep 60
	waited=$((waited + 60))
done
LOAD_AT_START=$(load1)
if $quiet; then log "quiet: load average $LOAD_AT_START"; else log "the machine never got quiet (load average $LOAD_AT_START); running anyway"; fi

log "calibrating the primitives"
"$BIN/gatehouse-bench" calibrate -argon2 "$ARGON2" -out "$OUT/costs.json" | tee -a "$OUT/bench.log"

# --- metadata -------------------------------------------------------------------
jq -n --arg run "$RUN_ID" --arg started "$(date -u +%FT%TZ)" --arg nproc "$(nproc)" \
	--arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" \
	--arg mem "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)" \
	--arg kernel "$(uname -r)" --arg go "$(go version)" \
	--arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
	--arg dirty "$(git status --porcelain 2>/dev/null | wc -l)" \
	--arg hydra "$("$BIN/hydra" version 2>/dev/null | sed -n 's/^Version: *//p')" \
	--arg pg "$(psql -XAtc 'show server_version' -d postgres)" \
	--arg redis "$(redis-cli info server | sed -n 's/^redis_version:\(.*\)\r*$/\1/p' | tr -d '\r')" \
	--arg levels "$LEVELS" --arg login_levels "$LOGIN_LEVELS" --arg duration "$DURATION" --arg warmup "$WARMUP" \
	--argjson quiet "$quiet" --arg load "$LOAD_AT_START" --arg waited "$waited" --arg quiet_load "$QUIET_LOAD" \
	--arg gh_rss "$GH_RSS_FRESH" --arg hy_rss "$HY_RSS_FRESH" --arg consent_rss "$CONSENT_RSS_FRESH" --arg alg "$GH_ID_TOKEN_ALG" \
	'{run: $run, started: $started, machine: {nproc: $nproc, cpu: $cpu, memory: $mem, kernel: $kernel},
	  versions: {go: $go, gatehouse_commit: $commit, gatehouse_uncommitted_files: ($dirty|tonumber), hydra: $hydra, postgres: $pg, redis: $redis},
	  levels: $levels, login_levels: $login_levels, duration: $duration, warmup: $warmup,
	  quiet: {achieved: $quiet, threshold: $quiet_load, load1_at_start: $load, waited_s: ($waited|tonumber)},
	  fresh_rss_mib: {gatehouse: $gh_rss, hydra: $hy_rss, consent_app: $consent_rss}, gatehouse_id_token_alg: $alg}' >"$OUT/meta.json"

# --- the comparison -------------------------------------------------------------
bench_run() { # server workload c [extra args]
	local server=$1 w=$2 c=$3
	shift 3
	local state=$GH_STATE pid=${PIDS[gatehouse]} aux=()
	if [[ $server == hydra ]]; then state=$HY_STATE pid=${PIDS[hydra]} aux=(-aux-pid "${PIDS[consent]}"); fi
	"$BIN/gatehouse-bench" run -state "$state" -label "$server" -workload "$w" -c "$c" -d "$DURATION" -warmup "$WARMUP" \
		-pid "$pid" "${aux[@]}" "$@" | tee -a "$OUT/bench.log" || log "run failed: $server $w c=$c"
}
log "comparison: workloads [$WORKLOADS], levels [$LEVELS] (login [$LOGIN_LEVELS]), $WARMUP warm-up + $DURATION each"
pair=0
for w in $WORKLOADS; do
	levels=$LEVELS
	[[ $w == login ]] && levels=$LOGIN_LEVELS
	for c in $levels; do
		# Alternate which server goes first, so neither always runs on the
		# heels of the other's load.
		if ((pair % 2 == 0)); then order="gatehouse hydra"; else order="hydra gatehouse"; fi
		pair=$((pair + 1))
		for s in $order; do
			bench_run "$s" "$w" "$c" -out "$RESULTS" -q
			sleep 1
		done
	done
done
LOAD_AT_END=$(load1)
jq --arg l "$LOAD_AT_END" '.load1_at_end = $l' "$OUT/meta.json" >"$OUT/meta.json.tmp" && mv "$OUT/meta.json.tmp" "$OUT/meta.json"

# --- database and Redis operations per operation ------------------------------
# PostgreSQL: per-database transaction counts and per-table scans and row
# writes from the statistics views, which idle backends flush within 10 s.
# Redis: every command MONITOR shows under Gatehouse's key prefix.
pg_counts() { # db -> "xacts scans rows_read rows_written"
	psql -XAt -F' ' -d "$1" -c "select (select xact_commit + xact_rollback from pg_stat_database where datname = current_database()),
		coalesce(sum(coalesce(seq_scan,0) + coalesce(idx_scan,0)),0), coalesce(sum(coalesce(seq_tup_read,0) + coalesce(idx_tup_fetch,0)),0),
		coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del),0) from pg_stat_user_tables"
}
if [[ $OPCOUNT == 1 ]]; then
	log "counting database and Redis operations per operation ($OPCOUNT_OPS operations, one at a time)"
	: >"$OUT/opcounts.jsonl"
	for server in gatehouse hydra; do
		db=$GH_DB
		[[ $server == hydra ]] && db=$HY_DB
		sleep 11
		read -r x0 s0 r0 w0 <<<"$(pg_counts "$db")"
		for w in code login refresh cc introspect userinfo; do
			n=$OPCOUNT_OPS
			[[ $w == login ]] && n=$(((OPCOUNT_OPS + 9) / 10))
			mon=$WORK/monitor-$server-$w.txt
			monpid=
			if [[ $server == gatehouse ]]; then
				timeout 300 redis-cli -n "$REDIS_DB" monitor >"$mon" &
				monpid=$!
				sleep 0.5
			fi
			tmp=$WORK/opcount-$server-$w.jsonl
			: >"$tmp"
			bench_run "$server" "$w" 1 -warmup 0s -d 5m -max-ops "$n" -out "$tmp" -q >/dev/null
			redis_cmds=null
			if [[ -n $monpid ]]; then
				sleep 0.5
				kill "$monpid" 2>/dev/null || true
				wait "$monpid" 2>/dev/null || true
				# Commands naming our keys (MULTI/EXEC name none, and are not
				# counted).
				redis_cmds=$(grep -c "\"${REDIS_PREFIX}" "$mon" || true)
			fi
			# Idle backends flush their statistics within 10 s.
			sleep 11
			read -r x1 s1 r1 w1 <<<"$(pg_counts "$db")"
			ops=$(jq -r .ops "$tmp")
			http=$(jq -r .http_requests_per_op "$tmp")
			jq -nc --arg s "$server" --arg w "$w" --argjson ops "$ops" --argjson http "$http" \
				--argjson x "$((x1 - x0))" --argjson sc "$((s1 - s0))" --argjson rr "$((r1 - r0))" --argjson rw "$((w1 - w0))" \
				--argjson rc "$redis_cmds" \
				'{server: $s, workload: $w, ops: $ops, http_per_op: $http,
				  pg_xacts_per_op: ($x / $ops), pg_table_scans_per_op: ($sc / $ops), pg_rows_read_per_op: ($rr / $ops),
				  pg_rows_written_per_op: ($rw / $ops), redis_cmds_per_op: (if $rc == null then null else $rc / $ops end)}' |
				tee -a "$OUT/opcounts.jsonl"
			x0=$x1 s0=$s1 r0=$r1 w0=$w1
		done
	done
fi

# --- CPU profile of Gatehouse under load, and two settings tried ----------
profile() { # name workload c [run args]: a CPU profile while the workload runs
	local name=$1 w=$2 c=$3
	shift 3
	bench_run gatehouse "$w" "$c" -warmup 2s -d "$((PROFILE_SECONDS + 4))s" -q "$@" >"$WORK/profile-run-$name.txt" &
	local runpid=$!
	sleep 3
	curl -fsS --max-time $((PROFILE_SECONDS + 30)) -o "$OUT/profiles/$name.pprof" \
		"http://$PPROF_ADDR/debug/pprof/profile?seconds=$PROFILE_SECONDS" || log "profile $name failed"
	wait "$runpid" || true
	cat "$WORK/profile-run-$name.txt" >>"$OUT/bench.log"
	if [[ -s $OUT/profiles/$name.pprof ]]; then
		{
			echo "# $(cat "$WORK/profile-run-$name.txt")"
			go tool pprof -top -nodecount=35 "$OUT/profiles/$name.pprof" 2>/dev/null
			echo
			go tool pprof -top -cum -nodecount=60 "$OUT/profiles/$name.pprof" 2>/dev/null | tail -n +6
		} >"$OUT/profiles/$name.txt"
	fi
}
experiment() { # label: the runs that sign ID tokens, for each algorithm
	for spec in code:4 code:16 code:64 refresh:4 refresh:16 refresh:64 mixed:16 mixed:64; do
		bench_run gatehouse "${spec%%:*}" "${spec##*:}" -label "$1" -out "$OUT/experiments.jsonl" -q
	done
}
if [[ $PROFILE == 1 ]]; then
	log "profiling Gatehouse (debug.pprof_listen)"
	mkdir -p "$OUT/profiles"
	for spec in code:16 cc:16 refresh:16 introspect:16 userinfo:16 mixed:16 login:4; do
		profile "${spec%%:*}" "${spec%%:*}" "${spec##*:}"
	done
	# Allocations of code flows: the difference over one run (after the
	# first sign-ins' hashes still running have finished).
	sleep 5
	curl -fsS -o "$WORK/allocs-0.pprof" "http://$PPROF_ADDR/debug/pprof/allocs"
	bench_run gatehouse code 16 -warmup 0s -d 10s -q >"$WORK/profile-run-allocs.txt"
	curl -fsS -o "$OUT/profiles/code-allocs.pprof" "http://$PPROF_ADDR/debug/pprof/allocs"
	{
		echo "# $(cat "$WORK/profile-run-allocs.txt")"
		go tool pprof -sample_index=alloc_space -base "$WORK/allocs-0.pprof" -top -nodecount=30 "$OUT/profiles/code-allocs.pprof" 2>/dev/null
		go tool pprof -sample_index=alloc_objects -base "$WORK/allocs-0.pprof" -top -nodecount=30 "$OUT/profiles/code-allocs.pprof" 2>/dev/null | tail -n +5
	} >"$OUT/profiles/code-allocs.txt"
fi

# --- the signing algorithm --------------------------------------------------
# The same app, one run after the other: as provisioned, then re-registered
# with the server's default algorithm (RS256); the app's next token is signed
# with it, no restart.
: >"$OUT/experiments.jsonl"
log "ID tokens signed with $GH_ID_TOKEN_ALG"
experiment "$GH_ID_TOKEN_ALG"
GH_CLIENT=$(jq -r .client_id "$GH_STATE")
"$BIN/gatehouse" --config "$GH_CONFIG" clients update "$GH_CLIENT" --id-token-alg "" | tee -a "$OUT/bench.log"
log "ID tokens signed with the default, RS256"
experiment RS256
[[ $PROFILE == 1 ]] && profile code-rs256 code 16

# --- report -------------------------------------------------------------------
for name in consent hydra gatehouse; do stop_proc "$name"; done
report_args=(-results "$RESULTS" -costs "$OUT/costs.json" -meta "$OUT/meta.json" -png "$OUT/bench.png" -md "$OUT/table.md" -csv "$OUT/results.csv" -link "$FINAL")
[[ -s $OUT/opcounts.jsonl ]] && report_args+=(-opcounts "$OUT/opcounts.jsonl")
[[ -s $OUT/experiments.jsonl ]] && report_args+=(-experiments "$OUT/experiments.jsonl")
"$BIN/report" "${report_args[@]}"
mkdir -p "$FINAL"
cp -r "$OUT/." "$FINAL/"
[[ $UPDATE_DOC == 1 ]] && "$BIN/report" "${report_args[@]}" -update BENCHMARKS.md
log "done: $FINAL/table.md, $FINAL/bench.png (logs and state in $WORK)"
