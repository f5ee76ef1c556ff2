#!/usr/bin/env bash
# The README's "Trying the API", end to end, against a mesh that is already
# running (`foodmesh up`): an admin opens a restaurant and its menu, a
# driver waits near it, a customer orders for delivery and pays, the
# kitchen cooks, the driver delivers, the customer is told; then a guest
# orders without an account, tracks the order and cancels it with the
# order's access token. Every id comes from the answer before it, so the
# walkthrough can run again and again on the same mesh.
#
# Each step prints one line. An answer with another status than the step
# expects stops the walkthrough (exit 1) with the request, the status and
# the body. What happens through events (the kitchen's ticket, the driver's
# assignment, the order's later statuses, the messages) is polled for, up
# to FOODMESH_WAIT seconds.
#
# Needs curl and jq. Settings (environment):
#   FOODMESH_URL   the gateway (default http://127.0.0.1:8000)
#   FOODMESH_BIN   the command whose `token` subcommand signs bearer tokens
#                  (default `cargo run -q --release -p foodmesh --`), run
#                  from the repository's root; it signs with JWT_SECRET, so
#                  give it the mesh's when the mesh has one of its own
#   FOODMESH_WAIT  seconds to wait for each asynchronous step (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."

URL=${FOODMESH_URL:-http://127.0.0.1:8000}
URL=${URL%/}
read -r -a BIN <<<"${FOODMESH_BIN:-cargo run -q --release -p foodmesh --}"
WAIT=${FOODMESH_WAIT:-30}
# Makes this run's names unique (10 digits, so ${RUN#???} keeps 7).
RUN=$(date +%s)
# What a probe returns when what it waits for has not happened yet.
NOT_YET=3

for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "walkthrough: $tool is needed" >&2; exit 1; }
done
TMP=$(mktemp -d "${TMPDIR:-/tmp}/foodmesh-walkthrough.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

say() { printf '%s\n' "$*"; }
fail() { printf 'walkthrough: %s\n' "$*" >&2; exit 1; }

# token FLAGS...: a bearer token signed by `foodmesh token FLAGS...`.
token() {
  local signed
  signed=$("${BIN[@]}" token "$@") || fail "could not sign a token: ${BIN[*]} token $*"
  [[ -n $signed ]] || fail "${BIN[*]} token $* printed no token"
  printf '%s' "$signed"
}

# send METHOD PATH TOKEN BODY [HEADER...]: makes the request (no token or
# body when empty) and prints the HTTP status, 000 when nothing answered;
# the answer's body is left in $TMP/body.
send() {
  local method=$1 path=$2 bearer=$3 body=$4 header
  shift 4
  local args=(--silent --show-error --max-time 30 --request "$method"
    --output "$TMP/body" --write-out '%{http_code}')
  if [[ -n $bearer ]]; then args+=(--header "Authorization: Bearer $bearer"); fi
  if [[ -n $body ]]; then args+=(--header "Content-Type: application/json" --data "$body"); fi
  for header in "$@"; do args+=(--header "$header"); done
  : >"$TMP/body"
  curl "${args[@]}" "$URL$path" || true
}

# call METHOD PATH TOKEN BODY EXPECTED [HEADER...]: prints the answer's
# body when its status is EXPECTED (one status, or several: 200|409);
# otherwise prints the request, the status and the body, and fails.
call() {
  local method=$1 path=$2 bearer=$3 body=$4 expected=$5 status
  shift 5
  status=$(send "$method" "$path" "$bearer" "$body" "$@")
  if [[ "|$expected|" != *"|$status|"* ]]; then
    {
      printf 'walkthrough: %s %s answered %s, expected %s\n' "$method" "$path" "$status" "$expected"
      if [[ -n $body ]]; then printf 'request body: %s\n' "$body"; fi
      printf 'answer: %s\n' "$(cat "$TMP/body")"
    } >&2
    exit 1
  fi
  cat "$TMP/body"
}

# poll WHAT PROBE [ARG...]: runs PROBE every second until it succeeds, and
# prints what it printed. A probe returns $NOT_YET to be asked again; any
# other failure stops the walkthrough at once. Gives up after $WAIT s.
poll() {
  local what=$1 deadline=$((SECONDS + WAIT)) out status
  shift
  while true; do
    if out=$("$@"); then
      printf '%s' "$out"
      return 0
    else
      status=$?
    fi
    if [[ $status != "$NOT_YET" ]]; then exit "$status"; fi
    if ((SECONDS >= deadline)); then
      fail "gave up after ${WAIT}s waiting for $what; the last answer: $(cat "$TMP/body")"
    fi
    sleep 1
  done
}

# The probes poll asks. Each fails (not NOT_YET) on an unexpected answer.

# The gateway, once it and every service behind it answer.
gateway_ready() {
  [[ $(send GET /readyz "" "" 2>/dev/null) == 200 ]] || return "$NOT_YET"
}

# Order $ORDER as its customer reads it, once it is in status $1.
order_in() {
  local order status
  order=$(call GET "/api/orders/$ORDER" "$CUSTOMER" "" 200) || return
  status=$(jq -r .status <<<"$order")
  if [[ $status == "$1" ]]; then printf '%s' "$order"; return 0; fi
  if [[ $status == cancelled ]]; then
    printf 'walkthrough: order %s was cancelled: %s\n' "$ORDER" "$order" >&2
    return 1
  fi
  return "$NOT_YET"
}

# The kitchen's ticket of order $ORDER, once it has one.
ticket_of_order() {
  local page
  page=$(call GET /api/kitchen/orders "$STAFF" "" 200) || return
  jq -ce --argjson order "$ORDER" '.items[] | select(.order_id == $order)' <<<"$page" ||
    return "$NOT_YET"
}

# The delivery of order $ORDER, once a driver has it.
assigned_delivery() {
  local page
  page=$(call GET "/api/deliveries?order_id=$ORDER" "$ADMIN" "" 200) || return
  jq -ce '.items[0] // empty | select(.status == "assigned")' <<<"$page" || return "$NOT_YET"
}

# Delivery $DELIVERY picked up by its driver, once the kitchen's "ready"
# has reached delivery-svc (until then: 409 food_not_ready).
picked_up() {
  local answer
  answer=$(call PUT "/api/deliveries/$DELIVERY/status" "$COURIER" '{"status": "picked_up"}' '200|409') ||
    return
  if [[ $(jq -r '.code // empty' <<<"$answer") == food_not_ready ]]; then return "$NOT_YET"; fi
  if [[ $(jq -r .status <<<"$answer") != picked_up ]]; then
    printf 'walkthrough: the pickup of delivery %s was refused: %s\n' "$DELIVERY" "$answer" >&2
    return 1
  fi
  printf '%s' "$answer"
}

# The messages about order $ORDER, once the last step's is among them.
notified() {
  local page
  page=$(call GET "/api/notifications?order_id=$ORDER" "$CUSTOMER" "" 200) || return
  jq -e 'any(.items[]; .event == "order_delivered")' <<<"$page" >/dev/null || return "$NOT_YET"
  printf '%s' "$page"
}

poll "the gateway at $URL to be ready (is \`foodmesh up\` running?)" gateway_ready
say "gateway $URL is ready"
ADMIN=$(token --role admin)

# --- Restaurant: an admin opens one, with its address and its location. ---
NAME="Walkthrough Pizza $RUN"
body=$(jq -n --arg name "$NAME" '{
  name: $name, description: "Wood-fired pizza", cuisine_type: "Italian",
  phone: "+12125550100", email: "hello@walkthrough-pizza.example",
  address: {street: "1 Union Sq W", city: "New York", state: "NY",
            zip_code: "10003", country: "US"},
  location: {latitude: 40.7359, longitude: -73.9911},
  delivery_fee: 2.99, tax_rate: 8.875
}')
RESTAURANT=$(call POST /api/restaurants "$ADMIN" "$body" 201 | jq -r .id)
say "restaurant $RESTAURANT: $NAME, Union Square"

# --- Menu: a category and an item of THIS restaurant, then its public menu. ---
CATEGORY=$(call POST "/api/restaurants/$RESTAURANT/categories" "$ADMIN" \
  '{"name": "Pizzas"}' 201 | jq -r .id)
body=$(jq -n --argjson category "$CATEGORY" '{
  name: "Margherita", description: "Tomato, mozzarella, basil",
  price: 12.99, category_id: $category
}')
ITEM=$(call POST "/api/restaurants/$RESTAURANT/menu" "$ADMIN" "$body" 201 | jq -r .id)
MENU=$(call GET "/api/restaurants/$RESTAURANT/menu" "" "" 200)
jq -e --argjson item "$ITEM" 'any(.items[]; .id == $item)' <<<"$MENU" >/dev/null ||
  fail "item $ITEM is not on the menu of restaurant $RESTAURANT: $MENU"
say "menu of restaurant $RESTAURANT: category $CATEGORY, item $ITEM" \
  "($(jq -r '[.items[] | "\(.name) \(.price) \(.currency)"] | join(", ")' <<<"$MENU"))"

# --- Driver: an admin adds one; as that driver, they say where they are
# (a few steps from the restaurant) and that they take deliveries. ---
body=$(jq -n --arg phone "+1646${RUN#???}" '{name: "Ana Diaz", phone: $phone, vehicle: "scooter"}')
DRIVER_ID=$(call POST /api/drivers "$ADMIN" "$body" 201 | jq -r .id)
DRIVER=$(token --role driver --subject "$DRIVER_ID")
call PUT "/api/drivers/$DRIVER_ID/location" "$DRIVER" \
  '{"latitude": 40.7363, "longitude": -73.9915}' 204 >/dev/null
call PATCH "/api/drivers/$DRIVER_ID" "$DRIVER" '{"available": true}' 200 >/dev/null
say "driver $DRIVER_ID: available, 50 m from the restaurant"

# --- Order: customer 1, with an email to be told at and order updates
# chosen by email, orders for delivery. The order names no payment
# method, so it waits for its payment. ---
CUSTOMER_ID=1
CUSTOMER=$(token --role customer --subject "$CUSTOMER_ID")
call PUT "/api/customers/$CUSTOMER_ID" "$CUSTOMER" \
  '{"name": "Cleo Park", "email": "cleo@example.com"}' 200 >/dev/null
call POST /api/notifications/preferences "$CUSTOMER" \
  '{"email": {"order_updates": true}, "sms": {"order_updates": false}}' 200 >/dev/null
say "customer $CUSTOMER_ID: cleo@example.com, order updates by email"
body=$(jq -n --argjson customer "$CUSTOMER_ID" --argjson restaurant "$RESTAURANT" \
  --argjson item "$ITEM" '{
  customer_id: $customer, restaurant_id: $restaurant, order_type: "delivery",
  items: [{menu_item_id: $item, quantity: 2, unit_price: 12.99}],
  delivery_address: {street: "456 Oak Ave", city: "New York", state: "NY",
                     zip_code: "10002", country: "US"},
  delivery_location: {latitude: 40.7155, longitude: -73.9865}
}')
PLACED=$(call POST /api/orders "$CUSTOMER" "$body" 201 "Idempotency-Key: walkthrough-$RUN")
ORDER=$(jq -r .id <<<"$PLACED")
TOTAL=$(jq -r .total <<<"$PLACED")
[[ $(jq -r .status <<<"$PLACED") == pending ]] || fail "order $ORDER is not pending: $PLACED"
say "order $ORDER ($(jq -r .order_number <<<"$PLACED")): pending, total $TOTAL" \
  "$(jq -r .currency <<<"$PLACED") with the delivery fee and tax"

# --- Payment: the order's total by card; authorized, it confirms the order. ---
body=$(jq -n --argjson order "$ORDER" --argjson amount "$TOTAL" \
  '{order_id: $order, amount: $amount, payment_method: "credit_card"}')
PAYMENT=$(call POST /api/payments "$CUSTOMER" "$body" 201)
[[ $(jq -r .status <<<"$PAYMENT") == authorized ]] || fail "payment not authorized: $PAYMENT"
poll "order $ORDER to be confirmed" order_in confirmed >/dev/null
say "payment $(jq -r .id <<<"$PAYMENT"): authorized; order $ORDER confirmed"

# --- Kitchen: its staff find the order's ticket (a ticket id is not the
# order id: the ticket names its order in order_id) and cook it. ---
STAFF=$(token --role staff --restaurant "$RESTAURANT")
TICKET=$(poll "the kitchen's ticket of order $ORDER" ticket_of_order | jq -r .id)
for status in preparing ready; do
  call PUT "/api/kitchen/orders/$TICKET/status" "$STAFF" "{\"status\": \"$status\"}" 200 >/dev/null
done
poll "order $ORDER to be ready" order_in ready >/dev/null
say "ticket $TICKET of order $ORDER: preparing, ready"

# --- Delivery: the nearest free driver has had it since the order was
# confirmed; they pick it up, then deliver it. ---
ASSIGNED=$(poll "a driver for order $ORDER" assigned_delivery)
DELIVERY=$(jq -r .id <<<"$ASSIGNED")
TRACKING=$(jq -r .tracking_id <<<"$ASSIGNED")
COURIER_ID=$(jq -r .driver_id <<<"$ASSIGNED")
if [[ $COURIER_ID == "$DRIVER_ID" ]]; then
  COURIER=$DRIVER
else
  say "(driver $COURIER_ID was nearer the restaurant than driver $DRIVER_ID: signing their token)"
  COURIER=$(token --role driver --subject "$COURIER_ID")
fi
say "delivery $DELIVERY of order $ORDER: assigned to driver $COURIER_ID, tracking id $TRACKING"
poll "the pickup of delivery $DELIVERY" picked_up >/dev/null
poll "order $ORDER to be out for delivery" order_in out_for_delivery >/dev/null
TRACKED=$(call GET "/api/deliveries/track/$TRACKING" "" "" 200)
say "delivery $DELIVERY: picked up; tracking shows $(jq -r .status <<<"$TRACKED")," \
  "driver $(jq -r '.driver_first_name // "?"' <<<"$TRACKED"), arriving $(jq -r '.eta // "?"' <<<"$TRACKED")"
call PUT "/api/deliveries/$DELIVERY/status" "$COURIER" '{"status": "delivered"}' 200 >/dev/null

# --- Tracking: anyone with the tracking id, without a token. ---
TRACKED=$(call GET "/api/deliveries/track/$TRACKING" "" "" 200)
[[ $(jq -r .status <<<"$TRACKED") == delivered ]] || fail "tracking does not show delivered: $TRACKED"
say "delivery $DELIVERY: delivered at $(jq -r .delivered_at <<<"$TRACKED")"

# --- The order follows its delivery to completed. ---
poll "order $ORDER to be completed" order_in completed >/dev/null
say "order $ORDER: completed"

# --- Notifications: the customer was told of every step. ---
MESSAGES=$(poll "the messages about order $ORDER" notified)
say "notifications of order $ORDER:" \
  "$(jq -r '[.items | reverse[] | "\(.event) (\(.channel), \(.status))"] | join(", ")' <<<"$MESSAGES")"

# --- Guest: an order without a token; its access token reads, tracks and
# cancels it. ---
body=$(jq -n --argjson restaurant "$RESTAURANT" --argjson item "$ITEM" '{
  restaurant_id: $restaurant, order_type: "takeout",
  guest: {name: "Bo Chen", phone: "+12125550199", email: "bo@example.com"},
  items: [{menu_item_id: $item, quantity: 1}]
}')
GUEST=$(call POST /api/orders "" "$body" 201)
GUEST_ORDER=$(jq -r .id <<<"$GUEST")
NUMBER=$(jq -r .order_number <<<"$GUEST")
ORDER_TOKEN=$(jq -r '.access_token // empty' <<<"$GUEST")
[[ -n $ORDER_TOKEN ]] || fail "the guest order has no access_token: $GUEST"
say "guest order $GUEST_ORDER ($NUMBER): $(jq -r .status <<<"$GUEST"), access token kept"
TRACKED=$(call GET "/api/orders/track/$NUMBER" "" "" 200 "X-Order-Token: $ORDER_TOKEN")
[[ $(jq -r .id <<<"$TRACKED") == "$GUEST_ORDER" ]] || fail "tracking $NUMBER found another order: $TRACKED"
CANCELLED=$(call DELETE "/api/orders/$GUEST_ORDER" "" '{"reason": "changed my mind"}' 200 \
  "X-Order-Token: $ORDER_TOKEN")
[[ $(jq -r .status <<<"$CANCELLED") == cancelled ]] || fail "not cancelled: $CANCELLED"
say "guest order $GUEST_ORDER: tracked by its number, cancelled with its token"

# --- The driver goes off duty, so the next run's driver is the free one. ---
call PATCH "/api/drivers/$DRIVER_ID" "$DRIVER" '{"available": false}' 200 >/dev/null
say "driver $DRIVER_ID: off duty"
say "walkthrough: done"
