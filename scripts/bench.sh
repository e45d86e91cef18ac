#!/bin/sh
# Scan benchmark; BENCH_FILES / BENCH_MB set the tree size (e.g. BENCH_FILES=300 BENCH_MB=3 for a smoke run).
exec cargo bench --bench scan "$@"
