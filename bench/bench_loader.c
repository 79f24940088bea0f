/* bench_loader - throughput of the training loader: images decoded (or read from
 * the cache), cropped, resized, augmented and normalised per second, with 1 and 2
 * worker threads, without and with the pre-decoded cache.
 *
 *   bench_loader [-n IMAGES] [-s SIZE] [-b BATCH] [-e EPOCHS] [KIND:PATH]
 *
 * The default data set is utkface:$AGECL_SHARED_DATA/utkface (AGECL_SHARED_DATA
 * defaults to ../shared/data), of which the first IMAGES (default 2000) samples in
 * name order are loaded, shuffled and augmented, EPOCHS (default 1) times per
 * configuration. The cache is built once into a temporary file, timed, and removed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agecl/data.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int check(agecl_status st, const char *what)
{
    if (st == AGECL_OK) return 0;
    fprintf(stderr, "bench_loader: %s: %s: %s\n", what, agecl_strerror(st), agecl_last_error());
    return 1;
}

/* Images per second of epochs epochs of l; -1 on error. */
static double run(agecl_loader *l, int epochs)
{
    long images = 0;
    double t0 = now();
    for (int e = 0; e < epochs; e++) {
        if (check(agecl_loader_start_epoch(l, e), "start_epoch")) return -1;
        agecl_batch *b;
        for (;;) {
            if (check(agecl_loader_next(l, &b), "next")) return -1;
            if (!b) break;
            images += b->count;
            agecl_loader_release(l, b);
        }
    }
    return (double)images / (now() - t0);
}

int main(int argc, char **argv)
{
    int n = 2000, size = AGECL_IMAGE_SIZE, batch = 64, epochs = 1, opt;
    while ((opt = getopt(argc, argv, "n:s:b:e:")) != -1) {
        switch (opt) {
        case 'n': n = atoi(optarg); break;
        case 's': size = atoi(optarg); break;
        case 'b': batch = atoi(optarg); break;
        case 'e': epochs = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: %s [-n IMAGES] [-s SIZE] [-b BATCH] [-e EPOCHS] [KIND:PATH]\n",
                    argv[0]);
            return 2;
        }
    }
    char spec[4096];
    const char *root = getenv("AGECL_SHARED_DATA");
    if (optind < argc) snprintf(spec, sizeof spec, "%s", argv[optind]);
    else snprintf(spec, sizeof spec, "utkface:%s/utkface", root ? root : "../shared/data");

    agecl_dataset *ds;
    double t0 = now();
    if (check(agecl_dataset_open(&ds, spec, 0), spec)) return 1;
    if (n <= 0 || n > agecl_dataset_count(ds)) n = agecl_dataset_count(ds);
    printf("%s: %d samples read in %.2f s; loading %d of them at %d x %d, batch %d\n", spec,
           agecl_dataset_count(ds), now() - t0, n, size, size, batch);

    /* The cache holds the whole data set: a subset of its first n samples reads
     * only the front of it, so build it from a data set of just those. */
    char list[] = "/tmp/agecl-bench-XXXXXX";
    int fd = mkstemp(list);
    if (fd < 0) return 1;
    FILE *f = fdopen(fd, "w");
    for (int i = 0; i < n; i++) {
        const agecl_sample *s = agecl_dataset_sample(ds, i);
        char *path = realpath(s->path, NULL); /* the list's folder is not the data's */
        fprintf(f, "%s,%d,%d\n", path ? path : s->path, s->age, s->gender);
        free(path);
    }
    fclose(f);
    agecl_dataset *sub;
    char sub_spec[64], cache_path[64];
    snprintf(sub_spec, sizeof sub_spec, "csv:%s", list);
    snprintf(cache_path, sizeof cache_path, "%s.cache", list);
    int failed = check(agecl_dataset_open(&sub, sub_spec, 0), sub_spec);
    agecl_image_cache *cache = NULL;
    if (!failed) {
        t0 = now();
        failed = check(agecl_image_cache_open(&cache, sub, cache_path, size, 2, NULL), "cache");
        if (!failed)
            printf("cache of %d images built with 2 threads in %.2f s (%.0f images/s)\n", n,
                   now() - t0, n / (now() - t0));
    }

    printf("%-8s %-6s %-8s %12s\n", "threads", "cache", "augment", "images/s");
    for (int c = 0; c < 2 && !failed; c++)
        for (int threads = 1; threads <= 2 && !failed; threads++) {
            agecl_loader_options o;
            agecl_loader_defaults(&o);
            o.batch_size = batch;
            o.image_size = size;
            o.shuffle = o.augment = 1;
            o.threads = threads;
            o.cache = c ? cache : NULL;
            agecl_loader *l;
            failed = check(agecl_loader_create(&l, sub, NULL, 0, &o), "loader");
            if (failed) break;
            double rate = run(l, epochs);
            failed = rate < 0;
            if (!failed) printf("%-8d %-6s %-8s %12.0f\n", threads, c ? "yes" : "no", "yes", rate);
            if (!failed && agecl_loader_skipped(l))
                printf("  (%d bad images skipped)\n", agecl_loader_skipped(l));
            agecl_loader_free(l);
        }
    agecl_image_cache_close(cache);
    agecl_dataset_free(sub);
    agecl_dataset_free(ds);
    unlink(cache_path);
    unlink(list);
    return failed;
}
