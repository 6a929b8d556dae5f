/* Where a training run's data set is: the "data" its config.json records, found as the run's
 * report finds it, so that 'siamese report' can guard its output against that data. */
#ifndef SIAMESE_CLI_RUN_DATA_H
#define SIAMESE_CLI_RUN_DATA_H

/* The data set of the run in run_dir, malloc'd: config.json's top-level "data" string as it is
 * when absolute or when it exists from here, else joined to the first folder above the run
 * folder where it exists (training ran there: "siamese train data -o runs/x"), as
 * src/run/run_report_model.c's find_data looks for it. NULL when config.json cannot be read,
 * records no data, or the data is found nowhere (the report then reads none). */
char *cli_run_data_path(const char *run_dir);

#endif
