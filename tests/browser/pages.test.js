// The three pages in a real browser (Debian's Chromium, headless) against a
// fresh mesh: a guest orders from the storefront and sees the order move
// when the kitchen display moves its ticket; a guest pays a delivery by
// card and follows it; a signed-in customer pays by mobile money and
// reorders from their history; an admin marks an item unavailable and the
// storefront stops offering it; an admin on a phone builds a menu and a
// coupon that a guest then orders with, and refunds that order; the
// kitchen display alerts on a new ticket, and recovers by itself when its
// stream drops, alerting on what came meanwhile. A guest also orders with
// the keyboard alone, and every page is checked, as drawn, for what
// assistive technology needs. Every request any page makes stays on the
// gateway's origin. Run by run.sh, which starts the mesh.

import { execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdirSync } from "node:fs";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const URL = process.env.FOODMESH_URL;
const BIN = process.env.FOODMESH_BIN;
const MESH_PID = process.env.MESH_PID;
const WEBHOOK_SECRET = process.env.SANDBOX_WEBHOOK_SECRET || "whsec_foodmesh_sandbox";
const SHOTS = process.env.SCREENSHOTS || "";
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
const WAIT = 30_000;

function token(...args) {
  return execFileSync(BIN, ["token", ...args], { encoding: "utf8" }).trim();
}

async function call(method, path, bearer, body) {
  const answer = await fetch(URL + path, {
    method,
    headers: {
      "Content-Type": "application/json",
      ...(bearer ? { Authorization: `Bearer ${bearer}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await answer.json().catch(() => null);
  assert.ok(answer.ok, `${method} ${path}: ${answer.status} ${JSON.stringify(json)}`);
  return json;
}

/** Asks until `probe` answers something truthy, or fails after WAIT. */
async function until(what, probe) {
  const end = Date.now() + WAIT;
  for (;;) {
    const found = await probe().catch(() => null);
    if (found) return found;
    assert.ok(Date.now() < end, `gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

let browser;
let admin;
let restaurant;
let pizza;
let salad;
const foreign = [];

before(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  admin = token("--role", "admin", "--subject", "browser");
  const run = Date.now();
  restaurant = await call("POST", "/api/restaurants", admin, {
    name: `Browser Pizza ${run}`,
    cuisine_type: "Italian",
    address: { street: "1 Union Sq W", city: "New York", state: "NY", zip_code: "10003", country: "US" },
    location: { latitude: 40.7359, longitude: -73.9911 },
    tax_rate: 8.875,
  });
  const category = await call("POST", `/api/restaurants/${restaurant.id}/categories`, admin, { name: "Pizzas" });
  pizza = await call("POST", `/api/restaurants/${restaurant.id}/menu`, admin, {
    name: "Margherita", price: 12.0, category_id: category.id,
  });
  salad = await call("POST", `/api/restaurants/${restaurant.id}/menu`, admin, {
    name: "Caesar salad", price: 9.5, category_id: category.id,
  });
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  assert.deepEqual(foreign, [], "requests that left the gateway's origin");
});

/**
 * A page of its own, at `size`, signed in with `bearer` when given; `init`
 * runs in the page before its own scripts; `clockOffMs` sets the device's
 * clock that far from the true time.
 */
async function open(path, size, bearer, { init, clockOffMs, fakeClock } = {}) {
  const context = await browser.newContext({ viewport: size });
  if (bearer) {
    await context.addInitScript((value) => sessionStorage.setItem("foodmesh.token", value), bearer);
  }
  if (init) await context.addInitScript(init);
  // Timers the test may fast-forward; time still flows on its own.
  if (fakeClock) await context.clock.install();
  if (clockOffMs) await context.clock.setSystemTime(Date.now() + clockOffMs);
  const page = await context.newPage();
  page.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith(URL) && !url.startsWith("data:")) foreign.push(url);
  });
  page.on("pageerror", (error) => assert.fail(`${path}: ${error.message}`));
  await page.goto(URL + path);
  return page;
}

async function shot(page, name) {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: false });
  await audit(page, name);
}

/**
 * What a screen reader or a keyboard needs of the page as it is drawn now:
 * every visible control and button has a name, images have alt text, no
 * id is used twice, and nothing reorders the Tab key; and no "null",
 * "undefined" or "NaN" leaked into the text.
 */
async function audit(page, where) {
  const problems = await page.evaluate(() => {
    const found = [];
    const shown = (n) => n.getClientRects().length > 0;
    const nameOf = (n) => [
      n.getAttribute("aria-label") ?? "",
      ...(n.getAttribute("aria-labelledby") ?? "").split(/\s+/).filter(Boolean)
        .map((id) => document.getElementById(id)?.textContent ?? ""),
      ...[...(n.labels ?? [])].map((label) => label.textContent),
      n.getAttribute("title") ?? "",
      n.matches("button, a") ? n.textContent : "",
    ].join(" ").trim();
    const what = (n) => `${n.tagName.toLowerCase()}${n.id ? `#${n.id}` : ""}${n.name ? `[name=${n.name}]` : ""}`;
    for (const n of document.querySelectorAll("input:not([type=hidden]), select, textarea, button, a[href]")) {
      if (shown(n) && !nameOf(n)) found.push(`no accessible name: ${what(n)}`);
    }
    for (const n of document.querySelectorAll("img:not([alt])")) found.push(`no alt text: ${n.src}`);
    for (const n of document.querySelectorAll("[tabindex]")) {
      if (Number(n.getAttribute("tabindex")) > 0) found.push(`positive tabindex: ${what(n)}`);
    }
    const ids = new Set();
    for (const n of document.querySelectorAll("[id]")) {
      if (ids.has(n.id)) found.push(`id used twice: ${n.id}`);
      ids.add(n.id);
    }
    const slip = /\b(null|undefined|NaN)\b/.exec(document.body.innerText);
    if (slip) found.push(`"${slip[0]}" printed`);
    if (!document.documentElement.lang) found.push("no lang on <html>");
    if (!document.querySelector("main")) found.push("no <main>");
    return found;
  });
  assert.deepEqual(problems, [], `${where}: what assistive technology needs`);
}

/** Presses Tab until `selector` has the focus (at most 150 times). */
async function tabTo(page, selector) {
  for (let i = 0; i < 150; i += 1) {
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
    await page.keyboard.press("Tab");
  }
  assert.fail(`Tab never reached ${selector}`);
}

test("a guest orders from the storefront and sees the order move when the kitchen moves its ticket", async () => {
  const staff = token("--role", "staff", "--restaurant", String(restaurant.id));
  const kitchen = await open("/kitchen", DESKTOP, staff);
  await kitchen.locator("#connection[data-state=live]").waitFor({ timeout: WAIT });

  const store = await open(`/#/r/${restaurant.id}`, PHONE);
  const item = store.locator(`[data-test=menu-item][data-id="${pizza.id}"]`);
  await item.locator("[data-test=add-to-cart]").click({ timeout: WAIT });
  await store.locator("#cart-total[data-state=ready]").waitFor({ timeout: WAIT });
  await shot(store, "storefront-phone");
  await store.locator("#go-checkout").click();
  await store.locator("#order_type-takeout").check();
  await store.locator('[name="guest.name"]').fill("Bo Chen");
  await store.locator('[name="guest.phone"]').fill("+12125550199");
  await store.locator("#payment_method-cash").check();
  await store.locator("#place-order").click();
  await store.locator("#order-status[data-status=confirmed]").waitFor({ timeout: WAIT });
  const orderId = /#\/order\/(\d+)/.exec(store.url())?.[1];
  assert.ok(orderId, store.url());

  const ticket = kitchen.locator(`[data-test=ticket][data-order-id="${orderId}"]`);
  await ticket.waitFor({ timeout: WAIT });
  await shot(kitchen, "kitchen-desktop");
  // queued → accepted → preparing, one tap each.
  for (const next of ["accepted", "preparing"]) {
    await ticket.locator("[data-test=advance]").click();
    await kitchen.locator(`[data-test=ticket][data-order-id="${orderId}"][data-status=${next}]`)
      .waitFor({ timeout: WAIT });
  }
  await store.locator("#order-status[data-status=preparing]").waitFor({ timeout: WAIT });
  assert.doesNotMatch(await store.locator("main").innerText(), /\b(null|undefined|NaN)\b/);
  await shot(store, "order-phone");
  // The link in the guest's messages opens in a new tab of the same
  // browser, which has no session of its own: the order is still theirs.
  const linked = await store.context().newPage();
  linked.on("pageerror", (error) => assert.fail(`the linked order page: ${error.message}`));
  await linked.goto(`${URL}/#/order/${orderId}`);
  await linked.locator("#order-status[data-status=preparing]").waitFor({ timeout: WAIT });
  await kitchen.context().close();
  await store.context().close();
});

/** Tabs into the radio group `name` and moves with the arrows to `value`. */
async function chooseByKeys(page, name, value) {
  await tabTo(page, `[name=${name}]`);
  const chosen = page.locator(`#${name}-${value}`);
  for (let i = 0; i < 5 && !(await chosen.isChecked()); i += 1) await page.keyboard.press("ArrowRight");
  assert.equal(await chosen.isChecked(), true, `${name}: ${value} not reached with the arrow keys`);
}

test("a guest orders with the keyboard alone, and may cancel only while the window is open", async () => {
  // On a device whose clock runs three minutes fast: the window is the
  // platform's, judged by its clock.
  const store = await open(`/#/r/${restaurant.id}`, DESKTOP, undefined,
    { fakeClock: true, clockOffMs: 3 * 60_000 });
  await store.locator(`[data-test=menu-item][data-id="${pizza.id}"]`).waitFor({ timeout: WAIT });
  await tabTo(store, `[data-test=menu-item][data-id="${pizza.id}"] [data-test=add-to-cart]`);
  await store.keyboard.press("Enter");
  await store.locator("#cart-total[data-state=ready]").waitFor({ timeout: WAIT });
  await tabTo(store, "#go-checkout");
  await store.keyboard.press("Enter");
  await store.locator("#place-order").waitFor({ timeout: WAIT });
  await audit(store, "checkout");
  await chooseByKeys(store, "order_type", "takeout");
  await tabTo(store, '[name="guest.name"]');
  await store.keyboard.type("Eli Ward");
  await tabTo(store, '[name="guest.phone"]');
  await store.keyboard.type("+12125550166");
  await chooseByKeys(store, "payment_method", "cash");
  await tabTo(store, "#place-order");
  await store.keyboard.press("Enter");
  await store.locator("#order-status[data-status=confirmed]").waitFor({ timeout: WAIT });
  await audit(store, "order page");
  // The server gives the deadline (two minutes after confirmation here);
  // once it passes, the page stops offering what the server would refuse.
  await store.locator("#cancel-until").waitFor({ timeout: WAIT });
  await store.locator("#cancel-order").waitFor({ timeout: WAIT });
  await store.clock.fastForward("02:01");
  await store.locator("#cancel-closed").waitFor({ timeout: WAIT });
  assert.equal(await store.locator("#cancel-order").count(), 0);
  await audit(store, "order page past the cancel window");
  await store.context().close();
});

test("a guest pays a delivery order with the sandbox's card numbers and follows its delivery", async () => {
  const store = await open(`/#/r/${restaurant.id}`, DESKTOP);
  await store.locator(`[data-test=menu-item][data-id="${pizza.id}"] [data-test=add-to-cart]`)
    .click({ timeout: WAIT });
  await store.locator("#cart-total[data-state=ready]").waitFor({ timeout: WAIT });
  await store.locator("#go-checkout").click();
  await store.locator("#order_type-delivery").check();
  const fields = {
    "delivery_address.street": "456 Oak Ave",
    "delivery_address.city": "New York",
    "delivery_address.state": "NY",
    "delivery_address.zip_code": "10002",
    "delivery_address.country": "US",
    "guest.name": "Cleo Park",
    "guest.phone": "+12125550188",
  };
  for (const [name, value] of Object.entries(fields)) {
    await store.locator(`[name="${name}"]`).fill(value);
  }
  await store.locator("#payment_method-card").check();
  // The page's first look for the delivery comes before delivery-svc has
  // opened it, as it may when a confirmation and the look race: the page
  // asks again by itself.
  let early = true;
  await store.route("**/api/orders/*/delivery", (route) => {
    if (!early) return route.continue();
    early = false;
    return route.fulfill({ status: 404, contentType: "application/problem+json",
      body: JSON.stringify({ status: 404, code: "not_found", detail: "No delivery for this order yet." }) });
  });
  // The sandbox's test card numbers work as its tokens do: this one is
  // declined, and the order waits for another.
  await store.locator("[data-test=card-source]").fill("4000 0000 0000 0002");
  await store.locator("#place-order").click();
  await store.locator("[data-test=payment-problem][data-code=payment_declined]").waitFor({ timeout: WAIT });
  await store.locator("#order-status[data-status=pending]").waitFor({ timeout: WAIT });
  await audit(store, "order page after a decline");
  // This one asks the customer to confirm (3-D Secure) before it is
  // approved.
  await store.locator('#pay-form [name="source"]').fill("4000 0027 6000 3184");
  await store.locator("#pay").click();
  await store.locator("#confirm-payment:visible").waitFor({ timeout: WAIT });
  await audit(store, "order page asking to confirm a payment");
  await store.locator("#confirm-payment").click();
  // Approved: the order is confirmed and its delivery opens, which the
  // page finds and follows.
  await store.locator("#order-status[data-status=confirmed]").waitFor({ timeout: WAIT });
  await store.locator("#delivery-tracking[data-tracking-id][data-status]").waitFor({ timeout: WAIT });
  assert.equal(early, false, "the first look was answered 404");
  assert.match(
    (await store.locator("#delivery-tracking").getAttribute("data-status")) ?? "",
    /^(pending|assigned)$/,
  );
  await store.context().close();
});

test("a signed-in customer pays by mobile money, then reorders from their history", async () => {
  const customer = token("--role", "customer", "--subject", "4242");
  const store = await open(`/#/r/${restaurant.id}`, PHONE);
  await store.locator("#sign-in").click({ timeout: WAIT });
  await store.locator("#sign-in-token").fill(customer);
  await store.locator("#sign-in-panel button[type=submit]").click();
  await store.locator("#who[data-role=customer][data-sub='4242']").waitFor({ timeout: WAIT });

  await store.locator(`[data-test=menu-item][data-id="${pizza.id}"] [data-test=add-to-cart]`)
    .click({ timeout: WAIT });
  await store.locator("#cart-total[data-state=ready]").waitFor({ timeout: WAIT });
  await store.locator("#go-checkout").click();
  await store.locator("#ordering-as").waitFor({ timeout: WAIT });
  await store.locator("#order_type-takeout").check();
  await store.locator("#payment_method-mobile_money").check();
  await store.locator("#place-order").click();
  // The provider waits for the customer's approval on their phone.
  await store.locator("[data-test=payment-state][data-status=created]").waitFor({ timeout: WAIT });
  await store.locator("#order-status[data-status=pending]").waitFor({ timeout: WAIT });
  const orderId = /#\/order\/(\d+)/.exec(store.url())?.[1];
  assert.ok(orderId, store.url());

  // The provider calls back, signed, once the customer approved.
  const [payment] = (await call("GET", `/api/orders/${orderId}/payments`, customer)).items;
  assert.equal(payment.payment_method, "mobile_money");
  const body = JSON.stringify({
    id: `evt_browser_${orderId}`, type: "payment.succeeded", reference: payment.provider_reference,
  });
  const t = Math.floor(Date.now() / 1000);
  const v1 = createHmac("sha256", WEBHOOK_SECRET).update(`${t}.${body}`).digest("hex");
  const answer = await fetch(`${URL}/api/payments/webhooks/sandbox_mobile_money`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "FoodMesh-Signature": `t=${t},v1=${v1}` },
    body,
  });
  assert.equal(answer.status, 200, await answer.text());
  await store.locator("#order-status[data-status=confirmed]").waitFor({ timeout: WAIT });

  await store.locator("#nav-orders").click();
  const entry = store.locator(`[data-test=history-order][data-id="${orderId}"]`);
  await entry.waitFor({ timeout: WAIT });
  await shot(store, "history-phone");
  await entry.locator("[data-test=reorder]").click();
  await store.waitForURL((url) => /#\/order\/\d+$/.test(url.hash) && !url.hash.endsWith(`/${orderId}`),
    { timeout: WAIT });
  await store.locator("#order-status[data-status]").waitFor({ timeout: WAIT });
  const again = /#\/order\/(\d+)/.exec(store.url())?.[1];
  const reordered = await call("GET", `/api/orders/${again}`, customer);
  assert.equal(reordered.customer_id, 4242);
  assert.deepEqual(reordered.items.map((i) => [i.menu_item_id, i.quantity]), [[pizza.id, 1]]);
  assert.doesNotMatch(await store.locator("main").innerText(), /\b(null|undefined|NaN)\b/);
  await store.context().close();
});

test("an admin marks an item unavailable and the storefront stops offering it", async () => {
  const page = await open("/admin", DESKTOP, admin);
  await page.locator("#restaurant").selectOption(String(restaurant.id), { timeout: WAIT });
  await page.locator("[data-test=nav-menu]").click();
  const row = page.locator(`[data-test=admin-item][data-id="${salad.id}"]`);
  await row.waitFor({ timeout: WAIT });
  await shot(page, "admin-desktop");
  await row.locator("[data-test=availability]").uncheck();
  await page.locator(`[data-test=admin-item][data-id="${salad.id}"][data-available=false]`)
    .waitFor({ timeout: WAIT });

  // Found by its cuisine and city among the restaurants, then opened.
  const store = await open("/#/?cuisine_type=Italian&city=New%20York", DESKTOP);
  await store.locator(`[data-test=restaurant][data-id="${restaurant.id}"]`).waitFor({ timeout: WAIT });
  await store.goto(`${URL}/#/r/${restaurant.id}`);
  await store.locator(`[data-test=menu-item][data-id="${pizza.id}"]`).waitFor({ timeout: WAIT });
  const offered = store.locator(
    `[data-test=menu-item][data-id="${salad.id}"] [data-test=add-to-cart]:not([disabled])`,
  );
  assert.equal(await offered.count(), 0, "the unavailable salad can still be added");
  await shot(store, "storefront-desktop");
  await page.context().close();
  await store.context().close();
});

test("an admin on a phone builds a menu and a coupon, a guest orders with them, and the admin refunds", async () => {
  const page = await open("/admin", PHONE, admin);
  await page.locator("#restaurant").selectOption(String(restaurant.id), { timeout: WAIT });
  await page.locator("[data-test=nav-menu]").click();
  await page.locator(`[data-test=admin-item][data-id="${pizza.id}"]`).waitFor({ timeout: WAIT });

  // A category, an option group, then an item in both.
  const addCategory = page.locator("details.add", { hasText: "Add a category" });
  await addCategory.locator("summary").click();
  await addCategory.getByLabel("Name").fill("Baked");
  await addCategory.getByRole("button", { name: "Add category" }).click();
  await page.locator(".category-row input[name=name]").and(page.locator("[value=Baked]"))
    .waitFor({ timeout: WAIT });

  const addGroup = page.locator("details.add", { hasText: "Add an option group" });
  await addGroup.locator("summary").click();
  await addGroup.getByLabel("Group name").fill("Size");
  await addGroup.getByLabel("Fewest to choose").fill("1");
  await addGroup.getByLabel("Most to choose").fill("1");
  await addGroup.getByLabel("Option name").fill("Small");
  await addGroup.getByRole("button", { name: "Add an option" }).click();
  await addGroup.getByLabel("Option name").nth(1).fill("Large");
  await addGroup.locator(".option-delta").nth(1).fill("3.00");
  await addGroup.getByRole("button", { name: "Add option group" }).click();
  await page.locator("[data-test=admin-option-group]", { hasText: "Size" }).waitFor({ timeout: WAIT });

  const addItem = page.locator("details.add", { hasText: "Add an item" });
  await addItem.locator("summary").click();
  await addItem.getByLabel("Name", { exact: true }).fill("Calzone");
  await addItem.locator("[name=price]").fill("11.00");
  await addItem.locator("[name=category_id]").selectOption({ label: "Baked" });
  await addItem.getByLabel("Size").check();
  await addItem.getByRole("button", { name: "Add item" }).click();
  const calzone = page.locator("[data-test=admin-item]", { hasText: "Calzone" });
  await calzone.waitFor({ timeout: WAIT });
  const calzoneId = await calzone.getAttribute("data-id");

  await page.locator("[data-test=nav-coupons]").click();
  const coupon = page.locator("form.coupon-form");
  await coupon.locator("[name=code]").fill("BROWSER10", { timeout: WAIT });
  await coupon.locator("[name=value]").fill("10");
  await coupon.getByRole("button", { name: "Add coupon" }).click();
  const row = page.locator("[data-test=admin-coupon]", { hasText: "BROWSER10" });
  await row.waitFor({ timeout: WAIT });
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, "admin-phone");
  // An end is given to the coupon, then taken away again.
  const couponId = await row.getAttribute("data-id");
  const couponPath = `/api/restaurants/${restaurant.id}/coupons/${couponId}`;
  for (const until of ["2099-12-31T23:30", ""]) {
    await page.locator("[data-test=admin-coupon]", { hasText: "BROWSER10" })
      .getByRole("button", { name: "Edit BROWSER10" }).click();
    const edit = page.locator("[data-test=admin-coupon] form.coupon-form");
    await edit.locator("[name=valid_until]").fill(until);
    await edit.getByRole("button", { name: "Save coupon" }).click();
    await edit.waitFor({ state: "detached", timeout: WAIT });
    const saved = await call("GET", couponPath, admin);
    assert.equal(saved.valid_until === null, until === "", JSON.stringify(saved));
  }

  // The guest picks the large calzone and types the coupon.
  const store = await open(`/#/r/${restaurant.id}`, PHONE);
  const item = store.locator(`[data-test=menu-item][data-id="${calzoneId}"]`);
  await item.locator("[data-test=choose-options]").click({ timeout: WAIT });
  await item.getByLabel(/Large/).check();
  await item.locator("[data-test=add-to-cart]").click();
  await store.locator("#cart-total[data-state=ready]").waitFor({ timeout: WAIT });
  await store.locator("#go-checkout").click();
  await store.locator("#order_type-takeout").check();
  // A code the restaurant does not have is refused beside the field, as
  // placing the order would refuse it; then the right one applies.
  await store.locator('[name="coupon_code"]').fill("NOPE10");
  await store.locator('[name="coupon_code"][aria-invalid=true]').waitFor({ timeout: WAIT });
  await store.locator('[name="coupon_code"]').fill("browser10");
  await store.locator('[name="coupon_code"]:not([aria-invalid])').waitFor({ timeout: WAIT });
  // 10 % of 14.00 comes off.
  await store.locator(".cart .discount", { hasText: "1.40" }).waitFor({ timeout: WAIT });
  await store.locator('[name="guest.name"]').fill("Dee Ortiz");
  await store.locator('[name="guest.phone"]').fill("+12125550177");
  await store.locator("#payment_method-card").check();
  await store.locator("#place-order").click();
  await store.locator("#order-status[data-status=confirmed]").waitFor({ timeout: WAIT });
  const orderId = /#\/order\/(\d+)/.exec(store.url())?.[1];
  const order = await call("GET", `/api/orders/${orderId}`, admin);
  assert.equal(order.coupon_code, "BROWSER10");
  assert.equal(order.discount, 1.4);
  assert.deepEqual(order.items[0].modifiers.map((m) => m.name), ["Large"]);
  await store.context().close();

  // Completed, its payment is captured, and the admin gives 1.00 back.
  for (const status of ["preparing", "ready", "completed"]) {
    await call("PUT", `/api/orders/${orderId}/status`, admin, { status });
  }
  await until("the payment captured", async () =>
    (await call("GET", `/api/orders/${orderId}/payments`, admin)).items[0].status === "captured");
  await page.goto(`${URL}/admin#refunds/${orderId}`);
  const refundable = page.locator("[data-test=refundable]");
  await refundable.waitFor({ timeout: WAIT });
  assert.match(await refundable.innerText(), new RegExp(order.total.toFixed(2).replace(".", "\\.")));
  await page.locator(".refund-form [name=amount]").fill("1.00");
  await page.locator(".refund-form [name=reason]").fill("cold");
  await page.locator("#refund").click();
  const left = (order.total - 1).toFixed(2);
  await page.locator("[data-test=refundable]", { hasText: left }).waitFor({ timeout: WAIT });
  // The order's list of payments shows the payment as it is now.
  await page.locator("[data-test=order-payments]", { hasText: `${left} refundable` })
    .waitFor({ timeout: WAIT });
  const [payment] = (await call("GET", `/api/orders/${orderId}/payments`, admin)).items;
  assert.equal(payment.refunded, 1);
  assert.equal(payment.status, "partially_refunded");
  await audit(page, "admin refunds");
  await page.locator("[data-test=nav-restaurant]").click();
  await page.locator("input[name=name]").and(page.locator(`[value="${restaurant.name}"]`))
    .waitFor({ timeout: WAIT });
  await audit(page, "admin restaurant");
  await page.locator("[data-test=nav-orders]").click();
  const filters = page.locator("form.orders-filter");
  await filters.locator("[name=order_number]").fill(order.order_number.toLowerCase(), { timeout: WAIT });
  await filters.locator("[name=order_type]").selectOption("takeout");
  await filters.getByRole("button", { name: "Show orders" }).click();
  await page.locator(`[data-test=admin-order][data-id="${orderId}"]`).waitFor({ timeout: WAIT });
  assert.equal(await page.locator("[data-test=admin-order]").count(), 1);
  await audit(page, "admin orders");
  await page.context().close();
});

/** Records each tone the page's Web Audio graph starts, in `window.tones`. */
function listenForTones() {
  window.tones = [];
  const start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function (...args) {
    window.tones.push(this.frequency.value);
    return start.apply(this, args);
  };
}

test("the kitchen display alerts when a ticket arrives", async () => {
  const staff = token("--role", "staff", "--restaurant", String(restaurant.id));
  // A tablet whose clock runs two hours fast.
  const kitchen = await open("/kitchen", PHONE, staff, { init: listenForTones, clockOffMs: 2 * 3600_000 });
  await kitchen.locator("#connection[data-state=live]").waitFor({ timeout: WAIT });
  const before = Number((await kitchen.locator("body").getAttribute("data-alerts")) ?? 0);
  // Sound needs a tap first, as browsers allow audio only after one; the
  // tap plays the alert once so the kitchen hears it is on.
  await kitchen.locator("#sound").click();
  await kitchen.locator("#sound[aria-pressed=true]").waitFor({ timeout: WAIT });
  await kitchen.waitForFunction(() => window.tones.length > 0, null, { timeout: WAIT });
  // Past the display's 0.8 s guard against a burst of dings.
  await kitchen.waitForTimeout(900);
  const tonesBefore = await kitchen.evaluate(() => window.tones.length);

  const customer = token("--role", "customer", "--subject", "77");
  const order = await call("POST", "/api/orders", customer, {
    restaurant_id: restaurant.id, order_type: "takeout", payment_method: "cash",
    items: [{ menu_item_id: pizza.id, quantity: 1 }],
  });

  const card = kitchen.locator(`[data-test=ticket][data-order-id="${order.id}"]`);
  await card.waitFor({ timeout: WAIT });
  await kitchen.waitForFunction(
    (count) => Number(document.body.dataset.alerts ?? 0) > count, before, { timeout: WAIT },
  );
  assert.match((await card.getAttribute("class")) ?? "", /\bnew\b/);
  // The two-tone ding: A5 then E6.
  assert.deepEqual(await kitchen.evaluate((n) => window.tones.slice(n), tonesBefore), [880, 1318.5]);
  // Its age is by the platform's clock, not the tablet's.
  assert.equal(await card.locator(".age").innerText(), "<1 min");
  assert.equal(await card.getAttribute("data-late"), "ok");
  assert.doesNotMatch(await card.innerText(), /\b(null|undefined|NaN)\b/);
  await shot(kitchen, "kitchen-phone");
  await kitchen.context().close();
});

test("the kitchen display recovers by itself when its stream drops, and alerts on what came meanwhile", async () => {
  const staff = token("--role", "staff", "--restaurant", String(restaurant.id));
  const kitchen = await open("/kitchen", DESKTOP, staff);
  await kitchen.locator("#connection[data-state=live]").waitFor({ timeout: WAIT });
  const before = Number((await kitchen.locator("body").getAttribute("data-alerts")) ?? 0);

  // The gateway dies under the open stream (`foodmesh up` restarts it);
  // the display's reconnects are held off until the order is in.
  await kitchen.route("**/api/kitchen/stream*", (route) => route.abort("connectionrefused"));
  execFileSync("pkill", ["-KILL", "-P", MESH_PID, "-f", "serve gateway"]);
  await kitchen.locator("#connection[data-state=reconnecting]").waitFor({ timeout: WAIT });
  await kitchen.locator("#stale-banner:not([hidden])").waitFor({ timeout: WAIT });
  await until("the gateway back", async () => (await fetch(`${URL}/health`)).ok);
  const customer = token("--role", "customer", "--subject", "78");
  const order = await call("POST", "/api/orders", customer, {
    restaurant_id: restaurant.id, order_type: "takeout", payment_method: "cash",
    items: [{ menu_item_id: pizza.id, quantity: 2 }],
  });
  await until("the ticket queued", async () => {
    const listed = await call("GET", "/api/kitchen/orders", staff);
    return listed.items.some((t) => t.order_id === order.id);
  });

  await kitchen.unroute("**/api/kitchen/stream*");
  const card = kitchen.locator(`[data-test=ticket][data-order-id="${order.id}"]`);
  await card.waitFor({ timeout: WAIT });
  await kitchen.locator("#connection[data-state=live]").waitFor({ timeout: WAIT });
  await kitchen.waitForFunction(
    (count) => Number(document.body.dataset.alerts ?? 0) > count, before, { timeout: WAIT },
  );
  assert.match((await card.getAttribute("class")) ?? "", /\bnew\b/);
  assert.equal(await kitchen.locator("#stale-banner").isHidden(), true);
  await kitchen.context().close();
});
