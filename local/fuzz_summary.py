"""What a `make fuzz` run reached: every operation's answers, by status and code, from the HAR
file schemathesis wrote; and, given the identity probes' log (local/fuzz_identity.py), how
often each kind of refused credential was sent and what it was answered.
Usage: fuzz_summary.py RUN.har [IDENTITY.tsv]"""

import collections
import json
import re
import sys

TEMPLATES = (
    (r"^/concerts/[^/]+/dates/[^/]+/seats$", "/concerts/{concertId}/dates/{date}/seats"),
    (r"^/concerts/[^/]+/dates$", "/concerts/{concertId}/dates"),
    (r"^/users/[^/]+/balance/charges$", "/users/{userId}/balance/charges"),
    (r"^/users/[^/]+/balance$", "/users/{userId}/balance"),
    (r"^/reservations/[^/]+/refund$", "/reservations/{reservationId}/refund"),
    (r"^/reservations/[^/]+$", "/reservations/{reservationId}"),
    (r"^/admin/concerts/[^/]+/queue$", "/admin/concerts/{concertId}/queue"),
    (r"^/admin/concerts/[^/]+$", "/admin/concerts/{concertId}"),
)


def main(path: str) -> None:
    with open(path) as f:
        entries = json.load(f)["log"]["entries"]
    seen: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for entry in entries:
        request, response = entry["request"], entry["response"]
        target = re.sub(r"^https?://[^/]+", "", request["url"]).split("?")[0]
        for pattern, template in TEMPLATES:
            if re.match(pattern, target):
                target = template
                break
        try:
            body = json.loads(response["content"].get("text") or "null")
        except ValueError:
            body = None
        detail = ""
        if isinstance(body, dict):
            # A problem's code; the gateway's 401 says only {"message": "Unauthorized"}.
            detail = str(body.get("code") or body.get("message") or body.get("status") or "")
        seen[f"{request['method']} {target}"][f"{response['status']} {detail}".strip()] += 1
    print(f"{len(entries)} requests:")
    for op in sorted(seen, key=lambda o: (-sum(seen[o].values()), o)):
        total = sum(seen[op].values())
        if total < 10:
            continue  # a method the path does not have, tried once by the unsupported-method probe
        answers = ", ".join(f"{k} x{v}" for k, v in sorted(seen[op].items()))
        print(f"  {op} ({total}): {answers}")


def identity(path: str) -> None:
    try:
        with open(path) as f:
            rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    except FileNotFoundError:
        print("identity boundary: no probes were sent")
        return
    kinds: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    operations = set()
    for operation, kind, status in rows:
        kinds[kind][status] += 1
        operations.add(operation)
    print(f"identity boundary: {len(rows)} probes over {len(operations)} operations:")
    for kind in sorted(kinds):
        answers = ", ".join(f"{k} x{v}" for k, v in sorted(kinds[kind].items()))
        print(f"  {kind}: {answers}")


if __name__ == "__main__":
    main(sys.argv[1])
    if len(sys.argv) > 2:
        identity(sys.argv[2])
