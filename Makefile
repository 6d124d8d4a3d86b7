# The two commands: `make run` serves the API on 127.0.0.1:3000 (PORT), `make test` runs
# every check and test. Both install what is missing first.
#
# The stores are DynamoDB Local and redis-server as plain processes, run by the `stack` command
# (local/stack; `cargo run -p stack -- help`): one named stack per target, on ports of its own,
# pidfiles and logs in local/.run, data in local/.data.
.PHONY: run test test-web web test-localstack deps status seed clean validate bench build deploy sam-build smoke fuzz check-invariants load scale bench-full

STACK = cargo run -q -p stack --
TARGET = $${CARGO_TARGET_DIR:-target}

# DynamoDB Local and Redis on DDB_PORT/REDIS_PORT (8000/6379), reusing ones a crashed run left
# behind, unless AWS_ENDPOINT_URL_DYNAMODB and REDIS_URL both point elsewhere; then the server
# (which creates the tables and seeds the demo concert) in the foreground. Ctrl-C stops it and
# the stores, by PID.
#
# LOCAL_STORE=localstack serves DynamoDB by LocalStack instead (installed where missing, no
# Docker; on DDB_PORT, default 4566): docs/localstack.md.
LOCAL_STORE ?= dynamodb-local
DEV_DDB_PORT = $(if $(filter localstack,$(LOCAL_STORE)),4566,8000)
run: deps
	@if command -v node >/dev/null && { [ ! -f web/dist/index.html ] || [ -n "$$(find web/src web/public web/package-lock.json -newer web/dist/index.html | head -n 1)" ]; }; then bash web/build.sh; fi
	cargo build --profile local -p devserver
	$(STACK) with dev $${DDB_PORT:-$(DEV_DDB_PORT)} $${REDIS_PORT:-6379} --store $(LOCAL_STORE) --keep-env -- $(TARGET)/local/devserver serve

# On its own in-memory stack (8100/6380, or TEST_DDB_PORT/TEST_REDIS_PORT): local/test.sh.
test:
	bash local/test.sh

# The integration tests against LocalStack (DynamoDB + Streams, no Docker), which it installs
# where missing and starts on 4567 (TEST_LOCALSTACK_PORT) with redis on 6490
# (TEST_LOCALSTACK_REDIS_PORT), and stops after: docs/localstack.md. The test binaries of
# local/devserver it runs, by name (tests/NAME.rs or tests/NAME/main.rs): those whose outcome
# depends on how DynamoDB answers (conditions, transactions and their cancellation reasons,
# batch reads, query pages, the indexes, streams, TTL, the door's conditional write), which is
# what LocalStack could answer otherwise than DynamoDB Local; and, as before, the line (queue),
# the buyer's identity and fair use (identity) and the limits, whose stores are Redis and a
# concert read, so that this run checks no fewer tests than it did. Not the stores' faults
# (faults: DynamoDB Local processes of its own), the Redis Cluster's (cluster), nor the checks
# that reach no store (openapi, template, tls, metrics, hygiene).
LOCALSTACK_TESTS = holds payments balance admin stream regressions invariants tickets queue identity limits
test-localstack:
	bash local/test-localstack.sh $(LOCALSTACK_TESTS)

# The buyer's page (/) and the operator's page (/admin) into web/dist, which the local server
# serves (`make run` builds them when missing or older than their sources): npm ci in web/
# where needed, then esbuild; prints each script's gzipped weight.
web:
	bash web/build.sh

# The pages in headless Chromium (Debian's, installed where missing) against a stack and
# server of their own (in memory, 8500/6385, server on 3500; WEB_DDB_PORT, WEB_REDIS_PORT,
# WEB_PORT and WEB_STACK move them): web/test.sh.
test-web:
	bash web/test.sh

# Java 17+, redis-server, node/npm, curl, openssl, ps (apt), DynamoDB Local (npm ci in local/),
# rustfmt and clippy: whatever is missing.
deps:
	$(STACK) deps

# The stacks up, by name.
status:
	$(STACK) status

# make seed ARGS='--concert-id ID --dates 2026-12-24,2026-12-25 --seats 50 --price 50000'
seed:
	$(STACK) env $${DDB_PORT:-8000} $${REDIS_PORT:-6379} -- cargo run -q --profile local -p devserver -- seed $(ARGS)

validate:
	bash local/validate.sh

# Stops every stack and wipes local/.data and local/.run.
clean:
	$(STACK) clean

# DynamoDB round trips per operation, each write flow's throughput next to its bare
# transaction, the door (a check-in next to a hold), the seat map, and 1,000 holds on 50 seats
# (`load bench` on its own in-memory stack, 8200/6381, or BENCH_DDB_PORT/BENCH_REDIS_PORT and
# BENCH_STACK; everyone admitted at once: it measures writes, not the line), and the invariant
# check over what it wrote. Under 2 minutes once built (BENCH_SCALE 300); `make bench-full` runs
# it at 1,000 (10,000 holds, and the seat map of 2,000 seats all held), then `make load`.
bench: deps
	nice -n 10 cargo build -q --profile local -p devserver -p load
	QUEUE_ACTIVE_LIMIT=1000000 RUST_LOG=warn $(STACK) with $${BENCH_STACK:-bench} $${BENCH_DDB_PORT:-8200} $${BENCH_REDIS_PORT:-6381} --in-memory -- \
	  sh -c '$(TARGET)/local/load bench $${BENCH_SCALE:-300} && $(TARGET)/local/devserver check-invariants'

bench-full:
	$(MAKE) bench BENCH_SCALE=$${BENCH_SCALE:-1000}
	bash local/load.sh

# A line of a million on the real scripts (pipelined EVALSHA, not HTTP) against a redis-server of
# its own (in memory, on 6387 or SCALE_REDIS_PORT): Redis time per poll at 1,000 / 100,000 /
# 1,000,000 waiting, bytes per waiter, the issue rate, the polls the hints ask for, the slowest
# script call; ends with one `scale:` line. QUEUE_POLL_MAX_SECONDS etc. are read as the app does.
scale: deps
	cargo build -q --profile local -p load
	$(TARGET)/local/load scale --port $${SCALE_REDIS_PORT:-6387}

# A ticket-opening spike over HTTP (LOAD_USERS, default 1500) with its invariant check, then the
# poll in-process vs raw EVALSHA, our HTTP layer vs a bare server, and each Lambda binary's cold
# start and size (LOAD_PROFILE=local|release), on a stack of its own (8600/6386, server on 3600).
load:
	bash local/load.sh

# Every function for Lambda (arm64, release) with cargo-lambda, installed first where missing;
# prints each binary's size and zip size.
build:
	bash local/build.sh

# `sam build` then `sam deploy` (--guided while there is no samconfig.toml); ARGS go to sam
# deploy, e.g. ARGS='--parameter-overrides DeletionProtection=false' before `sam delete`.
deploy:
	bash local/deploy.sh $(ARGS)

# `sam build` alone (offline): what deploy uploads, in target/sam/build.
sam-build:
	bash local/deploy.sh --build-only

# The Lambda binaries (the debug build), each polling the Runtime API of `cargo lambda watch
# --only-lambda-apis`, invoked with real API Gateway v2, DynamoDB stream and schedule events
# against an in-memory stack of their own (8300/6382).
smoke:
	bash local/smoke.sh

# schemathesis from openapi.yaml against the local server, on an in-memory stack of its own
# (8400/6383, server on 3400): zero 5xx, every response as the spec declares it.
# FUZZ_EXAMPLES (default 300) cases per operation and phase.
fuzz:
	bash local/fuzz.sh

# Scans both tables and reports any broken invariant (a SOLD seat without exactly one CONFIRMED
# reservation and one payment, a refunded seat still sold, a seat in two live reservations, a
# buyer's seat count that is not their HELD plus CONFIRMED seats, a balance that is not the sum
# of its ledger); exit 1 on any. Against the `make run` stack by default (DDB_PORT, TABLE_NAME to change it);
# ARGS='--user-prefix P --concert-prefix C' checks only those users and concerts.
check-invariants:
	$(STACK) env $${DDB_PORT:-8000} $${REDIS_PORT:-6379} -- cargo run -q --profile local -p devserver -- check-invariants $(ARGS)
