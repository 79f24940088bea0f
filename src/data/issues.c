/* src/data/issues.c - the log of skipped bad samples. */
#include "data/issues.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void agecl__data_issues_init(agecl__data_issues *log)
{
    memset(log, 0, sizeof *log);
    pthread_mutex_init(&log->lock, NULL);
}

void agecl__data_issues_free(agecl__data_issues *log)
{
    for (int i = 0; i < log->kept; i++) free(log->msg[i]);
    pthread_mutex_destroy(&log->lock);
}

void agecl__data_issues_add(agecl__data_issues *log, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log->lock);
    log->count++;
    /* A message that cannot be copied is still counted. */
    if (log->kept < AGECL__DATA_ISSUES_KEPT && (log->msg[log->kept] = strdup(line)))
        log->kept++;
    pthread_mutex_unlock(&log->lock);
}

/* The readers lock too: loader workers may be adding while the caller reads. The
 * mutex is the only mutable part of a const log. */
int agecl__data_issues_count(const agecl__data_issues *log)
{
    agecl__data_issues *l = (agecl__data_issues *)log;
    pthread_mutex_lock(&l->lock);
    int n = l->count;
    pthread_mutex_unlock(&l->lock);
    return n;
}

int agecl__data_issues_kept(const agecl__data_issues *log)
{
    agecl__data_issues *l = (agecl__data_issues *)log;
    pthread_mutex_lock(&l->lock);
    int n = l->kept;
    pthread_mutex_unlock(&l->lock);
    return n;
}

const char *agecl__data_issues_get(const agecl__data_issues *log, int i)
{
    /* A kept message never moves or changes, so it can be read without the lock. */
    return i >= 0 && i < agecl__data_issues_kept(log) ? log->msg[i] : NULL;
}

void agecl__data_issues_print(const agecl__data_issues *log, FILE *f)
{
    int count = agecl__data_issues_count(log), kept = agecl__data_issues_kept(log);
    for (int i = 0; i < kept; i++) fprintf(f, "  %s\n", log->msg[i]);
    if (count > kept) fprintf(f, "  ... and %d more\n", count - kept);
}
