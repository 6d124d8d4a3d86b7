# Sourced by the scripts that share the one debug build (local/debug-build.sh and the checks that
# run it): the workspace's own crates are compiled by clippy-driver, as `cargo clippy` runs it
# (RUSTC_WORKSPACE_WRAPPER, with -D warnings), and the dependencies by rustc. One build then both
# lints and compiles: a separate `cargo clippy` checks every dependency once more, which took 4
# of a cold `make test`'s 15 minutes on two cores with one busy. Every cargo command of these
# scripts runs with the same two variables, or cargo would build the workspace's crates again.
# (By hand, `cargo clippy` and `cargo test` work as ever: they compile the workspace's crates
# without it, and the next of these scripts compiles them with it again, a minute or so.)
# clippy where it is missing (the rustup proxy `clippy-driver` exists without the component).
if ! rustup component list --installed 2>/dev/null | grep -q '^clippy'; then
  rustup component add clippy >&2
fi
clippy_driver="$(rustc --print sysroot)/bin/clippy-driver"
export RUSTC_WORKSPACE_WRAPPER="$clippy_driver"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
unset clippy_driver
