/* src/io/number.c - strict numbers from text (see number.h). */
#include "io/number.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "error.h"

agecl_status agecl__parse_int(agecl_status err, const char *what, const char *s, long long lo,
                              long long hi, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = s && !isspace((unsigned char)*s) ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || !end || *end || end == s || errno == ERANGE || v < lo || v > hi)
        return agecl__fail(err, "%s is '%.40s'; expected a whole number from "
                           "%lld to %lld", what, s ? s : "(none)", lo, hi);
    *out = v;
    return AGECL_OK;
}

agecl_status agecl__parse_double(agecl_status err, const char *what, const char *s, double lo,
                                 double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = s && !isspace((unsigned char)*s) ? strtod(s, &end) : NAN;
    if (!s || !*s || !end || *end || end == s || isnan(v) || v < lo || v > hi ||
        (isinf(v) && v != lo && v != hi))
        return agecl__fail(err, "%s is '%.40s'; expected a number from %g to %g",
                           what, s ? s : "(none)", lo, hi);
    *out = v;
    return AGECL_OK;
}
