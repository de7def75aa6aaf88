#!/usr/bin/env bash
# Prepares the service-api-read scenario against a running local AuthOS: the
# platform owner creates and approves an organization, creates a service and
# an API key with read:users and write:users, and links one end user through
# the Service API. Prints "-api-key <key> -user-id <id>" for the load runner.
#
#   bash loadtest/service-api-setup.sh http://127.0.0.1:18080 owner@x password
set -euo pipefail
base=$1 email=$2 password=$3
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
post() { curl -sf -X POST "$base$1" -H 'content-type: application/json' ${3:+-H "authorization: Bearer $3"} -d "$2"; }

token=$(post /api/auth/login "{\"email\":\"$email\",\"password\":\"$password\"}" | json 'd["access_token"]')
org=$(post /api/organizations '{"slug":"loadtest","name":"Load Test"}' "$token" | json 'd["organization"]["id"]')
post "/api/platform/organizations/$org/approve" '{"tier_id":"tier_enterprise"}' "$token" >/dev/null
post /api/organizations/loadtest/services '{"slug":"bench","name":"Bench","service_type":"api"}' "$token" >/dev/null
key=$(post /api/organizations/loadtest/services/bench/api-keys '{"name":"load","permissions":["read:users","write:users"]}' "$token" | json 'd["key"]')
user=$(curl -sf -X POST "$base/api/service/users" -H 'content-type: application/json' -H "X-Api-Key: $key" -d '{"email":"bench-user@authos.test"}' | json 'd["id"]')
echo "-api-key $key -user-id $user"
