/* Where a training run's data set is: the "data" its config.json records, found as training was
 * given it or from a folder above the run (one source for the run report and
 * siamese_run_data_path). */
#ifndef SM_RUN_DATA_H
#define SM_RUN_DATA_H

#include <jansson.h>

/* The data path config (a run's config.json) records, or NULL when it names none (no "data"
 * text, or ""). */
const char *sm_run_data_recorded(const json_t *config);

/* data_path as it is when absolute or when it exists from the current folder, else joined to
 * the first folder above run_dir where it exists; malloc'd, or NULL when found nowhere. */
char *sm_run_data_find(const char *run_dir, const char *data_path);

#endif
