/* HTML reports without a browser: escaping, numbers with units, JPEG data: URIs that decode to
 * JPEG bytes, SVG charts (and their absence), atomic saves, and the run and evaluation pages
 * built from files and results written here, and where a run's data set is found. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report/html.h"
#include "report/svg.h"
#include "siamese.h"
#include "test_util.h"

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(report_html, text_is_escaped) {
    sm_html h = {0};
    sm_html_text(&h, "<img src=x onerror='a'>&\"");
    cr_assert_str_eq(h.buf, "&lt;img src=x onerror=&#39;a&#39;&gt;&amp;&quot;");
    sm_html_free(&h);
    sm_html_textf(&h, "%s/%d", "<b>", 3);
    cr_assert_str_eq(h.buf, "&lt;b&gt;/3");
    sm_html_free(&h);
}

Test(report_html, numbers_carry_units_and_nan_is_said) {
    sm_html h = {0};
    sm_html_number(&h, "%.1f", 12.345, "s");
    sm_html_raw(&h, "|");
    sm_html_number(&h, "%.4f", NAN, "s");
    cr_assert_str_eq(h.buf, "12.3&#8239;s|n/a");
    sm_html_free(&h);
}

static int b64_value(char c) {
    const char *digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = strchr(digits, c);
    return c && p ? (int)(p - digits) : -1;
}

/* Decodes base64 up to the first character outside the alphabet ('=' included). */
static size_t b64_decode(const char *s, unsigned char *out, size_t cap) {
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;
    for (; b64_value(*s) >= 0 && n < cap; s++) {
        acc = acc << 6 | (unsigned)b64_value(*s);
        bits += 6;
        if (bits >= 8) out[n++] = (unsigned char)(acc >> (bits -= 8));
    }
    return n;
}

Test(report_html, jpeg_data_uri_holds_a_jpeg) {
    uint8_t grey[8 * 6], rgb[8 * 6 * 3];
    for (int i = 0; i < 48; i++) grey[i] = (uint8_t)(i * 5);
    for (int i = 0; i < 144; i++) rgb[i] = (uint8_t)(i * 7);
    const uint8_t *pixels[2] = {grey, rgb};
    for (int k = 0; k < 2; k++) {
        sm_html h = {0};
        sm_html_jpeg(&h, pixels[k], 8, 6, k ? 3 : 1, "a<b");
        const char *prefix = "<img width=\"8\" height=\"6\" alt=\"a&lt;b\" "
                             "src=\"data:image/jpeg;base64,";
        cr_assert_eq(strncmp(h.buf, prefix, strlen(prefix)), 0, "%s", h.buf);
        unsigned char bytes[4096];
        size_t n = b64_decode(h.buf + strlen(prefix), bytes, sizeof bytes);
        cr_assert_gt(n, 100);
        cr_assert(bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF, "not a JPEG start");
        cr_assert(bytes[n - 2] == 0xFF && bytes[n - 1] == 0xD9, "not a JPEG end");
        cr_assert(strstr(h.buf, "\">") != NULL);
        sm_html_free(&h);
    }
}

Test(report_html, svg_chart_draws_points_and_says_when_none) {
    double x[4] = {1, 2, 3, 4}, y[4] = {0.5, 0.4, NAN, 0.2}, none[4] = {NAN, NAN, NAN, NAN};
    sm_svg_series s = {"loss <train>", x, y, 4, SM_SVG_LINE_DOTS, 0};
    sm_svg_chart c = sm_svg_chart_default("Loss & more", "step", "loss");
    sm_html h = {0};
    sm_svg_draw(&h, &c, &s, 1);
    cr_assert(strstr(h.buf, "<svg") && strstr(h.buf, "<path"), "no chart drawn");
    cr_assert(strstr(h.buf, "M") && strstr(h.buf, "<circle"), "no line or dots");
    cr_assert(strstr(h.buf, "loss &lt;train&gt;") && strstr(h.buf, "Loss &amp; more"));
    cr_assert_null(strstr(h.buf, "<train>"));
    sm_html_free(&h);
    s.y = none;
    sm_svg_draw(&h, &c, &s, 1);
    cr_assert_null(strstr(h.buf, "<svg"));
    cr_assert(strstr(h.buf, "No points to draw yet.") != NULL);
    sm_html_free(&h);
    /* log axes leave out zeros; only zeros = nothing to draw */
    double zeros[4] = {0, 0, 0, 0};
    s = (sm_svg_series){"det", zeros, y, 4, SM_SVG_LINE, 0};
    c.log_x = 1;
    c.empty_note = "nothing on a log scale";
    sm_svg_draw(&h, &c, &s, 1);
    cr_assert(strstr(h.buf, "nothing on a log scale") != NULL);
    sm_html_free(&h);
}

Test(report_html, save_is_atomic_and_names_the_file) {
    char *dir = tu_make_temp_dir();
    char path[4200], bad[4200];
    snprintf(path, sizeof path, "%s/page.html", dir);
    snprintf(bad, sizeof bad, "%s/missing/page.html", dir);
    sm_html h = {0};
    sm_html_begin(&h, "t<1>");
    sm_html_end(&h);
    sm_err err;
    cr_assert_eq(sm_html_save(&h, path, &err), SIAMESE_OK);
    char *page = read_all(path);
    cr_assert(strstr(page, "<title>t&lt;1&gt;</title>") && strstr(page, "data-images-loaded"));
    cr_assert_eq(strncmp(page, "<!DOCTYPE html>", 15), 0);
    free(page);
    cr_assert_neq(sm_html_save(&h, bad, &err), SIAMESE_OK);
    cr_assert(strstr(err.msg, bad) != NULL, "%s", err.msg);
    sm_html_free(&h);
    tu_rmtree(dir);
    free(dir);
}

Test(report_html, run_report_of_a_run_in_progress) {
    char *dir = tu_make_temp_dir();
    char path[4200], out[4200], msg[1024];
    cr_assert_eq(siamese_report_run(dir, NULL, 1, msg, sizeof msg), SIAMESE_ERR_IO);
    cr_assert(strstr(msg, "not a training run folder") != NULL, "%s", msg);
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    write_text(
        path, "{\"event\":\"log\",\"epoch\":1,\"epochs\":4,\"batch\":10,\"batches\":20,\"step\":10,"
              "\"train_loss\":0.9,\"lr\":0.0005,\"pairs_per_sec\":100,\"elapsed\":1,"
              "\"data_wait\":0.1,\"data_wait_fraction\":0.1}\n"
              "{\"event\":\"epoch\",\"epoch\":1,\"epochs\":4,\"batch\":20,\"batches\":20,"
              "\"step\":20,\"train_loss\":0.8,\"test_loss\":0.7,\"test_auc\":0.75,"
              "\"test_accuracy\":0.625,\"threshold\":1.25,\"pairs_per_sec\":90,\"elapsed\":2,"
              "\"eta\":6,\"data_wait\":0.2,\"data_wait_fraction\":0.1}\n"
              "{\"event\":\"log\",\"epo");
    cr_assert_eq(siamese_report_run(dir, NULL, 1, msg, sizeof msg), SIAMESE_OK, "%s", msg);
    snprintf(out, sizeof out, "%s/report.html", dir);
    char *page = read_all(out);
    cr_assert(strstr(page, "id=\"run-test-auc\">0.7500<") != NULL);
    cr_assert(strstr(page, "id=\"run-test-accuracy\">62.50&#8239;%<") != NULL);
    cr_assert(strstr(page, "data-k=\"threshold\">1.2500<") != NULL);
    cr_assert(strstr(page, "In progress or stopped: 1 of 4 epochs done.") != NULL);
    cr_assert(strstr(page, "1 lines of metrics.jsonl were not JSON") != NULL);
    cr_assert(strstr(page, "config.json is missing") != NULL);
    cr_assert(strstr(page, "http://") == NULL && strstr(page, "https://") == NULL);
    free(page);
    tu_rmtree(dir);
    free(dir);
}

/* A run folder dir/runs/x whose config.json holds config_text; returns its path (static). */
static const char *run_with_config(const char *dir, const char *config_text) {
    static char run[4200];
    char path[4300];
    snprintf(run, sizeof run, "%s/runs", dir);
    mkdir(run, 0755);
    snprintf(run, sizeof run, "%s/runs/x", dir);
    mkdir(run, 0755);
    snprintf(path, sizeof path, "%s/config.json", run);
    if (config_text) write_text(path, config_text);
    return run;
}

Test(report_html, run_data_path_is_found_as_the_report_finds_it) {
    char *dir = tu_make_temp_dir(), *real = realpath(dir, NULL);
    char data[4200], want[4200], msg[1024];
    snprintf(data, sizeof data, "%s/sets", dir);
    mkdir(data, 0755);
    snprintf(data, sizeof data, "%s/sets/att-run-data", dir);
    mkdir(data, 0755);
    /* relative to where training ran, two folders above the run */
    const char *run = run_with_config(dir, "{\"data\": \"sets/att-run-data\", \"epochs\": 2}");
    cr_assert_eq(siamese_run_data_path(run, data, sizeof data, msg, sizeof msg), SIAMESE_OK, "%s",
                 msg);
    snprintf(want, sizeof want, "%s/sets/att-run-data", real);
    cr_assert_str_eq(data, want);
    cr_assert_str_eq(msg, "");
    /* too small a buffer: refused, naming the file */
    cr_assert_eq(siamese_run_data_path(run, data, 8, msg, sizeof msg), SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(msg, "config.json") != NULL, "%s", msg);
    /* absolute: as it is */
    run = run_with_config(dir, "{\"data\": \"/nowhere/at all\"}");
    cr_assert_eq(siamese_run_data_path(run, data, sizeof data, msg, sizeof msg), SIAMESE_OK, "%s",
                 msg);
    cr_assert_str_eq(data, "/nowhere/at all");
    free(real);
    tu_rmtree(dir);
    free(dir);
}

Test(report_html, run_data_path_says_why_it_has_none) {
    char *dir = tu_make_temp_dir();
    char data[4200], config[4300], msg[1024];
    const char *run = run_with_config(dir, NULL);
    snprintf(config, sizeof config, "%s/config.json", run);
    cr_assert_eq(siamese_run_data_path(run, data, sizeof data, msg, sizeof msg), SIAMESE_ERR_IO);
    cr_assert(strstr(msg, config) != NULL, "%s", msg);
    cr_assert_str_eq(data, "");
    run_with_config(dir, "{\"epochs\": 2}");
    cr_assert_eq(siamese_run_data_path(run, data, sizeof data, msg, sizeof msg),
                 SIAMESE_ERR_FORMAT);
    cr_assert(strstr(msg, config) && strstr(msg, "no data set"), "%s", msg);
    run_with_config(dir, "{\"data\": \"no-such-set-here\"}");
    cr_assert_eq(siamese_run_data_path(run, data, sizeof data, msg, sizeof msg), SIAMESE_ERR_IO);
    cr_assert(strstr(msg, config) && strstr(msg, "\"no-such-set-here\""), "%s", msg);
    run_with_config(dir, "{\"data\": ");
    cr_assert_eq(siamese_run_data_path(run, data, sizeof data, msg, sizeof msg),
                 SIAMESE_ERR_FORMAT);
    cr_assert(strstr(msg, config) != NULL, "%s", msg);
    tu_rmtree(dir);
    free(dir);
}

Test(report_html, eval_report_holds_the_numbers) {
    float d[8] = {0.1f, 0.2f, 0.3f, 0.9f, 0.8f, 1.1f, 1.2f, 0.25f};
    float y[8] = {0, 0, 0, 0, 1, 1, 1, 1};
    siamese_verification_params vp = siamese_verification_default_params();
    vp.bootstrap = 20;
    siamese_verification v;
    cr_assert_eq(siamese_eval_verification(d, y, 8, &vp, &v), SIAMESE_OK);
    char *dir = tu_make_temp_dir();
    char path[4200], msg[1024], want[64];
    snprintf(path, sizeof path, "%s/eval.html", dir);
    siamese_report_eval_input in = {0};
    in.model_path = "m<1>.safetensors";
    in.data_path = "data";
    in.distances = d, in.labels = y, in.n_pairs = 8, in.verification = &v;
    cr_assert_eq(siamese_report_eval(path, &in, msg, sizeof msg), SIAMESE_OK, "%s", msg);
    char *page = read_all(path);
    snprintf(want, sizeof want, "id=\"eval-auc\">%.4f<", v.auc.value);
    cr_assert(strstr(page, want) != NULL, "no %s", want);
    cr_assert(strstr(page, "m&lt;1&gt;.safetensors") && !strstr(page, "m<1>"));
    cr_assert(strstr(page, "95% interval") != NULL);
    cr_assert_null(strstr(page, "id=\"fewshot\""));
    free(page);
    tu_rmtree(dir);
    free(dir);
}
