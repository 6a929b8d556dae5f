/* Where a training run's data set is (see run_data.h). */
#define _XOPEN_SOURCE 700 /* realpath */
#include "run/run_data.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/util.h"

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
