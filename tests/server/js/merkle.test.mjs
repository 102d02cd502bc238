// Unit tests of the explorer's in-browser verifier, src/tensorledger/server/static/merkle.js.
//
// Known answers come from transparency-dev/merkle's test vectors (RFC 9162 trees) and from
// proofs our Python ledger made (tests/server/test_merkle_js.py writes them to the file named
// by MERKLE_PROOF_CASES, each with the verdict it must get). Run: node --test this-file.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

// merkle.js is an ES module without a package.json saying so; load it as one by source.
const source = readFileSync(new URL("../../../src/tensorledger/server/static/merkle.js", import.meta.url), "utf8");
const m = await import(`data:text/javascript;base64,${Buffer.from(source).toString("base64")}`);

const hex = (h) => Uint8Array.from(Buffer.from(h, "hex"));
const casesPath = process.env.MERKLE_PROOF_CASES;
const fixture = casesPath ? JSON.parse(readFileSync(casesPath, "utf8")) : null;
const needsFixture = { skip: fixture ? false : "MERKLE_PROOF_CASES not set" };

// transparency-dev/merkle proof/verify_test.go
const KAT_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map(hex);
const KAT_ROOTS = [
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];
const KAT_INCLUSION = [
  [0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]],
  [5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]],
  [2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]],
  [1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]],
  [0, 1, []],
];

test("inclusion proofs of the RFC 9162 known answers verify", async () => {
  for (const [index, size, path] of KAT_INCLUSION) {
    const root = hex(KAT_ROOTS[size - 1]);
    assert.equal(await m.verifyInclusion(KAT_LEAVES[index], index, size, path.map(hex), root), true, `leaf ${index} of ${size}`);
  }
});

test("every one-bit change to a known-answer inclusion proof is refused", async () => {
  for (const [index, size, path] of KAT_INCLUSION) {
    const root = hex(KAT_ROOTS[size - 1]);
    const hashes = path.map(hex);
    for (let i = 0; i < hashes.length; i++) {
      for (let byte = 0; byte < 32; byte += 7) {
        const bad = hashes.map((h) => h.slice());
        bad[i][byte] ^= 0x80;
        assert.equal(await m.verifyInclusion(KAT_LEAVES[index], index, size, bad, root), false);
      }
    }
    const wrongIndex = index ^ 1;
    if (wrongIndex < size) assert.equal(await m.verifyInclusion(KAT_LEAVES[index], wrongIndex, size, hashes, root), false);
    assert.equal(await m.verifyInclusion(KAT_LEAVES[index], index, size, [...hashes, hex(KAT_ROOTS[0])], root), false, "extra hash");
    assert.equal(await m.verifyInclusion(KAT_LEAVES[index], index, index, hashes, root), false, "index = size");
  }
});

test("leaf and node hashes follow RFC 9162's domain separation", async () => {
  assert.equal(m.toHex(await m.leafHash(new Uint8Array(0))), KAT_ROOTS[0]);
  const l = await m.leafHash(KAT_LEAVES[0]);
  const r = await m.leafHash(KAT_LEAVES[1]);
  assert.equal(m.toHex(await m.nodeHash(l, r)), KAT_ROOTS[1]);
});

test("the log entry is 8-byte block, 4-byte position, then the envelope", () => {
  const entry = m.logEntry(258, 3, Uint8Array.of(0xaa, 0xbb));
  assert.equal(m.toHex(entry), "0000000000000102" + "00000003" + "aabb");
  assert.equal(m.toHex(m.logEntry(2 ** 40, 0, new Uint8Array(0))), "0000010000000000" + "00000000");
});

test("base64 is decoded strictly", () => {
  assert.deepEqual(Array.from(m.b64decode("AAE=")), [0, 1]);
  for (const bad of ["AAF=", "AA=", "A A=", "AA==AA==", "AA-_", 7]) {
    assert.throws(() => m.b64decode(bad), m.VerificationError, String(bad));
  }
});

test("DER signatures become raw r || s, and malformed or high-S ones are refused", () => {
  const der = hex("3006" + "020101" + "020102");
  assert.equal(m.toHex(m.derToRaw(der)), "00".repeat(31) + "01" + "00".repeat(31) + "02");
  const highBit = hex("3007" + "02020080" + "020102"); // r = 0x80 needs a leading zero
  assert.equal(m.toHex(m.derToRaw(highBit).slice(0, 32)), "00".repeat(31) + "80");
  const n = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
  const highS = hex("3026" + "020101" + "022100" + n.replace(/51$/, "50"));
  assert.throws(() => m.derToRaw(highS), /high S/);
  for (const bad of ["3006020101020102ff", "3106020101020102", "300602010102020001", "3006020181020102", "3005020101020102"]) {
    assert.throws(() => m.derToRaw(hex(bad)), m.VerificationError, bad);
  }
});

test("a malformed verifier key is refused with a reason", async () => {
  await assert.rejects(m.parseVerifierKey("no-plus-signs"), /name\+keyid\+base64key/);
  await assert.rejects(m.parseVerifierKey("name+ABCDEF01+AgA="), /8 lowercase hex/);
  await assert.rejects(m.parseVerifierKey("name+abcdef01+AQA="), /type 0x02/);
});

test("each proof case gets the verdict it was made for", needsFixture, async () => {
  for (const c of fixture.cases) {
    const result = await m.verifyTransactionProof(c.proof, fixture.verifier_key);
    assert.equal(result.ok, c.fails_at === null, `${c.name}: ${result.reason}`);
    if (c.fails_at === null) {
      assert.equal(result.reason, "");
      assert.deepEqual(result.steps.map((s) => s.ok), [true, true, true, true], c.name);
      assert.equal(result.checkpoint.size > 0n, true);
    } else {
      const last = result.steps.at(-1);
      assert.equal(last.name, c.fails_at, `${c.name} failed at ${last.name}: ${last.detail}`);
      assert.equal(last.ok, false);
      assert.equal(result.reason, last.detail);
      assert.ok(result.reason.length > 10, c.name);
    }
  }
});

test("a valid proof fails against a different pinned key, naming the missing signature", needsFixture, async () => {
  const valid = fixture.cases.find((c) => c.fails_at === null);
  const result = await m.verifyTransactionProof(valid.proof, fixture.other_key);
  assert.equal(result.ok, false);
  assert.match(result.reason, /no signature by key/);
});

test("a valid proof of another transaction than the one asked about is refused", needsFixture, async () => {
  const valid = fixture.cases.find((c) => c.fails_at === null);
  const asked = { txId: "f".repeat(64), channel: valid.proof.channel };
  const result = await m.verifyTransactionProof(valid.proof, fixture.verifier_key, asked);
  assert.equal(result.ok, false);
  assert.match(result.reason, /not f{64}/);
  const right = await m.verifyTransactionProof(valid.proof, fixture.verifier_key, { txId: valid.proof.tx_id, channel: valid.proof.channel });
  assert.equal(right.ok, true, right.reason);
});

test("the envelope's channel header names the proof's transaction", needsFixture, () => {
  for (const c of fixture.cases.filter((x) => x.fails_at === null)) {
    const header = m.envelopeHeader(m.b64decode(c.proof.envelope));
    assert.equal(header.txId, c.proof.tx_id);
    assert.equal(header.channel, c.proof.channel);
  }
});

test("a proof that is not one is refused at the format step", async () => {
  for (const bad of [null, {}, { type: "tensorledger.TransactionProof/v1", block: -1, index: 0, leaf_index: 0, path: [] }]) {
    const result = await m.verifyTransactionProof(bad, "k+00000000+AgA=");
    assert.equal(result.ok, false);
    assert.equal(result.steps.at(-1).name, "proof format");
  }
});
