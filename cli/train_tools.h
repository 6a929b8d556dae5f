/* siamese train's training-tool flags (issue 12): augmentation, P x K batches, mining and loss,
 * learning-rate schedule, early stopping and validation classes. */
#ifndef SIAMESE_CLI_TRAIN_TOOLS_H
#define SIAMESE_CLI_TRAIN_TOOLS_H

#include "siamese.h"

typedef struct train_tools_flags {
    const char *augment, *pk, *mining, *loss, *lr_schedule;
    float lr_gamma, val_fraction, val_groups;
    const char *val_metric;      /* "auc" (default) or "oneshot" */
    int val_way;                 /* --val-metric oneshot: N-way, default 20 */
    int pk_given, sampler_given; /* set by the caller from cli_was_given */
} train_tools_flags;

/* Flags holding p's defaults. */
train_tools_flags train_tools_defaults(const siamese_train_params *p);

/* Checks the flags and writes them into p; on a usage error prints it (naming the flag) and
 * returns 0. */
int train_tools_apply(const train_tools_flags *f, siamese_train_params *p);

/* Opens the dataset at data as the run opens it, before anything is built or made: CLI_EXIT_OK,
 * or after printing why, CLI_EXIT_FAIL when it does not open (missing, an empty folder, a file
 * that is no dataset: the run's own exit status for it) and, for sampler "pk", CLI_EXIT_USAGE
 * when it has fewer than P classes with K usable images in all (the run checks its training
 * side exactly). Opens only the listing, decodes nothing. */
int train_tools_check_data(const char *data, const siamese_train_params *p);

/* The network p asks for (architecture, input geometry, embedding length, input normalisation)
 * can be built: otherwise says why on stderr and returns 0, before the run folder is made. */
int train_tools_check_network(const siamese_train_params *p);

/* The run folder run_dir (made or not yet) is neither the dataset folder data nor inside it,
 * compared as real paths (symlinks, "..", "."): otherwise says so on stderr and returns 0 before
 * anything is made. A run inside its data would be read as data by the next run on it (its
 * loss.png an image of a class, its folder a class). The other way round is safe: a data folder
 * inside the run folder (or the run folder's parent) keeps every file, since a run over an old
 * one (--overwrite) removes only the old run's named files in the run folder itself. */
int train_tools_check_run_folder(const char *data, const char *run_dir);

#endif
