/* The temporary files of the atomic writes in progress, so that a program ending on a signal can
 * remove them (siamese_remove_unfinished_writes) instead of leaving PATH.tmp.XXXXXX behind. */
#ifndef SM_UNFINISHED_WRITES_H
#define SM_UNFINISHED_WRITES_H

/* Records tmp_path (copied) as a write in progress; a failure to record (no memory) only means
 * that the file is not removed on a signal. */
void sm_unfinished_add(const char *tmp_path);
/* Forgets tmp_path: its write was committed (renamed) or abandoned (removed). */
void sm_unfinished_drop(const char *tmp_path);

#endif
