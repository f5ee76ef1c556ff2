#!/usr/bin/env bash
# What the README's walkthrough does not cause, so that every dashboard
# panel has a series to show: a declined card, a refund, a mobile-money
# payment confirmed by its provider's signed call (and one forged call), and
# a request the services refuse.
#
# Settings as for scripts/walkthrough.sh: FOODMESH_URL, FOODMESH_BIN, and
# the mesh's JWT_SECRET in the environment.
set -euo pipefail

URL=${FOODMESH_URL:-http://127.0.0.1:8000}
read -r -a BIN <<<"${FOODMESH_BIN:-cargo run -q --release -p foodmesh --}"
# The sandbox provider's published secret, which `foodmesh up` configures.
WEBHOOK_SECRET=${SANDBOX_WEBHOOK_SECRET:-whsec_foodmesh_sandbox}

fail() { printf 'load: %s\n' "$*" >&2; exit 1; }

# call METHOD PATH TOKEN BODY EXPECTED [HEADER...]: the answer's body, or
# a failure naming the status when it is not EXPECTED.
call() {
  local method=$1 path=$2 bearer=$3 body=$4 expected=$5 out status
  shift 5
  local args=(--silent --show-error --max-time 30 --request "$method" --write-out '\n%{http_code}')
  if [[ -n $bearer ]]; then args+=(--header "Authorization: Bearer $bearer"); fi
  if [[ -n $body ]]; then args+=(--header "Content-Type: application/json" --data "$body"); fi
  for header in "$@"; do args+=(--header "$header"); done
  out=$(curl "${args[@]}" "$URL$path") || fail "$method $path: no answer"
  status=${out##*$'\n'}
  [[ $status == "$expected" ]] || fail "$method $path answered $status, expected $expected: ${out%$'\n'*}"
  printf '%s' "${out%$'\n'*}"
}

ADMIN=$("${BIN[@]}" token --role admin)
CUSTOMER=$("${BIN[@]}" token --role customer --subject 2)

RESTAURANT=$(call POST /api/restaurants "$ADMIN" '{"name": "Load Pizza", "address":
  {"street": "2 Union Sq", "city": "New York", "state": "NY", "zip_code": "10003",
   "country": "US"}}' 201 | jq -r .id)
ITEM=$(call POST "/api/restaurants/$RESTAURANT/menu" "$ADMIN" \
  '{"name": "Margherita", "price": 10.00}' 201 | jq -r .id)
order() {
  call POST /api/orders "$CUSTOMER" "{\"restaurant_id\": $RESTAURANT, \"order_type\": \"takeout\",
    \"items\": [{\"menu_item_id\": $ITEM, \"quantity\": 1}]}" 201 | jq -r .id
}

# A declined card, then one that pays; the payment captured, then part of
# it refunded.
ORDER=$(order)
call POST /api/payments "$CUSTOMER" \
  "{\"order_id\": $ORDER, \"payment_method\": \"card\", \"source\": \"tok_chargeDeclined\"}" 402 >/dev/null
PAYMENT=$(call POST /api/payments "$CUSTOMER" \
  "{\"order_id\": $ORDER, \"payment_method\": \"card\", \"source\": \"tok_visa\"}" 201 | jq -r .id)
call PUT "/api/payments/$PAYMENT/process" "$ADMIN" '{"action": "capture"}' 200 >/dev/null
call POST /api/payments/refund "$ADMIN" \
  "{\"payment_id\": $PAYMENT, \"amount\": 1.00, \"reason\": \"cold\"}" 201 >/dev/null
echo "load: order $ORDER declined, paid, captured and partly refunded"

# Mobile money: a forged call back is refused, the provider's is taken.
ORDER=$(order)
REFERENCE=$(call POST /api/payments "$CUSTOMER" \
  "{\"order_id\": $ORDER, \"payment_method\": \"mobile_money\"}" 201 | jq -r .provider_reference)
BODY="{\"id\":\"evt_load_$ORDER\",\"type\":\"payment.succeeded\",\"reference\":\"$REFERENCE\"}"
T=$(date +%s)
sign() { printf '%s.%s' "$T" "$BODY" | openssl dgst -sha256 -hmac "$1" -hex | sed 's/^.* //'; }
WEBHOOK=/api/payments/webhooks/sandbox_mobile_money
call POST "$WEBHOOK" "" "$BODY" 401 "FoodMesh-Signature: t=$T,v1=$(sign not-the-secret)" >/dev/null
call POST "$WEBHOOK" "" "$BODY" 200 "FoodMesh-Signature: t=$T,v1=$(sign "$WEBHOOK_SECRET")" >/dev/null
echo "load: order $ORDER paid by mobile money, one forged call refused"

# A refusal: an order nobody has.
call GET /api/orders/999999 "$ADMIN" "" 404 >/dev/null
echo "load: a missing order refused"
