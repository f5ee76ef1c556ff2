// The restaurant admin: sign in with a staff or admin token, then manage a
// restaurant's details, menu (categories, items, option groups), coupons,
// today's orders and refunds through the public REST API. Hash-routed
// sections (#signin, #restaurant, #menu, #coupons, #orders, #refunds);
// plain ES module, no build step, nothing fetched from elsewhere.

import { api, ApiError, token, setToken, claims, money, el } from "/ui/api.js";

/** Where an admin's chosen restaurant is kept for the tab. */
const RESTAURANT_KEY = "foodmesh.admin.restaurant";
/** Roles this page is for. */
const MANAGERS = new Set(["staff", "admin"]);
/** Pages of restaurants read at most for the admin's picker (100 each). */
const MAX_RESTAURANT_PAGES = 20;

const DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const ORDER_STATUSES = [
  ["pending", "Pending"],
  ["confirmed", "Confirmed"],
  ["preparing", "Preparing"],
  ["ready", "Ready"],
  ["out_for_delivery", "Out for delivery"],
  ["completed", "Completed"],
  ["cancelled", "Cancelled"],
];
const ORDER_TYPES = [
  ["dine_in", "Dine-in"],
  ["takeout", "Takeout"],
  ["delivery", "Delivery"],
];
const PAYMENT_STATUSES = {
  created: "waiting for the customer",
  authorized: "authorized (held)",
  captured: "captured",
  declined: "declined",
  voided: "voided",
  partially_refunded: "partially refunded",
  refunded: "refunded",
};

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const stamp = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------
// Small helpers: formatting

const statusLabel = (s) => ORDER_STATUSES.find(([v]) => v === s)?.[1] ?? s ?? "—";
const typeLabel = (t) => ORDER_TYPES.find(([v]) => v === t)?.[1] ?? t ?? "—";
const pad = (n) => String(n).padStart(2, "0");

/** Decimal places of `currency` (2 for USD, 0 for JPY). */
function digits(currency) {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions()
      .maximumFractionDigits;
  } catch {
    return 2;
  }
}

/** An amount as an input's text, with the currency's places. */
function fixed(amount, currency) {
  if (amount === null || amount === undefined || amount === "") return "";
  return Number(amount).toFixed(digits(currency));
}

/** An amount for people, even in a currency the browser does not know. */
function price(amount, currency) {
  try {
    return money(amount, currency || "USD");
  } catch {
    return `${amount} ${currency}`;
  }
}

/** An amount in minor units (exact for the amounts the API sends). */
const minor = (amount, currency) => Math.round(Number(amount) * 10 ** digits(currency));
const fromMinor = (units, currency) => (units / 10 ** digits(currency)).toFixed(digits(currency));

function when(iso) {
  if (!iso) return "—";
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : stamp.format(at);
}

/** An RFC 3339 time as a datetime-local input's value, in local time. */
function localInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A Date as RFC 3339 in UTC, without milliseconds. */
const rfc3339 = (date) => date.toISOString().replace(/\.\d{3}Z$/, "Z");

/** A datetime-local value as RFC 3339; text that is no time is sent as is, for the API to name. */
function instant(local) {
  if (!local) return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? local : rfc3339(d);
}

/** Today's date in the browser's time zone, as YYYY-MM-DD. */
function today() {
  const d = new Date();
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** The local day `date` (YYYY-MM-DD) as [start, end) RFC 3339 times. */
function dayRange(date) {
  const [y, m, d] = date.split("-").map(Number);
  return [rfc3339(new Date(y, m - 1, d)), rfc3339(new Date(y, m - 1, d + 1))];
}

/** A fresh Idempotency-Key (crypto.randomUUID needs a secure context). */
function newKey() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// ---------------------------------------------------------------------------
// Small helpers: fields, notices, errors, forms

let serial = 0;
function uid(prefix) {
  serial += 1;
  return `${String(prefix).replace(/[^a-z0-9]+/gi, "-")}-${serial}`;
}

const hidden = (text) => el("span", { class: "visually-hidden" }, text);

/**
 * A labelled field: label, control, optional hint and the slot where the
 * API's message about the control's `data-field` is shown.
 */
function field(label, control, { hint, wide } = {}) {
  if (!control.id) control.id = uid(control.getAttribute("name") || "field");
  const errorId = `${control.id}-error`;
  const hintNode = hint ? el("p", { class: "hint muted", id: `${control.id}-hint` }, hint) : null;
  control.setAttribute("aria-describedby", [hintNode?.id, errorId].filter(Boolean).join(" "));
  const error = el("p", { class: "field-error", id: errorId, hidden: true });
  if (control.type === "checkbox") {
    return el(
      "div",
      { class: "field check" },
      el("label", { class: "inline", for: control.id }, control, el("span", {}, label)),
      hintNode,
      error,
    );
  }
  return el(
    "div",
    { class: wide ? "field wide" : "field" },
    el("label", { for: control.id }, label),
    control,
    hintNode,
    error,
  );
}

function textInput(name, value, attrs = {}) {
  return el("input", {
    type: "text",
    name,
    "data-field": name,
    value: value ?? "",
    autocomplete: "off",
    ...attrs,
  });
}

const text = (label, name, value, opts = {}) => field(label, textInput(name, value, opts.attrs), opts);
const decimal = (label, name, value, opts = {}) =>
  field(label, textInput(name, value, { inputmode: "decimal", ...opts.attrs }), opts);
const whole = (label, name, value, opts = {}) =>
  field(label, textInput(name, value, { inputmode: "numeric", ...opts.attrs }), opts);

function area(label, name, value, opts = {}) {
  const control = el("textarea", { name, "data-field": name, rows: "2", ...opts.attrs }, value ?? "");
  return field(label, control, { wide: true, ...opts });
}

function choice(label, name, options, selected, opts = {}) {
  const control = el(
    "select",
    { name, "data-field": name, ...opts.attrs },
    options.map(([value, caption]) =>
      el("option", { value, selected: String(value) === String(selected ?? "") }, caption),
    ),
  );
  return field(label, control, opts);
}

function check(label, name, on, opts = {}) {
  const control = el("input", {
    type: "checkbox",
    name,
    "data-field": name,
    checked: Boolean(on),
    ...opts.attrs,
  });
  return field(label, control, opts);
}

/** The trimmed value of `form`'s control `name`. */
function value(form, name) {
  const control = form.elements.namedItem(name);
  return control && "value" in control ? control.value.trim() : "";
}

const isChecked = (form, name) => Boolean(form.elements.namedItem(name)?.checked);
const optional = (s) => (s === "" ? undefined : s);
/** A whole number, or the text as typed for the API to name; undefined when empty. */
const wholeOr = (s) => (s === "" ? undefined : /^\d+$/.test(s) ? Number(s) : s);
/** A number, or the text as typed for the API to name; undefined when empty. */
function numberOr(s) {
  if (s === "") return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : s;
}

/** Remembers each named control's value, so a patch sends only what changed. */
function snapshot(form) {
  for (const control of form.querySelectorAll("[name]")) {
    control.dataset.initial = control.type === "checkbox" ? String(control.checked) : control.value;
  }
}

function changed(form, name) {
  const control = form.elements.namedItem(name);
  if (!control || !control.dataset) return false;
  const now = control.type === "checkbox" ? String(control.checked) : control.value;
  return now !== control.dataset.initial;
}

/** A live region for a form's or a list's notices. */
const slot = () => el("div", { class: "notice-slot", "aria-live": "polite" });

/** Shows a notice of `kind` (ok, error, info) in `target`; no kind clears it. */
function say(target, kind, ...content) {
  target.replaceChildren(...(kind ? [el("div", { class: `notice ${kind}` }, ...content)] : []));
}

/** What went wrong, for people. */
function describe(error) {
  if (error instanceof ApiError) {
    if (error.status === 401) return `${error.message} Sign in again with a valid token.`;
    return error.message;
  }
  return `The request did not get through (${error.message}). Check the connection and try again.`;
}

/** A refusal made here, shaped like the API's, naming `field`. */
function fieldProblem(name, message) {
  return new ApiError(0, { detail: message, errors: [{ field: name, message }] });
}

function clearErrors(form) {
  for (const control of form.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
  for (const slotNode of form.querySelectorAll(".field-error")) {
    slotNode.textContent = "";
    slotNode.hidden = true;
  }
}

/**
 * Shows `error` on `form`: each message beside the control whose
 * `data-field` it names, the detail and any other messages in `status`.
 */
function showProblem(form, status, error) {
  clearErrors(form);
  const shown = new Set();
  let first = null;
  if (error instanceof ApiError) {
    for (const control of form.querySelectorAll("[data-field]")) {
      const name = control.dataset.field;
      const message = error.about(name);
      if (!message) continue;
      shown.add(name);
      control.setAttribute("aria-invalid", "true");
      const errorNode = document.getElementById(`${control.id}-error`);
      if (errorNode) {
        errorNode.textContent = message;
        errorNode.hidden = false;
      }
      first ??= control;
    }
  }
  const rest = (error instanceof ApiError ? error.errors : []).filter((e) => !shown.has(e.field));
  say(
    status,
    "error",
    el("p", {}, describe(error)),
    rest.length ? el("ul", {}, rest.map((e) => el("li", {}, `${e.field}: ${e.message}`))) : null,
  );
  if (first && typeof first.focus === "function") first.focus();
}

/**
 * Wires `form`'s submit to `work`: its buttons are disabled while it runs;
 * what it returns (text, or {kind, text}) is shown in `status`, and what it
 * throws is shown beside the fields.
 */
function onSubmit(form, status, work) {
  form.noValidate = true;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (form.getAttribute("aria-busy") === "true") return;
    clearErrors(form);
    say(status);
    const buttons = [...form.querySelectorAll("button")].filter((b) => !b.disabled);
    for (const b of buttons) b.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      const result = await work(event.submitter);
      if (typeof result === "string") say(status, "ok", result);
      else if (result) say(status, result.kind ?? "ok", result.text);
    } catch (error) {
      showProblem(form, status, error);
    } finally {
      for (const b of buttons) b.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });
}

/** Asks in place of `anchor` before running `action` (no blocking dialogs). */
function confirmInline(anchor, question, yesText, action) {
  const box = el("span", { class: "confirm", role: "group", "aria-label": question });
  const restore = () => {
    if (box.isConnected) {
      box.replaceWith(anchor);
      anchor.focus();
    }
  };
  const no = el("button", { type: "button", onclick: restore }, "Keep");
  const yes = el(
    "button",
    {
      type: "button",
      class: "danger",
      onclick: async () => {
        yes.disabled = true;
        no.disabled = true;
        try {
          await action();
        } finally {
          yes.disabled = false;
          no.disabled = false;
          restore();
        }
      },
    },
    yesText,
  );
  box.append(el("span", { class: "question" }, question), yes, no);
  anchor.replaceWith(box);
  yes.focus();
}

/** A button that shows and hides `panel`, building it with `build` when opened. */
function disclosure(caption, panel, build, attrs = {}) {
  panel.id ||= uid("panel");
  panel.hidden = true;
  const button = el("button", {
    type: "button",
    "aria-expanded": "false",
    "aria-controls": panel.id,
    ...attrs,
  }, caption);
  const close = () => {
    panel.hidden = true;
    panel.replaceChildren();
    button.setAttribute("aria-expanded", "false");
    button.focus();
  };
  button.addEventListener("click", () => {
    if (!panel.hidden) return close();
    panel.replaceChildren(build(close));
    panel.hidden = false;
    button.setAttribute("aria-expanded", "true");
    panel.querySelector("input, select, textarea, button")?.focus();
  });
  return button;
}

const loading = (what = "Loading…") => el("p", { class: "muted loading" }, what);
const term = (name, ...data) => [el("dt", {}, name), el("dd", {}, ...data)];

// ---------------------------------------------------------------------------
// Session: who is signed in, which restaurant is managed

const state = {
  /** Claims of the signed-in staff or admin token, or null. */
  claims: null,
  /** An admin's choices (RestaurantView), read from the API. */
  restaurants: [],
  /** The managed restaurant's id, or null. */
  restaurantId: null,
  /** The managed restaurant (RestaurantView), once read. */
  restaurant: null,
  /** A notice to show once on the next sign-in view. */
  flash: null,
};

const expired = (c) => typeof c.exp === "number" && c.exp * 1000 <= Date.now();
const isAdmin = () => state.claims?.role === "admin";

function readSession() {
  const c = token() ? claims() : null;
  if (!c || !MANAGERS.has(c.role) || expired(c)) {
    // Another page's token (a customer's, say) is left alone: this page
    // just is not signed in with it.
    state.claims = null;
    state.restaurantId = null;
    return;
  }
  state.claims = c;
  state.restaurantId =
    c.role === "staff" ? Number(c.restaurant_id) || null : Number(sessionStorage.getItem(RESTAURANT_KEY)) || null;
}

function showWho() {
  const who = $("who");
  $("sign-out").hidden = !state.claims;
  if (!state.claims) {
    who.textContent = "Not signed in";
    return;
  }
  const c = state.claims;
  const r = state.restaurant;
  let where = " · no restaurant chosen";
  if (r) where = ` · ${r.name} (#${r.id})${r.active ? "" : " · paused"}`;
  else if (state.restaurantId) where = ` · restaurant #${state.restaurantId}`;
  who.textContent = `${c.role} ${c.sub ?? ""}${where}`;
}

/** Keeps `r` as the managed restaurant and refreshes what names it. */
function setRestaurant(r) {
  state.restaurant = r;
  const i = state.restaurants.findIndex((x) => x.id === r.id);
  if (i >= 0) state.restaurants[i] = r;
  const option = document.querySelector(`#restaurant option[value="${r.id}"]`);
  if (option) option.textContent = restaurantCaption(r);
  showWho();
}

const restaurantCaption = (r) => `${r.name} (#${r.id})${r.active ? "" : " · paused"}`;

/** Every restaurant an admin may pick, paused ones included. */
async function allRestaurants() {
  const items = [];
  let cursor = null;
  for (let page = 0; page < MAX_RESTAURANT_PAGES; page += 1) {
    const query = new URLSearchParams({ include_inactive: "true", limit: "100" });
    if (cursor) query.set("cursor", cursor);
    const answer = await api("GET", `/api/restaurants?${query}`);
    items.push(...answer.items);
    cursor = answer.next_cursor;
    if (!cursor) break;
  }
  return items;
}

/** Manages restaurant `id` (or none): remembers it and reads it. */
async function chooseRestaurant(id) {
  state.restaurantId = id || null;
  state.restaurant = null;
  if (isAdmin()) {
    if (id) sessionStorage.setItem(RESTAURANT_KEY, String(id));
    else sessionStorage.removeItem(RESTAURANT_KEY);
  }
  showWho();
  if (!id) return null;
  const known = state.restaurants.find((r) => r.id === id);
  const r = known ?? (await api("GET", `/api/restaurants/${id}`));
  if (state.restaurantId === id) setRestaurant(r);
  return r;
}

function signOut() {
  setToken("");
  sessionStorage.removeItem(RESTAURANT_KEY);
  state.claims = null;
  state.restaurants = [];
  state.restaurantId = null;
  state.restaurant = null;
  state.flash = { kind: "info", text: "Signed out. The token is forgotten on this tab." };
  showWho();
  if (location.hash === "#signin") route({ focus: true });
  else location.hash = "#signin";
}

// ---------------------------------------------------------------------------
// Router

const views = {
  signin: { render: renderSignin, needsSignIn: false, needsRestaurant: false, keep: false },
  restaurant: { render: renderRestaurant, needsSignIn: true, needsRestaurant: true, keep: false },
  menu: { render: renderMenu, needsSignIn: true, needsRestaurant: true, keep: false },
  coupons: { render: renderCoupons, needsSignIn: true, needsRestaurant: true, keep: false },
  orders: { render: renderOrders, open: openOrder, needsSignIn: true, needsRestaurant: true, keep: true },
  refunds: { render: renderRefunds, open: openRefund, needsSignIn: true, needsRestaurant: false, keep: true },
};

/** What each view was last drawn for. */
const drawnFor = {};
let currentView = null;

function route({ focus = false } = {}) {
  let hash = location.hash.replace(/^#/, "");
  try {
    hash = decodeURIComponent(hash);
  } catch {
    // A malformed escape: read the hash as it is.
  }
  const [head, ...rest] = hash.split("/");
  const arg = rest.join("/");
  const name = Object.hasOwn(views, head) ? head : state.claims && state.restaurantId ? "menu" : "signin";
  // Name the view in the address, so later draws stay on it (no hashchange).
  if (head !== name) history.replaceState(null, "", `#${name}`);
  const view = views[name];
  for (const section of document.querySelectorAll("section.view")) {
    section.hidden = section.dataset.view !== name;
  }
  for (const link of document.querySelectorAll("nav a[data-section]")) {
    if (link.dataset.section === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const section = document.querySelector(`section[data-view="${name}"]`);
  const body = section.querySelector(".view-body");
  const key = name === "signin" ? `${token()}` : `${token()}|${state.restaurantId}`;
  const ready = (!view.needsSignIn || state.claims) && (!view.needsRestaurant || state.restaurantId);
  const entering = currentView !== name;
  if (!view.keep || drawnFor[name] !== key || !body.hasChildNodes()) {
    drawnFor[name] = key;
    body.replaceChildren();
    if (!ready) body.append(gate(view));
    else {
      const failed = (error) => body.append(el("div", { class: "notice error" }, describe(error)));
      try {
        // Drawn at once (async views fill in later), so open() finds the view's parts.
        view.render(body)?.catch?.(failed);
      } catch (error) {
        failed(error);
      }
    }
  }
  currentView = name;
  if (ready && view.open) view.open(arg || null);
  if (focus && entering) section.querySelector("h2").focus();
}

/** What a view shows until it can be used. */
function gate(view) {
  if (view.needsSignIn && !state.claims) {
    return el(
      "div",
      { class: "notice info" },
      "Sign in with a staff or admin token first: ",
      el("a", { href: "#signin" }, "go to sign-in"),
      ".",
    );
  }
  return el(
    "div",
    { class: "notice info" },
    "Choose the restaurant to manage first: ",
    el("a", { href: "#signin" }, "pick a restaurant"),
    ".",
  );
}

// ---------------------------------------------------------------------------
// 1. Sign-in and the restaurant picker

function renderSignin(body) {
  const status = slot();
  if (state.flash) {
    say(status, state.flash.kind, state.flash.text);
    state.flash = null;
  }
  const tokenInput = el("input", {
    id: "token",
    name: "token",
    "data-field": "token",
    type: "password",
    autocomplete: "off",
    autocapitalize: "off",
    spellcheck: "false",
  });
  const form = el(
    "form",
    { class: "card", "aria-labelledby": "token-title" },
    el("h3", { id: "token-title" }, state.claims ? "Use another token" : "Token"),
    field("Bearer token", tokenInput, {
      hint: "A staff token (foodmesh token --role staff --restaurant 3) or an admin token. It is kept for this browser tab only, until you sign out.",
    }),
    el("div", { class: "actions" }, el("button", { id: "sign-in", type: "submit", class: "primary" }, "Sign in")),
  );
  onSubmit(form, status, async () => {
    const raw = tokenInput.value.trim();
    if (!raw) throw fieldProblem("token", "Paste a token first.");
    const c = claims(raw);
    if (!c || !c.role) {
      throw fieldProblem("token", "This is not a FoodMesh token: it should be three parts separated by dots.");
    }
    if (!MANAGERS.has(c.role)) {
      throw fieldProblem("token", `A ${c.role} token cannot manage a restaurant: use a staff or an admin token.`);
    }
    if (expired(c)) throw fieldProblem("token", `This token expired on ${when(new Date(c.exp * 1000).toISOString())}.`);
    const previous = token();
    setToken(raw);
    let restaurants = [];
    try {
      // A call the token must be good for proves it before it is kept.
      if (c.role === "admin") restaurants = await allRestaurants();
      else await api("GET", "/api/orders?limit=1");
    } catch (error) {
      setToken(previous);
      if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
        throw fieldProblem("token", `The API refused this token: ${error.message}`);
      }
      throw error;
    }
    state.claims = c;
    state.restaurants = restaurants;
    let id = c.role === "staff" ? Number(c.restaurant_id) : Number(sessionStorage.getItem(RESTAURANT_KEY)) || null;
    if (c.role === "admin" && id && !restaurants.some((r) => r.id === id)) id = null;
    state.flash = { kind: "ok", text: `Signed in as ${c.role} ${c.sub ?? ""}.` };
    try {
      await chooseRestaurant(id);
    } catch (error) {
      state.flash = { kind: "error", text: `Signed in, but restaurant #${id} could not be read: ${describe(error)}` };
    }
    showWho();
    route();
    ($("restaurant") ?? $("title-signin")).focus();
    return null;
  });

  body.append(status);
  if (state.claims) body.append(signedInCard(), pickerCard());
  body.append(form);
  if (isAdmin()) body.append(createRestaurantCard());
}

function signedInCard() {
  const c = state.claims;
  return el(
    "div",
    { class: "card" },
    el("h3", {}, "Signed in"),
    el(
      "dl",
      { class: "facts" },
      term("Role", el("span", { class: "badge" }, c.role)),
      term("Subject", String(c.sub ?? "—")),
      c.role === "staff" ? term("Restaurant", `#${c.restaurant_id}`) : null,
      term("Token expires", c.exp ? when(new Date(c.exp * 1000).toISOString()) : "—"),
    ),
    el("button", { type: "button", onclick: signOut }, "Sign out"),
  );
}

function pickerCard() {
  const status = slot();
  const select = el("select", { id: "restaurant", name: "restaurant" });
  const goTo = el(
    "p",
    { class: "row" },
    el("a", { href: "#menu" }, "Menu"),
    el("a", { href: "#orders" }, "Today's orders"),
    el("a", { href: "#restaurant" }, "Details"),
  );
  function fill() {
    const options = isAdmin()
      ? [el("option", { value: "" }, "— Choose a restaurant —"), ...state.restaurants.map((r) => el("option", { value: r.id }, restaurantCaption(r)))]
      : [el("option", { value: state.restaurantId ?? "" }, state.restaurant ? restaurantCaption(state.restaurant) : `Restaurant #${state.restaurantId}`)];
    select.replaceChildren(...options);
    select.value = state.restaurantId ? String(state.restaurantId) : "";
    goTo.hidden = !state.restaurantId;
  }
  fill();
  select.addEventListener("change", async () => {
    const id = Number(select.value) || null;
    say(status);
    try {
      const r = await chooseRestaurant(id);
      if (r) say(status, "ok", `Managing ${r.name} (#${r.id}).`);
    } catch (error) {
      say(status, "error", describe(error));
    }
    goTo.hidden = !state.restaurantId;
  });
  const reload = isAdmin()
    ? el(
        "button",
        {
          type: "button",
          onclick: async (event) => {
            event.currentTarget.disabled = true;
            const button = event.currentTarget;
            try {
              state.restaurants = await allRestaurants();
              fill();
              say(status, "ok", `${state.restaurants.length} restaurants listed.`);
            } catch (error) {
              say(status, "error", describe(error));
            } finally {
              button.disabled = false;
            }
          },
        },
        "Reload the list",
      )
    : null;
  return el(
    "div",
    { class: "card" },
    el("h3", {}, "Restaurant"),
    field(
      "Restaurant to manage",
      select,
      {
        hint: isAdmin()
          ? "Every restaurant, paused ones included."
          : "A staff token manages its own restaurant only.",
      },
    ),
    reload ? el("div", { class: "actions" }, reload) : null,
    status,
    goTo,
  );
}

function createRestaurantCard() {
  const status = slot();
  const { form, read } = restaurantForm(null);
  onSubmit(form, status, async () => {
    const r = await api("POST", "/api/restaurants", { body: read() });
    state.restaurants.push(r);
    await chooseRestaurant(r.id);
    state.flash = { kind: "ok", text: `Added ${r.name} (#${r.id}); it is now the restaurant managed here.` };
    route();
    $("restaurant")?.focus();
    return null;
  });
  return el(
    "details",
    { class: "card" },
    el("summary", {}, el("h3", {}, "Add a restaurant")),
    el("p", { class: "muted" }, "Only the name and the address are required. Amounts are in the restaurant's currency."),
    form,
    status,
  );
}

// ---------------------------------------------------------------------------
// Restaurant form (create and edit)

/** The opening hours editor: rows of day, opens and closes. */
function hoursEditor(spans) {
  const list = el("div", { class: "hours" });
  const addButton = el("button", { type: "button" }, "Add opening hours");
  function row(span) {
    const day = el(
      "select",
      { class: "hours-day" },
      DAYS.map((name, i) => el("option", { value: i + 1, selected: span.day_of_week === i + 1 }, name)),
    );
    const opens = el("input", { type: "time", class: "hours-opens", value: span.opens ?? "" });
    const closes = el("input", { type: "time", class: "hours-closes", value: span.closes ?? "" });
    const node = el(
      "div",
      { class: "hours-row" },
      field("Day", day),
      field("Opens", opens),
      field("Closes", closes),
      el(
        "button",
        {
          type: "button",
          class: "danger",
          onclick: () => {
            node.remove();
            addButton.focus();
          },
        },
        "Remove",
        hidden(" these hours"),
      ),
    );
    return node;
  }
  for (const span of spans) list.append(row(span));
  addButton.addEventListener("click", () => {
    const last = list.lastElementChild;
    const next = last
      ? { day_of_week: (Number(last.querySelector(".hours-day").value) % 7) + 1, opens: last.querySelector(".hours-opens").value, closes: last.querySelector(".hours-closes").value }
      : { day_of_week: 1, opens: "11:00", closes: "22:00" };
    const node = row(next);
    list.append(node);
    node.querySelector("select").focus();
  });
  const normal = (s) => ({ day_of_week: Number(s.day_of_week), opens: s.opens, closes: s.closes });
  const initial = JSON.stringify(spans.map(normal));
  function read() {
    return [...list.children].map((node, i) => {
      const day = node.querySelector(".hours-day");
      const opens = node.querySelector(".hours-opens");
      const closes = node.querySelector(".hours-closes");
      day.dataset.field = `opening_hours[${i}].day_of_week`;
      opens.dataset.field = `opening_hours[${i}].opens`;
      closes.dataset.field = `opening_hours[${i}].closes`;
      return { day_of_week: Number(day.value), opens: opens.value, closes: closes.value };
    });
  }
  const node = el(
    "fieldset",
    { class: "hours-box" },
    el("legend", {}, "Opening hours"),
    el("p", { class: "hint muted" }, "In the restaurant's time zone, 24-hour clock. Hours that close at or before they open run past midnight."),
    list,
    addButton,
  );
  return { node, read, changed: () => JSON.stringify(read()) !== initial };
}

/**
 * The restaurant form: empty to add one (`r` null), or filled with `r` to
 * edit it. `read()` is the POST body; `patch()` only what changed.
 */
function restaurantForm(r) {
  const creating = !r;
  const a = r?.address ?? {};
  const l = r?.location;
  const currency = r?.currency ?? "USD";
  const hours = hoursEditor(r?.opening_hours ?? []);
  const form = el(
    "form",
    { class: "restaurant-form" },
    el(
      "fieldset",
      {},
      el("legend", {}, "About"),
      el(
        "div",
        { class: "form-grid" },
        text("Name", "name", r?.name, { attrs: { maxlength: "200" } }),
        text("Cuisine", "cuisine_type", r?.cuisine_type, { hint: "For example Italian." }),
        text("Phone", "phone", r?.phone, { attrs: { type: "tel" }, hint: "International format: +12125550100. May be empty." }),
        text("Email", "email", r?.email, { attrs: { type: "email" }, hint: "May be empty." }),
      ),
      area("Description", "description", r?.description, { attrs: { maxlength: "2000" } }),
    ),
    el(
      "fieldset",
      {},
      el("legend", {}, "Address"),
      el(
        "div",
        { class: "form-grid" },
        text("Street and number", "address.street", a.street),
        text("City", "address.city", a.city),
        text("State or region", "address.state", a.state, { hint: "May be empty." }),
        text("Postal code", "address.zip_code", a.zip_code, { hint: "May be empty." }),
        text("Country", "address.country", a.country, { attrs: { maxlength: "2" }, hint: "Two letters: US, GB, FR." }),
      ),
    ),
    el(
      "fieldset",
      {},
      el("legend", {}, "Location"),
      el("p", { class: "hint muted" }, "Where drivers are searched from, in degrees."),
      el(
        "div",
        { class: "form-grid" },
        decimal("Latitude", "location.latitude", l?.latitude, { hint: "−90 to 90, e.g. 40.7128" }),
        decimal("Longitude", "location.longitude", l?.longitude, { hint: "−180 to 180, e.g. -74.006" }),
      ),
    ),
    el(
      "fieldset",
      {},
      el("legend", {}, "Money and time"),
      el(
        "div",
        { class: "form-grid" },
        text("Currency", "currency", creating ? "USD" : r.currency, { attrs: { maxlength: "3" }, hint: "ISO 4217 code; every price of the restaurant is in it." }),
        decimal("Delivery fee", "delivery_fee", creating ? "" : fixed(r.delivery_fee, currency), { hint: "Added to delivery orders. Empty: 0." }),
        decimal("Tax rate (%)", "tax_rate", creating ? "" : String(r.tax_rate), { hint: "A percentage with up to four decimals: 8.875. Empty: 0." }),
        whole("Preparation time (minutes)", "avg_prep_minutes", r?.avg_prep_minutes, { hint: "Typical minutes from confirmation to ready." }),
        text("Time zone", "timezone", r?.timezone, { hint: "IANA name, e.g. America/New_York; opening hours are read in it. Empty: UTC." }),
      ),
    ),
    hours.node,
    creating ? check("Active: takes orders", "active", true) : null,
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary" }, creating ? "Add restaurant" : "Save changes")),
  );
  snapshot(form);

  function read() {
    const v = (name) => value(form, name);
    const lat = v("location.latitude");
    const lng = v("location.longitude");
    return {
      name: v("name"),
      description: v("description"),
      cuisine_type: v("cuisine_type"),
      phone: v("phone"),
      email: v("email"),
      address: {
        street: v("address.street"),
        city: v("address.city"),
        state: v("address.state"),
        zip_code: v("address.zip_code"),
        country: v("address.country"),
      },
      location: lat === "" && lng === "" ? undefined : { latitude: numberOr(lat) ?? null, longitude: numberOr(lng) ?? null },
      currency: optional(v("currency")),
      delivery_fee: optional(v("delivery_fee")),
      tax_rate: optional(v("tax_rate")),
      avg_prep_minutes: wholeOr(v("avg_prep_minutes")),
      timezone: optional(v("timezone")),
      opening_hours: hours.read(),
      active: creating ? isChecked(form, "active") : undefined,
    };
  }

  function patch() {
    const body = read();
    const out = {};
    for (const name of ["name", "description", "cuisine_type", "phone", "email", "timezone"]) {
      if (changed(form, name)) out[name] = value(form, name);
    }
    if (changed(form, "currency")) out.currency = value(form, "currency");
    if (changed(form, "tax_rate")) out.tax_rate = value(form, "tax_rate") || "0";
    if (changed(form, "delivery_fee") || out.currency !== undefined) {
      out.delivery_fee = value(form, "delivery_fee") || "0";
    }
    if (changed(form, "avg_prep_minutes")) out.avg_prep_minutes = wholeOr(value(form, "avg_prep_minutes")) ?? 0;
    if (["street", "city", "state", "zip_code", "country"].some((p) => changed(form, `address.${p}`))) {
      out.address = body.address;
    }
    if ((changed(form, "location.latitude") || changed(form, "location.longitude")) && body.location) {
      out.location = body.location;
    }
    if (hours.changed()) out.opening_hours = body.opening_hours;
    return out;
  }

  return { form, read, patch };
}

// ---------------------------------------------------------------------------
// 2. Restaurant details

async function renderRestaurant(body) {
  const id = state.restaurantId;
  const status = slot();
  const summary = el("div", { class: "card" }, loading());
  const holder = el("div", { class: "card" });
  body.append(status, summary, holder);
  let r;
  try {
    r = await api("GET", `/api/restaurants/${id}`);
  } catch (error) {
    summary.replaceChildren(el("div", { class: "notice error" }, describe(error)));
    holder.remove();
    return;
  }
  setRestaurant(r);
  draw(r, false);

  function draw(current, focusSave) {
    summary.replaceChildren(...summaryOf(current));
    const { form, patch } = restaurantForm(current);
    onSubmit(form, status, async () => {
      const body = patch();
      if (!Object.keys(body).length) return { kind: "info", text: "Nothing changed." };
      const updated = await api("PATCH", `/api/restaurants/${id}`, { body });
      setRestaurant(updated);
      draw(updated, true);
      return `Saved ${updated.name}.`;
    });
    holder.replaceChildren(el("h3", {}, "Edit details"), form);
    if (focusSave) form.querySelector("button[type=submit]").focus();
  }

  function summaryOf(current) {
    const toggle = el("input", {
      type: "checkbox",
      role: "switch",
      class: "switch",
      id: "restaurant-active",
      "data-test": "restaurant-active",
      checked: current.active,
    });
    const toggleStatus = slot();
    toggle.addEventListener("change", async () => {
      const wanted = toggle.checked;
      toggle.disabled = true;
      try {
        const updated = await api("PATCH", `/api/restaurants/${id}`, { body: { active: wanted } });
        setRestaurant(updated);
        toggle.checked = updated.active;
        badge.textContent = updated.active ? "Taking orders" : "Paused";
        badge.className = updated.active ? "badge good" : "badge warn";
        say(toggleStatus, "ok", updated.active ? "The restaurant takes orders again." : "The restaurant is paused: it takes no orders.");
      } catch (error) {
        toggle.checked = !wanted;
        say(toggleStatus, "error", describe(error));
      } finally {
        toggle.disabled = false;
        toggle.focus();
      }
    });
    const badge = el("span", { class: current.active ? "badge good" : "badge warn" }, current.active ? "Taking orders" : "Paused");
    return [
      el("div", { class: "row" }, el("h3", {}, current.name), badge, el("span", { class: "muted" }, `#${current.id}`)),
      el(
        "dl",
        { class: "facts" },
        term("Currency", current.currency),
        term("Delivery fee", price(current.delivery_fee, current.currency)),
        term("Tax rate", `${current.tax_rate} %`),
        term("Time zone", current.timezone || "UTC"),
        term("Created", when(current.created_at)),
        term("Updated", when(current.updated_at)),
      ),
      field("Active: takes orders", toggle, { hint: "Takes effect at once. A paused restaurant takes no orders." }),
      toggleStatus,
    ];
  }
}

// ---------------------------------------------------------------------------
// 3. Menu: items, categories, option groups

async function renderMenu(body) {
  const id = state.restaurantId;
  const base = `/api/restaurants/${id}`;
  let menu = null;

  const status = slot();
  const reloadButton = el("button", { type: "button" }, "Reload the menu");
  const currencyNote = el("span", { class: "muted" });

  const itemsTitle = el("h3", { tabindex: "-1" }, "Items");
  const itemsStatus = slot();
  const itemsList = el("div", { class: "items" });
  const newItemStatus = slot();
  const newItemHolder = el("div");

  const categoriesTitle = el("h3", { tabindex: "-1" }, "Categories");
  const categoriesStatus = slot();
  const categoriesList = el("div");
  const newCategoryStatus = slot();

  const groupsTitle = el("h3", { tabindex: "-1" }, "Option groups");
  const groupsStatus = slot();
  const groupsList = el("div");
  const newGroupStatus = slot();
  const newGroupHolder = el("div");

  body.append(
    el("div", { class: "row toolbar" }, reloadButton, currencyNote),
    status,
    el(
      "div",
      { class: "card" },
      itemsTitle,
      el("p", { class: "hint muted" }, "The availability switch takes effect at once: off marks the item sold out."),
      itemsStatus,
      itemsList,
      el("details", { class: "add" }, el("summary", {}, "Add an item"), newItemHolder, newItemStatus),
    ),
    el(
      "div",
      { class: "card" },
      categoriesTitle,
      categoriesStatus,
      categoriesList,
      el("details", { class: "add" }, el("summary", {}, "Add a category"), newCategoryForm(), newCategoryStatus),
    ),
    el(
      "div",
      { class: "card" },
      groupsTitle,
      el("p", { class: "hint muted" }, "Modifiers offered with items (toppings, sizes); assign them to items in each item's form."),
      groupsStatus,
      groupsList,
      el("details", { class: "add" }, el("summary", {}, "Add an option group"), newGroupHolder, newGroupStatus),
    ),
  );
  itemsList.append(loading());

  reloadButton.addEventListener("click", async () => {
    reloadButton.disabled = true;
    try {
      await load();
      say(status, "ok", "Menu reloaded.");
    } catch (error) {
      say(status, "error", describe(error));
    } finally {
      reloadButton.disabled = false;
    }
  });

  async function load() {
    menu = await api("GET", `${base}/menu?include_unavailable=true`);
    currencyNote.textContent = `Prices in ${menu.currency}.`;
    drawItems();
    drawCategories();
    drawGroups();
    refreshChoices(newItemHolder);
  }

  // Items ------------------------------------------------------------------

  const groupName = (gid) => menu.option_groups.find((g) => g.id === gid)?.name ?? `#${gid}`;

  function drawItems(focusId) {
    const known = new Set(menu.categories.map((c) => c.id));
    const groups = menu.categories.map((c) => [c.name, menu.items.filter((i) => i.category_id === c.id)]);
    const loose = menu.items.filter((i) => i.category_id === null || !known.has(i.category_id));
    if (loose.length || !groups.length) groups.push(["No category", loose]);
    itemsList.replaceChildren(
      ...groups.map(([title, items]) =>
        el(
          "section",
          { class: "item-group" },
          el("h4", {}, title, " ", el("span", { class: "muted" }, `(${items.length})`)),
          items.length
            ? el("ul", { class: "plain" }, items.map(itemRow))
            : el("p", { class: "muted" }, "No items."),
        ),
      ),
    );
    if (focusId) itemsList.querySelector(`[data-test="admin-item"][data-id="${focusId}"] .edit`)?.focus();
  }

  function itemRow(item) {
    const toggle = el("input", {
      type: "checkbox",
      role: "switch",
      class: "switch",
      id: uid("available"),
      "data-test": "availability",
      checked: item.available,
    });
    const soldOut = el("span", { class: "badge warn", hidden: item.available }, "Sold out");
    const panel = el("div", { class: "edit-panel" });
    const edit = disclosure(["Edit", hidden(` ${item.name}`)], panel, (close) => itemEditForm(item, close), { class: "edit" });
    const remove = el("button", { type: "button", class: "danger" }, "Delete", hidden(` ${item.name}`));
    remove.addEventListener("click", () =>
      confirmInline(remove, `Delete ${item.name}?`, "Delete", async () => {
        try {
          await api("DELETE", `${base}/menu/${item.id}`);
          menu.items = menu.items.filter((i) => i.id !== item.id);
          drawItems();
          say(itemsStatus, "ok", `Deleted ${item.name}.`);
          itemsTitle.focus();
        } catch (error) {
          say(itemsStatus, "error", `${item.name}: ${describe(error)}`);
        }
      }),
    );
    const row = el(
      "li",
      { class: "item-row", "data-test": "admin-item", "data-id": item.id, "data-available": String(item.available) },
      el(
        "div",
        { class: "item-main" },
        el("div", { class: "row" }, el("strong", {}, item.name), el("span", { class: "price" }, price(item.price, item.currency)), soldOut),
        item.description ? el("p", { class: "muted small" }, item.description) : null,
        item.option_group_ids.length
          ? el("p", { class: "small" }, "Options: ", item.option_group_ids.map(groupName).join(", "))
          : null,
      ),
      el(
        "div",
        { class: "item-controls" },
        el("label", { class: "inline switch-label", for: toggle.id }, toggle, el("span", {}, "Available", hidden(` ${item.name}`))),
        edit,
        remove,
      ),
      panel,
    );
    toggle.addEventListener("change", async () => {
      const wanted = toggle.checked;
      const focused = document.activeElement === toggle;
      toggle.disabled = true;
      row.setAttribute("aria-busy", "true");
      try {
        const updated = await api("PATCH", `${base}/menu/${item.id}`, { body: { available: wanted } });
        Object.assign(item, updated);
        toggle.checked = updated.available;
        say(itemsStatus, "ok", `${item.name} is ${updated.available ? "available" : "sold out"} now.`);
      } catch (error) {
        toggle.checked = !wanted;
        say(itemsStatus, "error", `${item.name}: ${describe(error)}`);
      } finally {
        toggle.disabled = false;
        row.removeAttribute("aria-busy");
        row.dataset.available = String(toggle.checked);
        soldOut.hidden = toggle.checked;
        if (focused) toggle.focus();
      }
    });
    return row;
  }

  const categoryOptions = () => [["", "No category"], ...menu.categories.map((c) => [c.id, c.name])];

  function groupChoices(selected) {
    const box = el("fieldset", { class: "choices group-choices" }, el("legend", {}, "Option groups offered"));
    fillGroupChoices(box, selected);
    return box;
  }

  function fillGroupChoices(box, selected) {
    const legend = box.querySelector("legend");
    const wanted = new Set(selected.map(Number));
    const boxes = menu.option_groups.map((g) => {
      const input = el("input", { type: "checkbox", class: "group-choice", value: g.id, checked: wanted.has(g.id), id: uid("group") });
      return el("label", { class: "inline", for: input.id }, input, el("span", {}, g.name));
    });
    box.replaceChildren(legend, ...(boxes.length ? boxes : [el("p", { class: "muted small" }, "No option groups yet.")]));
  }

  const chosenGroups = (form) => [...form.querySelectorAll(".group-choice:checked")].map((c) => Number(c.value));

  /** Brings the add-item form's category and group choices up to date. */
  function refreshChoices(holder) {
    const form = holder.querySelector("form");
    if (!form) return;
    const select = form.elements.namedItem("category_id");
    const selected = select.value;
    select.replaceChildren(...categoryOptions().map(([v, c]) => el("option", { value: v }, c)));
    select.value = menu.categories.some((c) => String(c.id) === selected) ? selected : "";
    fillGroupChoices(form.querySelector(".group-choices"), chosenGroups(form));
  }

  function itemFields(item) {
    return [
      el(
        "div",
        { class: "form-grid" },
        text("Name", "name", item?.name, { attrs: { maxlength: "200" } }),
        decimal(`Price (${menu.currency})`, "price", item ? fixed(item.price, menu.currency) : "", { hint: "Not negative, no finer than the currency's smallest unit." }),
        choice("Category", "category_id", categoryOptions(), item?.category_id ?? ""),
        whole("Position", "position", item?.position, { hint: "Order within its category, smaller first. Empty: last." }),
      ),
      area("Description", "description", item?.description),
      text("Image address", "image_url", item?.image_url, { hint: "May be empty." }),
      groupChoices(item?.option_group_ids ?? []),
    ];
  }

  function newItemForm() {
    const form = el(
      "form",
      { class: "item-form" },
      ...itemFields(null),
      check("Available now", "available", true),
      el("div", { class: "actions" }, el("button", { type: "submit", class: "primary" }, "Add item")),
    );
    onSubmit(form, newItemStatus, async () => {
      const body = {
        name: value(form, "name"),
        description: value(form, "description"),
        price: value(form, "price"),
        category_id: value(form, "category_id") ? Number(value(form, "category_id")) : undefined,
        available: isChecked(form, "available"),
        image_url: value(form, "image_url"),
        option_group_ids: chosenGroups(form),
        position: wholeOr(value(form, "position")),
      };
      const item = await api("POST", `${base}/menu`, { body });
      menu.items.push(item);
      drawItems();
      form.reset();
      return `Added ${item.name} at ${price(item.price, item.currency)}.`;
    });
    return form;
  }

  function itemEditForm(item, close) {
    const status = slot();
    const form = el(
      "form",
      { class: "item-form" },
      ...itemFields(item),
      el(
        "div",
        { class: "actions" },
        el("button", { type: "submit", class: "primary" }, "Save item"),
        el("button", { type: "button", onclick: close }, "Cancel"),
      ),
    );
    snapshot(form);
    onSubmit(form, status, async () => {
      const patch = {};
      for (const name of ["name", "description", "image_url", "price"]) {
        if (changed(form, name)) patch[name] = value(form, name);
      }
      if (changed(form, "category_id")) {
        patch.category_id = value(form, "category_id") ? Number(value(form, "category_id")) : null;
      }
      if (changed(form, "position")) patch.position = wholeOr(value(form, "position")) ?? 0;
      const groups = chosenGroups(form);
      const before = new Set(item.option_group_ids);
      if (groups.length !== before.size || groups.some((g) => !before.has(g))) patch.option_group_ids = groups;
      if (!Object.keys(patch).length) return { kind: "info", text: "Nothing changed." };
      const updated = await api("PATCH", `${base}/menu/${item.id}`, { body: patch });
      Object.assign(item, updated);
      drawItems(item.id);
      say(itemsStatus, "ok", `Saved ${item.name}.`);
      return null;
    });
    return el("div", {}, form, status);
  }

  // Categories -------------------------------------------------------------

  function drawCategories() {
    categoriesList.replaceChildren(
      menu.categories.length
        ? el("ul", { class: "plain" }, menu.categories.map(categoryRow))
        : el("p", { class: "muted" }, "No categories yet."),
    );
  }

  function categoryRow(c) {
    const status = slot();
    const remove = el("button", { type: "button", class: "danger" }, "Delete", hidden(` category ${c.name}`));
    const form = el(
      "form",
      { class: "category-form" },
      el(
        "div",
        { class: "form-grid" },
        text(["Name", hidden(` of category ${c.name}`)], "name", c.name, { attrs: { maxlength: "100" } }),
        text(["Description", hidden(` of category ${c.name}`)], "description", c.description),
        whole(["Position", hidden(` of category ${c.name}`)], "position", c.position),
      ),
      el("div", { class: "actions" }, el("button", { type: "submit" }, "Save", hidden(` category ${c.name}`)), remove),
    );
    snapshot(form);
    onSubmit(form, status, async () => {
      const patch = {};
      for (const name of ["name", "description"]) if (changed(form, name)) patch[name] = value(form, name);
      if (changed(form, "position")) patch.position = wholeOr(value(form, "position")) ?? 0;
      if (!Object.keys(patch).length) return { kind: "info", text: "Nothing changed." };
      const updated = await api("PATCH", `${base}/categories/${c.id}`, { body: patch });
      await load();
      say(categoriesStatus, "ok", `Saved category ${updated.name}.`);
      categoriesTitle.focus();
      return null;
    });
    remove.addEventListener("click", () =>
      confirmInline(remove, `Delete category ${c.name}? Its items stay, in no category.`, "Delete", async () => {
        try {
          await api("DELETE", `${base}/categories/${c.id}`);
          await load();
          say(categoriesStatus, "ok", `Deleted category ${c.name}.`);
          categoriesTitle.focus();
        } catch (error) {
          say(status, "error", describe(error));
        }
      }),
    );
    return el("li", { class: "category-row" }, form, status);
  }

  function newCategoryForm() {
    const form = el(
      "form",
      { class: "category-form" },
      el(
        "div",
        { class: "form-grid" },
        text("Name", "name", "", { attrs: { maxlength: "100" } }),
        text("Description", "description", ""),
        whole("Position", "position", "", { hint: "Display order, smaller first. Empty: last." }),
      ),
      el("div", { class: "actions" }, el("button", { type: "submit", class: "primary" }, "Add category")),
    );
    onSubmit(form, newCategoryStatus, async () => {
      const created = await api("POST", `${base}/categories`, {
        body: {
          name: value(form, "name"),
          description: value(form, "description"),
          position: wholeOr(value(form, "position")),
        },
      });
      form.reset();
      await load();
      return `Added category ${created.name}.`;
    });
    return form;
  }

  // Option groups ----------------------------------------------------------

  function drawGroups() {
    groupsList.replaceChildren(
      menu.option_groups.length
        ? el("ul", { class: "plain" }, menu.option_groups.map(groupRow))
        : el("p", { class: "muted" }, "No option groups yet."),
    );
  }

  const rule = (g) => {
    const max = g.max_select === 0 ? "any number" : `at most ${g.max_select}`;
    return g.min_select > 0 ? `Choose at least ${g.min_select}, ${max}` : `Optional, ${max}`;
  };

  function groupRow(g) {
    const panel = el("div", { class: "edit-panel" });
    const edit = disclosure(["Edit", hidden(` ${g.name}`)], panel, (close) => groupForm(g, close));
    const remove = el("button", { type: "button", class: "danger" }, "Delete", hidden(` ${g.name}`));
    remove.addEventListener("click", () =>
      confirmInline(remove, `Delete ${g.name}? Items stop offering it.`, "Delete", async () => {
        try {
          await api("DELETE", `${base}/option-groups/${g.id}`);
          await load();
          say(groupsStatus, "ok", `Deleted option group ${g.name}.`);
          groupsTitle.focus();
        } catch (error) {
          say(groupsStatus, "error", `${g.name}: ${describe(error)}`);
        }
      }),
    );
    return el(
      "li",
      { class: "group-row", "data-test": "admin-option-group", "data-id": g.id },
      el(
        "div",
        { class: "row" },
        el("strong", {}, g.name),
        el("span", { class: "muted small" }, rule(g)),
        el("span", { class: "right row" }, edit, remove),
      ),
      g.options.length
        ? el(
            "ul",
            { class: "options small" },
            g.options.map((o) =>
              el(
                "li",
                {},
                o.name,
                Number(o.price_delta) ? ` (${Number(o.price_delta) > 0 ? "+" : ""}${price(o.price_delta, o.currency)})` : "",
                o.available ? "" : " ",
                o.available ? null : el("span", { class: "badge warn" }, "Unavailable"),
              ),
            ),
          )
        : el("p", { class: "muted small" }, "No options."),
      panel,
    );
  }

  function optionRow(option, focusAfterRemove) {
    const name = el("input", { type: "text", class: "option-name", value: option?.name ?? "", autocomplete: "off", maxlength: "100" });
    const delta = el("input", {
      type: "text",
      class: "option-delta",
      inputmode: "decimal",
      autocomplete: "off",
      value: option && Number(option.price_delta) ? fixed(option.price_delta, menu.currency) : "",
    });
    const available = el("input", { type: "checkbox", class: "option-available", checked: option ? option.available : true });
    const node = el(
      "div",
      { class: "option-row", "data-option-id": option?.id },
      field("Option name", name),
      field(`Price change (${menu.currency})`, delta),
      field("Available", available),
      el(
        "button",
        {
          type: "button",
          class: "danger",
          onclick: () => {
            node.remove();
            focusAfterRemove().focus();
          },
        },
        "Remove",
        hidden(" this option"),
      ),
    );
    return node;
  }

  /** The form of a new group (`g` null) or of group `g`. */
  function groupForm(g, close) {
    const status = g ? slot() : newGroupStatus;
    const rows = el("div", { class: "option-rows" });
    const add = el("button", { type: "button" }, "Add an option");
    const addRow = (o) => {
      const node = optionRow(o, () => add);
      rows.append(node);
      return node;
    };
    for (const o of g?.options ?? [null]) addRow(o);
    add.addEventListener("click", () => addRow(null).querySelector("input").focus());
    const form = el(
      "form",
      { class: "group-form" },
      el(
        "div",
        { class: "form-grid" },
        text("Group name", "name", g?.name, { attrs: { maxlength: "100" } }),
        whole("Fewest to choose", "min_select", g?.min_select ?? 0, { hint: "0: the group is optional." }),
        whole("Most to choose", "max_select", g?.max_select ?? 0, { hint: "0: no limit." }),
      ),
      el(
        "fieldset",
        {},
        el("legend", {}, "Options"),
        el("p", { class: "hint muted" }, "A price change may be negative; empty is no change. Removing an option here removes it when you save."),
        rows,
        add,
      ),
      el(
        "div",
        { class: "actions" },
        el("button", { type: "submit", class: "primary" }, g ? "Save option group" : "Add option group"),
        g ? el("button", { type: "button", onclick: close }, "Cancel") : null,
      ),
    );
    onSubmit(form, status, async () => {
      const options = [...rows.children].map((node, i) => {
        const nameInput = node.querySelector(".option-name");
        const deltaInput = node.querySelector(".option-delta");
        const availableInput = node.querySelector(".option-available");
        nameInput.dataset.field = `options[${i}].name`;
        deltaInput.dataset.field = `options[${i}].price_delta`;
        availableInput.dataset.field = `options[${i}].available`;
        return {
          id: node.dataset.optionId ? Number(node.dataset.optionId) : undefined,
          name: nameInput.value.trim(),
          price_delta: optional(deltaInput.value.trim()),
          available: availableInput.checked,
        };
      });
      const body = {
        name: value(form, "name"),
        min_select: wholeOr(value(form, "min_select")) ?? 0,
        max_select: wholeOr(value(form, "max_select")) ?? 0,
        options,
      };
      if (g) {
        const updated = await api("PATCH", `${base}/option-groups/${g.id}`, { body });
        await load();
        say(groupsStatus, "ok", `Saved option group ${updated.name}.`);
        groupsTitle.focus();
        return null;
      }
      const created = await api("POST", `${base}/option-groups`, { body });
      await load();
      newGroupHolder.replaceChildren(newGroupForm());
      newGroupHolder.querySelector("input")?.focus();
      return `Added option group ${created.name}; offer it with items in their forms.`;
    });
    return g ? el("div", {}, form, status) : form;
  }

  function newGroupForm() {
    return groupForm(null, null);
  }

  // First read (after every helper above is defined) -------------------------
  try {
    await load();
  } catch (error) {
    itemsList.replaceChildren();
    say(status, "error", describe(error));
    return;
  }
  newItemHolder.append(newItemForm());
  newGroupHolder.append(newGroupForm());
}

// ---------------------------------------------------------------------------
// 4. Coupons

async function renderCoupons(body) {
  const id = state.restaurantId;
  const base = `/api/restaurants/${id}/coupons`;
  let coupons = [];
  const currency = () => coupons[0]?.currency ?? state.restaurant?.currency ?? "USD";

  const listTitle = el("h3", { tabindex: "-1" }, "The restaurant's coupons");
  const listStatus = slot();
  const list = el("div", {}, loading());
  const createStatus = slot();
  body.append(
    el("div", { class: "card" }, listTitle, listStatus, list),
    el("div", { class: "card" }, el("h3", {}, "Add a coupon"), newCouponForm(), createStatus),
  );

  async function load() {
    coupons = (await api("GET", base)).items;
    draw();
  }

  function draw(focusId) {
    list.replaceChildren(
      coupons.length
        ? el("ul", { class: "plain coupons" }, coupons.map(couponRow))
        : el("p", { class: "muted" }, "No coupons yet."),
    );
    if (focusId) list.querySelector(`[data-id="${focusId}"] .edit`)?.focus();
  }

  const worth = (c) => (c.discount_type === "percent" ? `${c.value} % off` : `${price(c.value, c.currency)} off`);

  function couponRow(c) {
    const toggle = el("input", {
      type: "checkbox",
      role: "switch",
      class: "switch",
      id: uid("coupon-active"),
      "data-test": "coupon-active",
      checked: c.active,
    });
    const badge = el("span", { class: c.active ? "badge good" : "badge" }, c.active ? "Active" : "Off");
    toggle.addEventListener("change", async () => {
      const wanted = toggle.checked;
      toggle.disabled = true;
      try {
        const updated = await api("PATCH", `${base}/${c.id}`, { body: { active: wanted } });
        Object.assign(c, updated);
        toggle.checked = updated.active;
        badge.textContent = updated.active ? "Active" : "Off";
        badge.className = updated.active ? "badge good" : "badge";
        say(listStatus, "ok", `${c.code} is ${updated.active ? "active" : "switched off"}.`);
      } catch (error) {
        toggle.checked = !wanted;
        say(listStatus, "error", `${c.code}: ${describe(error)}`);
      } finally {
        toggle.disabled = false;
        toggle.focus();
      }
    });
    const panel = el("div", { class: "edit-panel" });
    const edit = disclosure(["Edit", hidden(` ${c.code}`)], panel, (close) => couponEditForm(c, close), { class: "edit" });
    const terms = [
      Number(c.min_order) ? `orders from ${price(c.min_order, c.currency)}` : null,
      `valid ${c.valid_from ? `from ${when(c.valid_from)}` : "now"}${c.valid_until ? ` until ${when(c.valid_until)}` : ", no end"}`,
      `used ${c.redemptions}${c.max_redemptions ? ` of ${c.max_redemptions}` : " (no limit)"}`,
      c.max_per_customer ? `at most ${c.max_per_customer} per customer` : null,
      c.first_n_customers ? `first ${c.first_n_customers} customers only` : null,
    ].filter(Boolean);
    return el(
      "li",
      { class: "coupon-row", "data-test": "admin-coupon", "data-id": c.id },
      el("div", { class: "row" }, el("strong", { class: "code" }, c.code), el("span", {}, worth(c)), badge),
      c.description ? el("p", { class: "small" }, c.description) : null,
      el("p", { class: "muted small" }, terms.join(" · ")),
      el(
        "div",
        { class: "row" },
        el("label", { class: "inline switch-label", for: toggle.id }, toggle, el("span", {}, "Active", hidden(` ${c.code}`))),
        edit,
      ),
      panel,
    );
  }

  function couponEditForm(c, close) {
    const status = slot();
    const form = el(
      "form",
      { class: "coupon-form" },
      area("Description", "description", c.description, { attrs: { maxlength: "500" } }),
      el(
        "div",
        { class: "form-grid" },
        text("Valid until", "valid_until", localInput(c.valid_until), {
          attrs: { type: "datetime-local" },
          hint: "Your local time. Empty: no end.",
        }),
        whole("Total uses allowed", "max_redemptions", c.max_redemptions, { hint: "0: unlimited." }),
      ),
      el(
        "div",
        { class: "actions" },
        el("button", { type: "submit", class: "primary" }, "Save coupon"),
        el("button", { type: "button", onclick: close }, "Cancel"),
      ),
    );
    snapshot(form);
    onSubmit(form, status, async () => {
      const patch = {};
      if (changed(form, "description")) patch.description = value(form, "description");
      if (changed(form, "valid_until")) {
        // An unfinished date reads as empty: only a field really emptied means no end.
        if (form.elements.namedItem("valid_until").validity.badInput) {
          throw fieldProblem("valid_until", "Finish the date and time, or clear the field for no end.");
        }
        const until = value(form, "valid_until");
        patch.valid_until = until ? instant(until) : null;
      }
      if (changed(form, "max_redemptions")) patch.max_redemptions = wholeOr(value(form, "max_redemptions")) ?? 0;
      if (!Object.keys(patch).length) return { kind: "info", text: "Nothing changed." };
      const updated = await api("PATCH", `${base}/${c.id}`, { body: patch });
      Object.assign(c, updated);
      draw(c.id);
      say(listStatus, "ok", `Saved ${c.code}.`);
      return null;
    });
    return el("div", {}, form, status);
  }

  function newCouponForm() {
    const form = el(
      "form",
      { class: "coupon-form" },
      el(
        "div",
        { class: "form-grid" },
        text("Code", "code", "", { attrs: { maxlength: "32", autocapitalize: "characters" }, hint: "3 to 32 letters, digits, _ or -; customers may type it in any case." }),
        choice("Discount", "discount_type", [["percent", "Percentage of the subtotal"], ["fixed", "Fixed amount"]], "percent"),
        decimal("Value", "value", "", { hint: "A percentage above 0 and at most 100 (10, 12.5), or an amount in the restaurant's currency." }),
        decimal("Smallest order", "min_order", "", { hint: "Subtotal it applies from. Empty: any." }),
        text("Valid from", "valid_from", "", { attrs: { type: "datetime-local" }, hint: "Your local time. Empty: now." }),
        text("Valid until", "valid_until", "", { attrs: { type: "datetime-local" }, hint: "Empty: no end." }),
        whole("Total uses allowed", "max_redemptions", "", { hint: "Empty or 0: unlimited." }),
        whole("Uses per customer", "max_per_customer", "", { hint: "Empty or 0: unlimited." }),
        whole("Only the first N customers", "first_n_customers", "", { hint: "Empty or 0: no such rule." }),
      ),
      area("Description", "description", "", { attrs: { maxlength: "500" }, hint: "Shown to customers." }),
      el("div", { class: "actions" }, el("button", { type: "submit", class: "primary" }, "Add coupon")),
    );
    onSubmit(form, createStatus, async () => {
      const body = {
        code: value(form, "code"),
        description: value(form, "description"),
        discount_type: value(form, "discount_type"),
        value: value(form, "value"),
        min_order: optional(value(form, "min_order")),
        valid_from: instant(value(form, "valid_from")),
        valid_until: instant(value(form, "valid_until")),
        max_redemptions: wholeOr(value(form, "max_redemptions")),
        max_per_customer: wholeOr(value(form, "max_per_customer")),
        first_n_customers: wholeOr(value(form, "first_n_customers")),
      };
      const created = await api("POST", base, { body });
      coupons.push(created);
      draw();
      form.reset();
      return `Added coupon ${created.code} (${worth(created)}).`;
    });
    const valueHint = form.querySelector('[name="value"]');
    form.elements.namedItem("discount_type").addEventListener("change", (event) => {
      valueHint.placeholder = event.target.value === "percent" ? "10" : fixed(5, currency());
    });
    valueHint.placeholder = "10";
    return form;
  }

  try {
    await load();
  } catch (error) {
    list.replaceChildren();
    say(listStatus, "error", describe(error));
  }
}

// ---------------------------------------------------------------------------
// 5. Orders of a day

/** The orders view's parts, kept while the view is kept. */
const ordersView = { detail: null };

function renderOrders(body) {
  const id = state.restaurantId;
  let filter = null;
  let cursor = null;
  let loaded = [];
  /** Counts the searches, so a page answered for an older one is dropped. */
  let search = 0;

  const statusBoxes = ORDER_STATUSES.map(([v, caption]) => {
    const input = el("input", { type: "checkbox", name: "status", value: v, id: uid(`status-${v}`) });
    return el("label", { class: "inline", for: input.id }, input, el("span", {}, caption));
  });
  const statusSet = el(
    "fieldset",
    { class: "choices", id: uid("statuses"), "data-field": "status" },
    el("legend", {}, "Statuses (none: all)"),
    ...statusBoxes,
  );
  const statusError = el("p", { class: "field-error", id: `${statusSet.id}-error`, hidden: true });
  const filterStatus = slot();
  const form = el(
    "form",
    { class: "card orders-filter", "aria-label": "Order filters" },
    el(
      "div",
      { class: "form-grid" },
      text("Day", "day", today(), { attrs: { type: "date", "data-field": "from" }, hint: "Your local day. Empty: every day." }),
      choice("Order type", "order_type", [["", "Any type"], ...ORDER_TYPES], ""),
      text("Order number", "order_number", "", { attrs: { maxlength: "6", autocapitalize: "characters" }, hint: "All six characters, e.g. K7M2QX: found whatever its day and status." }),
      choice("Per page", "limit", [["20", "20"], ["50", "50"], ["100", "100"]], "50"),
    ),
    statusSet,
    statusError,
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary" }, "Show orders")),
  );
  const summary = el("p", { class: "muted", "aria-live": "polite" });
  const table = el("div", { class: "table-wrap" });
  const more = el("button", { type: "button", hidden: true }, "Load more");
  const detail = el("div", { class: "card order-detail", hidden: true, "aria-live": "off" });
  ordersView.detail = detail;

  body.append(form, filterStatus, detail, el("div", { class: "card" }, el("h3", {}, "Orders"), summary, table, more));

  /** Reads the next page of the orders the filter asks for. */
  async function fetchMore() {
    const query = new URLSearchParams({ restaurant_id: String(id), limit: filter.limit });
    if (filter.number) {
      // A number names one order: its day and status do not matter.
      query.set("order_number", filter.number);
    } else {
      if (filter.day) {
        const [from, to] = dayRange(filter.day);
        query.set("from", from);
        query.set("to", to);
      }
      for (const s of filter.statuses) query.append("status", s);
    }
    if (filter.type) query.set("order_type", filter.type);
    if (cursor) query.set("cursor", cursor);
    const asked = search;
    const answer = await api("GET", `/api/orders?${query}`);
    // A newer search started meanwhile: this page belongs to the old one.
    if (asked !== search) return;
    loaded.push(...answer.items);
    cursor = answer.next_cursor ?? null;
    draw();
  }

  function draw() {
    summary.textContent = `${loaded.length} order${loaded.length === 1 ? "" : "s"} shown` +
      (cursor ? "; more to read." : ".");
    more.hidden = !cursor;
    table.replaceChildren(
      loaded.length
        ? el(
            "table",
            { class: "orders" },
            el("caption", { class: "visually-hidden" }, "Orders, newest first"),
            el(
              "thead",
              {},
              el("tr", {}, ["Number", "Time", "Type", "Status", "Total"].map((h) => el("th", { scope: "col" }, h))),
            ),
            el(
              "tbody",
              {},
              loaded.map((o) =>
                el(
                  "tr",
                  { "data-test": "admin-order", "data-id": o.id },
                  el("th", { scope: "row" }, el("a", { href: `#orders/${o.id}` }, o.order_number)),
                  el("td", {}, o.created_at ? clock.format(new Date(o.created_at)) : "—"),
                  el("td", {}, typeLabel(o.order_type), o.table_number ? ` (table ${o.table_number})` : ""),
                  el("td", {}, el("span", { class: `badge status-${o.status}` }, statusLabel(o.status))),
                  el("td", { class: "num" }, price(o.total, o.currency)),
                ),
              ),
            ),
          )
        : el("p", { class: "muted" }, "No orders match."),
    );
  }

  onSubmit(form, filterStatus, async () => {
    filter = {
      day: value(form, "day"),
      type: value(form, "order_type"),
      number: value(form, "order_number").toUpperCase(),
      limit: value(form, "limit") || "50",
      statuses: [...form.querySelectorAll('input[name="status"]:checked')].map((c) => c.value),
    };
    search += 1;
    cursor = null;
    loaded = [];
    table.replaceChildren(loading());
    try {
      await fetchMore();
    } catch (error) {
      table.replaceChildren();
      summary.textContent = "";
      throw error;
    }
    return null;
  });

  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      await fetchMore();
    } catch (error) {
      say(filterStatus, "error", describe(error));
    } finally {
      more.disabled = false;
    }
  });

  form.requestSubmit();
}

/** Shows order `id` (from #orders/<id>) with its history, or hides the panel. */
async function openOrder(arg) {
  const detail = ordersView.detail;
  if (!detail) return;
  if (!arg) {
    const was = detail.dataset.orderId;
    const hadFocus = detail.contains(document.activeElement);
    detail.hidden = true;
    detail.replaceChildren();
    delete detail.dataset.orderId;
    if (was && hadFocus) document.querySelector(`tr[data-id="${was}"] a`)?.focus();
    return;
  }
  const id = Number(arg);
  detail.hidden = false;
  if (!Number.isInteger(id) || id <= 0) {
    detail.replaceChildren(el("div", { class: "notice error" }, `“${arg}” is not an order id.`));
    return;
  }
  detail.dataset.orderId = String(id);
  detail.replaceChildren(loading(`Reading order #${id}…`));
  let order;
  let history;
  try {
    [order, history] = await Promise.all([
      api("GET", `/api/orders/${id}`),
      api("GET", `/api/orders/${id}/history`),
    ]);
  } catch (error) {
    if (detail.dataset.orderId === String(id)) {
      detail.replaceChildren(el("div", { class: "notice error" }, describe(error)), el("a", { href: "#orders" }, "Close"));
    }
    return;
  }
  if (detail.dataset.orderId !== String(id)) return;
  const cur = order.currency;
  const title = el("h3", { tabindex: "-1" }, `Order ${order.order_number}`, " ", el("span", { class: `badge status-${order.status}` }, statusLabel(order.status)));
  const contact = order.contact
    ? [order.contact.name, order.contact.phone, order.contact.email].filter(Boolean).join(" · ")
    : "Walk-in";
  const address = order.delivery_address
    ? [order.delivery_address.street, order.delivery_address.city, order.delivery_address.state, order.delivery_address.zip_code, order.delivery_address.country].filter(Boolean).join(", ")
    : null;
  detail.replaceChildren(
    el("div", { class: "row" }, title, el("span", { class: "right row" }, el("a", { class: "button", href: `#refunds/${order.id}` }, "Refund…"), el("a", { class: "button", href: "#orders" }, "Close"))),
    el(
      "dl",
      { class: "facts" },
      term("Order id", `#${order.id}`),
      term("Placed", when(order.created_at)),
      term("Confirmed", when(order.confirmed_at)),
      term("Type", typeLabel(order.order_type), order.table_number ? `, table ${order.table_number}` : ""),
      term("Source", order.source),
      term("Payment", order.payment_method ?? "not chosen yet"),
      term("Customer", contact, order.guest ? " (guest)" : order.customer_id ? ` (customer #${order.customer_id})` : ""),
      address ? term("Deliver to", address) : null,
      order.coupon_code ? term("Coupon", order.coupon_code) : null,
      term("Preparation", `${order.prep_minutes} min`),
      order.notes ? term("Notes", order.notes) : null,
    ),
    el("h4", {}, "Items"),
    el(
      "div",
      { class: "table-wrap" },
      el(
        "table",
        {},
        el("thead", {}, el("tr", {}, ["Qty", "Item", "Each", "Total"].map((h) => el("th", { scope: "col" }, h)))),
        el(
          "tbody",
          {},
          order.items.map((line) =>
            el(
              "tr",
              {},
              el("td", {}, `${line.quantity} ×`),
              el(
                "td",
                {},
                line.name,
                line.modifiers.length
                  ? el("div", { class: "muted small" }, line.modifiers.map((m) => (Number(m.price_delta) ? `${m.name} (${price(m.price_delta, cur)})` : m.name)).join(", "))
                  : null,
                line.special_instructions ? el("div", { class: "small" }, `“${line.special_instructions}”`) : null,
              ),
              el("td", { class: "num" }, price(line.unit_price, cur)),
              el("td", { class: "num" }, price(line.line_total, cur)),
            ),
          ),
        ),
      ),
    ),
    el(
      "dl",
      { class: "facts totals" },
      term("Subtotal", price(order.subtotal, cur)),
      Number(order.discount) ? term("Discount", `−${price(order.discount, cur)}`) : null,
      Number(order.delivery_fee) ? term("Delivery fee", price(order.delivery_fee, cur)) : null,
      term("Tax", `${price(order.tax, cur)} (${order.tax_rate} %)`),
      term("Total", el("strong", {}, price(order.total, cur))),
    ),
    el("h4", {}, "History"),
    history.items.length
      ? el(
          "ol",
          { class: "history" },
          history.items.map((h) =>
            el(
              "li",
              {},
              el("time", { datetime: h.at ?? "" }, when(h.at)),
              " — ",
              h.from ? `${statusLabel(h.from)} → ` : "placed as ",
              el("strong", {}, statusLabel(h.to)),
              h.actor ? el("span", { class: "muted" }, ` by ${h.actor.kind ?? "?"}${h.actor.id ? ` ${h.actor.id}` : ""}`) : null,
              h.reason ? el("span", {}, `: ${h.reason}`) : null,
            ),
          ),
        )
      : el("p", { class: "muted" }, "No history."),
  );
  title.focus();
}

// ---------------------------------------------------------------------------
// 6. Refunds

/** The refunds view's order form, to fill from #refunds/<order id>. */
const refundsView = { orderForm: null };

function renderRefunds(body) {
  let order = null;
  let payment = null;
  /** The found order's payments (`{items}` or `{error}`), kept current after each refund. */
  let orderPayments = null;
  let key = newKey();

  // The order and its invoice ------------------------------------------------
  const orderStatus = slot();
  const orderInfo = el("div");
  const orderForm = el(
    "form",
    { class: "lookup" },
    el(
      "div",
      { class: "row end" },
      whole("Order id", "order_id", "", { hint: "The number after # in the order's details." }),
      el("button", { type: "submit" }, "Find order"),
    ),
  );
  refundsView.orderForm = orderForm;
  onSubmit(orderForm, orderStatus, async () => {
    const raw = value(orderForm, "order_id");
    if (!/^\d+$/.test(raw) || Number(raw) <= 0) throw fieldProblem("order_id", "Type the order's id, a positive number.");
    orderInfo.replaceChildren(loading());
    const [found, invoices, payments] = await Promise.all([
      api("GET", `/api/orders/${raw}`),
      api("GET", `/api/payments/invoices?${new URLSearchParams({ order_id: raw })}`).catch((error) => ({ error })),
      api("GET", `/api/orders/${raw}/payments`).catch((error) => ({ error })),
    ]).catch((error) => {
      orderInfo.replaceChildren();
      throw error;
    });
    order = found;
    orderPayments = payments;
    drawOrder(invoices);
    // The payment to refund is the one that took money, else the live one.
    const live = payments.items?.find((p) => minor(p.refundable, p.currency) > 0)
      ?? payments.items?.find((p) => p.status !== "declined" && p.status !== "voided");
    if (live) choosePayment(live);
    else checkMatch();
    return null;
  });

  function choosePayment(p) {
    payment = p;
    key = newKey();
    paymentForm.elements.namedItem("payment_id").value = String(p.id);
    say(paymentStatus);
    drawPayment(true);
    checkMatch();
  }

  /** Puts `p` as it is now in place of its older copy in the order's list. */
  function remember(p) {
    const items = orderPayments?.items;
    const at = items?.findIndex((q) => q.id === p.id) ?? -1;
    if (at < 0) return;
    items[at] = p;
    paymentsHolder.replaceChildren(paymentsList());
  }

  const paymentsHolder = el("div");

  function paymentsList() {
    const payments = orderPayments;
    if (payments.error) return el("div", { class: "notice error" }, `Payments could not be read: ${describe(payments.error)}`);
    if (!payments.items.length) return el("p", { class: "muted" }, "No payment for this order yet.");
    return el(
      "ul",
      { class: "plain", "data-test": "order-payments" },
      payments.items.map((p) => {
        const pick = el("button", { type: "button", "data-test": "choose-payment", "data-id": String(p.id) }, "Show");
        pick.addEventListener("click", () => choosePayment(p));
        return el(
          "li",
          { class: "row" },
          `Payment #${p.id}: ${p.payment_method}, ${PAYMENT_STATUSES[p.status] ?? p.status}, ${price(p.amount, p.currency)}`
            + (minor(p.refundable, p.currency) > 0 ? `, ${price(p.refundable, p.currency)} refundable` : ""),
          pick,
        );
      }),
    );
  }

  function drawOrder(invoices) {
    const cur = order.currency;
    orderInfo.replaceChildren(
      el(
        "dl",
        { class: "facts" },
        term("Order", el("a", { href: `#orders/${order.id}` }, order.order_number), ` (#${order.id})`),
        term("Status", el("span", { class: `badge status-${order.status}` }, statusLabel(order.status))),
        term("Payment method", order.payment_method ?? "not chosen"),
        term("Total", price(order.total, cur)),
        term("Placed", when(order.created_at)),
      ),
      invoices.error
        ? el("div", { class: "notice error" }, `Invoices could not be read: ${describe(invoices.error)}`)
        : invoices.items.length
          ? el(
              "ul",
              { class: "plain" },
              invoices.items.map((inv) =>
                el("li", {}, `Invoice ${inv.number}: ${inv.status}, total ${price(inv.total, inv.currency)}, issued ${when(inv.issued_at)}`),
              ),
            )
          : el("p", { class: "muted" }, "No invoice for this order yet."),
      el("h4", {}, "Payments"),
      paymentsHolder,
    );
    paymentsHolder.replaceChildren(paymentsList());
  }

  // The payment ---------------------------------------------------------------
  const paymentStatus = slot();
  const paymentInfo = el("div");
  const paymentForm = el(
    "form",
    { class: "lookup" },
    el(
      "div",
      { class: "row end" },
      whole("Payment id", "payment_id", "", { attrs: { id: "payment-id" } }),
      el("button", { type: "submit" }, "Look up payment"),
    ),
  );
  onSubmit(paymentForm, paymentStatus, async () => {
    const raw = value(paymentForm, "payment_id");
    if (!/^\d+$/.test(raw) || Number(raw) <= 0) throw fieldProblem("payment_id", "Type the payment's id, a positive number.");
    payment = await api("GET", `/api/payments/${raw}`);
    key = newKey();
    drawPayment(true);
    checkMatch();
    return null;
  });

  const refundable = (p) => minor(p.refundable, p.currency);

  function drawPayment(prefill) {
    const p = payment;
    const left = refundable(p);
    const facts = el(
      "dl",
      { class: "facts", "data-test": "payment" },
      term("Payment", `#${p.id}`, " · ", p.payment_method, " · ", p.provider),
      term("Status", el("span", { class: "badge" }, PAYMENT_STATUSES[p.status] ?? p.status)),
      term("Order", el("a", { href: `#orders/${p.order_id}` }, `#${p.order_id}`)),
      term("Amount", price(p.amount, p.currency)),
      term("Captured", price(p.captured, p.currency)),
      term("Refunded", price(p.refunded, p.currency)),
      term("Refundable", el("strong", { "data-test": "refundable" }, price(fromMinor(left, p.currency), p.currency))),
      p.provider_reference ? term("Provider reference", p.provider_reference) : null,
      p.decline_reason ? term("Declined", p.decline_reason) : null,
      term("Updated", when(p.updated_at)),
    );
    const nothingLeft = el(
      "p",
      { class: "notice info", hidden: left > 0 },
      p.status === "authorized" || p.status === "created"
        ? "Nothing was taken yet: the money is only held. It is captured when the order completes, or released when it is cancelled."
        : "Nothing is left to refund.",
    );
    paymentInfo.replaceChildren(facts, nothingLeft);
    refundCard.hidden = false;
    refundTitle.textContent = `Refund payment #${p.id}`;
    amountLabel.textContent = `Amount (${p.currency})`;
    if (prefill) {
      refundForm.elements.namedItem("amount").value = left ? fromMinor(left, p.currency) : "";
      refundForm.elements.namedItem("reason").value = "";
      say(refundStatus);
      clearErrors(refundForm);
    }
  }

  function checkMatch() {
    if (order && payment && payment.order_id !== order.id) {
      say(paymentStatus, "info", `Payment #${payment.id} belongs to order #${payment.order_id}, not to order #${order.id} found above.`);
    }
  }

  // The refund ---------------------------------------------------------------
  const refundStatus = slot();
  const refundTitle = el("h3", {}, "Refund");
  const amountField = decimal("Amount", "amount", "", { hint: "Part or all of what is refundable." });
  const amountLabel = amountField.querySelector("label");
  const refundForm = el(
    "form",
    { class: "refund-form" },
    amountField,
    area("Reason", "reason", "", { attrs: { maxlength: "500" }, hint: "Kept with the refund, e.g. cold fries." }),
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary", id: "refund" }, "Refund")),
  );
  onSubmit(refundForm, refundStatus, async () => {
    const sent = { payment_id: payment.id, amount: value(refundForm, "amount"), reason: value(refundForm, "reason") };
    if (!sent.amount) throw fieldProblem("amount", "Type the amount to give back.");
    let refund;
    try {
      refund = await api("POST", "/api/payments/refund", { body: sent, headers: { "Idempotency-Key": key } });
    } catch (error) {
      if (error instanceof ApiError) {
        // Refused: a corrected request is a new one. The payment may have
        // moved meanwhile (another refund), so show it as it is now.
        key = newKey();
        if (error.status === 409) {
          try {
            payment = await api("GET", `/api/payments/${payment.id}`);
            remember(payment);
            drawPayment(false);
          } catch {
            // The refusal is what matters here.
          }
        }
      }
      throw error;
    }
    key = newKey();
    payment = refund.payment;
    remember(payment);
    drawPayment(true);
    const left = refundable(payment);
    return `Refunded ${price(refund.amount, refund.currency)} (refund #${refund.id}). The payment is now ${PAYMENT_STATUSES[payment.status] ?? payment.status}; ${price(fromMinor(left, payment.currency), payment.currency)} is left to refund.`;
  });
  const refundCard = el("div", { class: "card", hidden: true }, refundTitle, refundForm, refundStatus);

  body.append(
    el("div", { class: "card" }, el("h3", {}, "Find the order"), orderForm, orderStatus, orderInfo),
    el("div", { class: "card" }, el("h3", {}, "Payment"), paymentForm, paymentStatus, paymentInfo),
    refundCard,
  );
}

/** Fills the order id from #refunds/<order id> and looks the order up. */
function openRefund(arg) {
  const form = refundsView.orderForm;
  if (!form || !arg) return;
  const input = form.elements.namedItem("order_id");
  if (input.value === arg) return;
  input.value = arg;
  form.requestSubmit();
}

// ---------------------------------------------------------------------------
// Start

function start() {
  readSession();
  showWho();
  $("sign-out").addEventListener("click", signOut);
  $("skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    document.querySelector("section.view:not([hidden]) h2")?.focus();
  });
  window.addEventListener("hashchange", () => route({ focus: true }));
  route();
  if (!state.claims) return;
  // Bring the session's restaurant (and an admin's choices) up to date.
  (async () => {
    try {
      if (isAdmin()) {
        state.restaurants = await allRestaurants();
        if (state.restaurantId && !state.restaurants.some((r) => r.id === state.restaurantId)) {
          await chooseRestaurant(null);
        }
      }
      if (state.restaurantId) await chooseRestaurant(state.restaurantId);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        setToken("");
        state.claims = null;
        state.flash = { kind: "error", text: `${error.message} Sign in again.` };
        showWho();
        location.hash = "#signin";
        route();
        return;
      }
    }
    const picker = $("restaurant");
    if (picker && currentView === "signin") {
      drawnFor.signin = null;
      route();
    }
  })();
}

start();
