/* Small general helpers shared across the library and the CLI: strings, enum names, paths, a
 * monotonic clock and CPU clocks, a contiguous share of n items, a finite check of floats. */
#ifndef SM_UTIL_H
#define SM_UTIL_H

#include <stddef.h>

/* A malloc'd copy of s (NULL when memory runs out). */
char *sm_strdup(const char *s);
/* "dir/name" in a new string (no extra slash when dir ends with one; NULL when memory runs out). */
char *sm_path_join(const char *dir, const char *name);
/* The folder holding path ("." for a bare file name, "/" for a file in the root), malloc'd, or
 * NULL when memory runs out. */
char *sm_folder_of(const char *path);
/* 1 when s ends with suffix. */
int sm_ends_with(const char *s, const char *suffix);
/* The index of name among names[0 .. count) (strcmp), or -1 when name is NULL or not there: the
 * parse half of an enum's name table. */
int sm_name_index(const char *name, const char *const *names, int count);
/* names[i], or SIAMESE_NAME_UNKNOWN when i is outside [0, count): the name half of an enum's
 * name table. */
const char *sm_name_of(const char *const *names, int count, int i);
/* qsort/bsearch comparator for an array of char * (byte order, strcmp). */
int sm_compare_strings(const void *a, const void *b);
/* Seconds on the monotonic clock (CLOCK_MONOTONIC), for measuring intervals. */
double sm_now_seconds(void);
/* CPU seconds used by the calling thread (CLOCK_THREAD_CPUTIME_ID), for measuring intervals. */
double sm_thread_cpu_seconds(void);
/* CPU seconds used by the whole process, every thread (CLOCK_PROCESS_CPUTIME_ID). */
double sm_process_cpu_seconds(void);
/* Part `part` of `parts` of n items: the contiguous slice [*first, *first + *count), parts below
 * n % parts one item longer; count is 0 when n < parts and part >= n. */
void sm_share_of(int n, int part, int parts, int *first, int *count);
/* The index of the first NaN or infinite value among v[0 .. n), or n when all are finite: the
 * check that model weights and index embeddings share before they are used. */
size_t sm_first_nonfinite(const float *v, size_t n);

/* Whether the environment variable name is exactly "1": the engine's benchmark switches
 * (SIAMESE_ENGINE_NO_FUSION=1 and the like). */
int sm_env_is_one(const char *name);

#endif
