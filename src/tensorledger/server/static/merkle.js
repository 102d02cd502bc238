// In-browser verification of a tensorledger transaction proof, independent of the server's word.
//
// Everything here is recomputed from the proof's bytes with WebCrypto: the log leaf
// (ledger/block.py:log_entry), the RFC 9162 inclusion path up to the checkpoint's root,
// and the checkpoint's C2SP signed-note signature (type 0x02: ECDSA P-256, SHA-256, DER)
// against a verifier key that the caller pins, never one taken from the same response.
// It runs unchanged in Node >= 20 (globalThis.crypto), which is how it is unit-tested.

const subtle = globalThis.crypto.subtle;
const encoder = new TextEncoder();

/** Signed-note signature type for ECDSA (c2sp.org/signed-note). */
export const SIGNATURE_TYPE_ECDSA = 0x02;
const KEY_ID_SIZE = 4;
const HASH_SIZE = 32;
const MAX_SIGNATURES = 100;
const SIG_PREFIX = "\u2014 "; // em dash, space
const MAX_UINT64 = (1n << 64n) - 1n;
// The P-256 group order: signatures with s > n/2 are refused, as Fabric and our Python do.
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const PROOF_TYPE = "tensorledger.TransactionProof/v1";

/** A check that failed; `message` says what, in words an auditor can act on. */
export class VerificationError extends Error {
  constructor(message) {
    super(message);
    this.name = "VerificationError";
  }
}

function fail(message) {
  throw new VerificationError(message);
}

// -- bytes ------------------------------------------------------------------------------------

/** Strict standard base64 to bytes: the alphabet, padding and canonical trailing bits. */
export function b64decode(text, what = "value") {
  if (typeof text !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    fail(`${what} is not valid base64`);
  }
  let binary;
  try {
    binary = atob(text);
  } catch {
    fail(`${what} is not valid base64`);
  }
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  // atob tolerates non-zero unused bits; only the canonical text is accepted.
  if (b64encode(bytes) !== text) fail(`${what} is not canonical base64`);
  return bytes;
}

/** Bytes to standard base64. */
export function b64encode(bytes) {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** Bytes to lowercase hex. */
export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** SHA-256 of bytes, as a Uint8Array. */
export async function sha256(bytes) {
  return new Uint8Array(await subtle.digest("SHA-256", bytes));
}

// -- RFC 9162 Merkle tree ---------------------------------------------------------------------

/** RFC 9162 leaf hash: SHA-256(0x00 || leaf). */
export function leafHash(leaf) {
  return sha256(concat(Uint8Array.of(0), leaf));
}

/** RFC 9162 interior node hash: SHA-256(0x01 || left || right). */
export function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

/**
 * The log's leaf for a transaction, as ledger/block.py:log_entry builds it:
 * 8-byte big-endian block number, 4-byte big-endian position, then the envelope bytes.
 */
export function logEntry(block, index, envelope) {
  const head = new Uint8Array(12);
  const view = new DataView(head.buffer);
  view.setBigUint64(0, BigInt(block));
  view.setUint32(8, index);
  return concat(head, envelope);
}

/**
 * RFC 9162 section 2.1.3.2: the root that `path` leads to from `leafHashBytes` at `index`
 * in a tree of `size` leaves, or null when the path has the wrong length for that tree.
 * Indices are BigInt: JavaScript's bitwise operators would cut them to 32 bits.
 */
export async function rootFromInclusionPath(leafHashBytes, index, size, path) {
  let fn = BigInt(index);
  let sn = BigInt(size) - 1n;
  if (fn < 0n || fn > sn) return null;
  let r = leafHashBytes;
  for (const p of path) {
    if (sn === 0n) return null; // more hashes than the tree has levels
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n ? r : null; // a path too short leaves levels unclimbed
}

/** Whether `path` proves raw leaf data `leaf` at `index` in the tree with root `root`. */
export async function verifyInclusion(leaf, index, size, path, root) {
  if (path.some((h) => h.length !== HASH_SIZE) || root.length !== HASH_SIZE) return false;
  const computed = await rootFromInclusionPath(await leafHash(leaf), index, size, path);
  return computed !== null && equalBytes(computed, root);
}

// -- C2SP signed-note checkpoints -------------------------------------------------------------

/**
 * Parse a signed checkpoint note; the format only, no signature is checked.
 * Returns {origin, size (BigInt), root, extensions, body (the signed bytes), signatures}.
 */
export function parseCheckpoint(text) {
  if (typeof text !== "string" || text.length === 0) fail("checkpoint is missing");
  const control = text.match(/[\x00-\x09\x0b-\x1f]/);
  if (control) fail(`checkpoint contains a control character at ${control.index}`);
  if (!text.endsWith("\n")) fail("checkpoint does not end with a newline");
  const split = text.lastIndexOf("\n\n");
  if (split < 0) fail("checkpoint has no blank line before its signatures");
  const bodyText = text.slice(0, split + 1);
  const sigBlock = text.slice(split + 2);
  if (!sigBlock) fail("checkpoint has no signature lines");
  const sigLines = sigBlock.slice(0, -1).split("\n");
  if (sigLines.length > MAX_SIGNATURES) fail(`checkpoint has more than ${MAX_SIGNATURES} signatures`);

  const lines = bodyText.slice(0, -1).split("\n");
  if (lines.length < 3) fail("checkpoint needs origin, size and root hash lines");
  if (lines.includes("")) fail("checkpoint has an empty line in its text");
  const [origin, sizeText, rootText, ...extensions] = lines;
  if (!/^(0|[1-9][0-9]{0,19})$/.test(sizeText)) fail(`checkpoint size ${JSON.stringify(sizeText)} is not a decimal number`);
  const size = BigInt(sizeText);
  if (size > MAX_UINT64) fail(`checkpoint size ${size} is not a uint64`);
  const root = b64decode(rootText, "checkpoint root hash");
  if (root.length !== HASH_SIZE) fail(`checkpoint root hash is ${root.length} bytes, not ${HASH_SIZE}`);

  const signatures = sigLines.map((line, i) => {
    const n = i + 1;
    if (!line.startsWith(SIG_PREFIX)) fail(`checkpoint signature line ${n} does not start with an em dash`);
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(" ");
    if (space <= 0) fail(`checkpoint signature line ${n} has no key name or signature`);
    const raw = b64decode(rest.slice(space + 1), `checkpoint signature line ${n}`);
    if (raw.length <= KEY_ID_SIZE) fail(`checkpoint signature line ${n} is too short`);
    return { name: rest.slice(0, space), keyId: raw.slice(0, KEY_ID_SIZE), signature: raw.slice(KEY_ID_SIZE) };
  });
  return { origin, size, root, extensions, body: encoder.encode(bodyText), signatures };
}

/**
 * Parse a note verifier key `name+keyid+base64(0x02 || DER SubjectPublicKeyInfo)` and check
 * that its key ID is SHA-256(SPKI)[:4], as signed-note fixes for type 0x02.
 */
export async function parseVerifierKey(text) {
  const parts = typeof text === "string" ? text.trim().split("+") : [];
  // The base64 part may itself hold '+': split on the first two only.
  if (parts.length < 3) fail("verifier key must be name+keyid+base64key");
  const [name, keyIdHex] = parts;
  const keyText = parts.slice(2).join("+");
  if (!name || /[\s+]/.test(name)) fail("verifier key name is empty or holds a space");
  if (!/^[0-9a-f]{8}$/.test(keyIdHex)) fail("verifier key ID must be 8 lowercase hex digits");
  const key = b64decode(keyText, "verifier key");
  if (key.length < 2 || key[0] !== SIGNATURE_TYPE_ECDSA) fail("verifier key is not of signature type 0x02 (ECDSA)");
  const spki = key.slice(1);
  const keyId = (await sha256(spki)).slice(0, KEY_ID_SIZE);
  if (toHex(keyId) !== keyIdHex) fail(`verifier key ID ${keyIdHex} does not match its key (${toHex(keyId)})`);
  let publicKey;
  try {
    publicKey = await subtle.importKey("spki", spki, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  } catch {
    fail("verifier key is not an ECDSA P-256 public key");
  }
  return { name, keyId, publicKey, text: text.trim() };
}

function bytesToBigInt(bytes) {
  return bytes.length ? BigInt(`0x${toHex(bytes)}`) : 0n;
}

/**
 * ASN.1 DER `SEQUENCE { INTEGER r, INTEGER s }` to WebCrypto's raw r || s (32 bytes each).
 * Strict DER: short lengths, minimal positive integers, nothing trailing; high S refused.
 */
export function derToRaw(der) {
  const bad = (why) => fail(`checkpoint signature is not DER ECDSA: ${why}`);
  if (der.length < 8 || der[0] !== 0x30 || der[1] !== der.length - 2 || der[1] > 0x7f) bad("not one short SEQUENCE");
  let at = 2;
  const integer = () => {
    if (der[at] !== 0x02) bad("expected an INTEGER");
    const len = der[at + 1];
    const value = der.slice(at + 2, at + 2 + len);
    if (len === 0 || len > 33 || value.length !== len) bad("INTEGER length");
    if (value[0] & 0x80) bad("negative INTEGER");
    if (len > 1 && value[0] === 0 && !(value[1] & 0x80)) bad("INTEGER not minimal");
    at += 2 + len;
    const trimmed = value[0] === 0 ? value.slice(1) : value;
    if (trimmed.length > 32) bad("INTEGER over 256 bits");
    const out = new Uint8Array(32);
    out.set(trimmed, 32 - trimmed.length);
    return out;
  };
  const r = integer();
  const s = integer();
  if (at !== der.length) bad("trailing bytes");
  const sValue = bytesToBigInt(s);
  if (bytesToBigInt(r) === 0n || sValue === 0n) bad("zero r or s");
  if (sValue > P256_N >> 1n) fail("checkpoint signature has a high S value (not low-S)");
  return concat(r, s);
}

/**
 * Verify a signed checkpoint with a verifier key (text or the object parseVerifierKey gives).
 * Signatures by other keys are ignored; one failing signature by the key rejects the note.
 */
export async function verifyCheckpoint(text, verifierKey) {
  const key = typeof verifierKey === "string" ? await parseVerifierKey(verifierKey) : verifierKey;
  const checkpoint = parseCheckpoint(text);
  const claimed = checkpoint.signatures.filter((s) => s.name === key.name && equalBytes(s.keyId, key.keyId));
  if (claimed.length === 0) fail(`checkpoint has no signature by key ${key.name} (${toHex(key.keyId)})`);
  for (const sig of claimed) {
    const raw = derToRaw(sig.signature);
    const ok = await subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key.publicKey, raw, checkpoint.body);
    if (!ok) fail(`checkpoint signature by ${key.name} does not verify: the note was altered or signed by another key`);
  }
  return checkpoint;
}

// -- the envelope: just enough protobuf to read the channel header ----------------------------

function readVarint(bytes, at) {
  let value = 0n;
  for (let shift = 0n; shift < 70n; shift += 7n) {
    if (at >= bytes.length) fail("envelope does not decode: truncated varint");
    const b = bytes[at++];
    value |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return [value, at];
  }
  fail("envelope does not decode: varint too long");
}

/** The length-delimited fields of a protobuf message: Map(field number -> last value). */
function protoFields(bytes) {
  const fields = new Map();
  let at = 0;
  while (at < bytes.length) {
    let tag;
    [tag, at] = readVarint(bytes, at);
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (field === 0) fail("envelope does not decode: field number 0");
    if (wire === 0) {
      [, at] = readVarint(bytes, at);
    } else if (wire === 1 || wire === 5) {
      at += wire === 1 ? 8 : 4;
    } else if (wire === 2) {
      let len;
      [len, at] = readVarint(bytes, at);
      const end = at + Number(len);
      if (end > bytes.length) fail("envelope does not decode: field runs past the end");
      fields.set(field, bytes.slice(at, end));
      at = end;
    } else {
      fail(`envelope does not decode: wire type ${wire}`);
    }
  }
  if (at !== bytes.length) fail("envelope does not decode: truncated field");
  return fields;
}

/** The transaction id and channel that a Fabric common.Envelope names in its channel header. */
export function envelopeHeader(envelope) {
  const empty = new Uint8Array(0);
  const payload = protoFields(envelope).get(1) ?? empty; // Envelope.payload
  const header = protoFields(payload).get(1) ?? empty; // Payload.header
  const channelHeader = protoFields(header).get(1) ?? empty; // Header.channel_header
  const fields = protoFields(channelHeader);
  const text = (n) => new TextDecoder("utf-8", { fatal: true }).decode(fields.get(n) ?? empty);
  try {
    return { channel: text(4), txId: text(5) }; // ChannelHeader.channel_id, .tx_id
  } catch {
    fail("envelope does not decode: channel header text is not UTF-8");
  }
}

// -- the whole proof --------------------------------------------------------------------------

/**
 * Verify a `tensorledger.TransactionProof/v1` object (the JSON the API serves) against a
 * pinned verifier key. Never throws: returns {ok, reason, steps, checkpoint}, where `steps`
 * lists each check in order with its outcome, and `reason` names the first that failed.
 * `expect` may name the {txId, channel} the user asked about, so a proof of some other
 * transaction is refused.
 */
export async function verifyTransactionProof(proof, verifierKey, expect = {}) {
  const steps = [];
  const step = async (name, check) => {
    try {
      const detail = await check();
      steps.push({ name, ok: true, detail: detail ?? "" });
      return true;
    } catch (err) {
      const reason = err instanceof VerificationError ? err.message : `${name}: ${err}`;
      steps.push({ name, ok: false, detail: reason });
      return false;
    }
  };
  let checkpoint = null;
  let envelope = null;
  let path = null;
  const done = (ok) => ({
    ok,
    reason: ok ? "" : steps[steps.length - 1].detail,
    steps,
    checkpoint: checkpoint && { origin: checkpoint.origin, size: checkpoint.size, rootHex: toHex(checkpoint.root) },
  });

  const ok =
    (await step("proof format", () => {
      if (!proof || typeof proof !== "object") fail("proof is not a JSON object");
      if (proof.type !== PROOF_TYPE) fail(`proof type is ${JSON.stringify(proof.type)}, not ${PROOF_TYPE}`);
      for (const k of ["block", "index", "leaf_index"]) {
        if (!Number.isSafeInteger(proof[k]) || proof[k] < 0) fail(`proof field ${k} is not a non-negative integer`);
      }
      if (proof.block >= 2 ** 63 || proof.index >= 2 ** 31) fail("block or position out of range");
      if (!Array.isArray(proof.path)) fail("proof field path is not a list");
      envelope = b64decode(proof.envelope, "proof envelope");
      path = proof.path.map((h, i) => b64decode(h, `proof path[${i}]`));
      if (path.some((h) => h.length !== HASH_SIZE)) fail("a proof path hash is not 32 bytes");
      if (expect.txId && proof.tx_id !== expect.txId) fail(`proof is for transaction ${proof.tx_id}, not ${expect.txId}`);
      if (expect.channel && proof.channel !== expect.channel) fail(`proof is for channel ${proof.channel}, not ${expect.channel}`);
      return `${path.length} path hashes, leaf ${proof.leaf_index}`;
    })) &&
    (await step("checkpoint signature", async () => {
      const key = typeof verifierKey === "string" ? await parseVerifierKey(verifierKey) : verifierKey;
      checkpoint = await verifyCheckpoint(proof.checkpoint, key);
      return `${checkpoint.size} leaves, signed by the pinned key ${toHex(key.keyId)}`;
    })) &&
    (await step("envelope", () => {
      const header = envelopeHeader(envelope);
      if (header.txId !== proof.tx_id || header.channel !== proof.channel) {
        fail(`envelope is transaction ${JSON.stringify(header.txId)} on channel ${JSON.stringify(header.channel)}, not ${proof.tx_id} on ${proof.channel}`);
      }
      return `transaction ${header.txId.slice(0, 16)}… on ${header.channel}`;
    })) &&
    (await step("inclusion", async () => {
      const entry = logEntry(proof.block, proof.index, envelope);
      if (BigInt(proof.leaf_index) >= checkpoint.size) fail(`leaf ${proof.leaf_index} is outside the checkpoint's ${checkpoint.size} leaves`);
      if (!(await verifyInclusion(entry, proof.leaf_index, checkpoint.size, path, checkpoint.root))) {
        fail(`inclusion proof for block ${proof.block} position ${proof.index} (leaf ${proof.leaf_index}) does not match the root of checkpoint size ${checkpoint.size}`);
      }
      return `leaf ${proof.leaf_index} of ${checkpoint.size} hashes up to the signed root`;
    }));
  return done(ok);
}
