/* siamese train: trains a Siamese network on a dataset into a run folder, or resumes one. */
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "cli.h"
#include "progress.h"
#include "siamese.h"
#include "similarity.h"
#include "stop_signals.h"
#include "train_tools.h"

static volatile sig_atomic_t stop_requested;

/* Parses "CxHxW" (or "HxW" meaning 3 channels). */
static int parse_geometry(const char *text, int *c, int *h, int *w) {
    int v[3], n = cli_parse_ints(text, v, 3, 1, INT_MAX);
    if (n < 2) return 0;
    *c = n == 3 ? v[0] : 3;
    *h = v[n - 2];
    *w = v[n - 1];
    return 1;
}

typedef struct train_flags {
    const char *output, *resume, *input, *metric, *split, *precision;
    int cache_mb, quiet, json;
} train_flags;

static int apply_flags(const train_flags *f, siamese_train_params *p) {
    if (f->input && !parse_geometry(f->input, &p->channels, &p->height, &p->width)) {
        fprintf(stderr, "siamese train: --input '%s' is not CxHxW (for example 3x256x256)\n",
                f->input);
        return 0;
    }
    if (f->metric && siamese_metric_parse(f->metric, &p->metric) != SIAMESE_OK) {
        fprintf(stderr, "siamese train: unknown --metric '%s' (euclidean, cosine, correlation)\n",
                f->metric);
        return 0;
    }
    if (f->split && siamese_split_kind_parse(f->split, &p->split) != SIAMESE_OK) {
        fprintf(stderr, "siamese train: unknown --split '%s' (pairs, images, classes)\n", f->split);
        return 0;
    }
    if (f->precision && !cli_parse_precision("train", f->precision, &p->precision)) return 0;
    if (p->precision == SIAMESE_PRECISION_INT8) {
        fprintf(stderr, "siamese train: --precision int8 is for inference: train in fp32 or bf16, "
                        "then 'siamese quantize' the model\n");
        return 0;
    }
    if (f->cache_mb < 0) {
        fprintf(stderr, "siamese train: --cache-mb must not be negative\n");
        return 0;
    }
    p->cache_bytes = (size_t)f->cache_mb << 20;
    return 1;
}

/* --resume goes on with the settings in the run's config.json: an option that would change them
 * is a usage error naming it, not silently ignored. */
static int check_resume_options(const cli_spec *spec, const char *resume) {
    static const char *const kept[] = {"resume", "epochs", "threads", "quiet", "json"};
    if (!resume) return 1;
    char given[512] = "";
    size_t n = 0;
    for (int i = 0; i < spec->n_options; i++) {
        const char *name = spec->options[i].name;
        int allowed = 0;
        for (size_t k = 0; k < sizeof kept / sizeof kept[0]; k++) allowed |= !strcmp(name, kept[k]);
        if (!allowed && cli_was_given(spec, name) && n < sizeof given)
            n += (size_t)snprintf(given + n, sizeof given - n, "%s--%s", n ? ", " : "", name);
    }
    if (!n) return 1;
    fprintf(stderr,
            "siamese train: --resume goes on with the run's own settings (%s/config.json): %s "
            "cannot change them (with --resume give only --epochs, -j, -q or --json)\n",
            resume, given);
    return 0;
}

/* --ema DECAY: a decay in [0, 1), chosen when a run starts (its checkpoints carry the average). */
static int check_ema(const cli_spec *spec, float decay) {
    if (!cli_was_given(spec, "ema")) return 1;
    if (decay >= 0 && decay < 1) return 1;
    fprintf(stderr, "siamese train: --ema %g: the decay must be in [0, 1) (0 = off; e.g. 0.999)\n",
            (double)decay);
    return 0;
}

/* The numbers the run would refuse (exit 1 from the library, and --resume would ignore an
 * explicit --epochs 0 or a negative --threads): usage errors naming the flag, before any folder
 * is made or read. */
static int check_numbers(const siamese_train_params *p) {
    const char *problem = NULL;
    if (!cli_threads_ok("train", p->threads)) return 0;
    if (p->epochs < 1) problem = "--epochs must be at least 1";
    else if (p->batch_size < 1) problem = "--batch must be at least 1";
    else if (!(p->learning_rate > 0) || isinf(p->learning_rate))
        problem = "--lr must be a positive number";
    else if (!(p->margin > 0) || isinf(p->margin)) problem = "--margin must be a positive number";
    else if (p->per_class < 1) problem = "--per-class must be at least 1";
    else if (p->pairs_per_epoch < 2) problem = "--pairs-per-epoch must be at least 2";
    else if (p->log_every < 1) problem = "--log-every must be at least 1";
    else if (!(p->train_fraction > 0 && p->train_fraction < 1))
        problem = "--train-fraction must be between 0 and 1";
    if (problem) fprintf(stderr, "siamese train: %s\n", problem);
    return problem == NULL;
}

/* What the library would refuse the settings for before it touches any file (a sampler the
 * split cannot feed, a batch over its limit, ...): a usage error, not a failed run. */
static int check_settings(const siamese_train_params *p) {
    char msg[1024];
    if (siamese_train_params_check(p, msg, sizeof msg) == SIAMESE_OK) return 1;
    fprintf(stderr, "siamese train: %s\n", msg);
    return 0;
}

/* Where a run stood before the call, as far as a flag moves it on when it fails: the library's
 * messages name no flag, so train adds the one that helps. The folder is read as siamese.h
 * documents it: config.json marks a run, its checkpoint.safetensors lets it resume. */
typedef enum train_situation {
    TRAIN_NEW,            /* a new run */
    RESUME_NOT_A_FOLDER,  /* --resume of a path that is not a folder */
    RESUME_NO_CHECKPOINT, /* --resume of a folder without a checkpoint */
    RESUME_RUN            /* --resume of a run with its checkpoint */
} train_situation;

/* run_dir/name exists. */
static int run_has(const char *run_dir, const char *name) {
    char path[PATH_MAX];
    struct stat st;
    return snprintf(path, sizeof path, "%s/%s", run_dir, name) < (int)sizeof path &&
           stat(path, &st) == 0;
}

static train_situation situation_of(const char *run_dir, int resuming) {
    struct stat st;
    if (!resuming) return TRAIN_NEW;
    if (stat(run_dir, &st) != 0 || !S_ISDIR(st.st_mode)) return RESUME_NOT_A_FOLDER;
    return run_has(run_dir, "checkpoint.safetensors") ? RESUME_RUN : RESUME_NO_CHECKPOINT;
}

/* Prints the library's message of a failed run, with the flags that move it on when some do
 * (a refused --epochs is the only invalid argument of a resume with --epochs). */
static void print_failure(train_situation s, siamese_status st, const char *run_dir,
                          int epochs_given, const char *msg) {
    char hint[PATH_MAX + 64] = "";
    if (st == SIAMESE_ERR_INTERRUPTED) snprintf(hint, sizeof hint, " (--resume %s)", run_dir);
    else if (st == SIAMESE_ERR_EXISTS)
        snprintf(hint, sizeof hint, " (--resume %s, or --overwrite)", run_dir);
    else if (s == RESUME_NOT_A_FOLDER) snprintf(hint, sizeof hint, " (given to --resume)");
    else if (s == RESUME_NO_CHECKPOINT)
        snprintf(hint, sizeof hint, " (the command that started it, with --overwrite)");
    else if (s == RESUME_RUN && epochs_given && st == SIAMESE_ERR_INVALID_ARG)
        snprintf(hint, sizeof hint, " (with --epochs)");
    fprintf(stderr, "siamese train: %s%s\n", msg, hint);
}

static void print_summary(const progress *pr, const char *run_dir) {
    if (pr->mode == PROGRESS_JSON) return;
    printf("model:      %s/model.safetensors (best: %s/best.safetensors)\n", run_dir, run_dir);
    printf("loss plot:  %s/loss.png\n", run_dir);
    printf("metrics:    %s/metrics.jsonl\n", run_dir);
    if (pr->have_data)
        printf("data:       %d files, %d usable, %d skipped%s\n", pr->data.files,
               pr->data.files_usable, pr->data.files_skipped,
               pr->data.files_skipped ? " (each with its reason in metrics.jsonl)" : "");
    if (!pr->have_epoch) return;
    char auc[64];
    progress_format_auc(pr->last_epoch.test_auc, auc, sizeof auc);
    printf("final test: loss %.4f, %s, accuracy %.3f at threshold %.4f\n",
           (double)pr->last_epoch.test_loss, auc, (double)pr->last_epoch.test_accuracy,
           (double)pr->last_epoch.threshold);
}

/* The help paragraph, with the recipe's numbers as the library's defaults state them. */
static void describe(const siamese_train_params *p, char *buf, size_t size) {
    siamese_image_options input = siamese_image_default_options();
    snprintf(
        buf, size,
        "Trains a Siamese network with contrastive loss (or --loss triplet). DATA is a folder\n"
        "of class folders (Stanford Dogs Images/, AT&T s1..s40), the recipe's\n"
        "similar_all_images/dissimilar_all_images layout, a pairs manifest (TSV: path_a,\n"
        "path_b, label; 0 = similar), or a folder of IDX files (MNIST, Fashion-MNIST).\n"
        "The defaults are the reference recipe: %s network, %s "
        "%dx%d,\n"
        "%d + %d pairs per class, %.0f/%.0f split over %s, batch %d, Adam %g, margin %g, %d "
        "epochs.\n"
        "Ctrl-C saves a checkpoint after the current step; --resume continues from it.",
        p->arch, input.channels == 3 ? "RGB" : "grey", input.width, input.height, p->per_class,
        p->per_class, 100 * p->train_fraction, 100 * (1 - p->train_fraction),
        siamese_split_kind_name(p->split), p->batch_size, (double)p->learning_rate,
        (double)p->margin, p->epochs);
}

int cli_train(int argc, char **argv) {
    siamese_train_params p = siamese_train_default_params();
    /* every default comes from the library's: the CLI states none of its own */
    train_flags f = {NULL,
                     NULL,
                     NULL,
                     siamese_metric_name(p.metric),
                     siamese_split_kind_name(p.split),
                     siamese_precision_name(p.precision),
                     (int)(p.cache_bytes >> 20),
                     0,
                     0};
    float train_fraction = (float)p.train_fraction; /* the option parser reads floats */
    train_tools_flags t = train_tools_defaults(&p);
    char description[1024], pk_help[160];
    describe(&p, description, sizeof description);
    snprintf(pk_help, sizeof pk_help,
             "batches of P classes x K images, all pairs of each batch (sets --sampler pk; "
             "default %dx%d)",
             p.pk_classes, p.pk_images);
    const cli_option options[] = {
        {"output", 'o', CLI_OPT_STRING, &f.output, "RUN_DIR",
         "folder for the model, checkpoints, metrics and plots"},
        {"resume", 0, CLI_OPT_STRING, &f.resume, "RUN_DIR",
         "continue an interrupted run exactly where it stopped"},
        {"arch", 0, CLI_OPT_STRING, &p.arch, "SPEC",
         "preset (seed, mnist, omniglot, faces, resnet18, resnet34, resnet50) or architecture "
         "text"},
        {"input", 0, CLI_OPT_STRING, &f.input, "CxHxW", "input geometry (default: the preset's)"},
        {"sampler", 0, CLI_OPT_STRING, &p.sampler, "KIND",
         "recipe (fixed pairs), online (fresh pairs every epoch) or pk (P x K batches)"},
        {"per-class", 0, CLI_OPT_INT, &p.per_class, "K",
         "recipe sampler: similar and dissimilar pairs per class"},
        {"pairs-per-epoch", 0, CLI_OPT_INT, &p.pairs_per_epoch, "N",
         "online sampler: training pairs per epoch"},
        {"split", 0, CLI_OPT_STRING, &f.split, "KIND",
         "train/test split over pairs, images or classes"},
        {"train-fraction", 0, CLI_OPT_FLOAT, &train_fraction, "F",
         "share of the data used for training"},
        {"batch", 'b', CLI_OPT_INT, &p.batch_size, "N", "pairs per batch"},
        {"lr", 0, CLI_OPT_FLOAT, &p.learning_rate, "RATE", "Adam learning rate"},
        {"weight-decay", 0, CLI_OPT_FLOAT, &p.weight_decay, "W",
         "Adam weight decay (L2, as torch.optim.Adam; frozen layers keep their values)"},
        {"ema", 0, CLI_OPT_FLOAT, &p.ema_decay, "DECAY",
         "keep an exponential moving average of the weights (and batchnorm statistics): after "
         "step t, avg = d * avg + (1 - d) * weights with d = min(DECAY, (1 + t) / (10 + t)); "
         "the epochs' evaluation, best/model.safetensors and --patience use the average, "
         "training goes on with the weights (0 = off; e.g. 0.999, which takes over from the "
         "warm-up after about 9,000 steps)"},
        {"margin", 0, CLI_OPT_FLOAT, &p.margin, "M",
         "the contrastive margin, or the triplet margin with --loss triplet"},
        {"metric", 0, CLI_OPT_STRING, &f.metric, "NAME",
         "distance: euclidean, cosine or correlation"},
        {"epochs", 'e', CLI_OPT_INT, &p.epochs, "N", "epochs (with --resume: the run's new total)"},
        {"seed", 0, CLI_OPT_U64, &p.seed, "N", "seed of every random choice"},
        {"split-seed", 0, CLI_OPT_U64, &p.split_seed, "N",
         "seed of the data's split alone (which images, classes or pairs train, test and "
         "validate): runs of different --seed then share one split; 0 = --seed"},
        {"threads", 'j', CLI_OPT_INT, &p.threads, "N", "threads (0 = all cores)"},
        {"log-every", 0, CLI_OPT_INT, &p.log_every, "N", "batches between loss lines"},
        {"cache-mb", 0, CLI_OPT_INT, &f.cache_mb, "MB", "memory for decoded images"},
        {"fast-jpeg", 0, CLI_OPT_FLAG, &p.fast_jpeg, NULL,
         "DCT-scaled decoding of large JPEGs (within 3 levels)"},
        {"precision", 0, CLI_OPT_STRING, &f.precision, "P",
         "fp32 (default: the recipe's exact arithmetic), bf16 on CPUs with AVX512-BF16 (fp32 "
         "master weights), or auto (the faster of the two on this CPU, measured once and cached)"},
        {"quiet", 'q', CLI_OPT_FLAG, &f.quiet, NULL, "print only warnings, errors and the summary"},
        {"json", 0, CLI_OPT_FLAG, &f.json, NULL, "one JSON object per event on stdout"},
        {"overwrite", 0, CLI_OPT_FLAG, &p.overwrite, NULL,
         "train into RUN_DIR even if it holds an earlier run"},
        {"augment", 0, CLI_OPT_STRING, &t.augment, "SPEC",
         "augment training images: koch, photo, or terms such as rotate=10,shear=0.3,"
         "scale=0.8:1.2,translate=2,flip,brightness=0.2,contrast=0.2,crop=0.08:1,elastic=34:4 "
         "(Simard et al.'s elastic distortion, ALPHA:SIGMA pixels)"},
        {"pk", 0, CLI_OPT_STRING, &t.pk, "PxK", pk_help},
        {"class-rotations", 0, CLI_OPT_INT, &p.class_rotations, "N",
         "P x K batches: 4 = every training class also turned by 90, 180 and 270 degrees, each "
         "turn a class of its own (square inputs; Omniglot's usual class augmentation), 2 = by "
         "180 only, 1 = none (default: 1)"},
        {"mining", 0, CLI_OPT_STRING, &t.mining, "RULE",
         "pairs (or triplets) of each P x K batch: all, hard or semihard (default: all)"},
        {"loss", 0, CLI_OPT_STRING, &t.loss, "LOSS",
         "P x K batches: contrastive (the recipe's) or triplet: max(0, D(a,p) - "
         "D(a,n) + margin) over triplets of an anchor, a positive and a negative, averaged over "
         "those above zero; --margin is the triplet margin; hard = per anchor its farthest "
         "positive and nearest negative, semihard = per anchor and positive the nearest "
         "negative beyond the positive (else the farthest negative) (default: contrastive)"},
        {"lr-schedule", 0, CLI_OPT_STRING, &t.lr_schedule, "KIND",
         "learning rate: constant, step or cosine"},
        {"warmup", 0, CLI_OPT_INT, &p.warmup_steps, "STEPS", "linear learning-rate warmup"},
        {"lr-step-epochs", 0, CLI_OPT_INT, &p.lr_step_epochs, "N",
         "step schedule: epochs between decays (0 = a third of the run)"},
        {"lr-gamma", 0, CLI_OPT_FLOAT, &t.lr_gamma, "G", "step schedule: factor at each decay"},
        {"patience", 0, CLI_OPT_INT, &p.patience, "N",
         "stop after N epochs without a better model (0 = never)"},
        {"val-classes", 0, CLI_OPT_FLOAT, &t.val_fraction, "F",
         "hold out this share of the training classes to pick the best model and for "
         "--patience (the test pairs never choose)"},
        {"val-groups", 0, CLI_OPT_FLOAT, &t.val_groups, "N|F",
         "like --val-classes, but hold out whole top-level folders of DATA/GROUP/CLASS/ (e.g. "
         "10 of Omniglot's 30 alphabets): N groups, or a share F < 1 of them"},
        {"val-metric", 0, CLI_OPT_STRING, &t.val_metric, "M",
         "what picks best.safetensors and drives --patience on the validation classes: auc "
         "(their pairs' ROC AUC) or oneshot (N-way one-shot accuracy, 1000 seeded "
         "episodes, within one group with --val-groups, as Lake's Omniglot runs) (default: auc)"},
        {"val-way", 0, CLI_OPT_INT, &t.val_way, "N", "--val-metric oneshot: N-way (default: 20)"},
        {"init", 0, CLI_OPT_STRING, &p.init, "FILE",
         "start from these weights (safetensors, e.g. a torchvision state_dict for --arch "
         "resnet18), matched by name; the head may stay freshly initialized; a face aligner "
         "in FILE (import face-api --align) comes too, and training then uses its face chips"},
        {"freeze", 0, CLI_OPT_STRING, &p.freeze, "PREFIXES",
         "comma-separated parameter prefixes (e.g. conv1,bn1,layer1,layer2) that get no "
         "gradient; their batchnorms use running statistics"},
        {"embedding-dim", 0, CLI_OPT_INT, &p.embedding_dim, "D",
         "the head (the last layer, linear: a resnet preset's fc) gives D-dim embeddings (0 = the "
         "architecture's own)"},
        {"normalize", 0, CLI_OPT_STRING, &p.normalize, "NAME",
         "imagenet: the network's first layer computes (x - mean) / std with ImageNet's mean and "
         "std, as torchvision's pretrained weights expect (saved in the model; never trained)"},
        {"lr-backbone", 0, CLI_OPT_FLOAT, &p.learning_rate_backbone, "RATE",
         "learning rate of everything but the head (default: --lr), on the same schedule"},
    };
    const cli_spec spec = {
        "train",
        "DATA -o RUN_DIR [options]  |  --resume RUN_DIR",
        description,
        options,
        (int)(sizeof options / sizeof options[0]),
        0,
        1,
        "examples:\n"
        "  siamese train Images/ -o runs/dogs\n"
        "  siamese train /usr/share/datasets/fashion-mnist --arch mnist --sampler online \\\n"
        "      --split images --epochs 3 -o runs/fashion\n"
        "  siamese train omniglot/images_background --arch omniglot --split classes \\\n"
        "      --pk 32x4 --mining semihard --augment koch --lr-schedule cosine --warmup 200 \\\n"
        "      --val-groups 10 --patience 5 --epochs 40 -o runs/omniglot\n"
        "  siamese train --resume runs/dogs\n"
        "exit status: 0 ok, 1 bad data, network or run folder, or a file that cannot be written,\n"
        "2 usage error (also settings the data or network cannot take, such as a --pk over the\n"
        "training side, a --freeze naming no layer, a run folder inside DATA, or --resume with\n"
        "--epochs at or below the epochs done),\n"
        "130 interrupted by Ctrl-C or SIGUSR1 (checkpoint saved: --resume goes on)"};
    const char *positional[1];
    int n_positional;
    int rc = cli_parse(&spec, argc, argv, positional, &n_positional);
    if (rc != CLI_PARSE_OK) return cli_parse_exit_code(rc);
    if (cli_was_given(&spec, "train-fraction")) p.train_fraction = train_fraction;
    if (!f.resume && (n_positional != 1 || !f.output)) {
        fprintf(stderr,
                "siamese train: give DATA and -o RUN_DIR, or --resume RUN_DIR (see --help)\n");
        return CLI_EXIT_USAGE;
    }
    if (f.resume && (n_positional || f.output)) {
        fprintf(stderr,
                "siamese train: --resume takes its data and settings from the run folder\n");
        return CLI_EXIT_USAGE;
    }
    if (!apply_flags(&f, &p)) return CLI_EXIT_USAGE;
    if (cli_was_given(&spec, "embedding-dim") && p.embedding_dim < 1) {
        fprintf(stderr, "siamese train: --embedding-dim %d must be at least 1\n", p.embedding_dim);
        return CLI_EXIT_USAGE;
    }
    if (cli_was_given(&spec, "lr-backbone") && !(p.learning_rate_backbone > 0)) {
        fprintf(stderr, "siamese train: --lr-backbone must be positive\n");
        return CLI_EXIT_USAGE;
    }
    if (!check_resume_options(&spec, f.resume) || !check_ema(&spec, p.ema_decay) ||
        !check_numbers(&p))
        return CLI_EXIT_USAGE;
    t.pk_given = cli_was_given(&spec, "pk");
    t.sampler_given = cli_was_given(&spec, "sampler");
    if (!f.resume && !train_tools_apply(&t, &p)) return CLI_EXIT_USAGE;
    if (!f.resume && !check_settings(&p)) return CLI_EXIT_USAGE;
    int network_given = cli_was_given(&spec, "arch") || cli_was_given(&spec, "input") ||
                        cli_was_given(&spec, "embedding-dim");
    /* DATA before any network is built, as the run itself does: opened here only when a check
     * here needs it first (the network check builds one, P x K counts classes), else read twice */
    int code = CLI_EXIT_OK;
    if (!f.resume && (network_given || !strcmp(p.sampler, "pk")))
        code = train_tools_check_data(positional[0], &p);
    if (code != CLI_EXIT_OK) return code;
    if (!f.resume && network_given && !train_tools_check_network(&p)) return CLI_EXIT_USAGE;
    if (!f.resume && !train_tools_check_run_folder(positional[0], f.output)) return CLI_EXIT_USAGE;

    progress pr;
    progress_init(&pr, f.json ? PROGRESS_JSON : f.quiet ? PROGRESS_QUIET : PROGRESS_AUTO);
    p.callback = progress_event;
    p.callback_user = &pr;
    p.stop = &stop_requested;
    cli_stop_signals_watch(&stop_requested); /* Ctrl-C; mpirun forwards SIGUSR1 (issue 16) */

    char errmsg[1024];
    const char *run_dir = f.resume ? f.resume : f.output;
    siamese_train_params *resume_params = &p;
    int epochs_given = cli_was_given(&spec, "epochs");
    if (f.resume && !epochs_given) p.epochs = 0;
    train_situation situation = situation_of(run_dir, f.resume != NULL);
    siamese_status st = f.resume
                            ? siamese_train_resume(run_dir, resume_params, errmsg, sizeof errmsg)
                            : siamese_train(positional[0], run_dir, &p, errmsg, sizeof errmsg);
    progress_finish(&pr);
    if (st == SIAMESE_ERR_INTERRUPTED && siamese_dist_rank() > 0) return CLI_EXIT_INTERRUPTED;
    if (st != SIAMESE_OK) print_failure(situation, st, run_dir, epochs_given, errmsg);
    if (st == SIAMESE_ERR_INTERRUPTED) return CLI_EXIT_INTERRUPTED;
    /* settings the data or network cannot take (P x K over the training side, too few
     * validation classes, --freeze naming no layer, --resume --epochs at or below the epochs
     * done) come back with this status */
    if (st != SIAMESE_OK) return st == SIAMESE_ERR_INVALID_ARG ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    if (siamese_dist_rank() > 0) return CLI_EXIT_OK; /* rank 0 prints the summary (issue 16) */
    if (pr.warnings) fprintf(stderr, "%d file(s) skipped with a warning\n", pr.warnings);
    print_summary(&pr, run_dir);
    return CLI_EXIT_OK;
}
