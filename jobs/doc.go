// Package jobs is the River plumbing shared by the API and worker processes:
// queue names, the insert-only client the API uses to enqueue work inside its
// transactions, the working client of cmd/worker with its queue limits and
// periodic jobs, shared worker middleware, and the jobs that belong to no
// module (email.send).
//
// Jobs caused by a database change are inserted with InsertTx in the same
// transaction, so a job is never lost and never exists for a change that
// rolled back.
package jobs
