// authenticated-read: GET /api/user with a Bearer access token.
//
// Measures the hot path of every API call made on behalf of a user: JWT
// verification plus the profile read. setup() logs in USERS sessions once;
// each VU reuses one session's access token (logins are not measured).
//
// Target: 5000 req/s (constant arrival rate) with p(99) < 10 ms, under 1%
// failed requests, and under 1% of iterations dropped.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e EMAIL=load@example.com -e PASSWORD=... \
//     loadtest/k6/authenticated-read.js
//
// Optional: RATE (5000), DURATION (60s), USERS (50), PRE_VUS (100),
// MAX_VUS (1000), P99_MS (10).
import http from 'k6/http';
import { check } from 'k6';
import { BASE_URL, arrivalScenario, loginSessions, maxDropped, num, env } from './common.js';

const RATE = num('RATE', 5000);
const DURATION = env('DURATION', '60s');
const USERS = num('USERS', 50);
const P99_MS = num('P99_MS', 10);

export const options = {
  discardResponseBodies: true,
  setupTimeout: '120s',
  summaryTrendStats: ['min', 'med', 'avg', 'p(95)', 'p(99)', 'max'],
  scenarios: {
    authenticated_read: arrivalScenario(RATE, DURATION, num('PRE_VUS', 100), num('MAX_VUS', 1000)),
  },
  thresholds: {
    'http_req_duration{name:get_user}': [`p(99)<${P99_MS}`],
    'http_req_failed{name:get_user}': ['rate<0.01'],
    checks: ['rate>0.99'],
    dropped_iterations: [`count<=${maxDropped(RATE, DURATION)}`],
  },
};

export function setup() {
  return { sessions: loginSessions(USERS) };
}

export default function (data) {
  const session = data.sessions[(__VU - 1) % data.sessions.length];
  const res = http.get(`${BASE_URL}/api/user`, {
    headers: { Authorization: `Bearer ${session.access_token}` },
    tags: { name: 'get_user' },
  });
  check(res, { 'get user status is 200': (r) => r.status === 200 });
}
