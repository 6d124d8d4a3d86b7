# The two commands: `make run` serves the API on 127.0.0.1:3000 (PORT), `make test` runs
# every check and test. Both install what is missing first.
.PHONY: run test seed clean validate bench build deploy sam-build smoke fuzz check-invariants load

run:
	bash local/run.sh

test:
	bash local/test.sh

# make seed ARGS='--concert-id ID --dates 2026-12-24,2026-12-25 --seats 50 --price 50000'
seed:
	bash -c 'source local/env.sh && local_env dev $${DDB_PORT:-8000} $${REDIS_PORT:-6379} && cargo run -q --profile local -p devserver -- seed $(ARGS)'

validate:
	bash local/validate.sh

clean:
	bash local/stack.sh clean

# DynamoDB round trips per operation, each write flow's throughput next to its bare
# transaction and 10,000 holds on 50 seats (own in-memory stack, 8200/6381), then `make load`.
bench:
	bash local/bench.sh
	bash local/load.sh

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

# The Lambda binaries under `cargo lambda watch`, invoked with real API Gateway v2, DynamoDB
# stream and schedule events against an in-memory stack of their own (8300/6382).
smoke:
	bash local/smoke.sh

# schemathesis from openapi.yaml against the local server, on an in-memory stack of its own
# (8400/6383, server on 3400): zero 5xx, every response as the spec declares it.
# FUZZ_EXAMPLES (default 300) cases per operation and phase.
fuzz:
	bash local/fuzz.sh

# Scans both tables and reports any broken invariant (a SOLD seat without exactly one CONFIRMED
# reservation and one payment, a seat held twice, a balance that is not the sum of its ledger);
# exit 1 on any. Against the `make run` stack by default (DDB_PORT, TABLE_NAME to change it);
# ARGS='--user-prefix P --concert-prefix C' checks only those users and concerts.
check-invariants:
	bash -c 'source local/env.sh && local_env dev $${DDB_PORT:-8000} $${REDIS_PORT:-6379} && cargo run -q --profile local -p devserver -- check-invariants $(ARGS)'
