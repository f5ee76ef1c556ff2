// The kitchen display: a restaurant's open tickets, live from
// GET /api/kitchen/stream, moved along with one tap
// (PUT /api/kitchen/orders/{id}/status). Plain ES module, no build step.

import { api, ApiError, follow, token, setToken, claims, el, learnServerTime, serverNow } from "/ui/api.js";

/** The nodes given, without the nulls a condition left. */
const present = (...nodes) => nodes.filter((node) => node !== null && node !== undefined && node !== false);

/** Where the admin's chosen kitchen is kept for the tab. */
const RESTAURANT_KEY = "foodmesh.kitchen.restaurant";
/** Statuses of the open queue; any other status drops a ticket. */
const OPEN = new Set(["queued", "accepted", "preparing", "ready"]);
/** How often the ages on the cards are brought up to date. */
const AGE_EVERY_MS = 15_000;
/** Past `ready_by` a card turns warn; this much later, bad. */
const BAD_AFTER_MS = 5 * 60_000;
/** How long a notice stays up. */
const NOTICE_MS = 6_000;
/** Dropped tickets remembered (to ignore stale copies of them). */
const GONE_KEPT = 500;

const STATUS_LABEL = {
  queued: "Queued",
  accepted: "Accepted",
  preparing: "Preparing",
  ready: "Ready",
};

/** The one-tap move of each open status: [next status, button text]. */
const NEXT = {
  queued: ["accepted", "Accept"],
  accepted: ["preparing", "Start preparing"],
  preparing: ["ready", "Mark ready"],
  ready: ["picked_up", "Picked up"],
};

const $ = (id) => document.getElementById(id);
const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

// ---------------------------------------------------------------------------
// State

/** Open tickets shown, by id. */
let tickets = new Map();
/** id → version of tickets that left the queue (a late copy must not revive them). */
const gone = new Map();
/** The run of snapshots being collected (replaces `tickets` on `synced`), or null. */
let pending = null;
/** True once the first `synced` arrived: later unknown tickets are alerts. */
let initiallySynced = false;
/** True while the current connection has sent its `synced`. */
let fresh = false;
/** Stops the stream; null when not following. */
let stopStream = null;
/** Ticket ids with a status change in flight. */
const busy = new Set();
/** The card elements, by ticket id. */
const cards = new Map();
/** The ticket the reject dialog is about, or null. */
let rejecting = null;
let ageTimer = null;
let wakeLock = null;

// ---------------------------------------------------------------------------
// Session

function restaurantChoice() {
  return sessionStorage.getItem(RESTAURANT_KEY) ?? "";
}

/** `?restaurant_id=` for admins (staff use their token's restaurant). */
function kitchenQuery() {
  const who = claims();
  if (who?.role === "admin" && restaurantChoice()) {
    return `?restaurant_id=${encodeURIComponent(restaurantChoice())}`;
  }
  return "";
}

/** The restaurant shown: the staff token's, or the admin's choice. */
function restaurantShown() {
  const who = claims();
  return who?.role === "admin" ? restaurantChoice() : String(who?.restaurant_id ?? "");
}

function start() {
  document.body.dataset.alerts ??= "0";
  wireStatic();
  const who = claims();
  if (!token() || !who) {
    showSignIn("");
  } else if (who.role === "admin" && !restaurantChoice()) {
    showSignIn("Admins: enter the restaurant whose kitchen to show.");
  } else {
    showQueue();
  }
}

function wireStatic() {
  $("sign-in-form").addEventListener("submit", signIn);
  $("token").addEventListener("input", describeToken);
  $("sign-out").addEventListener("click", () => signOut(""));
  $("sound").addEventListener("click", toggleSound);
  $("reject-form").addEventListener("submit", confirmReject);
  $("reject-cancel").addEventListener("click", () => $("reject-dialog").close());
  $("reject-dialog").addEventListener("close", () => {
    rejecting = null;
  });
  for (const pick of document.querySelectorAll(".reason-pick")) {
    pick.addEventListener("click", () => {
      $("reject-reason").value = pick.textContent;
      $("reject-error").textContent = "";
      $("reject-reason").focus();
    });
  }
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") {
      updateAges();
      if (stopStream) keepAwake();
    }
  });
  const asked = new URLSearchParams(location.search).get("restaurant_id");
  if (asked) $("restaurant-id").value = asked;
}

/** Accepts "Bearer xyz" as well as "xyz". */
function cleanToken(value) {
  return value.trim().replace(/^bearer\s+/i, "").trim();
}

/** Says under the token field whose token it is, as it is typed. */
function describeToken() {
  const value = cleanToken($("token").value);
  const who = value ? claims(value) : null;
  const hint = $("token-hint");
  if (!value) hint.textContent = "";
  else if (!who) hint.textContent = "This does not look like a FoodMesh token.";
  else if (who.role === "staff") {
    hint.textContent = `Staff${who.sub ? ` ${who.sub}` : ""} of restaurant ${who.restaurant_id}: no restaurant id needed.`;
  } else if (who.role === "admin") hint.textContent = "An admin token: enter the restaurant id below.";
  else hint.textContent = `A ${who.role} token: the kitchen needs a staff (or admin) token.`;
}

function signIn(event) {
  event.preventDefault();
  const value = cleanToken($("token").value);
  const who = value ? claims(value) : null;
  const restaurant = $("restaurant-id").value.trim();
  if (!value) return signInError("Paste a token first.", "token");
  if (!who) return signInError("That is not a valid token: paste the whole token.", "token");
  if (who.role !== "staff" && who.role !== "admin") {
    return signInError(`This is a ${who.role} token: the kitchen needs a staff token.`, "token");
  }
  if (who.role === "admin") {
    if (!/^[1-9][0-9]{0,17}$/.test(restaurant)) {
      return signInError("Admins: enter the restaurant id (a positive whole number).", "restaurant-id");
    }
    sessionStorage.setItem(RESTAURANT_KEY, restaurant);
  } else {
    sessionStorage.removeItem(RESTAURANT_KEY);
  }
  setToken(value);
  $("token").value = "";
  showQueue();
}

function signInError(message, field) {
  const box = $("sign-in-error");
  box.textContent = message;
  box.hidden = !message;
  for (const id of ["token", "restaurant-id"]) {
    if (id === field) $(id).setAttribute("aria-invalid", "true");
    else $(id).removeAttribute("aria-invalid");
  }
  if (field) $(field).focus();
}

/** Back to the sign-in form, saying why (`message`, "" for none). */
function showSignIn(message, { keepToken = "" } = {}) {
  stop();
  $("session").hidden = true;
  $("queue-view").hidden = true;
  $("sign-in-view").hidden = false;
  $("token").value = keepToken;
  describeToken();
  signInError(message, "");
  $(keepToken ? "sign-in" : "token").focus();
}

/** Forgets the token; `message` says why on the sign-in form. */
function signOut(message, { keepToken = false } = {}) {
  const old = token();
  const restaurant = restaurantChoice();
  setToken("");
  sessionStorage.removeItem(RESTAURANT_KEY);
  $("restaurant-id").value = restaurant;
  showSignIn(message, { keepToken: keepToken ? old : "" });
}

function showQueue() {
  const who = claims();
  stopStream?.();
  stopStream = null;
  $("sign-in-view").hidden = true;
  $("session").hidden = false;
  $("queue-view").hidden = false;
  $("who").textContent = [who.sub, who.role, `restaurant ${restaurantShown()}`]
    .filter(Boolean)
    .join(" · ");
  resetQueue();
  setConnection("reconnecting", null, "Connecting…");
  stopStream = follow(`/api/kitchen/stream${kitchenQuery()}`, { onEvent, onState });
  clearInterval(ageTimer);
  ageTimer = setInterval(updateAges, AGE_EVERY_MS);
  keepAwake();
}

function stop() {
  stopStream?.();
  stopStream = null;
  clearInterval(ageTimer);
  ageTimer = null;
  if ($("reject-dialog").open) $("reject-dialog").close();
  wakeLock?.release().catch(() => {});
  wakeLock = null;
  resetQueue();
}

function resetQueue() {
  tickets = new Map();
  gone.clear();
  pending = null;
  initiallySynced = false;
  fresh = false;
  busy.clear();
  for (const card of cards.values()) card.remove();
  cards.clear();
  render();
}

// ---------------------------------------------------------------------------
// The stream

function onState(state, error) {
  // A new connection starts from a snapshot; a half-received run is void.
  pending = null;
  fresh = false;
  if (state === "refused") {
    const detail = error?.message || "The kitchen refused this token.";
    // 401: the token itself is bad. 403/404: it may be fine for another
    // kitchen, so keep it in the field for a corrected restaurant id.
    signOut(detail, { keepToken: error?.status !== 401 });
    return;
  }
  setConnection(state, error);
}

function onEvent(name, data) {
  try {
    if (name === "snapshot") {
      pending ??= new Map();
      if (data && OPEN.has(data.status)) keepHighest(pending, data);
    } else if (name === "synced") {
      learnServerTime(Date.parse(data?.server_time ?? ""));
      const arrived = swapIn(pending ?? new Map());
      pending = null;
      const resynced = initiallySynced;
      initiallySynced = true;
      fresh = true;
      setConnection("live");
      render();
      // Tickets that came while the stream was down are as new as any other.
      if (resynced && arrived.length) newTickets(arrived);
    } else if (name === "changed") {
      if (data) apply(data, { alert: initiallySynced });
    }
  } catch (error) {
    // A display bug must not turn into a reconnect loop.
    console.error("kitchen: could not show an event", name, data, error);
  }
}

function keepHighest(map, ticket) {
  const known = map.get(ticket.id);
  if (!known || known.version < ticket.version) map.set(ticket.id, ticket);
}

/**
 * A complete snapshot run becomes the list, keeping any newer copy we hold.
 * Answers the tickets in it this display had not shown, oldest first.
 */
function swapIn(run) {
  const next = new Map();
  const arrived = [];
  for (const [id, ticket] of run) {
    const dropped = gone.get(id);
    if (dropped !== undefined && dropped >= ticket.version) continue;
    const held = tickets.get(id);
    next.set(id, held && held.version > ticket.version ? held : ticket);
    if (!held && dropped === undefined) arrived.push(ticket);
  }
  tickets = next;
  return arrived.sort(oldestFirst);
}

/**
 * One ticket as it is now (a `changed` event or our own PUT's answer): the
 * highest version wins; an open one is shown, any other dropped. A ticket
 * not seen before raises the alert when `alert`.
 */
function apply(ticket, { alert }) {
  const held = tickets.get(ticket.id);
  if (held && held.version >= ticket.version) return;
  const dropped = gone.get(ticket.id);
  if (dropped !== undefined && dropped >= ticket.version) return;
  if (pending) {
    if (OPEN.has(ticket.status)) keepHighest(pending, ticket);
    else pending.delete(ticket.id);
  }
  if (OPEN.has(ticket.status)) {
    tickets.set(ticket.id, ticket);
    gone.delete(ticket.id);
    render();
    if (!held && alert) newTicket(ticket);
  } else {
    tickets.delete(ticket.id);
    gone.set(ticket.id, ticket.version);
    if (gone.size > GONE_KEPT) gone.delete(gone.keys().next().value);
    render();
  }
}

function setConnection(state, error, text) {
  const box = $("connection");
  box.dataset.state = state;
  box.textContent =
    text ?? { live: "Live", reconnecting: "Reconnecting…", refused: "Signed out" }[state] ?? state;
  const stale = state !== "live" || !fresh;
  document.body.classList.toggle("stale", stale && cards.size > 0);
  const banner = $("stale-banner");
  if (state === "reconnecting" && initiallySynced) {
    banner.hidden = false;
    banner.replaceChildren(
      el("strong", {}, "Connection lost."),
      " Showing the last known tickets; reconnecting…",
      error?.message ? el("span", { class: "muted" }, ` (${error.message})`) : null,
    );
  } else {
    banner.hidden = true;
  }
  if (!initiallySynced) {
    $("empty").textContent =
      state === "reconnecting" && error
        ? `Cannot reach the kitchen yet (${error.message}); retrying…`
        : "Loading the queue…";
  }
}

// ---------------------------------------------------------------------------
// Cards

function createdAt(ticket) {
  return Date.parse(ticket.created_at ?? ticket.updated_at ?? "") || Number.MAX_SAFE_INTEGER;
}

function oldestFirst(a, b) {
  return createdAt(a) - createdAt(b) || a.id - b.id;
}

function render() {
  const grid = $("queue");
  for (const [id, card] of cards) {
    if (!tickets.has(id)) {
      card.remove();
      cards.delete(id);
    }
  }
  let previous = null;
  for (const ticket of [...tickets.values()].sort(oldestFirst)) {
    let card = cards.get(ticket.id);
    if (!card) {
      card = el("article", { class: "ticket", "data-test": "ticket", role: "listitem" });
      cards.set(ticket.id, card);
    }
    const shown = `${ticket.version}:${busy.has(ticket.id)}`;
    if (card.dataset.shown !== shown) fill(card, ticket);
    // Moves a card only when it is out of place (moving restarts its animation).
    const wanted = previous ? previous.nextElementSibling : grid.firstElementChild;
    if (wanted !== card) grid.insertBefore(card, wanted);
    previous = card;
  }
  const count = tickets.size;
  $("count").textContent = `${count} open`;
  const empty = $("empty");
  empty.hidden = count > 0;
  empty.textContent = initiallySynced
    ? "No open tickets. New orders appear here."
    : "Loading the queue…";
  document.body.classList.toggle(
    "stale",
    count > 0 && ($("connection").dataset.state !== "live" || !fresh),
  );
  closeStaleDialog();
  updateAges();
}

function fulfilmentText(ticket) {
  if (ticket.fulfilment === "table" || (!ticket.fulfilment && ticket.table_number)) {
    return ticket.table_number ? `Table ${ticket.table_number}` : "Table";
  }
  if (ticket.fulfilment === "pickup") return "Pickup";
  if (ticket.fulfilment === "delivery") return "Delivery";
  return "";
}

/** (Re)builds a card's contents for `ticket`, keeping focus on its button. */
function fill(card, ticket) {
  const focused = card.contains(document.activeElement)
    ? document.activeElement.dataset.test
    : undefined;
  const number = ticket.order_number || `#${ticket.order_id}`;
  const inFlight = busy.has(ticket.id);
  card.dataset.id = ticket.id;
  card.dataset.orderId = ticket.order_id;
  card.dataset.status = ticket.status;
  card.dataset.fulfilment = ticket.fulfilment ?? "";
  card.dataset.shown = `${ticket.version}:${inFlight}`;

  const [next, label] = NEXT[ticket.status] ?? [];
  const actions = el("div", { class: "actions" });
  if (next) {
    actions.append(
      el(
        "button",
        {
          type: "button",
          class: `advance big to-${next}`,
          "data-test": "advance",
          "data-next": next,
          "aria-label": `${label} ${number}`,
          "aria-busy": inFlight ? "true" : false,
          disabled: inFlight,
          onclick: () => move(ticket.id, next),
        },
        label,
      ),
    );
  }
  const secondary = el("div", { class: "secondary" });
  if (ticket.status === "queued") {
    secondary.append(
      el(
        "button",
        {
          type: "button",
          "data-test": "start",
          "aria-label": `Start now, preparing ${number}`,
          disabled: inFlight,
          onclick: () => move(ticket.id, "preparing"),
        },
        "Start now",
      ),
    );
  }
  if (ticket.status === "queued" || ticket.status === "accepted") {
    secondary.append(
      el(
        "button",
        {
          type: "button",
          class: "danger",
          "data-test": "reject",
          "aria-label": `Reject ${number}`,
          disabled: inFlight,
          onclick: () => openReject(ticket.id),
        },
        "Reject",
      ),
    );
  }
  if (secondary.childElementCount) actions.append(secondary);

  const due = ticket.ready_by ? new Date(ticket.ready_by) : null;
  // replaceChildren would write a null out as the text "null".
  card.replaceChildren(...present(
    el(
      "header",
      { class: "ticket-head" },
      el("h3", { class: "number" }, number),
      el("span", { class: `fulfilment ${ticket.fulfilment ?? ""}` }, fulfilmentText(ticket)),
      el("span", { class: `status status-${ticket.status}` }, STATUS_LABEL[ticket.status] ?? ticket.status),
    ),
    el(
      "p",
      { class: "timing" },
      el("span", { class: "age", "data-test": "age" }, ""),
      due && !Number.isNaN(due.getTime())
        ? el("span", { class: "due muted" }, `due ${clock.format(due)}`)
        : null,
    ),
    el(
      "ul",
      { class: "items" },
      (ticket.items ?? []).map((item) =>
        el(
          "li",
          { class: "item" },
          el("span", { class: "qty" }, `${item.quantity}×`),
          el(
            "span",
            { class: "what" },
            el("span", { class: "name" }, item.name),
            item.modifiers?.length
              ? el("span", { class: "modifiers" }, item.modifiers.join(", "))
              : null,
            item.special_instructions
              ? el("span", { class: "instructions" }, item.special_instructions)
              : null,
          ),
        ),
      ),
    ),
    ticket.notes ? el("p", { class: "notes" }, el("strong", {}, "Note: "), ticket.notes) : null,
    actions,
  ));
  if (focused) card.querySelector(`[data-test="${focused}"]:not(:disabled)`)?.focus();
}

/**
 * Minutes on each card, and its warn/bad color against `ready_by`, by the
 * platform's clock: a tablet's own may be minutes off.
 */
function updateAges() {
  const now = serverNow();
  for (const [id, card] of cards) {
    const ticket = tickets.get(id);
    if (!ticket) continue;
    const since = Date.parse(ticket.created_at ?? "");
    const age = card.querySelector(".age");
    if (age) {
      const minutes = Number.isNaN(since) ? null : Math.max(0, Math.floor((now - since) / 60_000));
      age.textContent = minutes === null ? "" : minutes < 1 ? "<1 min" : `${minutes} min`;
    }
    const due = Date.parse(ticket.ready_by ?? "");
    let late = "ok";
    if (ticket.status !== "ready" && !Number.isNaN(due) && now >= due) {
      late = now - due >= BAD_AFTER_MS ? "bad" : "warn";
    }
    card.dataset.late = late;
  }
}

// ---------------------------------------------------------------------------
// Moving tickets

/**
 * Asks for `ticket` to move to `status` (if it is still where this display
 * shows it). Resolves to "moved", "overtaken" (someone else moved it: the
 * stream brings the truth) or "failed"; throws the ApiError of a refused
 * `reason`, for the reject dialog.
 */
async function move(id, status, reason = "") {
  const ticket = tickets.get(id);
  if (!ticket || busy.has(id)) return "failed";
  const number = ticket.order_number || `#${ticket.order_id}`;
  const hadFocus = cards.get(id)?.contains(document.activeElement) ?? false;
  busy.add(id);
  render();
  try {
    const body = { status, expected_status: ticket.status };
    if (reason) body.reason = reason;
    const moved = await api("PUT", `/api/kitchen/orders/${id}/status${kitchenQuery()}`, { body });
    busy.delete(id);
    if (moved) apply(moved, { alert: false });
    render();
    return "moved";
  } catch (error) {
    busy.delete(id);
    render();
    if (!(error instanceof ApiError)) {
      notice(`Could not reach the kitchen to move ${number}. Try again.`, "error");
      return "failed";
    }
    if (error.status === 409) {
      notice(
        error.code === "ticket_status_changed"
          ? `${number} was already moved by someone else; showing the latest.`
          : `${number} cannot be moved that way now; showing the latest.`,
        "info",
      );
      return "overtaken";
    }
    if (error.status === 404) {
      notice(`${number} is no longer in this kitchen.`, "info");
      return "overtaken";
    }
    if (error.status === 401) {
      signOut(error.message);
      return "failed";
    }
    if (error.about("reason")) throw error;
    notice(`${number}: ${error.message}`, "error");
    return "failed";
  } finally {
    // Keeps a keyboard user on the same ticket (or the next one).
    if (hadFocus && !$("reject-dialog").open && document.activeElement === document.body) {
      const target =
        cards.get(id)?.querySelector("[data-test=advance]:not(:disabled)") ??
        $("queue").querySelector("[data-test=advance]:not(:disabled)");
      target?.focus({ preventScroll: true });
    }
  }
}

function openReject(id) {
  const ticket = tickets.get(id);
  if (!ticket) return;
  rejecting = id;
  const number = ticket.order_number || `#${ticket.order_id}`;
  $("reject-title").textContent = `Reject ${number}?`;
  $("reject-reason").value = "";
  $("reject-reason").removeAttribute("aria-invalid");
  $("reject-error").textContent = "";
  $("reject-confirm").disabled = false;
  $("reject-confirm").setAttribute("aria-label", `Reject ${number}`);
  $("reject-dialog").showModal();
  $("reject-reason").focus();
}

async function confirmReject(event) {
  event.preventDefault();
  const id = rejecting;
  const reason = $("reject-reason").value.trim();
  if (!reason) {
    $("reject-error").textContent = "Say why, for the customer (up to 500 characters).";
    $("reject-reason").setAttribute("aria-invalid", "true");
    $("reject-reason").focus();
    return;
  }
  if (id === null) return;
  $("reject-confirm").disabled = true;
  try {
    const result = await move(id, "rejected", reason);
    // On a network failure the dialog stays, reason and all, to try again.
    if (result !== "failed" && rejecting === id) $("reject-dialog").close();
  } catch (error) {
    $("reject-error").textContent = error.about("reason");
    $("reject-reason").setAttribute("aria-invalid", "true");
    $("reject-reason").focus();
  } finally {
    $("reject-confirm").disabled = false;
  }
}

/** Closes the reject dialog when its ticket can no longer be rejected. */
function closeStaleDialog() {
  if (rejecting === null || !$("reject-dialog").open) return;
  const ticket = tickets.get(rejecting);
  if (ticket && (ticket.status === "queued" || ticket.status === "accepted")) return;
  // A reject in flight closes the dialog itself when it answers.
  if (busy.has(rejecting) || $("reject-confirm").disabled) return;
  $("reject-dialog").close();
  notice("That ticket moved meanwhile; it can no longer be rejected.", "info");
}

function notice(text, kind = "info") {
  const box = el("div", { class: `notice ${kind}`, "data-test": "notice" }, text);
  $("notices").append(box);
  setTimeout(() => box.remove(), NOTICE_MS);
}

// ---------------------------------------------------------------------------
// New-ticket alert

let audio = null;
let soundOn = false;
let lastDing = 0;

function newTicket(ticket) {
  newTickets([ticket]);
}

/** One alert (a ding, a highlight, a spoken line) for tickets that came together. */
function newTickets(list) {
  document.body.dataset.alerts = String(Number(document.body.dataset.alerts || 0) + 1);
  for (const card of cards.values()) card.classList.remove("new");
  for (const ticket of list) {
    const card = cards.get(ticket.id);
    if (card) {
      // Restarts the highlight even if the class was just removed.
      void card.offsetWidth;
      card.classList.add("new");
    }
  }
  announce(list.length === 1 ? `New ticket ${ticketSummary(list[0])}.`
    : `${list.length} new tickets: ${list.map(ticketSummary).join("; ")}.`);
  ding();
}

function ticketSummary(ticket) {
  const number = ticket.order_number || `#${ticket.order_id}`;
  const items = ticket.items.reduce((n, item) => n + item.quantity, 0);
  const where = fulfilmentText(ticket);
  return `${number}${where ? `, ${where}` : ""}, ${items} item${items === 1 ? "" : "s"}`;
}

function announce(text) {
  const box = $("announcer");
  box.textContent = "";
  // A fresh text node after a tick, so repeats are read out too.
  setTimeout(() => {
    box.textContent = text;
  }, 50);
}

async function toggleSound() {
  const button = $("sound");
  if (soundOn && audio?.state === "running") {
    soundOn = false;
    showSound();
    return;
  }
  try {
    audio ??= new (window.AudioContext || window.webkitAudioContext)();
    audio.onstatechange = showSound;
    await audio.resume();
    soundOn = audio.state === "running";
    showSound();
    if (soundOn) ding(true);
  } catch (error) {
    console.warn("kitchen: no sound", error);
    button.textContent = "No sound";
    button.disabled = true;
  }
}

function showSound() {
  const on = soundOn && audio?.state === "running";
  const button = $("sound");
  button.setAttribute("aria-pressed", String(on));
  button.textContent = on ? "Sound is on" : "Sound on";
  button.classList.toggle("on", on);
}

/** Two short tones, if the kitchen turned sound on. */
function ding(force = false) {
  if (!soundOn || !audio || audio.state !== "running") return;
  const now = performance.now();
  if (!force && now - lastDing < 800) return;
  lastDing = now;
  const t0 = audio.currentTime + 0.02;
  for (const [frequency, at] of [[880, 0], [1318.5, 0.2]]) {
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.type = "sine";
    tone.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, t0 + at);
    gain.gain.exponentialRampToValueAtTime(0.5, t0 + at + 0.015);
    gain.gain.exponentialRampToValueAtTime(0.0001, t0 + at + 0.18);
    tone.connect(gain).connect(audio.destination);
    tone.start(t0 + at);
    tone.stop(t0 + at + 0.2);
  }
}

/** Keeps a kitchen tablet's screen on while the queue is shown, where allowed. */
async function keepAwake() {
  if (!("wakeLock" in navigator) || document.visibilityState !== "visible" || wakeLock) return;
  try {
    wakeLock = await navigator.wakeLock.request("screen");
    wakeLock.addEventListener("release", () => {
      wakeLock = null;
    });
  } catch {
    wakeLock = null;
  }
}

start();
