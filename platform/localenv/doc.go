// Package localenv starts local PostgreSQL and Redis servers from the
// machine's binaries, for `authos dev`, `task test` and platform/testenv.
//
// PostgreSQL refuses to run as root, so when the current user is root the
// server (and initdb) run as the unprivileged `postgres` OS user, on a data
// folder that user owns. Every child process is tied to its parent with a
// parent-death signal, so a killed test binary or dev command leaves no
// server behind.
package localenv
