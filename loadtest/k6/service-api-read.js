// service-api-read: GET /api/service/users/{user_id} with an X-Api-Key header.
//
// Measures the Service API read path used by customer backends: API-key
// authentication (hashed key lookup, scope check) plus a user read scoped to
// the key's organization and service. No setup is needed.
//
// Target (provisional, ours: the brief gives none): 2000 req/s with
// p(99) < 20 ms, under 1% failed, under 1% of iterations dropped.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e API_KEY=... -e USER_ID=... \
//     loadtest/k6/service-api-read.js
//
// Optional: RATE (2000), DURATION (60s), PRE_VUS (50), MAX_VUS (500), P99_MS (20).
import http from 'k6/http';
import { check } from 'k6';
import { BASE_URL, arrivalScenario, env, maxDropped, num, requireEnv } from './common.js';

const RATE = num('RATE', 2000);
const DURATION = env('DURATION', '60s');
const API_KEY = requireEnv('API_KEY');
const USER_ID = requireEnv('USER_ID');

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ['min', 'med', 'avg', 'p(95)', 'p(99)', 'max'],
  scenarios: {
    service_api_read: arrivalScenario(RATE, DURATION, num('PRE_VUS', 50), num('MAX_VUS', 500)),
  },
  thresholds: {
    'http_req_duration{name:service_get_user}': [`p(99)<${num('P99_MS', 20)}`],
    'http_req_failed{name:service_get_user}': ['rate<0.01'],
    checks: ['rate>0.99'],
    dropped_iterations: [`count<=${maxDropped(RATE, DURATION)}`],
  },
};

export default function () {
  const res = http.get(`${BASE_URL}/api/service/users/${encodeURIComponent(USER_ID)}`, {
    headers: { 'X-Api-Key': API_KEY },
    tags: { name: 'service_get_user' },
  });
  check(res, { 'service get user status is 200': (r) => r.status === 200 });
}
