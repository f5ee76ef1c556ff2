// The REST API and its live streams, for the three pages. Plain ES module:
// no build step, nothing fetched from elsewhere.

const TOKEN_KEY = "foodmesh.token";

/** The bearer token entered on this tab (kept for the session), or "". */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY) ?? "";
}

/** Keeps `value` as the bearer token for this tab; "" forgets it. */
export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value.trim());
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** What a token says of its holder (role, sub, restaurant_id), or null. */
export function claims(value = token()) {
  try {
    const part = value.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch {
    return null;
  }
}

/** How far the platform's clock is ahead of this device's, in ms. */
let clockOffset = 0;

/**
 * The platform's time now, as it last told it: the deadlines and ages it
 * gives (an order's cancel window, a ticket's age) are judged by its
 * clock, not by a phone's or a tablet's that may be minutes off.
 */
export function serverNow() {
  return Date.now() + clockOffset;
}

/** Learns the platform's time `at` (ms) from what it sent just now, such as a stream's `server_time`. */
export function learnServerTime(at) {
  if (Number.isFinite(at)) clockOffset = at - Date.now();
}

function noteServerTime(answer) {
  const date = Date.parse(answer.headers.get("Date") ?? "");
  if (Number.isNaN(date)) return;
  // `Date` is in whole seconds: it corrects the estimate only where they
  // disagree by more than that grain, so a finer one (a stream's) stays.
  if (Math.abs(date - serverNow()) > 2000) learnServerTime(date);
}

/** A refusal or failure of the API: its problem document's fields. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `HTTP ${status}`);
    this.status = status;
    this.code = problem?.code ?? "";
    this.errors = problem?.errors ?? [];
    this.problem = problem;
  }

  /** The message for `field`, when the API named it. */
  about(field) {
    return this.errors.find((e) => e.field === field)?.message ?? "";
  }
}

/**
 * Calls the API: `body` is sent as JSON; `orderToken` as X-Order-Token;
 * `headers` added. Resolves to the JSON answer (null for 204); rejects with
 * an ApiError carrying the problem.
 */
export async function api(method, path, { body, orderToken, headers = {}, auth = true } = {}) {
  const sent = { Accept: "application/json", ...headers };
  if (auth && token()) sent.Authorization = `Bearer ${token()}`;
  if (orderToken) sent["X-Order-Token"] = orderToken;
  if (body !== undefined) sent["Content-Type"] = "application/json";
  const answer = await fetch(path, {
    method,
    headers: sent,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  noteServerTime(answer);
  const text = await answer.text();
  const json = text ? JSON.parse(text) : null;
  if (!answer.ok) throw new ApiError(answer.status, json);
  return json;
}

/**
 * Follows a Server-Sent Events stream with the bearer token (EventSource
 * cannot send one), reconnecting after a drop with growing pauses (1 s up
 * to 15 s) and `Last-Event-ID`. `onEvent(name, data)` gets each event's
 * parsed JSON; `onState("live" | "reconnecting" | "refused", error)` says
 * where the stream is: a refusal (4xx) is final. `auth: false` leaves the
 * bearer token out (a guest's stream, opened with `orderToken`). Returns a
 * function that stops it.
 */
export function follow(path, { onEvent, onState = () => {}, orderToken, auth = true } = {}) {
  let stopped = false;
  let controller = null;
  let lastId = "";
  let pause = 1000;

  async function run() {
    while (!stopped) {
      controller = new AbortController();
      try {
        const headers = { Accept: "text/event-stream" };
        if (auth && token()) headers.Authorization = `Bearer ${token()}`;
        if (orderToken) headers["X-Order-Token"] = orderToken;
        if (lastId) headers["Last-Event-ID"] = lastId;
        const answer = await fetch(path, { headers, signal: controller.signal });
        // 429 is a pause, like a drop; any other refusal will not change.
        if (answer.status >= 400 && answer.status < 500 && answer.status !== 429) {
          const text = await answer.text();
          onState("refused", new ApiError(answer.status, text ? JSON.parse(text) : null));
          return;
        }
        if (!answer.ok || !answer.body) throw new Error(`HTTP ${answer.status}`);
        onState("live");
        pause = 1000;
        await read(answer.body, (event) => {
          if (event.id) lastId = event.id;
          if (event.name === "problem") throw new Error("the stream failed");
          onEvent(event.name, event.data ? JSON.parse(event.data) : null);
        });
      } catch (error) {
        if (stopped) return;
        onState("reconnecting", error);
      }
      if (stopped) return;
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, 15000);
    }
  }

  run();
  return () => {
    stopped = true;
    controller?.abort();
  };
}

/** Reads an event stream body, calling `each({name, id, data})` per event. */
async function read(body, each) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = { name: "message", id: "", data: "" };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the stream ended");
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, end).replace(/\r$/, "");
      buffer = buffer.slice(end + 1);
      if (line === "") {
        if (event.data || event.name !== "message") each(event);
        event = { name: "message", id: "", data: "" };
      } else if (!line.startsWith(":")) {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event.name = text;
        else if (field === "id") event.id = text;
        else if (field === "data") event.data += (event.data ? "\n" : "") + text;
      }
    }
  }
}

/** `amount` (a number from the API) in `currency`, for people. */
export function money(amount, currency = "USD") {
  return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(Number(amount));
}

/** A tiny element builder: el("button", {class: "x", onclick}, "text", child). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
