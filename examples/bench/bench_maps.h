/* Maps and map helpers for the benchmark programs that use them, one source for both builds.
 *
 * For BPF (`clang -g -target bpf`): a BTF-defined map in section ".maps" and the map helpers by
 * Linux helper id, as libbpf programs declare them; the object keeps its map relocations and
 * is loaded by an ELF loader (nanobpf's), not extracted as raw bytes.
 *
 * Natively: the same map declaration is an ordinary (unused) variable, and the helpers are
 * extern functions the benchmark harness provides in Rust over its own static map, of the same
 * map implementation the BPF engines use. */
#ifndef NANOBPF_BENCH_MAPS_H
#define NANOBPF_BENCH_MAPS_H

#include "bench.h"

#define BPF_MAP_TYPE_HASH 1
#define BPF_ANY 0
#define BPF_NOEXIST 1

/* BTF-defined map attributes, as libbpf defines them. */
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

#ifdef __bpf__
#define BENCH_MAP __attribute__((section(".maps"), used))
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value,
                                   u64 flags) = (void *)2;
static long (*bpf_map_delete_elem)(void *map, const void *key) = (void *)3;
#else
#define BENCH_MAP
void *bench_map_lookup_elem(void *map, const void *key);
long bench_map_update_elem(void *map, const void *key, const void *value, u64 flags);
long bench_map_delete_elem(void *map, const void *key);
#define bpf_map_lookup_elem bench_map_lookup_elem
#define bpf_map_update_elem bench_map_update_elem
#define bpf_map_delete_elem bench_map_delete_elem
#endif

#endif
