// Verifies a ticket code offline, with nothing but the stack's public keys, the way a gate
// app would: `node local/verify-ticket.mjs JWKS_FILE CODE`. Exit 0 and the ticket's facts as
// JSON when a key of the JWKS signed it; exit 1 and the reason otherwise.
//
// It uses Node's own crypto only (Ed25519 from a JWK, RFC 8037), not the project's code: the
// integration test `tickets::offline` runs it to show that a code checks out for anyone.
import { readFileSync } from "node:fs";
import { createPublicKey, verify } from "node:crypto";

function refuse(reason) {
  console.error(`not a valid ticket: ${reason}`);
  process.exit(1);
}

const [jwksFile, code] = process.argv.slice(2);
if (!jwksFile || code === undefined) refuse("usage: verify-ticket.mjs JWKS_FILE CODE");
const jwks = JSON.parse(readFileSync(jwksFile, "utf8"));

// <kid>.<ticketId>.<concertId>.<date>.<seatNo>.<signature>: the signature is over the ASCII
// bytes of everything before the last dot.
const dot = code.lastIndexOf(".");
const signed = code.slice(0, dot);
const signature = code.slice(dot + 1);
const parts = signed.split(".");
if (dot < 0 || parts.length !== 5 || !/^[A-Za-z0-9_-]{86}$/.test(signature)) {
  refuse("not shaped like a ticket code");
}
const [kid, ticketId, concertId, date, seatNo] = parts;
const jwk = jwks.keys.find((k) => k.kid === kid && k.kty === "OKP" && k.crv === "Ed25519");
if (!jwk) refuse(`no key ${kid} in the JWKS`);
const key = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, format: "jwk" });
if (!verify(null, Buffer.from(signed, "ascii"), key, Buffer.from(signature, "base64url"))) {
  refuse("the signature does not verify");
}
console.log(JSON.stringify({ kid, ticketId, concertId, date, seatNo: Number(seatNo) }));
