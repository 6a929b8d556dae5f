/* siamese report: one self-contained HTML page of a training run folder (finished or running). */
#include <stdio.h>

#include "args.h"
#include "cli.h"
#include "listed_files.h"
#include "outputs.h"
#include "siamese.h"

/* The guard for -o: 1 (after saying so) when it names one of the files of the run it reads. */
static int overwrites_run_file(const char *run_dir, const char *out) {
    static const char *const files[] = {
        "config.json",       "split.json", "metrics.jsonl",         "best.safetensors",
        "model.safetensors", "loss.png",   "checkpoint.safetensors"};
    char path[4096];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", run_dir, files[i]);
        const char *input = path;
        if (cli_output_overwrites_input("report", out, &input, 1)) return 1;
    }
    return 0;
}

/* The guard for -o against the run's data set (the one its config.json records, found as the
 * report finds it): 1 (after saying so) when out is that file, an existing file below that
 * folder, or an image of that manifest. A run whose data cannot be found has none to guard. */
static int overwrites_run_data(const char *run_dir, const char *out) {
    char data[4096];
    if (siamese_run_data_path(run_dir, data, sizeof data, NULL, 0) != SIAMESE_OK) return 0;
    const char *input = data;
    return cli_output_overwrites_input("report", out, &input, 1) ||
           cli_output_is_manifest_image("report", out, data);
}

int cli_report(int argc, char **argv) {
    const char *out = NULL;
    int threads = 0;
    const cli_option options[] = {
        {"output", 'o', CLI_OPT_STRING, &out, "FILE",
         "the page to write (default: RUN_DIR/report.html)"},
        {"threads", 'j', CLI_OPT_INT, &threads, "N",
         "threads for embedding the test images (0 = all cores)"},
    };
    const cli_spec spec = {
        "report",
        "RUN_DIR [-o report.html]",
        "Writes one HTML page about a training run that opens from disk in any browser, with\n"
        "nothing fetched: the settings (config.json), the data (classes, images, pairs, skipped\n"
        "files), training and test loss per step and epoch, test ROC AUC and accuracy, learning\n"
        "rate, throughput and time spent waiting for data (metrics.jsonl); then the run's model\n"
        "(best.safetensors, else model.safetensors) on the run's test pairs: ROC and DET curves,\n"
        "the distance histograms with the threshold, EER, TAR at FAR 1% and 0.1%, the hardest\n"
        "false accepts and false rejects, and a few test images' nearest neighbours. A run still\n"
        "in progress gets what exists so far. The page is written atomically.",
        options,
        (int)(sizeof options / sizeof options[0]),
        1,
        1,
        "examples:\n"
        "  siamese report runs/faces\n"
        "  siamese report runs/faces -o faces.html\n"
        "  siamese eval model.safetensors data/att_faces --report eval.html\n"
        "exit status: 0 ok, 1 not a run folder or the page cannot be written, 2 usage error or a\n"
        "refused -o (its folder missing, a folder, a file of the run, or a file of the data set\n"
        "its config.json names: the file, an existing file below the folder or an image of the\n"
        "manifest)"};
    const char *positional[1];
    int n_positional = 0;
    int parsed = cli_parse(&spec, argc, argv, positional, &n_positional);
    if (parsed != CLI_PARSE_OK) return cli_parse_exit_code(parsed);
    if (!cli_threads_ok("report", threads)) return CLI_EXIT_USAGE;
    if (out && (!cli_output_path_ok("report", out, CLI_OUTPUT_FILE) ||
                overwrites_run_file(positional[0], out) || overwrites_run_data(positional[0], out)))
        return CLI_EXIT_USAGE;
    char msg[1024];
    if (siamese_report_run(positional[0], out, threads, msg, sizeof msg) != SIAMESE_OK) {
        fprintf(stderr, "siamese report: %s\n", msg);
        return CLI_EXIT_FAIL;
    }
    printf("%s%s\n", out ? out : positional[0], out ? "" : "/report.html");
    return CLI_EXIT_OK;
}
