/* src/io/number.h - strict numbers from text, for every option, variable and file
 * field the library reads: the whole text must be the number (no sign-only, no
 * trailing characters, no blanks), within [lo, hi], finite. A failure names what
 * was read ("runs/x/last.safetensors: metadata 'epoch'", "--batch") and the text,
 * and returns err: AGECL_E_FORMAT for a file's field, AGECL_E_INVALID_ARG for an
 * option or variable. */
#ifndef AGECL_SRC_IO_NUMBER_H
#define AGECL_SRC_IO_NUMBER_H

#include "agecl/status.h"

/* A whole decimal number in [lo, hi]. */
agecl_status agecl__parse_int(agecl_status err, const char *what, const char *s, long long lo,
                              long long hi, long long *out);

/* A finite number in [lo, hi] ("inf" only where hi or lo is infinite). */
agecl_status agecl__parse_double(agecl_status err, const char *what, const char *s, double lo,
                                 double hi, double *out);

#endif
