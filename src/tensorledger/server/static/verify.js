// The Verify panel: fetch a transaction's proof, check it in the browser with merkle.js
// against a verifier key the user pinned, and say pass or fail with the reason.
//
// Trust: the key is pinned on first use (localStorage, per channel) rather than taken from each
// response; a server that later presents another key is shown as a warning, and verification
// keeps using the pinned key until the user chooses to trust the new one or pastes their own.
import { ApiError, ch, channel, seg } from "./api.js";
import { h } from "./dom.js";
import { parseVerifierKey, toHex, verifyTransactionProof } from "./merkle.js";

const PIN_PREFIX = "tensorledger.verifier.";

/** The pinned verifier key text for the current channel, or "". */
export const pinned = {
  get: () => localStorage.getItem(PIN_PREFIX + channel.get()) ?? "",
  set: (key) => localStorage.setItem(PIN_PREFIX + channel.get(), key.trim()),
};

async function keyId(text) {
  try {
    const key = await parseVerifierKey(text);
    return `${key.name} (key id ${toHex(key.keyId)})`;
  } catch (err) {
    return `an unreadable key (${err.message})`;
  }
}

/** The pinned key, pinning the server's on first use; notes what happened in `notes`. */
async function pinnedKey(notes, rerun) {
  const offered = (await ch("/checkpoint")).verifier_key;
  const mine = pinned.get();
  if (!mine) {
    pinned.set(offered);
    notes.append(
      h("p", { class: "note" }, `Pinned the verifier key on first use: ${await keyId(offered)}. `,
        "Compare it with the key your network's operators published; later checks use this pinned key, whatever the server says."),
    );
    return offered;
  }
  if (mine !== offered) {
    const trust = h("button", { type: "button", class: "secondary" }, "Trust the server's new key");
    trust.addEventListener("click", () => {
      pinned.set(offered);
      rerun();
    });
    notes.append(
      h("div", { class: "warning", role: "alert" },
        h("strong", null, "The server presents a different verifier key. "),
        `You pinned ${await keyId(mine)}; the server now offers ${await keyId(offered)}. `,
        "Verification uses your pinned key. Trust the new key only if the network's operators announced a change.",
        " ", trust),
    );
  }
  return mine;
}

/** The Verify button and its result area, for one transaction. */
export function verifyPanel(tx) {
  const button = h("button", { type: "button", class: "primary", id: "verify-button" }, "Verify in this browser");
  const notes = h("div", { class: "verify-notes" });
  const result = h("div", { class: "verify-result", id: "verify-result", "aria-live": "polite" });
  const run = async () => {
    button.disabled = true;
    notes.replaceChildren();
    result.replaceChildren(h("p", { class: "muted" }, "Checking the proof…"));
    try {
      const proof = await ch(`/proofs/transactions/${seg(tx.tx_id)}`);
      if (proof.type === FABRIC_PROOF) {
        result.replaceChildren(...renderBlockProof(proof));
        return;
      }
      const key = await pinnedKey(notes, run);
      const outcome = await verifyTransactionProof(proof, key, { txId: tx.tx_id, channel: channel.get() });
      result.replaceChildren(...render(outcome));
    } catch (err) {
      const why = err instanceof ApiError && err.status === 404 ? `no proof: ${err.message}` : err.message;
      result.replaceChildren(...render({ ok: false, reason: why, steps: [], checkpoint: null }));
    } finally {
      button.disabled = false;
    }
  };
  button.addEventListener("click", run);
  return h(
    "section",
    { class: "card verify", "aria-labelledby": "verify-h" },
    h("h2", { id: "verify-h" }, "Proof of inclusion"),
    h("p", { class: "muted" },
      "Recomputes the Merkle path from this transaction's envelope up to the orderer-signed checkpoint, "
      + "and checks the checkpoint's ECDSA signature against your pinned key: the server's word is not taken."),
    h("div", { class: "actions" }, button, keyEditor()),
    notes,
    result,
  );
}

const FABRIC_PROOF = "tensorledger.FabricBlockProof/v1";

/**
 * A Fabric network proves inclusion with the orderer-signed block itself (docs/design/server.md).
 * Checking it needs protobuf decoding and X.509 chains this page does not carry: show what the
 * proof claims, and how to check it offline, rather than a verdict the browser did not reach.
 */
function renderBlockProof(proof) {
  const kib = (b64) => `${((b64.length * 3) / 4 / 1024).toFixed(1)} KiB`;
  return [
    h("p", { class: "verdict", "data-verdict": "unavailable" },
      "Block proof: browser verification of Fabric block proofs is not available."),
    h("ul", { class: "steps" },
      h("li", null, h("strong", null, "Block "), String(proof.block), h("span", { class: "muted" }, ` (${kib(proof.block_bytes)}, orderer-signed)`)),
      h("li", null, h("strong", null, "Position "), String(proof.index), h("span", { class: "muted" }, ` of transaction ${proof.tx_id.slice(0, 16)}…`)),
      h("li", null, h("strong", null, "Previous header "), h("span", { class: "muted" }, kib(proof.previous_header)))),
    h("p", { class: "muted small" },
      "Save the proof (GET …/proofs/transactions/<tx>) and check it offline with "
      + "FabricBlockProof.from_json(text).verify(orderer_ca_pem): envelope in the block, data hash, "
      + "previous-header hash, orderer signature."),
  ];
}

function render(outcome) {
  const verdict = outcome.ok
    ? h("p", { class: "verdict pass", "data-verdict": "pass" }, "✓ Verified: this transaction is in the signed log.")
    : h("p", { class: "verdict fail", "data-verdict": "fail" }, "✗ Verification failed: ", h("span", { class: "reason" }, outcome.reason));
  const steps = outcome.steps.length
    ? h("ol", { class: "steps" }, outcome.steps.map((st) =>
        h("li", { class: st.ok ? "ok" : "bad" }, h("span", { class: "step-mark", "aria-hidden": "true" }, st.ok ? "✓" : "✗"),
          h("strong", null, st.name), " ", h("span", { class: "muted" }, st.detail))))
    : null;
  const cp = outcome.checkpoint
    ? h("p", { class: "muted small" }, `Checkpoint ${cpText(outcome.checkpoint)}`)
    : null;
  return [verdict, steps, cp].filter(Boolean);
}

function cpText(cp) {
  return `${cp.origin}, ${cp.size} leaves, root ${cp.rootHex.slice(0, 16)}…`;
}

/** A disclosure to see, replace or forget the pinned key (e.g. pasted from an operator's notice). */
function keyEditor() {
  const input = h("textarea", { id: "pinned-key", rows: 3, spellcheck: "false", class: "mono" });
  const status = h("p", { class: "small", "aria-live": "polite" });
  const save = h("button", { type: "button", class: "secondary" }, "Pin this key");
  const details = h(
    "details",
    { class: "key-editor" },
    h("summary", null, "Pinned verifier key"),
    h("label", { for: "pinned-key" }, "Verifier key (name+keyid+base64)"),
    input,
    h("div", { class: "actions" }, save),
    status,
  );
  details.addEventListener("toggle", () => {
    if (details.open) input.value = pinned.get();
  });
  save.addEventListener("click", async () => {
    try {
      await parseVerifierKey(input.value);
      pinned.set(input.value);
      status.textContent = "Pinned.";
    } catch (err) {
      status.textContent = `Not pinned: ${err.message}`;
    }
  });
  return details;
}
