/* siamese train's training-tool flags: parsed and checked here so a bad value is a usage error
 * (exit 2) naming the flag, before any data is read. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "train_tools.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "outputs.h"

train_tools_flags train_tools_defaults(const siamese_train_params *p) {
    train_tools_flags f;
    memset(&f, 0, sizeof f);
    f.mining = NULL;
    f.loss = NULL;
    f.lr_schedule = siamese_lr_schedule_name(p->lr_schedule);
    f.lr_gamma = p->lr_gamma;
    f.val_fraction = (float)p->val_fraction;
    f.val_groups = (float)p->val_groups;
    f.val_metric = p->val_way > 0 ? "oneshot" : "auc";
    f.val_way = p->val_way > 0 ? p->val_way : 20;
    return f;
}

/* "PxK" with both at least 2. */
static int parse_pk(const char *text, int *p, int *k) {
    int v[2];
    if (cli_parse_ints(text, v, 2, 2, 4096) != 2 || v[0] * v[1] > 65536) return 0;
    *p = v[0];
    *k = v[1];
    return 1;
}

static int usage(const char *fmt, const char *value) {
    fprintf(stderr, "siamese train: ");
    fprintf(stderr, fmt, value);
    fputc('\n', stderr);
    return 0;
}

static int apply_sampling(const train_tools_flags *f, siamese_train_params *p) {
    if (f->pk && !parse_pk(f->pk, &p->pk_classes, &p->pk_images))
        return usage("--pk '%s' is not PxK with P, K >= 2 (for example 16x4)", f->pk);
    if (f->pk_given && f->sampler_given && strcmp(p->sampler, "pk") != 0)
        return usage("--pk sets P x K batches: it needs --sampler pk, not '%s'", p->sampler);
    if (f->pk_given) p->sampler = "pk";
    if (f->mining && siamese_mining_parse(f->mining, &p->mining) != SIAMESE_OK)
        return usage("unknown --mining '%s' (all, hard, semihard)", f->mining);
    int turns = p->class_rotations;
    char number[16];
    snprintf(number, sizeof number, "%d", turns);
    if (turns != 0 && turns != 1 && turns != 2 && turns != 4)
        return usage("--class-rotations %s: give 1 (none), 2 (180 degrees) or 4 (quarter turns)",
                     number);
    if (turns > 1 && strcmp(p->sampler, "pk") != 0)
        return usage("--class-rotations needs batches of labelled images: add --pk PxK (the %s "
                     "sampler gives pairs)",
                     p->sampler);
    if (f->mining && strcmp(p->sampler, "pk") != 0)
        return usage("--mining needs batches of labelled images: add --sampler pk (or --pk PxK); "
                     "the %s sampler gives pairs",
                     p->sampler);
    if (f->loss && siamese_loss_parse(f->loss, &p->loss) != SIAMESE_OK)
        return usage("unknown --loss '%s' (contrastive, triplet)", f->loss);
    if (p->loss == SIAMESE_LOSS_TRIPLET && strcmp(p->sampler, "pk") != 0)
        return usage("--loss triplet needs batches of labelled images: add --pk PxK (the %s "
                     "sampler gives pairs)",
                     p->sampler);
    return 1;
}

static int apply_val_metric(const train_tools_flags *f, siamese_train_params *p) {
    int oneshot = !strcmp(f->val_metric, "oneshot");
    if (!oneshot && strcmp(f->val_metric, "auc") != 0)
        return usage("unknown --val-metric '%s' (auc, oneshot)", f->val_metric);
    if (oneshot && !(p->val_fraction > 0 || p->val_groups > 0))
        return usage("--val-metric oneshot scores validation classes: add --val-groups or "
                     "--val-classes%s",
                     "");
    if (f->val_way < 2 || f->val_way > 1000) return usage("--val-way must be 2 to 1000%s", "");
    p->val_way = oneshot ? f->val_way : 0;
    return 1;
}

static int apply_schedule(const train_tools_flags *f, siamese_train_params *p) {
    if (siamese_lr_schedule_parse(f->lr_schedule, &p->lr_schedule) != SIAMESE_OK)
        return usage("unknown --lr-schedule '%s' (constant, step, cosine)", f->lr_schedule);
    if (p->warmup_steps < 0) return usage("--warmup must not be negative%s", "");
    if (p->lr_step_epochs < 0) return usage("--lr-step-epochs must not be negative%s", "");
    if (!(f->lr_gamma > 0 && f->lr_gamma <= 1)) return usage("--lr-gamma must be in (0, 1]%s", "");
    p->lr_gamma = f->lr_gamma;
    if (p->patience < 0) return usage("--patience must not be negative%s", "");
    if (!(f->val_fraction >= 0 && f->val_fraction < 1))
        return usage("--val-classes must be a share in [0, 1)%s", "");
    p->val_fraction = f->val_fraction;
    double g = f->val_groups;
    if (!(g >= 0 && g <= 1e6) || (g >= 1 && g != (double)(long long)g))
        return usage("--val-groups must be a whole number of groups (>= 1) or a share in (0, 1)%s",
                     "");
    if (g > 0 && f->val_fraction > 0)
        return usage("--val-groups and --val-classes both hold out validation classes: give "
                     "one%s",
                     "");
    p->val_groups = g;
    return apply_val_metric(f, p);
}

int train_tools_apply(const train_tools_flags *f, siamese_train_params *p) {
    char msg[512];
    if (f->augment && siamese_augment_check(f->augment, msg, sizeof msg) != SIAMESE_OK) {
        const char *prefix = "augment: "; /* the library's own, said once as the option's name */
        size_t n = strlen(prefix);
        return usage("--augment %s", strncmp(msg, prefix, n) == 0 ? msg + n : msg);
    }
    p->augment = f->augment;
    return apply_sampling(f, p) && apply_schedule(f, p);
}

int train_tools_check_data(const char *data, const siamese_train_params *p) {
    siamese_dataset *ds = NULL;
    if (siamese_dataset_open(data, NULL, &ds) != SIAMESE_OK) {
        fprintf(stderr, "siamese train: %s\n", ds ? siamese_dataset_errmsg(ds) : "out of memory");
        siamese_dataset_free(ds);
        return CLI_EXIT_FAIL; /* as the run itself refuses it */
    }
    if (!p->sampler || strcmp(p->sampler, "pk") != 0) {
        siamese_dataset_free(ds);
        return CLI_EXIT_OK;
    }
    int classes = siamese_dataset_class_count(ds), n = siamese_dataset_image_count(ds);
    int *count = calloc((size_t)classes + 1, sizeof *count), enough = 0;
    for (int i = 0; count && i < n; i++) {
        int c = siamese_dataset_image_class(ds, i);
        if (c >= 0 && siamese_dataset_image_usable(ds, i)) count[c]++;
    }
    for (int c = 0; count && c < classes; c++) enough += count[c] >= p->pk_images;
    int ok = !count || enough >= p->pk_classes;
    if (!ok)
        fprintf(stderr,
                "siamese train: P x K = %d x %d needs %d classes with at least %d images each; %s "
                "has %d such classes in all (fewer on the training side): lower --pk\n",
                p->pk_classes, p->pk_images, p->pk_classes, p->pk_images, data, enough);
    free(count);
    siamese_dataset_free(ds);
    return ok ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

int train_tools_check_network(const siamese_train_params *p) {
    siamese_model_params mp = siamese_train_model_params(p);
    mp.threads = 1;
    siamese_model *model = NULL;
    siamese_status st = siamese_model_create(&mp, &model);
    int bad = st == SIAMESE_ERR_SPEC || st == SIAMESE_ERR_SHAPE;
    if (bad) fprintf(stderr, "siamese train: %s\n", model ? siamese_model_errmsg(model) : "");
    siamese_model_free(model);
    return !bad; /* anything else (memory, say) the run reports itself */
}

/* path as the folder it names once made: each part that exists resolved by realpath (symlinks,
 * "..", "."), the parts still to make appended as written, "." dropped and ".." taking the last
 * part off (they will be real folders, made as sm_make_dirs makes them). 0 when it does not fit. */
static int resolve_folder(const char *path, char *out, size_t size) {
    char work[PATH_MAX], real[PATH_MAX];
    if (path[0] == '/') out[0] = '\0';
    else if (!getcwd(out, size)) return 0;
    if (strlen(path) >= sizeof work) return 0;
    strcpy(work, path);
    char *save = NULL;
    for (char *part = strtok_r(work, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
        if (!strcmp(part, ".")) continue;
        if (!strcmp(part, "..")) { /* out has no symlink left: its parent is lexical */
            char *slash = strrchr(out, '/');
            if (slash) *slash = '\0';
            continue;
        }
        if (!strcmp(out, "/")) out[0] = '\0';
        size_t len = strlen(out);
        if (len + 1 + strlen(part) >= size) return 0;
        snprintf(out + len, size - len, "/%s", part);
        if (realpath(out, real) && strlen(real) < size) strcpy(out, real);
    }
    if (!out[0]) snprintf(out, size, "/");
    return 1;
}

int train_tools_check_run_folder(const char *data, const char *run_dir) {
    struct stat st;
    char data_real[PATH_MAX], run_real[PATH_MAX];
    if (stat(data, &st) != 0 || !S_ISDIR(st.st_mode)) return 1; /* a manifest lists its images */
    if (!resolve_folder(data, data_real, sizeof data_real) ||
        !resolve_folder(run_dir, run_real, sizeof run_real))
        return 1; /* a path too long: the run reports it */
    int same = !strcmp(run_real, data_real);
    if (!same && !cli_path_is_below(run_real, data_real)) return 1;
    fprintf(stderr, "siamese train: -o %s: the run folder would be %s data folder %s\n", run_dir,
            same ? "the" : "inside the", data);
    return 0;
}
