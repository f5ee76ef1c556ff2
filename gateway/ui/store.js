// The FoodMesh storefront: restaurants, menus, a cart the server prices,
// checkout (as a guest or signed in), the live order page and the order
// history. One ES module, no build step; the URL hash is the route:
// #/ (restaurants), #/r/{id} (menu), #/checkout, #/order/{id}, #/orders.

import { api, ApiError, claims, el, follow, money, serverNow, setToken, token } from "./api.js";

// ---------------------------------------------------------------------------
// Session storage: the cart and the checkout choices, for this tab. A
// guest's orders (with their access tokens) are kept on the device instead,
// for GUEST_ORDER_DAYS, so the link in a message about one opens it in any
// tab of this browser.

const CART = "foodmesh.cart";
const CHECKOUT = "foodmesh.checkout";
const ATTEMPTS = "foodmesh.attempts";
const GUEST_ORDERS = "foodmesh.guestOrders";
const GUEST_ORDER_DAYS = 30;
const orderTokenKey = (orderId) => `foodmesh.orderToken.${orderId}`;

function load(key, fallback, storage = sessionStorage) {
  try {
    return JSON.parse(storage.getItem(key)) ?? fallback;
  } catch {
    return fallback;
  }
}

function save(key, value) {
  sessionStorage.setItem(key, JSON.stringify(value));
}

function emptyCart() {
  return { restaurant_id: null, restaurant_name: "", currency: "USD", lines: [] };
}

const getCart = () => load(CART, emptyCart());

const BLANK_CHECKOUT = {
  order_type: "takeout",
  coupon_code: "",
  address: { street: "", city: "", state: "", zip_code: "", country: "US" },
  payment_method: "card",
  source: "tok_visa",
  guest: { name: "", phone: "", email: "" },
  notes: "",
};

function getCheckout() {
  const kept = load(CHECKOUT, {});
  return {
    ...BLANK_CHECKOUT,
    ...kept,
    address: { ...BLANK_CHECKOUT.address, ...kept.address },
    guest: { ...BLANK_CHECKOUT.guest, ...kept.guest },
  };
}

function patchCheckout(patch) {
  save(CHECKOUT, { ...getCheckout(), ...patch });
}

/** A guest's orders kept on this device (the newest 20), dropping those past their days. */
function guestOrders() {
  const kept = load(GUEST_ORDERS, [], localStorage);
  const live = (Array.isArray(kept) ? kept : []).filter((o) => o?.token && o.until > Date.now());
  if (live.length !== kept.length) localStorage.setItem(GUEST_ORDERS, JSON.stringify(live));
  return live;
}

/** The access token of a guest's order: opened by a link in this tab, or placed on this device. */
function orderTokenOf(orderId) {
  return sessionStorage.getItem(orderTokenKey(orderId))
    ?? guestOrders().find((o) => o.id === orderId)?.token ?? "";
}

function rememberGuestOrder(order) {
  const known = guestOrders().filter((o) => o.id !== order.id);
  known.unshift({ id: order.id, number: order.order_number, restaurant: order.restaurant_name,
    token: order.access_token, until: Date.now() + GUEST_ORDER_DAYS * 86_400_000 });
  localStorage.setItem(GUEST_ORDERS, JSON.stringify(known.slice(0, 20)));
}

/** How to call the API about an order: a guest's token alone, else the bearer. */
function orderAccess(orderId) {
  const orderToken = orderTokenOf(orderId);
  return orderToken ? { orderToken, auth: false } : {};
}

// ---------------------------------------------------------------------------
// Idempotency keys: one per attempt. A retry of the same body after the
// answer was lost reuses the key, so the server answers the first order
// instead of placing a second; any answer the server did give ends it.

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // randomUUID needs a secure context; a phone on the LAN over http has none.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function attemptKey(scope, body) {
  const attempts = load(ATTEMPTS, {});
  const text = JSON.stringify(body);
  if (attempts[scope]?.body !== text) {
    attempts[scope] = { key: newKey(), body: text };
    save(ATTEMPTS, attempts);
  }
  return attempts[scope].key;
}

function endAttempt(scope) {
  const attempts = load(ATTEMPTS, {});
  delete attempts[scope];
  save(ATTEMPTS, attempts);
}

/** Whether the server decided the request (so a retry is a new attempt). */
function decided(error) {
  return (
    error instanceof ApiError &&
    error.status < 500 &&
    error.code !== "idempotency_key_in_progress"
  );
}

// ---------------------------------------------------------------------------
// Small helpers for text and numbers.

const TERMINAL = new Set(["completed", "cancelled"]);
const isId = (text) => /^[1-9][0-9]{0,17}$/.test(text ?? "");
const capitalize = (text) => (text ? text[0].toUpperCase() + text.slice(1) : text);

function when(iso) {
  if (!iso) return "";
  return new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }).format(
    new Date(iso),
  );
}

function clock(iso) {
  return iso ? new Intl.DateTimeFormat(undefined, { timeStyle: "short" }).format(new Date(iso)) : "";
}

function signedDelta(amount, currency) {
  const value = Number(amount);
  if (!value) return "";
  return value > 0 ? `+${money(value, currency)}` : `−${money(-value, currency)}`;
}

/** Who the token says the user is, or null when there is no usable token. */
function who() {
  return token() ? claims() : null;
}

const isCustomer = () => who()?.role === "customer";

// ---------------------------------------------------------------------------
// Messages: one polite live region for status and problems.

const messages = document.getElementById("messages");

function say(text, kind = "info", ...more) {
  messages.replaceChildren(el("div", { class: `notice ${kind}` }, text, ...more));
}

function quiet() {
  messages.replaceChildren();
}

/** A problem (or a failure to reach the API) in words for people. */
function describe(error) {
  if (!(error instanceof ApiError)) {
    return "FoodMesh could not be reached. Check the connection and try again.";
  }
  const detail = error.problem?.detail || `The request failed (HTTP ${error.status}).`;
  if (error.status === 401 && token()) {
    return `${detail} Your sign-in token was refused: sign out to continue as a guest.`;
  }
  return detail;
}

/** Shows `error` in the live region, listing field errors no input shows. */
function sayError(error, unplaced = []) {
  const list = unplaced.length
    ? el("ul", {}, unplaced.map((e) => el("li", {}, `${e.field}: ${e.message}`)))
    : null;
  say(describe(error), "error", list);
}

// ---------------------------------------------------------------------------
// Field errors: each input has a slot named as the API names its field
// (`guest.phone`, `items[0]`), so a problem's `errors` land beside them.

class FieldErrors {
  constructor() {
    this.slots = new Map();
  }

  add(name, node, input = null) {
    this.slots.set(name, { node, input });
  }

  forget(match) {
    for (const name of [...this.slots.keys()]) if (match(name)) this.slots.delete(name);
  }

  clear(match = () => true) {
    for (const [name, slot] of this.slots) if (match(name)) setError(slot, "");
  }

  /**
   * Puts each error in the slot of its field, or of the nearest enclosing
   * field that has one (`items[0].modifiers[1]` → `items[0]`), when
   * `accept(field)` allows; answers the errors left unplaced.
   */
  show(errors, accept = () => true) {
    const placed = new Map();
    const unplaced = [];
    for (const error of errors ?? []) {
      const name = accept(error.field) ? enclosing(error.field).find((n) => this.slots.has(n)) : null;
      if (!name) {
        unplaced.push(error);
        continue;
      }
      placed.set(name, [...(placed.get(name) ?? []), capitalize(error.message)]);
    }
    for (const [name, texts] of placed) setError(this.slots.get(name), texts.join(" "));
    return unplaced;
  }
}

/** `a.b[2].c` and the fields around it: `a.b[2]`, `a.b`, `a`. */
function enclosing(field) {
  const names = [field];
  let name = field;
  for (;;) {
    const outer = name.match(/^(.+?)(\.[^.[\]]+|\[\d+\])$/);
    if (!outer) return names;
    name = outer[1];
    names.push(name);
  }
}

function setError(slot, text) {
  slot.node.textContent = text;
  slot.node.hidden = !text;
  if (slot.input) {
    if (text) slot.input.setAttribute("aria-invalid", "true");
    else slot.input.removeAttribute("aria-invalid");
  }
}

let nextId = 0;
const uid = (prefix) => `${prefix}-${++nextId}`;

/** A labelled input with its hint and its error slot, registered as `name`. */
function field(errors, name, label, input, hint = "") {
  input.id ||= uid("f");
  const hintNode = hint ? el("div", { class: "hint muted", id: `${input.id}-hint` }, hint) : null;
  const error = el("div", { class: "field-error", id: `${input.id}-error`, hidden: true });
  input.setAttribute("aria-describedby", [hintNode?.id, error.id].filter(Boolean).join(" "));
  if (!input.name) input.name = name;
  errors.add(name, error, input);
  return el("div", { class: "field" }, el("label", { for: input.id }, label), input, hintNode, error);
}

/** An error slot for a group of inputs (a fieldset, a cart line). */
function errorSlot(errors, name, id = uid("err")) {
  const node = el("div", { class: "field-error", id, hidden: true });
  errors.add(name, node);
  return node;
}

function focusFirstInvalid(root) {
  const target = root.querySelector('[aria-invalid="true"]');
  if (target) target.focus();
  else messages.scrollIntoView({ block: "nearest" });
}

function busy(button, text) {
  button.dataset.label ??= button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = text;
}

function done(button) {
  button.disabled = false;
  button.removeAttribute("aria-busy");
  button.textContent = button.dataset.label ?? button.textContent;
}

// ---------------------------------------------------------------------------
// Views: the route renders one into #app; leaving it stops what it started.

const app = document.getElementById("app");
let current = { alive: false, cleanups: [] };

function beginView() {
  current.alive = false;
  for (const stop of current.cleanups) stop();
  quote.show = null;
  current = { alive: true, cleanups: [], errors: new FieldErrors(), refreshCart: null };
  return current;
}

function mount(...nodes) {
  // replaceChildren would print a null as the text "null".
  app.replaceChildren(...nodes.filter((node) => node !== null && node !== undefined && node !== false));
}

/** The page's heading, focusable so navigation can move focus to it. */
function heading(text, ...more) {
  return el("h2", { class: "page-title", tabindex: "-1" }, text, ...more);
}

/** What to say once the next page is drawn (drawing clears the messages). */
let afterRender = null;

/** Goes to `hash`; `message` ([text, kind]) is said once the page there is drawn. */
function go(hash, message = null) {
  afterRender = message;
  if (location.hash === hash) render();
  else location.hash = hash;
}

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  return { parts: path.split("/").filter(Boolean), params: new URLSearchParams(query) };
}

async function route() {
  const { parts, params } = parseHash();
  if (parts.length === 0) return showRestaurants(params);
  if (parts[0] === "r" && isId(parts[1]) && parts.length === 2) return showMenu(Number(parts[1]));
  if (parts[0] === "checkout" && parts.length === 1) return showCheckout();
  if (parts[0] === "order" && isId(parts[1]) && parts.length === 2) {
    return showOrder(Number(parts[1]), params);
  }
  if (parts[0] === "orders" && parts.length === 1) return showHistory();
  return showNotFound();
}

async function render({ focus = false } = {}) {
  quiet();
  markNav();
  updateCartLink();
  try {
    await route();
  } catch (error) {
    // A bug, not a refusal: say so rather than leave a blank page.
    console.error(error);
    say("Something went wrong on this page. Reload to try again.", "error");
  }
  // Move focus to the new page unless the page itself put it somewhere.
  if (focus && !app.contains(document.activeElement)) app.querySelector(".page-title")?.focus();
  if (afterRender) say(...afterRender);
  afterRender = null;
}

function markNav() {
  const { parts } = parseHash();
  const here = { "": "nav-restaurants", r: "nav-restaurants", orders: "nav-orders", checkout: "cart-link" };
  for (const id of ["nav-restaurants", "nav-orders", "cart-link"]) {
    const link = document.getElementById(id);
    if (here[parts[0] ?? ""] === id) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function showNotFound() {
  beginView();
  mount(heading("Page not found"), el("p", {}, el("a", { href: "#/" }, "See the restaurants")));
}

// ---------------------------------------------------------------------------
// Restaurants.

const RESTAURANT_PAGE = 12;

/**
 * A listing read a page at a time: the first page now, the next one each
 * time `more` is pressed (hidden on the last page); `render` makes each
 * item's node for `list`, and `empty` shows when there is none at all.
 */
async function pages(view, { path, query, auth = true, list, empty, more, render }) {
  let cursor = null;
  async function loadPage() {
    const asked = new URLSearchParams(query);
    if (cursor) asked.set("cursor", cursor);
    busy(more, "Loading…");
    try {
      const page = await api("GET", `${path}?${asked}`, { auth });
      if (!view.alive) return;
      list.append(...page.items.map(render));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      empty.hidden = list.children.length > 0;
    } catch (error) {
      if (view.alive) sayError(error);
    } finally {
      done(more);
    }
  }
  more.addEventListener("click", loadPage);
  await loadPage();
}

async function showRestaurants(params) {
  const view = beginView();
  const filters = { cuisine_type: params.get("cuisine_type") ?? "", city: params.get("city") ?? "" };
  const list = el("div", { class: "grid", id: "restaurants", "aria-live": "off" });
  const empty = el("p", { class: "muted", "data-test": "no-restaurants", hidden: true },
    "No restaurant matches. Try another cuisine or city.");
  const more = el("button", { type: "button", id: "more-restaurants", hidden: true }, "More restaurants");
  mount(heading("Restaurants"), searchForm(view, filters), list, empty, more);

  const query = new URLSearchParams({ limit: String(RESTAURANT_PAGE) });
  for (const [name, value] of Object.entries(filters)) if (value) query.set(name, value);
  await pages(view, { path: "/api/restaurants", query, auth: false, list, empty, more, render: restaurantCard });
}

function searchForm(view, filters) {
  const cuisine = el("input", { type: "search", value: filters.cuisine_type, autocomplete: "off" });
  const city = el("input", { type: "search", value: filters.city, autocomplete: "address-level2" });
  const form = el("form", { class: "card search", role: "search", id: "restaurant-search" },
    el("div", { class: "search-fields" },
      field(view.errors, "cuisine_type", "Cuisine", cuisine),
      field(view.errors, "city", "City", city)),
    el("div", { class: "row" }, el("button", { type: "submit", class: "primary" }, "Search")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    if (cuisine.value.trim()) query.set("cuisine_type", cuisine.value.trim());
    if (city.value.trim()) query.set("city", city.value.trim());
    go(query.toString() ? `#/?${query}` : "#/");
  });
  return form;
}

function restaurantCard(r) {
  const open = openNow(r);
  return el("article", { class: "card restaurant", "data-test": "restaurant", "data-id": r.id },
    el("h3", {}, el("a", { href: `#/r/${r.id}` }, r.name)),
    el("p", { class: "muted" }, [r.cuisine_type, r.address?.city].filter(Boolean).join(" · ")),
    r.description ? el("p", { class: "description" }, r.description) : null,
    el("div", { class: "row" },
      openBadge(open),
      el("span", { class: "muted" }, `Delivery ${money(r.delivery_fee, r.currency)}`)));
}

function openBadge(open) {
  if (open === null) return null;
  return el("span", { class: `badge ${open ? "open" : "closed"}`, "data-test": "open-state",
    "data-open": String(open) }, open ? "Open now" : "Closed now");
}

/**
 * Whether the restaurant's opening hours include now, read in its time
 * zone; null when it gives no hours (or a zone this browser does not know).
 */
function openNow(r, now = new Date()) {
  if (!r.opening_hours?.length) return null;
  let parts;
  try {
    parts = new Intl.DateTimeFormat("en-US", {
      timeZone: r.timezone || "UTC", weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    }).formatToParts(now);
  } catch {
    return null;
  }
  const part = (type) => parts.find((p) => p.type === type)?.value;
  const day = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].indexOf(part("weekday")) + 1;
  const minute = Number(part("hour")) * 60 + Number(part("minute"));
  const yesterday = day === 1 ? 7 : day - 1;
  const minutes = (hhmm) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
  return r.opening_hours.some((span) => {
    const opens = minutes(span.opens);
    const closes = minutes(span.closes);
    if (closes > opens) return span.day_of_week === day && minute >= opens && minute < closes;
    // A span that closes at or before it opens runs past midnight.
    return (span.day_of_week === day && minute >= opens) || (span.day_of_week === yesterday && minute < closes);
  });
}

// ---------------------------------------------------------------------------
// A restaurant's menu.

async function showMenu(id) {
  const view = beginView();
  mount(heading("Menu"), el("p", { class: "muted" }, "Loading the menu…"));
  let restaurant;
  let menu;
  try {
    [restaurant, menu] = await Promise.all([
      api("GET", `/api/restaurants/${id}`, { auth: false }),
      api("GET", `/api/restaurants/${id}/menu`, { auth: false }),
    ]);
  } catch (error) {
    if (!view.alive) return;
    mount(heading("Menu"), el("p", {}, el("a", { href: "#/" }, "Back to the restaurants")));
    sayError(error);
    return;
  }
  if (!view.alive) return;
  const sections = menuSections({ restaurant, menu, view });
  const menuColumn = el("div", { class: "menu", id: "menu" },
    sections.length ? sections : el("p", { class: "muted" }, "Nothing is on this menu yet."));
  mount(restaurantHead(restaurant),
    el("div", { class: "layout" }, menuColumn, cartPanel(view, { checkoutLink: true })),
    cartJump());
  updateCartLink();
}

/** On a phone the cart is below the menu: a bar at the bottom leads there. */
function cartJump() {
  const jump = el("button", { type: "button", class: "cart-jump primary", id: "cart-jump", hidden: true });
  jump.addEventListener("click", () => {
    document.getElementById("cart").scrollIntoView({ block: "start" });
    document.getElementById("cart-title").focus({ preventScroll: true });
  });
  return jump;
}

function restaurantHead(r) {
  const address = r.address ? [r.address.street, r.address.city].filter(Boolean).join(", ") : "";
  return el("div", { class: "restaurant-head" },
    el("p", { class: "crumb" }, el("a", { href: "#/" }, "← Restaurants")),
    heading(r.name),
    el("p", { class: "muted" }, [r.cuisine_type, address].filter(Boolean).join(" · ")),
    r.description ? el("p", {}, r.description) : null,
    el("div", { class: "row" }, openBadge(openNow(r)),
      el("span", { class: "muted" }, `Delivery ${money(r.delivery_fee, r.currency)}`),
      r.avg_prep_minutes ? el("span", { class: "muted" }, `About ${r.avg_prep_minutes} min to prepare`) : null));
}

function menuSections(ctx) {
  const { menu } = ctx;
  ctx.groups = new Map(menu.option_groups.map((g) => [g.id, g]));
  const categories = [...menu.categories].sort((a, b) => a.position - b.position);
  const known = new Set(categories.map((c) => c.id));
  const sections = categories.map((c) => ({ category: c, items: menu.items.filter((i) => i.category_id === c.id) }));
  const loose = menu.items.filter((i) => !known.has(i.category_id));
  if (loose.length) {
    sections.push({ category: { id: 0, name: categories.length ? "More" : "Menu", description: "" }, items: loose });
  }
  return sections
    .filter((s) => s.items.length)
    .map(({ category, items }) =>
      el("section", { class: "category", "aria-labelledby": `category-${category.id}` },
        el("h3", { id: `category-${category.id}` }, category.name),
        category.description ? el("p", { class: "muted" }, category.description) : null,
        el("div", { class: "items" }, items.map((item) => menuItemCard(item, ctx)))));
}

function menuItemCard(item, ctx) {
  const card = el("article", {
    class: `card menu-item${item.available ? "" : " unavailable"}`,
    "data-test": "menu-item", "data-id": item.id, "data-available": String(item.available),
    "aria-labelledby": `item-${item.id}`,
  },
  el("div", { class: "item-head" },
    el("h4", { id: `item-${item.id}` }, item.name),
    el("span", { class: "price" }, money(item.price, item.currency))),
  item.description ? el("p", { class: "muted" }, item.description) : null);
  if (!item.available) {
    card.append(el("button", { type: "button", disabled: true, "data-test": "add-to-cart", "data-id": item.id },
      "Unavailable"));
    return card;
  }
  const groups = item.option_group_ids.map((id) => ctx.groups.get(id)).filter(Boolean);
  card.append(addForm(item, groups, ctx));
  return card;
}

/**
 * The form that adds an item: its option groups (opened by "Choose
 * options" when it has any), a quantity and "Add to cart".
 */
function addForm(item, groups, ctx) {
  const formId = `add-${item.id}`;
  const sets = groups.map((g) => optionFieldset(g, formId, item.currency));
  const quantity = el("input", { id: `${formId}-qty`, class: "qty-input", type: "number", min: "1", max: "99",
    step: "1", value: "1", inputmode: "numeric", "data-test": "quantity" });
  const quantityError = el("div", { class: "field-error", id: `${formId}-qty-error`, hidden: true });
  quantity.setAttribute("aria-describedby", quantityError.id);
  const each = el("span", { class: "muted each" });
  const conflict = el("div", { class: "conflict", hidden: true });
  const panel = el("div", { class: "add-panel", id: `${formId}-panel`, hidden: groups.length > 0 },
    sets.map((s) => s.node),
    el("div", { class: "row add-row" },
      el("label", { for: quantity.id, class: "qty-label" }, "Quantity"), quantity, each,
      el("button", { type: "submit", class: "primary", "data-test": "add-to-cart", "data-id": item.id }, "Add to cart")),
    quantityError, conflict);
  const toggle = groups.length
    ? el("button", { type: "button", "aria-expanded": "false", "aria-controls": panel.id, "data-test": "choose-options",
      "data-id": item.id }, "Choose options")
    : null;
  const form = el("form", { class: "add-form", id: formId, novalidate: true, "data-test": "add-form" }, toggle, panel);
  const parts = { item, sets, quantity, quantityError, conflict, panel, toggle, form, ctx };

  toggle?.addEventListener("click", () => openPanel(parts, panel.hidden));
  const showEach = () => {
    const delta = sets.flatMap((s) => s.chosen()).reduce((sum, input) => sum + Number(input.dataset.delta), 0);
    each.textContent = delta ? `${money(Number(item.price) + delta, item.currency)} each` : "";
  };
  form.addEventListener("change", showEach);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitAdd(parts);
  });
  return form;
}

function openPanel(parts, open) {
  parts.panel.hidden = !open;
  parts.toggle?.setAttribute("aria-expanded", String(open));
  if (open) parts.panel.querySelector("input:not(:disabled)")?.focus();
}

function ruleText(group) {
  const { min_select: min, max_select: max } = group;
  if (max === 1) return min >= 1 ? "Choose 1" : "Optional";
  if (max === 0) return min ? `Choose at least ${min}` : "Optional, any number";
  if (min === max) return `Choose ${min}`;
  return min ? `Choose ${min} to ${max}` : `Up to ${max}`;
}

/**
 * One option group: radios when one may be chosen (with "None" when the
 * group is optional), checkboxes otherwise, disabled past `max_select`.
 */
function optionFieldset(group, formId, currency) {
  const single = group.max_select === 1;
  const name = `${formId}-g${group.id}`;
  const error = el("div", { class: "field-error", id: `${name}-error`, hidden: true });
  const choice = (id, label, extras, attrs) => {
    const input = el("input", { type: single ? "radio" : "checkbox", name, id: `${name}-${id}`, ...attrs });
    return el("label", { class: "inline option", for: input.id }, input, el("span", {}, label), ...extras);
  };
  const choices = group.options.map((opt) =>
    choice(`o${opt.id}`, opt.name, [
      el("span", { class: "muted" }, signedDelta(opt.price_delta, currency)),
      opt.available ? null : el("span", { class: "muted" }, "(unavailable)"),
    ], { value: String(opt.id), disabled: !opt.available, "data-delta": String(opt.price_delta),
      "data-name": opt.name, "data-unavailable": opt.available ? null : "true" }));
  if (single && group.min_select === 0) {
    choices.unshift(choice("none", "None", [], { value: "", checked: true, "data-delta": "0" }));
  }
  const node = el("fieldset", { class: "option-group", "data-test": "option-group", "data-group": group.id,
    "aria-describedby": error.id },
  el("legend", {}, group.name, " ", el("span", { class: "muted rule" }, `(${ruleText(group)})`)),
  el("div", { class: "choices" }, choices), error);
  const inputs = () => [...node.querySelectorAll("input")];
  const chosen = () => inputs().filter((i) => i.checked && i.value !== "");
  if (!single && group.max_select > 0) {
    node.addEventListener("change", () => {
      const full = chosen().length >= group.max_select;
      for (const input of inputs()) {
        if (!input.checked && !input.dataset.unavailable) input.disabled = full;
      }
    });
  }
  const check = () => {
    const count = chosen().length;
    if (count < group.min_select) return group.min_select === 1 ? "Choose one." : `Choose at least ${group.min_select}.`;
    if (group.max_select && count > group.max_select) return `Choose at most ${group.max_select}.`;
    return "";
  };
  return { node, error, chosen, check, inputs, single };
}

function submitAdd(parts) {
  const { sets, quantity, quantityError } = parts;
  let firstBad = null;
  for (const set of sets) {
    const problem = set.check();
    setError({ node: set.error, input: null }, problem);
    if (problem) firstBad ??= set.inputs().find((i) => !i.disabled);
  }
  const count = Number(quantity.value);
  const countOk = Number.isInteger(count) && count >= 1 && count <= 99;
  setError({ node: quantityError, input: quantity }, countOk ? "" : "Enter a quantity from 1 to 99.");
  if (!countOk) firstBad ??= quantity;
  if (firstBad) {
    firstBad.focus();
    return;
  }
  const picked = sets.flatMap((s) => s.chosen());
  const line = {
    menu_item_id: parts.item.id,
    name: parts.item.name,
    quantity: count,
    modifiers: picked.map((i) => Number(i.value)),
    modifier_names: picked.map((i) => i.dataset.name),
  };
  const cart = getCart();
  const { restaurant, menu } = parts.ctx;
  if (cart.lines.length && cart.restaurant_id !== restaurant.id) {
    askNewCart(parts, cart, line);
    return;
  }
  const into = cart.lines.length ? cart : { ...emptyCart(), restaurant_id: restaurant.id,
    restaurant_name: restaurant.name, currency: menu.currency };
  addLine(into, line, parts);
}

/** The cart holds another restaurant's items: start over, or keep them. */
function askNewCart(parts, cart, line) {
  const { restaurant, menu } = parts.ctx;
  const keep = el("button", { type: "button" }, "Keep my cart");
  const replace = el("button", { type: "button", class: "primary", "data-test": "new-cart" }, "Start a new cart");
  parts.conflict.replaceChildren(
    el("p", { class: "notice info" }, `Your cart holds items from ${cart.restaurant_name}. `
      + `A cart is for one restaurant at a time.`),
    el("div", { class: "row" }, replace, keep));
  parts.conflict.hidden = false;
  replace.focus();
  keep.addEventListener("click", () => {
    parts.conflict.hidden = true;
    parts.form.querySelector('[data-test="add-to-cart"]').focus();
  });
  replace.addEventListener("click", () => {
    parts.conflict.hidden = true;
    patchCheckout({ coupon_code: "" });
    addLine({ ...emptyCart(), restaurant_id: restaurant.id, restaurant_name: restaurant.name,
      currency: menu.currency }, line, parts);
  });
}

const lineKey = (line) => `${line.menu_item_id}:${[...line.modifiers].sort((a, b) => a - b).join(",")}`;

function addLine(cart, line, parts) {
  const same = cart.lines.find((l) => lineKey(l) === lineKey(line));
  let note = "";
  if (same) {
    const total = same.quantity + line.quantity;
    same.quantity = Math.min(total, 99);
    if (total > 99) note = " (99 is the most one line takes)";
  } else {
    cart.lines.push(line);
  }
  putCart(cart);
  say(`Added ${line.quantity} × ${line.name} to your cart${note}.`, "ok");
  parts.quantity.value = "1";
  for (const set of parts.sets) {
    for (const input of set.inputs()) {
      input.checked = input.value === "" && set.single;
      input.disabled = Boolean(input.dataset.unavailable);
    }
  }
  parts.form.dispatchEvent(new Event("change"));
  if (parts.toggle) {
    openPanel(parts, false);
    parts.toggle.focus();
  }
}

// ---------------------------------------------------------------------------
// The cart, priced by the server: every change asks POST /api/orders/quote
// again (debounced); an answer to an older question is dropped.

const quote = { seq: 0, timer: 0, answer: null, error: null, busy: false, show: null };
const QUOTE_DELAY_MS = 250;

function putCart(cart) {
  if (cart.lines.length) save(CART, cart);
  else sessionStorage.removeItem(CART);
  cartChanged();
}

function cartChanged() {
  updateCartLink();
  current.refreshCart?.();
  requestQuote();
}

function updateCartLink() {
  const count = getCart().lines.reduce((sum, line) => sum + line.quantity, 0);
  document.getElementById("cart-count").textContent = String(count);
  const items = `${count} ${count === 1 ? "item" : "items"}`;
  document.getElementById("cart-link").setAttribute("aria-label", `Cart, ${items}`);
  const jump = document.getElementById("cart-jump");
  if (jump) {
    jump.hidden = count === 0;
    jump.textContent = `View cart · ${items}`;
  }
}

function requestQuote() {
  clearTimeout(quote.timer);
  quote.seq += 1; // whatever is in flight now answers an older question
  quote.busy = true;
  quote.show?.();
  quote.timer = setTimeout(runQuote, QUOTE_DELAY_MS);
}

async function runQuote() {
  const seq = quote.seq;
  const cart = getCart();
  if (!cart.lines.length) {
    settleQuote(seq, null, null);
    return;
  }
  try {
    const answer = await api("POST", "/api/orders/quote", { body: quoteBody(cart, getCheckout()) });
    settleQuote(seq, answer, null);
  } catch (error) {
    settleQuote(seq, null, error);
  }
}

function settleQuote(seq, answer, error) {
  if (seq !== quote.seq) return;
  Object.assign(quote, { answer, error, busy: false });
  quote.show?.();
}

function cleanAddress(address) {
  return {
    street: address.street.trim(),
    city: address.city.trim(),
    state: address.state.trim(),
    zip_code: address.zip_code.trim(),
    country: address.country.trim().toUpperCase(),
  };
}

const addressStarted = (a) => Boolean(a.street.trim() || a.city.trim() || a.zip_code.trim());

/** What a quote prices; an order sends the same, and more. */
function quoteBody(cart, checkout, { forOrder = false } = {}) {
  const body = {
    restaurant_id: cart.restaurant_id,
    order_type: checkout.order_type,
    items: cart.lines.map((l) => ({ menu_item_id: l.menu_item_id, quantity: l.quantity, modifiers: l.modifiers })),
  };
  const coupon = checkout.coupon_code.trim();
  if (coupon) body.coupon_code = coupon;
  if (checkout.order_type === "delivery" && (forOrder || addressStarted(checkout.address))) {
    body.delivery_address = cleanAddress(checkout.address);
  }
  return body;
}

/** The fields a quote's problem may name beside the inputs of the page. */
const QUOTED_FIELD = /^(items|coupon_code|delivery_address|order_type)\b/;

/**
 * Whether a quote's complaint about `name` goes beside its input now: an
 * address is judged only in the parts the customer has filled in (or once
 * they tried to order), not while they are still on the street line.
 */
function quotedFieldShown(view, name) {
  if (!QUOTED_FIELD.test(name)) return false;
  if (!name.startsWith("delivery_address")) return true;
  return Boolean(view.submitted || enclosing(name).some((n) => view.touched?.has(n)));
}

function cartPanel(view, { checkoutLink }) {
  const title = el("h2", { id: "cart-title", tabindex: "-1" }, "Your cart");
  const from = el("p", { class: "muted", id: "cart-restaurant" });
  const lines = el("ul", { class: "cart-lines", id: "cart-lines" });
  const totals = el("div", { class: "cart-totals" });
  const note = el("p", { class: "quote-note notice error", id: "quote-note", hidden: true });
  const checkout = checkoutLink
    ? el("a", { class: "button primary checkout-link", href: "#/checkout", id: "go-checkout" }, "Checkout")
    : null;
  const panel = el("aside", { class: "card cart", id: "cart", "aria-labelledby": title.id },
    title, from, lines, totals, note, checkout);
  const parts = { view, from, lines, totals, note, checkout };

  lines.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-act]");
    if (button) changeLine(Number(button.dataset.line), button.dataset.act);
  });
  view.refreshCart = () => drawCart(parts);
  quote.show = () => drawQuote(parts);
  drawCart(parts);
  requestQuote();
  return panel;
}

function changeLine(index, act) {
  const cart = getCart();
  const line = cart.lines[index];
  if (!line) return;
  if (act === "remove") {
    cart.lines.splice(index, 1);
    say(`Removed ${line.name} from your cart.`);
  } else {
    line.quantity = Math.max(1, Math.min(99, line.quantity + (act === "inc" ? 1 : -1)));
    say(`${line.name}: ${line.quantity}.`);
  }
  putCart(cart);
}

function drawCart(parts) {
  const { view, from, lines, checkout } = parts;
  const cart = getCart();
  // Re-drawing replaces the buttons: keep the keyboard where it was.
  const focused = document.activeElement?.closest?.("#cart-lines button[data-act]");
  const refocus = focused ? `[data-act="${focused.dataset.act}"][data-line="${focused.dataset.line}"]` : null;
  view.errors.forget((name) => name.startsWith("items"));
  from.textContent = cart.lines.length ? `From ${cart.restaurant_name}` : "";
  if (checkout) checkout.hidden = !cart.lines.length;
  lines.replaceChildren(...(cart.lines.length
    ? cart.lines.map((line, i) => cartLine(view, line, i))
    : [el("li", { class: "muted empty" }, "Your cart is empty.")]));
  if (refocus) (lines.querySelector(`${refocus}:not(:disabled)`) ?? document.getElementById("cart-title"))?.focus?.();
  drawQuote(parts);
}

function cartLine(view, line, i) {
  const name = line.name;
  return el("li", { class: "cart-line", "data-test": "cart-line", "data-index": i, "data-id": line.menu_item_id },
    el("div", { class: "line-main" },
      el("span", { class: "line-name" }, name),
      line.modifier_names?.length ? el("span", { class: "muted line-mods" }, line.modifier_names.join(", ")) : null),
    el("div", { class: "line-controls" },
      el("div", { class: "qty", role: "group", "aria-label": `Quantity of ${name}` },
        el("button", { type: "button", "data-act": "dec", "data-line": i, "aria-label": `One less ${name}`,
          disabled: line.quantity <= 1 }, "−"),
        el("span", { class: "qty-value", "data-test": "line-quantity" }, String(line.quantity)),
        el("button", { type: "button", "data-act": "inc", "data-line": i, "aria-label": `One more ${name}`,
          disabled: line.quantity >= 99 }, "+")),
      el("span", { class: "line-total", "data-test": "line-total" }, "…"),
      el("button", { type: "button", class: "link", "data-act": "remove", "data-line": i,
        "data-test": "remove-line", "aria-label": `Remove ${name}` }, "Remove")),
    errorSlot(view.errors, `items[${i}]`));
}

function drawQuote(parts) {
  const { view, lines, totals, note } = parts;
  const cart = getCart();
  const { answer, error } = quote;
  const state = quote.busy ? "pending" : error ? "error" : "ready";
  lines.querySelectorAll('[data-test="line-total"]').forEach((node, i) => {
    const priced = answer?.items?.[i];
    node.textContent = priced ? money(priced.line_total, answer.currency) : quote.busy ? "…" : "—";
  });
  if (!cart.lines.length) {
    totals.replaceChildren();
    note.hidden = true;
    return;
  }
  totals.replaceChildren(totalsList(answer, answer?.currency ?? cart.currency, "cart-total", state));
  const mirror = document.querySelector('[data-test="place-total"]');
  if (mirror) mirror.textContent = document.getElementById("cart-total").textContent;
  totals.classList.toggle("stale", quote.busy);
  note.classList.toggle("stale", quote.busy);
  totals.setAttribute("aria-busy", String(quote.busy));
  if (quote.busy) return;
  view.errors.clear((name) => QUOTED_FIELD.test(name));
  note.hidden = !error;
  if (!error) return;
  const named = error instanceof ApiError ? error.errors : [];
  const unplaced = view.errors.show(named, (name) => quotedFieldShown(view, name));
  const needsAddress = named.length > 0 && unplaced.length === named.length
    && named.every((e) => e.field.startsWith("delivery_address"));
  note.className = `quote-note notice ${needsAddress ? "info" : "error"}`;
  note.textContent = needsAddress
    ? "Enter the delivery address to see the total with delivery."
    : `This cart can't be priced: ${describe(error)}`;
}

/** Subtotal, discount, delivery, tax and total of a quote or an order. */
function totalsList(x, currency, totalId, state = "ready") {
  const show = (amount) => (x ? money(amount, currency) : "—");
  const row = (label, value, attrs = {}) => [el("dt", {}, label), el("dd", attrs, value)];
  const tax = x && Number(x.tax_rate) ? `Tax (${x.tax_rate}%)` : "Tax";
  return el("dl", { class: "totals" },
    row("Subtotal", show(x?.subtotal)),
    x && Number(x.discount) ? row("Discount", `−${money(x.discount, currency)}`, { class: "discount" }) : null,
    x && Number(x.delivery_fee) ? row("Delivery", show(x.delivery_fee)) : null,
    row(tax, show(x?.tax)),
    el("dt", { class: "total" }, "Total"),
    el("dd", { class: "total" }, el("strong", { id: totalId, "data-state": state }, show(x?.total))));
}

// ---------------------------------------------------------------------------
// Checkout.

/** What the order page shows first after checkout (a payment's outcome). */
let arrival = null;

function showCheckout() {
  const view = beginView();
  const cart = getCart();
  if (!cart.lines.length) {
    mount(heading("Checkout"),
      el("p", {}, "Your cart is empty. ", el("a", { href: "#/" }, "Find a restaurant"), "."));
    return;
  }
  mount(heading("Checkout"),
    el("p", { class: "crumb" }, el("a", { href: `#/r/${cart.restaurant_id}` }, `← Back to ${cart.restaurant_name}`)),
    el("div", { class: "layout checkout" }, checkoutForm(view), cartPanel(view, { checkoutLink: false })));
}

function radios(name, options, checked) {
  return options.map(([value, label]) => {
    const input = el("input", { type: "radio", name, value, id: `${name}-${value}`, checked: value === checked });
    return el("label", { class: "inline", for: input.id }, input, label);
  });
}

function checkoutForm(view) {
  const co = getCheckout();
  const errors = view.errors;
  view.touched = new Set();
  view.submitted = false;
  const address = addressFieldset(errors, co.address);
  address.hidden = co.order_type !== "delivery";
  const payment = paymentFieldset(errors, co);
  const place = el("button", { type: "submit", class: "primary", id: "place-order" }, "Place order");
  const form = el("form", { class: "card checkout-form", id: "checkout-form", novalidate: true },
    el("fieldset", { "aria-describedby": "order_type-error" },
      el("legend", {}, "How do you want it?"),
      el("div", { class: "choices" },
        radios("order_type", [["takeout", "Takeout (I collect it)"], ["delivery", "Delivery"]], co.order_type)),
      errorSlot(errors, "order_type", "order_type-error")),
    address,
    field(errors, "coupon_code", "Coupon code",
      el("input", { type: "text", value: co.coupon_code, autocomplete: "off", autocapitalize: "characters" }),
      "Optional. The cart's total shows its discount."),
    contactSection(errors, co),
    field(errors, "notes", "Notes for the restaurant",
      el("textarea", { rows: "2", maxlength: "1000" }, co.notes), "Optional."),
    payment,
    el("p", { class: "place-total" }, "Total to pay: ",
      el("strong", { "data-test": "place-total" }, "—")),
    el("div", { class: "row place" }, place));

  form.addEventListener("input", (event) => checkoutEdited(view, form, event.target));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    placeOrder(view, form, place);
  });
  return form;
}

function addressFieldset(errors, a) {
  const input = (value, attrs = {}) => el("input", { type: "text", value, ...attrs });
  return el("fieldset", { id: "delivery-address", "aria-describedby": "delivery-address-error" },
    el("legend", {}, "Delivery address"),
    field(errors, "delivery_address.street", "Street and number", input(a.street, { autocomplete: "address-line1" })),
    el("div", { class: "split" },
      field(errors, "delivery_address.city", "City", input(a.city, { autocomplete: "address-level2" })),
      field(errors, "delivery_address.state", "State or region", input(a.state, { autocomplete: "address-level1" }))),
    el("div", { class: "split" },
      field(errors, "delivery_address.zip_code", "Postal code", input(a.zip_code, { autocomplete: "postal-code" })),
      field(errors, "delivery_address.country", "Country (2 letters)",
        input(a.country, { maxlength: "2", autocomplete: "country", autocapitalize: "characters" }), "For example US.")),
    errorSlot(errors, "delivery_address", "delivery-address-error"));
}

function contactSection(errors, co) {
  const me = who();
  if (isCustomer()) {
    return el("p", { class: "notice info", id: "ordering-as" }, `You order as customer ${me.sub}.`);
  }
  const lead = me
    ? el("p", { class: "muted" }, `Signed in as ${me.role}: the order is placed for this guest.`)
    : el("p", { class: "muted" }, "No account needed: we send your order's updates here.");
  return el("fieldset", { id: "guest", "aria-describedby": "guest-error" },
    el("legend", {}, "Your details"), lead,
    field(errors, "guest.name", "Name", el("input", { type: "text", value: co.guest.name, autocomplete: "name" })),
    field(errors, "guest.phone", "Phone",
      el("input", { type: "tel", value: co.guest.phone, autocomplete: "tel", inputmode: "tel" }),
      "International format, e.g. +12125550100."),
    field(errors, "guest.email", "Email",
      el("input", { type: "email", value: co.guest.email, autocomplete: "email" }), "Optional."),
    errorSlot(errors, "guest", "guest-error"));
}

const CARD_HINT = "Sandbox cards: tok_visa approves, tok_chargeDeclined declines, "
  + "tok_chargeDeclinedInsufficientFunds declines for funds, tok_threeDSecure2Required asks you to confirm.";

function paymentFieldset(errors, co, { withCash = true, legend = "Payment" } = {}) {
  const methods = [["card", "Card"], ...(withCash ? [["cash", "Cash"]] : []), ["mobile_money", "Mobile money"]];
  const method = methods.some(([m]) => m === co.payment_method) ? co.payment_method : "card";
  const source = field(errors, "source", "Card (token or test card number)",
    el("input", { type: "text", value: co.source, autocomplete: "off", spellcheck: "false", "data-test": "card-source" }),
    CARD_HINT);
  source.classList.add("card-source");
  source.hidden = method !== "card";
  return el("fieldset", { class: "payment", "aria-describedby": "payment_method-error" },
    el("legend", {}, legend),
    el("div", { class: "choices" }, radios("payment_method", methods, method)),
    errorSlot(errors, "payment_method", "payment_method-error"),
    source,
    errorSlot(errors, "amount"));
}

/** Reads the checkout form into the kept choices. */
function readCheckout(form) {
  const data = new FormData(form);
  const text = (name, fallback) => (data.has(name) ? String(data.get(name)) : fallback);
  const co = getCheckout();
  return {
    order_type: text("order_type", co.order_type),
    coupon_code: text("coupon_code", co.coupon_code),
    address: {
      street: text("delivery_address.street", co.address.street),
      city: text("delivery_address.city", co.address.city),
      state: text("delivery_address.state", co.address.state),
      zip_code: text("delivery_address.zip_code", co.address.zip_code),
      country: text("delivery_address.country", co.address.country),
    },
    guest: {
      name: text("guest.name", co.guest.name),
      phone: text("guest.phone", co.guest.phone),
      email: text("guest.email", co.guest.email),
    },
    notes: text("notes", co.notes),
    payment_method: text("payment_method", co.payment_method),
    source: text("source", co.source),
  };
}

function checkoutEdited(view, form, target) {
  const co = readCheckout(form);
  patchCheckout(co);
  const name = target.name ?? "";
  view.touched.add(name);
  view.errors.clear((field) => field === name);
  if (name === "order_type") form.querySelector("#delivery-address").hidden = co.order_type !== "delivery";
  if (name === "payment_method") form.querySelector(".card-source").hidden = co.payment_method !== "card";
  if (QUOTED_FIELD.test(name)) requestQuote();
}

function orderBody(cart, co) {
  const body = { ...quoteBody(cart, co, { forOrder: true }), payment_method: co.payment_method };
  if (!isCustomer()) {
    body.guest = {
      name: co.guest.name.trim(),
      // People type spaces, dashes and brackets; E.164 has none.
      phone: co.guest.phone.replace(/[\s().-]/g, ""),
      email: co.guest.email.trim(),
    };
  }
  if (co.notes.trim()) body.notes = co.notes.trim();
  return body;
}

async function placeOrder(view, form, button) {
  const cart = getCart();
  const co = readCheckout(form);
  patchCheckout(co);
  view.errors.clear();
  view.submitted = true;
  quiet();
  const body = orderBody(cart, co);
  busy(button, "Placing your order…");
  let order;
  try {
    order = await api("POST", "/api/orders", { body, headers: { "Idempotency-Key": attemptKey("order", body) } });
  } catch (error) {
    if (decided(error)) endAttempt("order");
    if (!view.alive) return;
    done(button);
    const unplaced = error instanceof ApiError ? view.errors.show(error.errors) : [];
    sayError(error, unplaced);
    focusFirstInvalid(form);
    return;
  }
  endAttempt("order");
  if (order.access_token) rememberGuestOrder(order);
  sessionStorage.removeItem(CART);
  patchCheckout({ coupon_code: "" });
  updateCartLink();
  if (co.payment_method !== "cash") {
    busy(button, "Paying…");
    arrival = { orderId: order.id, ...(await pay(order, co.payment_method, co.source)) };
  }
  go(`#/order/${order.id}`);
}

/** Pays `order`: answers `{payment}` or `{error}`, never throws. */
async function pay(order, method, source) {
  const body = { order_id: order.id, amount: order.total, payment_method: method };
  if (method === "card" && source.trim()) body.source = source.trim();
  const scope = `payment-${order.id}`;
  try {
    const payment = await api("POST", "/api/payments", {
      body, ...orderAccess(order.id), headers: { "Idempotency-Key": attemptKey(scope, body) },
    });
    endAttempt(scope);
    return { payment };
  } catch (error) {
    if (decided(error)) endAttempt(scope);
    return { error };
  }
}

// ---------------------------------------------------------------------------
// The order page: the order as the API shows it, kept current by its
// event stream, with payment, cancelling, delivery tracking and reorder.

const STEPS = ["pending", "confirmed", "preparing", "ready", "out_for_delivery", "completed"];
const ORDER_EVENTS = new Set(["snapshot", "status_changed", "items_changed"]);

function stepLabel(step, order) {
  const delivery = order.order_type === "delivery";
  return {
    pending: "Placed",
    confirmed: "Confirmed",
    preparing: "Preparing",
    ready: delivery ? "Ready for the driver" : order.order_type === "dine_in" ? "Ready to serve" : "Ready to collect",
    out_for_delivery: "On its way",
    completed: delivery ? "Delivered" : "Completed",
    cancelled: "Cancelled",
  }[step] ?? step;
}

function statusText(order) {
  if (order.status === "pending") {
    return order.payment_method === "cash" ? "Waiting for the restaurant" : "Waiting for payment";
  }
  return stepLabel(order.status, order);
}

async function showOrder(id, params) {
  const view = beginView();
  const given = params.get("token");
  if (given) sessionStorage.setItem(orderTokenKey(id), given);
  const access = orderAccess(id);
  if (!access.orderToken && !token()) {
    mount(heading(`Order ${id}`),
      el("p", { class: "notice info" }, "Open this order on the device you placed it on (or with the "
        + "link that has its token), or sign in as its customer."));
    return;
  }
  mount(heading(`Order ${id}`), el("p", { class: "muted" }, "Loading the order…"));
  let order;
  try {
    order = await api("GET", `/api/orders/${id}`, access);
  } catch (error) {
    if (!view.alive) return;
    mount(heading(`Order ${id}`), el("p", {}, el("a", { href: "#/" }, "Back to the restaurants")));
    sayError(error);
    return;
  }
  if (!view.alive) return;
  const page = orderPage(view, order, access);
  mount(page.node);
  page.update(order);
  if (arrival?.orderId === id) page.showPaid(arrival);
  arrival = null;
  if (TERMINAL.has(order.status)) page.live("ended");
  else watchOrder(view, page, id, access);
}

function watchOrder(view, page, id, access) {
  let stop = null;
  stop = follow(`/api/orders/${id}/events`, {
    orderToken: access.orderToken,
    auth: access.auth !== false,
    onEvent(name, data) {
      if (!ORDER_EVENTS.has(name) || !data || !view.alive) return;
      page.update(data);
      // The stream ends with the order; reconnecting would only end again.
      if (TERMINAL.has(data.status)) {
        stop?.();
        page.live("ended");
      }
    },
    onState(state, error) {
      if (view.alive) page.live(state, error);
    },
  });
  view.cleanups.push(() => stop());
}

function orderPage(view, first, access) {
  const id = first.id;
  const status = el("p", { id: "order-status", class: "order-status", "data-status": first.status });
  const liveState = el("span", { id: "live-state", class: "live badge", "data-state": "connecting" }, "Connecting…");
  const steps = el("ol", { class: "steps", id: "order-steps", "aria-label": "Progress" });
  const lines = el("div", { id: "order-lines" });
  const actions = el("div", { class: "row actions", id: "order-actions" });
  const paySection = el("section", { class: "card", id: "payment", "aria-labelledby": "payment-title", hidden: true });
  const tracking = el("section", { class: "card", id: "delivery-tracking", "aria-labelledby": "tracking-title",
    hidden: true });
  const meta = el("p", { class: "muted", id: "order-meta" });
  const node = el("div", { class: "order-page", "data-test": "order", "data-id": id },
    el("p", { class: "crumb" }, el("a", { href: "#/orders" }, "← Your orders")),
    el("div", { class: "order-head" }, heading(`Order ${first.order_number}`), liveState),
    meta,
    el("section", { class: "card", "aria-labelledby": "status-title" },
      el("h3", { id: "status-title", class: "visually-hidden" }, "Status"), status, steps, actions),
    paySection, tracking,
    el("section", { class: "card", "aria-labelledby": "items-title" },
      el("h3", { id: "items-title" }, "Your order"), lines));

  const state = { order: first, shown: null, tracker: null };
  const payer = payPanel(view, paySection, state, access);
  const page = {
    node,
    update(order) {
      const before = state.shown;
      state.order = order;
      state.shown = order.status;
      meta.textContent = [order.restaurant_name, orderTypeText(order), when(order.created_at)].filter(Boolean).join(" · ");
      status.textContent = statusText(order);
      status.dataset.status = order.status;
      drawSteps(steps, order);
      lines.replaceChildren(orderLines(order), totalsList(order, order.currency, "order-total"));
      drawActions(view, actions, state, access);
      payer.refresh();
      if (before && before !== order.status) say(`Order ${order.order_number}: ${statusText(order)}.`, "ok");
      if (order.order_type === "delivery") findTracking(view, tracking, state, access);
    },
    live(liveStatus, error) {
      const words = { live: "Live", reconnecting: "Reconnecting…", refused: "Not live", ended: "Final" };
      liveState.dataset.state = liveStatus;
      liveState.textContent = words[liveStatus] ?? liveStatus;
      if (liveStatus === "refused") say(`Live updates stopped: ${describe(error)}`, "error");
    },
    showPaid(outcome) {
      payer.outcome(outcome);
    },
  };
  view.page = page;
  return page;
}

function orderTypeText(order) {
  if (order.order_type === "delivery") {
    const a = order.delivery_address;
    return a ? `Delivery to ${[a.street, a.city].filter(Boolean).join(", ")}` : "Delivery";
  }
  return order.order_type === "dine_in" ? `Dine-in, table ${order.table_number ?? ""}`.trim() : "Takeout";
}

function drawSteps(list, order) {
  const steps = order.order_type === "delivery" ? STEPS : STEPS.filter((s) => s !== "out_for_delivery");
  const reached = steps.indexOf(order.status);
  const cancelled = order.status === "cancelled";
  list.classList.toggle("cancelled", cancelled);
  list.replaceChildren(...steps.map((step, i) => {
    const over = order.status === "completed";
    const phase = cancelled ? "todo" : i < reached || over ? "done" : i === reached ? "current" : "todo";
    return el("li", { class: phase, "data-step": step, "aria-current": i === reached ? "step" : null },
      el("span", { class: "visually-hidden" }, { done: "Done: ", current: "Now: ", todo: "Next: " }[phase]),
      stepLabel(step, order));
  }), ...(cancelled ? [el("li", { class: "current cancelled", "data-step": "cancelled", "aria-current": "step" },
    "Cancelled")] : []));
}

function orderLines(order) {
  const rows = order.items.map((line) =>
    el("tr", { "data-test": "order-line" },
      el("td", {}, el("span", {}, line.name),
        line.modifiers?.length ? el("div", { class: "muted line-mods" }, line.modifiers.map((m) => m.name).join(", ")) : null,
        line.special_instructions ? el("div", { class: "muted" }, line.special_instructions) : null),
      el("td", { class: "num" }, String(line.quantity)),
      el("td", { class: "num" }, money(line.line_total, order.currency))));
  return el("table", { class: "order-lines" },
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Item"), el("th", { scope: "col", class: "num" }, "Qty"),
      el("th", { scope: "col", class: "num" }, "Price"))),
    el("tbody", {}, rows));
}

/** Cancel while the customer may still cancel; reorder once it is over. */
function drawActions(view, box, state, access) {
  const order = state.order;
  const key = `${order.id}:${order.status}`;
  if (box.dataset.for === key) return; // keep an open confirmation
  box.dataset.for = key;
  clearTimeout(box.closing);
  const nodes = [];
  // A pending order may be cancelled until it is confirmed; a confirmed one
  // until the deadline the server gives, which it judges (409 past it). With
  // no deadline given, the server is left to judge.
  const until = order.status === "confirmed" && order.customer_cancel_until
    ? new Date(order.customer_cancel_until) : null;
  if (order.status === "pending" || (order.status === "confirmed" && (until === null || until > serverNow()))) {
    const cancel = cancelControl(view, box, state, access, until);
    nodes.push(cancel);
    // A timer past 2³¹ ms fires at once; a window that long needs none.
    const left = until === null ? Infinity : until - serverNow();
    if (left < 2 ** 31) {
      box.closing = setTimeout(() => {
        if (!view.alive || box.dataset.for !== key) return;
        const closed = cancelClosed();
        const hadFocus = cancel.contains(document.activeElement);
        cancel.replaceWith(closed);
        if (hadFocus) closed.focus();
      }, left);
    }
  } else if (order.status === "confirmed") {
    nodes.push(cancelClosed());
  }
  if (TERMINAL.has(order.status)) {
    const again = el("button", { type: "button", id: "reorder", "data-test": "reorder" }, "Order this again");
    again.addEventListener("click", () => reorder(order.id, again));
    nodes.push(again);
  }
  box.replaceChildren(...nodes);
}

function cancelClosed() {
  return el("p", { class: "muted", id: "cancel-closed", role: "status", tabindex: "-1" },
    "The time to cancel online has passed: the kitchen is on it. Call the restaurant if something is wrong.");
}

function cancelControl(view, box, state, access, until) {
  const start = el("button", { type: "button", class: "danger", id: "cancel-order",
    "aria-describedby": until ? "cancel-until" : null }, "Cancel order");
  const deadline = until
    ? el("span", { class: "muted", id: "cancel-until" }, `Possible until ${new Intl.DateTimeFormat(undefined,
      { timeStyle: "short" }).format(until)}`)
    : null;
  const yes = el("button", { type: "button", class: "danger", id: "confirm-cancel" }, "Yes, cancel it");
  const no = el("button", { type: "button" }, "Keep my order");
  const ask = el("div", { class: "row", hidden: true, role: "group", "aria-label": "Cancel this order?" },
    el("span", {}, "Cancel this order?"), yes, no);
  const asking = (open) => {
    ask.hidden = !open;
    start.hidden = open;
    if (deadline) deadline.hidden = open;
  };
  start.addEventListener("click", () => {
    asking(true);
    no.focus();
  });
  no.addEventListener("click", () => {
    asking(false);
    start.focus();
  });
  yes.addEventListener("click", async () => {
    busy(yes, "Cancelling…");
    try {
      const order = await api("DELETE", `/api/orders/${state.order.id}`, access);
      if (!view.alive) return;
      box.dataset.for = "";
      say(`Order ${order.order_number} is cancelled.`, "ok");
      view.page?.update(order);
    } catch (error) {
      if (!view.alive) return;
      done(yes);
      sayError(error);
    }
  });
  return el("div", { class: "cancel" }, start, deadline, ask);
}

async function reorder(orderId, button) {
  busy(button, "Placing it again…");
  try {
    const order = await api("POST", `/api/orders/${orderId}/reorder`, {
      ...orderAccess(orderId), headers: { "Idempotency-Key": newKey() },
    });
    if (order.access_token) rememberGuestOrder(order);
    go(`#/order/${order.id}`, [`Order ${order.order_number} is placed again.`, "ok"]);
  } catch (error) {
    done(button);
    sayError(error);
  }
}

// ---------------------------------------------------------------------------
// Paying an order that waits for its payment.

function payPanel(view, section, state, access) {
  const errors = new FieldErrors();
  const co = { ...getCheckout(), payment_method: state.order.payment_method ?? "card" };
  const result = el("div", { id: "payment-result" });
  const button = el("button", { type: "submit", class: "primary", id: "pay" }, "Pay");
  const confirm = el("button", { type: "button", class: "primary", id: "confirm-payment", hidden: true },
    "Confirm the payment");
  const form = el("form", { id: "pay-form", novalidate: true },
    paymentFieldset(errors, co, { withCash: false, legend: "Pay with" }), el("div", { class: "row" }, button, confirm));
  section.append(el("h3", { id: "payment-title" }, "Payment"), result, form);

  let waiting = null; // a payment that waits for the customer (3-D Secure)
  form.addEventListener("input", (event) => {
    if (event.target.name === "payment_method") {
      form.querySelector(".card-source").hidden = event.target.value !== "card";
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.clear();
    const data = new FormData(form);
    const method = String(data.get("payment_method") ?? "card");
    const source = String(data.get("source") ?? "");
    if (method === "card") patchCheckout({ source });
    busy(button, "Paying…");
    const outcome = await pay(state.order, method, source);
    if (!view.alive) return;
    done(button);
    payer.outcome(outcome);
  });
  confirm.addEventListener("click", async () => {
    busy(confirm, "Confirming…");
    try {
      const payment = await api("PUT", `/api/payments/${waiting.id}/process`, { body: { action: "authorize" }, ...access });
      if (view.alive) payer.outcome({ payment });
    } catch (error) {
      if (view.alive) payer.outcome({ error });
    } finally {
      done(confirm);
    }
  });

  const payer = {
    refresh() {
      const order = state.order;
      section.hidden = !(order.status === "pending" && order.payment_method !== "cash");
      button.dataset.label = `Pay ${money(order.total, order.currency)}`;
      if (!button.disabled) button.textContent = button.dataset.label;
    },
    outcome({ payment, error }) {
      confirm.hidden = true;
      waiting = null;
      if (error) {
        const declined = error instanceof ApiError && error.code === "payment_declined";
        const unplaced = error instanceof ApiError ? errors.show(error.errors) : [];
        result.replaceChildren(el("p", { class: "notice error", "data-test": "payment-problem",
          "data-code": error.code ?? "" },
        declined ? `Your card was declined (${error.problem?.decline_reason || "no reason given"}). `
          + "Try another card or method." : describe(error)));
        sayError(error, unplaced);
        form.querySelector('[name="source"]')?.focus();
        return;
      }
      result.replaceChildren(paymentNote(payment));
      if (payment.status === "created" && payment.payment_method === "card") {
        waiting = payment;
        confirm.hidden = false;
        confirm.focus();
      }
      say(paymentNote(payment).textContent, payment.status === "authorized" ? "ok" : "info");
    },
  };
  return payer;
}

function paymentNote(payment) {
  const text = {
    authorized: "Payment authorized: the restaurant has your order.",
    captured: "Paid.",
    created: payment.payment_method === "mobile_money"
      ? "Approve the payment on your phone; this page updates once it is approved."
      : "Your bank asks you to confirm this payment.",
  }[payment.status] ?? `Payment ${payment.status}.`;
  return el("p", { class: `notice ${payment.status === "authorized" ? "ok" : "info"}`, "data-test": "payment-state",
    "data-status": payment.status }, text);
}

// ---------------------------------------------------------------------------
// Delivery tracking. The order does not name its delivery; staff and admins
// may look it up by order, and anyone with its tracking id may follow it.

const DELIVERY_FINAL = new Set(["delivered", "failed", "cancelled"]);

async function findTracking(view, section, state, access) {
  if (state.tracker) return;
  const order = state.order;
  const direct = order.tracking_id ?? order.delivery?.tracking_id;
  if (direct) {
    startTracking(view, section, state, direct);
    return;
  }
  section.hidden = false;
  if (!section.childElementCount) {
    section.append(el("h3", { id: "tracking-title" }, "Delivery"),
      el("p", { class: "muted", id: "tracking-note" },
        "Live tracking starts once the restaurant confirms your order."));
  }
  if (order.status === "pending" || TERMINAL.has(order.status) || state.lookingUp) return;
  state.lookingUp = true;
  try {
    const delivery = await api("GET", `/api/orders/${order.id}/delivery`, {
      orderToken: access.orderToken,
      auth: access.auth !== false,
    });
    if (delivery?.tracking_id && view.alive) startTracking(view, section, state, delivery.tracking_id);
  } catch (error) {
    // Tracking is extra: the order page stands without it. A 404 is a
    // delivery not open yet: delivery-svc opens it moments after the
    // confirmation, and the order may not change again for a while, so
    // ask again shortly (1 s, 2 s, … up to every 15 s).
    if (view.alive && error instanceof ApiError && error.status === 404 && !state.lookupTimer) {
      if (state.lookupDelay === undefined) view.cleanups.push(() => clearTimeout(state.lookupTimer));
      state.lookupDelay = Math.min((state.lookupDelay ?? 500) * 2, 15_000);
      state.lookupTimer = setTimeout(() => {
        state.lookupTimer = null;
        if (view.alive) findTracking(view, section, state, access);
      }, state.lookupDelay);
    }
  } finally {
    state.lookingUp = false;
  }
}

function startTracking(view, section, state, trackingId) {
  state.tracker = trackingId;
  const body = el("div", { id: "tracking-body" }, el("p", { class: "muted" }, "Finding your driver…"));
  section.replaceChildren(el("h3", { id: "tracking-title" }, "Delivery"), body);
  section.hidden = false;
  section.dataset.trackingId = trackingId;
  const path = `/api/deliveries/track/${encodeURIComponent(trackingId)}`;
  const draw = (t) => {
    section.dataset.status = t.status;
    body.replaceChildren(trackingView(t));
  };
  api("GET", path, { auth: false }).then((t) => view.alive && draw(t)).catch(() => {});
  let stop = null;
  stop = follow(`${path}/events`, {
    onEvent(name, data) {
      if (!data || !view.alive || (name !== "snapshot" && name !== "changed")) return;
      draw(data);
      if (DELIVERY_FINAL.has(data.status)) stop?.();
    },
  });
  view.cleanups.push(() => stop());
}

function trackingView(t) {
  const words = { pending: "Looking for a driver", assigned: "A driver is on the way to the restaurant",
    picked_up: "Your food is on its way", delivered: "Delivered", failed: "The delivery failed",
    cancelled: "The delivery was cancelled" };
  const at = t.driver_location;
  return el("dl", { class: "facts" },
    el("dt", {}, "Status"), el("dd", { "data-test": "delivery-status" }, words[t.status] ?? t.status),
    t.driver_first_name ? [el("dt", {}, "Driver"), el("dd", {}, t.driver_first_name)] : null,
    t.eta && !t.delivered_at ? [el("dt", {}, "Arrives about"), el("dd", {}, clock(t.eta))] : null,
    t.delivered_at ? [el("dt", {}, "Delivered at"), el("dd", {}, clock(t.delivered_at))] : null,
    at ? [el("dt", {}, "Driver's position"),
      el("dd", {}, `${at.latitude.toFixed(4)}, ${at.longitude.toFixed(4)}`,
        t.driver_seen_at ? el("span", { class: "muted" }, ` (at ${clock(t.driver_seen_at)})`) : null)] : null);
}

// ---------------------------------------------------------------------------
// Order history.

async function showHistory() {
  const view = beginView();
  const me = who();
  const placed = guestOrders();
  const deviceOrders = placed.length
    ? el("section", { class: "card", "aria-labelledby": "device-orders" },
      el("h3", { id: "device-orders" }, "Placed as a guest on this device"),
      el("ul", { class: "plain" }, placed.map((o) =>
        el("li", {}, el("a", { href: `#/order/${o.id}` }, `Order ${o.number}`), ` · ${o.restaurant}`))))
    : null;
  if (!isCustomer()) {
    mount(heading("Your orders"),
      el("p", { class: "notice info" }, me ? `Order history is for customers; you are signed in as ${me.role}.`
        : "Sign in with a customer token to see your order history."),
      deviceOrders);
    return;
  }
  const list = el("ul", { class: "history", id: "order-history" });
  const empty = el("p", { class: "muted", hidden: true }, "No orders yet. ", el("a", { href: "#/" }, "Find a restaurant"), ".");
  const more = el("button", { type: "button", id: "more-orders", hidden: true }, "Older orders");
  mount(heading("Your orders"), list, empty, more, deviceOrders);
  await pages(view, {
    path: `/api/customers/${encodeURIComponent(me.sub)}/orders`,
    query: new URLSearchParams({ limit: "10" }),
    list, empty, more, render: historyEntry,
  });
}

function historyEntry(order) {
  const again = el("button", { type: "button", "data-test": "reorder", "data-id": order.id }, "Reorder");
  again.addEventListener("click", () => reorder(order.id, again));
  const count = order.items.reduce((sum, line) => sum + line.quantity, 0);
  return el("li", { class: "card history-order", "data-test": "history-order", "data-id": order.id,
    "data-status": order.status },
  el("div", { class: "row" },
    el("a", { href: `#/order/${order.id}`, class: "order-link" }, `Order ${order.order_number}`),
    el("span", { class: `badge status-${order.status}` }, statusText(order)),
    el("strong", { class: "right" }, money(order.total, order.currency))),
  el("p", { class: "muted" }, [order.restaurant_name, `${count} ${count === 1 ? "item" : "items"}`,
    when(order.created_at)].filter(Boolean).join(" · ")),
  el("div", { class: "row" }, again));
}

// ---------------------------------------------------------------------------
// Signing in: a bearer token pasted into the header's form.

const panel = document.getElementById("sign-in-panel");
const tokenInput = document.getElementById("sign-in-token");
const tokenError = { node: document.getElementById("sign-in-error"), input: tokenInput };

function drawAccount() {
  const box = document.getElementById("account");
  const me = who();
  if (!token()) {
    const open = el("button", { type: "button", id: "sign-in", "aria-expanded": String(!panel.hidden),
      "aria-controls": panel.id }, "Sign in");
    open.addEventListener("click", () => toggleSignIn(panel.hidden));
    box.replaceChildren(open);
    return;
  }
  const label = me ? accountLabel(me) : "Unreadable token";
  const out = el("button", { type: "button", id: "sign-out" }, "Sign out");
  out.addEventListener("click", () => {
    setToken("");
    signedChange("Signed out: you order as a guest.");
  });
  box.replaceChildren(el("span", { class: "badge who", id: "who", "data-role": me?.role ?? "",
    "data-sub": me?.sub ?? "" }, label), out);
}

function accountLabel(c) {
  if (c.role === "customer") return `Customer ${c.sub}`;
  if (c.role === "staff") return `Staff${c.restaurant_id ? ` of restaurant ${c.restaurant_id}` : ""}`;
  return `${capitalize(c.role ?? "unknown")} ${c.sub ?? ""}`.trim();
}

function toggleSignIn(open) {
  panel.hidden = !open;
  document.getElementById("sign-in")?.setAttribute("aria-expanded", String(open));
  if (open) tokenInput.focus();
  else document.getElementById("sign-in")?.focus();
}

function signedChange(text) {
  drawAccount();
  go(location.hash || "#/", [text, "ok"]);
}

panel.addEventListener("submit", (event) => {
  event.preventDefault();
  const value = tokenInput.value.trim();
  const c = claims(value);
  let problem = "";
  if (!value) problem = "Paste a token first.";
  else if (!c?.role) problem = "This is not a FoodMesh token (three dot-separated parts with a role).";
  else if (c.exp && c.exp * 1000 < Date.now()) problem = "This token has expired.";
  setError(tokenError, problem);
  if (problem) {
    tokenInput.focus();
    return;
  }
  setToken(value);
  tokenInput.value = "";
  panel.hidden = true;
  signedChange(`Signed in as ${accountLabel(c).toLowerCase()}.`);
  document.getElementById("sign-out")?.focus();
});

document.getElementById("sign-in-cancel").addEventListener("click", () => toggleSignIn(false));
panel.addEventListener("keydown", (event) => {
  if (event.key === "Escape") toggleSignIn(false);
});

// ---------------------------------------------------------------------------

drawAccount();
updateCartLink();
window.addEventListener("hashchange", () => render({ focus: true }));
render();
