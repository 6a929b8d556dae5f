/* The temporary files of the atomic writes in progress, so that a program ending on a signal can
 * remove them (siamese_remove_unfinished_writes) instead of leaving PATH.tmp.XXXXXX behind. */
#ifndef SM_UNFINISHED_WRITES_H
#define SM_UNFINISHED_WRITES_H

/* mkstemp(tmp_template), the new file recorded as a write in progress under the same lock that
 * siamese_remove_unfinished_writes takes, so no removal can run between the file's creation and
 * its record. Returns the descriptor, or -1 with errno set. A failure to record (no memory) only
 * means that the file is not removed on a signal. */
int sm_unfinished_create(char *tmp_template);
/* Forgets tmp_path: its write was committed (renamed) or abandoned (removed). */
void sm_unfinished_drop(const char *tmp_path);

#endif
