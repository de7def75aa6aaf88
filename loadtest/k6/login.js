// login: POST /api/auth/login with one account's email and password.
//
// Measures password login end to end; Argon2id hashing dominates, so this is
// CPU bound and far slower than the token paths. setup() logs in once only to
// fail fast on wrong credentials.
//
// Target (provisional, ours: the brief gives none for login): 50 logins/s
// with p(95) < 300 ms and p(99) < 500 ms, under 1% failed.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e EMAIL=load@example.com -e PASSWORD=... \
//     loadtest/k6/login.js
//
// Optional: RATE (50), DURATION (60s), PRE_VUS (50), MAX_VUS (200),
// P95_MS (300), P99_MS (500).
import http from 'k6/http';
import { check } from 'k6';
import { BASE_URL, JSON_HEADERS, arrivalScenario, env, loginBody, loginSessions, maxDropped, num } from './common.js';

const RATE = num('RATE', 50);
const DURATION = env('DURATION', '60s');

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ['min', 'med', 'avg', 'p(95)', 'p(99)', 'max'],
  scenarios: {
    login: arrivalScenario(RATE, DURATION, num('PRE_VUS', 50), num('MAX_VUS', 200)),
  },
  thresholds: {
    'http_req_duration{name:login}': [`p(95)<${num('P95_MS', 300)}`, `p(99)<${num('P99_MS', 500)}`],
    'http_req_failed{name:login}': ['rate<0.01'],
    checks: ['rate>0.99'],
    dropped_iterations: [`count<=${maxDropped(RATE, DURATION)}`],
  },
};

export function setup() {
  loginSessions(1);
  return { body: loginBody() };
}

export default function (data) {
  const res = http.post(`${BASE_URL}/api/auth/login`, data.body, {
    headers: JSON_HEADERS,
    tags: { name: 'login' },
    responseType: 'text',
  });
  check(res, {
    'login status is 200': (r) => r.status === 200,
    'login returned an access token': (r) => r.status === 200 && Boolean(r.json('access_token')),
  });
}
