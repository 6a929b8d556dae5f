/* Sections shared by the run report and the evaluation report: number cards with intervals,
 * verification (ROC, DET, distance histograms, EER, TAR@FAR), few-shot, retrieval, Lake's runs. */
#ifndef SM_REPORT_SECTIONS_H
#define SM_REPORT_SECTIONS_H

#include "report/html.h"
#include "siamese.h"

/* A sentence in muted type: printf-style, the result escaped (arguments may come from files). */
void sm_report_note(sm_html *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One card: a label, the value printed with fmt times scale and unit, and the interval when it
 * has one. id (may be NULL) becomes the value's element id, for tests and links. */
void sm_report_card(sm_html *h, const char *label, const char *id, const siamese_interval *v,
                    const char *fmt, double scale, const char *unit);
/* A card for a plain number. */
void sm_report_card_value(sm_html *h, const char *label, const char *id, double value,
                          const char *fmt, const char *unit);

/* Verification of n pair distances (labels 0 similar, 1 dissimilar) as scored in v: cards, ROC
 * and DET curves, the two distance histograms with threshold marked (threshold_note says where
 * it came from). */
void sm_report_verification(sm_html *h, const float *distances, const float *labels, int n,
                            const siamese_verification *v, double threshold,
                            const char *threshold_note);
void sm_report_fewshot(sm_html *h, const siamese_fewshot *f, int way, int shot);
void sm_report_retrieval(sm_html *h, const siamese_retrieval *r);
void sm_report_lake(sm_html *h, const siamese_lake_runs *r);

#endif
