/* src/data/issues.h - a bounded, thread-safe log of skipped bad samples. */
#ifndef AGECL_DATA_ISSUES_H
#define AGECL_DATA_ISSUES_H

#include <pthread.h>
#include <stdio.h>
#include "error.h"

/* Messages beyond this many are counted but not kept. */
#define AGECL__DATA_ISSUES_KEPT 256

typedef struct agecl__data_issues {
    pthread_mutex_t lock;
    int count; /* issues recorded */
    int kept;  /* messages kept, min(count, AGECL__DATA_ISSUES_KEPT) */
    char *msg[AGECL__DATA_ISSUES_KEPT];
} agecl__data_issues;

void agecl__data_issues_init(agecl__data_issues *log);
void agecl__data_issues_free(agecl__data_issues *log);
/* Count an issue and keep its message (truncated to a line of 512 bytes). */
void agecl__data_issues_add(agecl__data_issues *log, const char *fmt, ...) AGECL_PRINTF(2, 3);
int agecl__data_issues_count(const agecl__data_issues *log);
int agecl__data_issues_kept(const agecl__data_issues *log);
const char *agecl__data_issues_get(const agecl__data_issues *log, int i);
/* "  message" lines, then "  ... and N more" when some were not kept. */
void agecl__data_issues_print(const agecl__data_issues *log, FILE *f);

#endif
