package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// phase describes one timed run of a scenario (the warmup or the measured
// phase).
type phase struct {
	concurrency int
	// duration is how long new requests may be started; requests in flight
	// when it ends are allowed to finish (each is bounded by the 10 s client
	// timeout).
	duration time.Duration
	// limit is the maximum number of requests started.
	limit int64
	// rate, when above zero, is the open-model arrival rate in requests per
	// second: request k is due at start + k/rate whichever worker sends it,
	// and its latency is measured from that due time, so a server that
	// stalls is charged for the requests that queue up behind the stall
	// (no coordinated omission). With rate 0 each worker sends its next
	// request as soon as the previous one completes (closed loop).
	rate float64
	// lateGrace bounds open-model runs whose server cannot keep up: no
	// request is started later than duration+lateGrace after the start, and
	// the requests still due are counted as dropped instead.
	lateGrace time.Duration
}

// due returns when request k is due in an open-model phase.
func (p phase) due(start time.Time, k int64) time.Time {
	return start.Add(time.Duration(float64(k) * float64(time.Second) / p.rate))
}

// phaseResult holds the per-worker recorders and the wall time of a phase.
type phaseResult struct {
	recorders []*recorder
	elapsed   time.Duration
	// dropped counts open-model requests that were due before the end of the
	// phase but never sent because the lateGrace deadline passed.
	dropped int64
}

// runPhase runs sc under p. It returns when the duration or request limit is
// reached and every in-flight request has finished, or promptly after ctx is
// cancelled (in-flight requests are then abandoned and not counted).
func runPhase(ctx context.Context, sc scenario, p phase) phaseResult {
	var (
		tickets atomic.Int64
		dropped atomic.Int64
		wg      sync.WaitGroup
		recs    = make([]*recorder, p.concurrency)
		start   = time.Now()
		end     = start.Add(p.duration)
	)
	for w := range p.concurrency {
		recs[w] = newRecorder(expectedSamples(p))
		wg.Add(1)
		go func() {
			defer wg.Done()
			runWorker(ctx, sc, w, p, start, end, &tickets, &dropped, recs[w])
		}()
	}
	wg.Wait()
	res := phaseResult{recorders: recs, elapsed: time.Since(start), dropped: dropped.Load()}
	if res.dropped > 0 && ctx.Err() == nil {
		// Workers stopped claiming once they were too late; count the
		// requests that were still due and never claimed.
		for k := tickets.Load(); k < p.limit && p.due(start, k).Before(end); k++ {
			res.dropped++
		}
	}
	return res
}

// runWorker is one worker's loop: claim the next request number, wait for its
// due time in open-model runs, send it and record the outcome.
func runWorker(ctx context.Context, sc scenario, w int, p phase, start, end time.Time, tickets, dropped *atomic.Int64, rec *recorder) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	lateStop := end.Add(p.lateGrace)
	for {
		k := tickets.Add(1) - 1
		if k >= p.limit || ctx.Err() != nil {
			return
		}
		var due time.Time
		if p.rate > 0 {
			due = p.due(start, k)
			if !due.Before(end) {
				return
			}
			if time.Now().After(lateStop) {
				dropped.Add(1)
				return
			}
			if wait := time.Until(due); wait > 0 {
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
				select {
				case <-ctx.Done():
					return
				case <-timer.C:
				}
			}
		} else {
			due = time.Now()
			if !due.Before(end) {
				return
			}
		}
		sent := time.Now()
		res := sc.do(ctx, w)
		if res.cancelled {
			return
		}
		rec.record(res, time.Since(due), sent.Sub(due))
		if res.repair != nil {
			rec.repairs++
			if err := res.repair(ctx); err != nil && ctx.Err() == nil {
				rec.repairFailures++
				rec.lastRepairErr = err
			}
		}
	}
}

// expectedSamples estimates one worker's sample count, to size its slice.
func expectedSamples(p phase) int {
	n := p.limit
	if p.rate > 0 {
		n = min(n, int64(p.rate*p.duration.Seconds())+1)
	}
	per := n/int64(p.concurrency) + 1
	return int(min(per, 1<<16))
}
