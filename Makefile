# The two commands: `make run` serves the API on 127.0.0.1:3000 (PORT), `make test` runs
# every check and test. Both install what is missing first.
.PHONY: run test seed clean validate bench

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

# DynamoDB round trips per operation, and each write flow's throughput next to its bare
# transaction, against an in-memory stack of its own.
bench:
	bash local/bench.sh
