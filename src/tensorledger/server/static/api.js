// The REST API of docs/design/server.md as the explorer uses it: the token, the channel,
// JSON reads with the server's one-line errors, and the live block stream.

const API = "/api/v1";
const TOKEN_KEY = "tensorledger.token";
const CHANNEL_KEY = "tensorledger.channel";

/** A refused request: the HTTP status and the server's `{"error": ...}` line. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

// The token lives for the browser tab only: sessionStorage, never localStorage or a cookie.
export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) ?? "",
  set: (value) => (value ? sessionStorage.setItem(TOKEN_KEY, value.trim()) : sessionStorage.removeItem(TOKEN_KEY)),
};

export const channel = {
  get: () => localStorage.getItem(CHANNEL_KEY) ?? "mychannel",
  set: (value) => localStorage.setItem(CHANNEL_KEY, value),
};

/** A path segment, escaped: record ids and keys come from the ledger, not from us. */
export const seg = (value) => encodeURIComponent(String(value));

async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  const bearer = token.get();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, `the server did not answer (${err.message})`);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    // an empty or non-JSON body: the status says enough
  }
  if (!response.ok) {
    throw new ApiError(response.status, data?.error ?? `${response.status} ${response.statusText}`);
  }
  return data;
}

/** GET a JSON document from the API. */
export const get = (path) => request("GET", path);

/** POST a JSON body to the API. */
export const post = (path, body) => request("POST", path, body);

/** GET under the current channel: ch("/blocks") is /channels/<current>/blocks. */
export const ch = (path) => get(`/channels/${seg(channel.get())}${path}`);

/**
 * Live blocks of the current channel, from `from` (default: only new ones). Calls onBlock with
 * each `{number, tx_count, data_hash, time}` and onState("live" | "connecting" | "offline").
 * EventSource cannot send headers, so the token goes in the query, as the server allows there.
 * Returns a function that closes the stream.
 */
export function blockStream(onBlock, onState, from) {
  const query = new URLSearchParams();
  if (from !== undefined) query.set("from", String(from));
  if (token.get()) query.set("access_token", token.get());
  const url = `${API}/channels/${seg(channel.get())}/events${query.size ? `?${query}` : ""}`;
  const source = new EventSource(url);
  onState("connecting");
  source.addEventListener("open", () => onState("live"));
  source.addEventListener("error", () => onState(source.readyState === EventSource.CLOSED ? "offline" : "connecting"));
  source.addEventListener("block", (event) => {
    try {
      onBlock(JSON.parse(event.data));
    } catch {
      // a malformed event is skipped; the next block still arrives
    }
  });
  return () => source.close();
}
