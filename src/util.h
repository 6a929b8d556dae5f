/* Small general helpers shared across the library and the CLI: string copies, path joining,
 * a monotonic clock. */
#ifndef SM_UTIL_H
#define SM_UTIL_H

/* A malloc'd copy of s (NULL when memory runs out). */
char *sm_strdup(const char *s);
/* "dir/name" in a new string (no extra slash when dir ends with one; NULL when memory runs out). */
char *sm_path_join(const char *dir, const char *name);
/* Seconds on the monotonic clock (CLOCK_MONOTONIC), for measuring intervals. */
double sm_now_seconds(void);

#endif
