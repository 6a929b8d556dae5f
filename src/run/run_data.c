/* Where a training run's data set is (see run_data.h), and siamese_run_data_path. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "run/run_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/errors.h"
#include "base/json_file.h"
#include "base/util.h"
#include "siamese.h"

const char *sm_run_data_recorded(const json_t *config) {
    const char *data = json_string_value(json_object_get(config, "data"));
    return data && *data ? data : NULL;
}

/* config.json keeps the data path as training was given it. A relative path is tried as it is
 * (the report run where training ran), then from each folder above the run folder (training ran
 * there: "siamese train data -o runs/x"). */
char *sm_run_data_find(const char *run_dir, const char *data_path) {
    struct stat info;
    if (data_path[0] == '/' || stat(data_path, &info) == 0) return sm_strdup(data_path);
    char *dir = realpath(run_dir, NULL);
    while (dir && strcmp(dir, "/") != 0) {
        char *up = sm_folder_of(dir);
        free(dir);
        dir = up;
        char *candidate = dir ? sm_path_join(dir, data_path) : NULL;
        if (candidate && stat(candidate, &info) == 0) {
            free(dir);
            return candidate;
        }
        free(candidate);
    }
    free(dir);
    return NULL;
}

/* The data path config.json at config_path records, found (malloc'd into *found). */
static siamese_status find_recorded_data(const char *run_dir, const char *config_path, char **found,
                                         sm_err *err) {
    json_t *config = NULL;
    siamese_status st = sm_json_read_file(config_path, 0, &config, err);
    const char *data = st == SIAMESE_OK ? sm_run_data_recorded(config) : NULL;
    if (st == SIAMESE_OK && !data)
        st = sm_fail(err, SIAMESE_ERR_FORMAT, "%s: names no data set (no \"data\" text)",
                     config_path);
    if (st == SIAMESE_OK && !(*found = sm_run_data_find(run_dir, data)))
        st = sm_fail(err, SIAMESE_ERR_IO,
                     "%s: the data set \"%s\" is found neither from here nor from a folder above "
                     "%s",
                     config_path, data, run_dir);
    json_decref(config);
    return st;
}

siamese_status siamese_run_data_path(const char *run_dir, char *path, size_t path_size,
                                     char *errmsg, size_t errmsg_size) {
    if (!run_dir || !path || path_size == 0)
        return sm_refuse(errmsg, errmsg_size,
                         "the data path of a run needs a run folder and a buffer");
    path[0] = '\0';
    sm_err err;
    sm_err_clear(&err);
    char *config_path = sm_path_join(run_dir, "config.json"), *found = NULL;
    siamese_status st = config_path ? find_recorded_data(run_dir, config_path, &found, &err)
                                    : sm_fail(&err, SIAMESE_ERR_NOMEM, "out of memory");
    if (st == SIAMESE_OK && strlen(found) >= path_size)
        st = sm_fail(&err, SIAMESE_ERR_INVALID_ARG,
                     "%s: the data path (%zu bytes) does not fit in %zu bytes", config_path,
                     strlen(found), path_size);
    if (st == SIAMESE_OK) memcpy(path, found, strlen(found) + 1);
    free(found);
    free(config_path);
    return sm_err_out(&err, st, errmsg, errmsg_size);
}
