// refresh: POST /api/auth/refresh, chaining rotated refresh tokens.
//
// Measures refresh-token rotation: look up the hashed token, revoke it, issue
// a new pair. A refresh token is single use, so every VU owns one session and
// always presents the newest token of its chain; setup() logs in one session
// per VU (MAX_VUS), and the scenario never runs more VUs than sessions.
// After a failed refresh the chain may be dead, so that VU logs in again
// (tagged name=relogin, not counted by the thresholds).
//
// Target: at least 1500 refreshes/s sustained (constant arrival rate with
// under 1% of iterations dropped), p(99) < 50 ms, under 1% failed.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e EMAIL=load@example.com -e PASSWORD=... \
//     loadtest/k6/refresh.js
//
// Optional: RATE (1500), DURATION (60s), MAX_VUS (200, also the number of
// sessions), PRE_VUS (= MAX_VUS), P99_MS (50).
import http from 'k6/http';
import { check } from 'k6';
import { BASE_URL, JSON_HEADERS, arrivalScenario, env, loginBody, loginSessions, maxDropped, num } from './common.js';

const RATE = num('RATE', 1500);
const DURATION = env('DURATION', '60s');
const MAX_VUS = num('MAX_VUS', 200);
const P99_MS = num('P99_MS', 50);

export const options = {
  discardResponseBodies: true,
  setupTimeout: '120s',
  summaryTrendStats: ['min', 'med', 'avg', 'p(95)', 'p(99)', 'max'],
  scenarios: {
    refresh: arrivalScenario(RATE, DURATION, num('PRE_VUS', MAX_VUS), MAX_VUS),
  },
  thresholds: {
    'http_req_duration{name:refresh}': [`p(99)<${P99_MS}`],
    'http_req_failed{name:refresh}': ['rate<0.01'],
    checks: ['rate>0.99'],
    dropped_iterations: [`count<=${maxDropped(RATE, DURATION)}`],
  },
};

export function setup() {
  return { sessions: loginSessions(MAX_VUS) };
}

// chain is this VU's newest refresh token; module scope is per VU and
// survives across iterations.
let chain = null;

export default function (data) {
  if (chain === null) {
    chain = data.sessions[__VU - 1].refresh_token;
  }
  const res = http.post(`${BASE_URL}/api/auth/refresh`, JSON.stringify({ refresh_token: chain }), {
    headers: JSON_HEADERS,
    tags: { name: 'refresh' },
    responseType: 'text',
  });
  let next = null;
  if (res.status === 200) {
    next = res.json('refresh_token') || null;
  }
  check(res, {
    'refresh status is 200': (r) => r.status === 200,
    'refresh rotated the token': () => next !== null && next !== chain,
  });
  if (next !== null) {
    chain = next;
    return;
  }
  const login = http.post(`${BASE_URL}/api/auth/login`, loginBody(), {
    headers: JSON_HEADERS,
    tags: { name: 'relogin' },
    responseType: 'text',
  });
  if (login.status === 200 && login.json('refresh_token')) {
    chain = login.json('refresh_token');
  }
}
