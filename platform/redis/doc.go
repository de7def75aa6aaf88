// Package redis connects AuthOS to Redis and provides the rate limiter that
// every API replica shares.
//
// NewClient builds a go-redis client from a REDIS_URL with timeouts suited to
// a request path (a slow or absent Redis must not hold requests for long).
// It does not ping at start, so the API can boot before Redis is reachable;
// readiness checks call Ping.
//
// Limiter implements GCRA (the generic cell rate algorithm, a token bucket
// that stores one timestamp per key) as a single Lua script, so a decision
// is atomic even when many replicas hit the same key at once. The script
// reads the clock with Redis TIME, so replicas with skewed clocks agree, and
// every key expires when its bucket would be full again.
//
// Limiter.Middleware and Limiter.HumaMiddleware apply a Rule to a chi route
// group or a Huma group (spec §1.8). They fail closed: when Redis cannot be
// asked, the request is answered 503 and never reaches the handler.
package redis
