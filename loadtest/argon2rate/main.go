// Command argon2rate measures the raw Argon2id hash rate of this machine for
// given parameters: the physical limit of password logins, against which
// the login scenario is compared in the same run.
//
//	go run ./loadtest/argon2rate -c 2 -d 20s -m 19456 -t 2 -p 1
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

func main() {
	c := flag.Int("c", 2, "concurrent hashes (the API's PASSWORD_HASH_CONCURRENCY, default one per CPU)")
	d := flag.Duration("d", 20*time.Second, "measurement duration (max 10m)")
	m := flag.Uint("m", 19456, "memory in KiB")
	t := flag.Uint("t", 2, "iterations")
	p := flag.Uint("p", 1, "parallelism")
	flag.Parse()
	if *c < 1 || *d <= 0 || *d > 10*time.Minute || *m < 8 || *t < 1 || *p < 1 || *p > 255 {
		fmt.Fprintln(os.Stderr, "argon2rate: bad flags")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *d)
	defer cancel()
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range *c {
		wg.Go(func() {
			for ctx.Err() == nil {
				argon2.IDKey([]byte("correct horse battery staple"), salt, uint32(*t), uint32(*m), uint8(*p), 32)
				n.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Printf("argon2id m=%d t=%d p=%d, %d concurrent: %d hashes in %s = %.1f hashes/s\n",
		*m, *t, *p, *c, n.Load(), elapsed.Round(time.Millisecond), float64(n.Load())/elapsed.Seconds())
}
