/* Tests of the face data pipeline (include/agecl/data.h): labels of UTKFace, AAF and
 * CSV data sets, splits, decoding and resizing, augmentation, the loader and its
 * cache, and bad input written by the tests into a temporary folder. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"
#include "agecl/data.h"
#include "data/augment.h"

/* ---- helpers ---- */

static char tmp_root[256];

/* A fresh folder under the test's temporary root. */
static const char *tmp_dir(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", tmp_root, name);
    assert_int_equal(mkdir(buf, 0755), 0);
    return buf;
}

static void write_bytes(const char *dir, const char *name, const void *data, size_t n)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    unsigned char *b = malloc(*n);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
        remove_tree(sub);
    }
    closedir(d);
    rmdir(path);
}

static agecl_dataset *utk_all;

static const char *utk_dir(char *buf, size_t len) { return test_shared_data("utkface", buf, len); }

static agecl_dataset *open_ok(const char *spec, unsigned flags)
{
    agecl_dataset *ds = NULL;
    TEST_OK(agecl_dataset_open(&ds, spec, flags));
    return ds;
}

/* A folder of symlinks to n UTKFace files: every stride-th name, in name order. */
static const char *utk_subset(const char *name, int n, int stride, char *buf, size_t len)
{
    tmp_dir(name, buf, len);
    for (int i = 0; i < n; i++) {
        const agecl_sample *s = agecl_dataset_sample(utk_all, i * stride);
        char link[4096];
        snprintf(link, sizeof link, "%s/%s", buf, s->name);
        assert_int_equal(symlink(s->path, link), 0);
    }
    return buf;
}

static int find_sample(const agecl_dataset *ds, const char *name)
{
    for (int i = 0; i < agecl_dataset_count(ds); i++)
        if (!strcmp(agecl_dataset_sample(ds, i)->name, name)) return i;
    return -1;
}

/* Whether some kept issue of a log mentions text. */
static int dataset_issue_has(const agecl_dataset *ds, const char *text)
{
    for (int i = 0; i < agecl_dataset_issue_count(ds); i++)
        if (strstr(agecl_dataset_issue(ds, i), text)) return 1;
    return 0;
}

static int loader_issue_has(const agecl_loader *l, const char *text)
{
    for (int i = 0; i < agecl_loader_issue_count(l); i++)
        if (strstr(agecl_loader_issue(l, i), text)) return 1;
    return 0;
}

static void assert_error_has(agecl_status got, agecl_status want, const char *text)
{
    if (got != want || !strstr(agecl_last_error(), text))
        fail_msg("expected %s naming \"%s\", got %s: %s", agecl_strerror(want), text,
                 agecl_strerror(got), agecl_last_error());
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmp_root, sizeof tmp_root, "/tmp/agecl-test-data-XXXXXX");
    if (!mkdtemp(tmp_root)) return -1;
    char dir[1024], spec[4096];
    snprintf(spec, sizeof spec, "utkface:%s", utk_dir(dir, sizeof dir));
    return agecl_dataset_open(&utk_all, spec, 0) == AGECL_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    agecl_dataset_free(utk_all);
    remove_tree(tmp_root);
    return 0;
}

/* ---- data sets ---- */

static void test_utkface_labels(void **state)
{
    (void)state;
    /* All 19,031 names parse, odd ones included; counts from the names themselves. */
    assert_int_equal(agecl_dataset_count(utk_all), 19031);
    assert_int_equal(agecl_dataset_skipped(utk_all), 0);
    int male = 0, female = 0;
    for (int i = 0; i < 19031; i++) {
        const agecl_sample *s = agecl_dataset_sample(utk_all, i);
        male += s->gender == AGECL_GENDER_MALE;
        female += s->gender == AGECL_GENDER_FEMALE;
        if (i) assert_true(strcmp(agecl_dataset_sample(utk_all, i - 1)->name, s->name) < 0);
        assert_int_equal(atoi(s->name), s->age);
    }
    assert_int_equal(male, 9923);
    assert_int_equal(female, 9108);
    assert_true(agecl_dataset_has_gender(utk_all));

    static const struct { const char *name; int age, gender; } odd[] = {
        {"61_1_20170109142408075.jpg.chip.jpg", 61, AGECL_GENDER_FEMALE},     /* no race */
        {"24_0_1_20170116220224657 .jpg.chip.jpg", 24, AGECL_GENDER_MALE},    /* space */
        {"55_0_0_20170116232725357jpg.chip.jpg", 55, AGECL_GENDER_MALE},      /* no dot */
        {"100_1_0_20170110183726390.jpg.chip.jpg", 100, AGECL_GENDER_FEMALE}, /* 3 digits */
    };
    for (size_t k = 0; k < sizeof odd / sizeof *odd; k++) {
        int i = find_sample(utk_all, odd[k].name);
        assert_true(i >= 0);
        assert_int_equal(agecl_dataset_sample(utk_all, i)->age, odd[k].age);
        assert_int_equal(agecl_dataset_sample(utk_all, i)->gender, odd[k].gender);
    }

    const int *ages;
    int n = agecl_dataset_age_labels(utk_all, &ages);
    assert_int_equal(ages[0], 1);
    assert_int_equal(ages[n - 1], 116);
    for (int i = 1; i < n; i++) assert_true(ages[i - 1] < ages[i]);
    assert_int_equal(agecl_dataset_age_position(utk_all, 116), n - 1);
    assert_int_equal(agecl_dataset_age_position(utk_all, 94), -1); /* absent from UTKFace */
    assert_int_equal(agecl_dataset_crop(utk_all), AGECL_CROP_CENTER_SQUARE);
}

static void test_aaf_sample(void **state)
{
    (void)state;
    char dir[1024], spec[4096];
    snprintf(spec, sizeof spec, "aaf:%s", test_shared_data("aaf-sample", dir, sizeof dir));
    agecl_dataset *ds = open_ok(spec, AGECL_DATA_STRICT);
    assert_int_equal(agecl_dataset_count(ds), 48);
    assert_int_equal(agecl_dataset_crop(ds), AGECL_CROP_AAF_FACE);
    /* labels.txt says 0 (female) for ids below 7381 and 1 (male) above, as the release
     * numbers its people: the mapped genders follow. */
    for (int i = 0; i < 48; i++) {
        const agecl_sample *s = agecl_dataset_sample(ds, i);
        int id = atoi(s->name);
        assert_int_equal(s->gender, id >= 7381 ? AGECL_GENDER_MALE : AGECL_GENDER_FEMALE);
        assert_int_equal(s->age, atoi(s->name + 6));
    }
    assert_int_equal(agecl_dataset_sample(ds, 0)->age, 11); /* 00614A11.jpg */
    agecl_split split;
    assert_int_equal(agecl_split_own(&split, ds), AGECL_E_UNSUPPORTED); /* no image sets */
    agecl_dataset_free(ds);

    /* The face square of a 309 x 398 AAF crop, framed as UTKFace's: 0.825 widths
     * (255), its top 0.368 widths (114) down, centred across. */
    agecl_box b = agecl_image_crop_box(AGECL_CROP_AAF_FACE, 309, 398);
    assert_int_equal(b.x, 27);
    assert_int_equal(b.w, 255);
    assert_int_equal(b.h, 255);
    assert_int_equal(b.y, 114);
    b = agecl_image_crop_box(AGECL_CROP_AAF_FACE, 309, 314); /* short: kept inside */
    assert_int_equal(b.y + b.h, 314);
}

/* A small AAF release with "image sets" lists, written here. */
static const char *aaf_release(const char *name, const char *train, const char *val,
                               char *buf, size_t len)
{
    char src[1024], sub[4096];
    test_shared_data("aaf-sample/aglined faces", src, sizeof src);
    tmp_dir(name, buf, len);
    snprintf(sub, sizeof sub, "%s/aglined faces", buf);
    assert_int_equal(mkdir(sub, 0755), 0);
    static const char *const names[] = {"00614A11.jpg", "00763A13.jpg", "00791A13.jpg",
                                        "08313A18.jpg", "08779A25.jpg"};
    for (int i = 0; i < 5; i++) {
        char from[8192], to[8192];
        snprintf(from, sizeof from, "%s/%s", src, names[i]);
        snprintf(to, sizeof to, "%s/%s", sub, names[i]);
        assert_int_equal(symlink(from, to), 0);
    }
    snprintf(sub, sizeof sub, "%s/image sets", buf);
    assert_int_equal(mkdir(sub, 0755), 0);
    write_bytes(sub, "train.txt", train, strlen(train));
    write_bytes(sub, "val.txt", val, strlen(val));
    return buf;
}

static void test_aaf_image_sets(void **state)
{
    (void)state;
    char dir[1024], spec[4096];
    /* Names with and without ".jpg", as the release's README and sample differ. */
    aaf_release("aaf1", "00614A11 0\n00763A13.jpg 0\n08313A18 1\n", "00791A13 0\n08779A25.jpg 1\n",
                dir, sizeof dir);
    snprintf(spec, sizeof spec, "aaf:%s", dir);
    agecl_dataset *ds = open_ok(spec, 0);
    assert_int_equal(agecl_dataset_count(ds), 5);
    agecl_split split;
    TEST_OK(agecl_split_own(&split, ds));
    assert_int_equal(split.count[AGECL_SPLIT_TRAIN], 3);
    assert_int_equal(split.count[AGECL_SPLIT_VAL], 2);
    assert_int_equal(split.count[AGECL_SPLIT_TEST], 0);
    assert_string_equal(agecl_dataset_sample(ds, split.index[AGECL_SPLIT_VAL][0])->name,
                        "00791A13.jpg");
    assert_int_equal(agecl_dataset_sample(ds, split.index[AGECL_SPLIT_TRAIN][2])->gender,
                     AGECL_GENDER_MALE);
    assert_int_equal(agecl_dataset_sample(ds, split.index[AGECL_SPLIT_VAL][1])->gender,
                     AGECL_GENDER_MALE);
    assert_int_equal(agecl_dataset_sample(ds, split.index[AGECL_SPLIT_VAL][0])->gender,
                     AGECL_GENDER_FEMALE);
    agecl_split_free(&split);
    agecl_dataset_free(ds);

    /* A listed image that is missing is skipped, named with its list and line. */
    aaf_release("aaf2", "00614A11 0\n99999A99 1\n", "00791A13 0\n", dir, sizeof dir);
    snprintf(spec, sizeof spec, "aaf:%s", dir);
    ds = open_ok(spec, 0);
    assert_int_equal(agecl_dataset_skipped(ds), 1);
    assert_true(dataset_issue_has(ds, "train.txt:2: 99999A99"));
    agecl_dataset_free(ds);
    agecl_dataset *none = NULL;
    assert_int_equal(agecl_dataset_open(&none, spec, AGECL_DATA_STRICT), AGECL_E_IO);
    assert_null(none);

    /* A malformed list line is an error naming the list and the line. */
    aaf_release("aaf3", "00614A11 0\n00763A13 2\n", "", dir, sizeof dir);
    snprintf(spec, sizeof spec, "aaf:%s", dir);
    assert_error_has(agecl_dataset_open(&none, spec, 0), AGECL_E_FORMAT, "train.txt:2");
    /* A name in two parts too. */
    aaf_release("aaf4", "00614A11 0\n", "00614A11 0\n", dir, sizeof dir);
    snprintf(spec, sizeof spec, "aaf:%s", dir);
    assert_error_has(agecl_dataset_open(&none, spec, 0), AGECL_E_FORMAT, "val.txt:1");
}

static void test_csv(void **state)
{
    (void)state;
    char dir[1024], spec[4096], row[4096];
    tmp_dir("csv", dir, sizeof dir);
    const agecl_sample *a = agecl_dataset_sample(utk_all, 0), *b = agecl_dataset_sample(utk_all, 1);
    assert_int_equal(symlink(a->path, strcat(strcpy(row, dir), "/a.jpg")), 0);
    mkdir(strcat(strcpy(row, dir), "/sub"), 0755);
    assert_int_equal(symlink(b->path, strcat(strcpy(row, dir), "/sub/b.jpg")), 0);
    snprintf(row, sizeof row,
             "path,age,gender\n"
             "a.jpg,30,f\n"
             "\n"
             "sub/b.jpg, 7 ,\n"
             "%s,45,0\n"
             "a.jpg,30,1\n"          /* a duplicate */
             "missing.jpg,20,1\n"    /* no such file */
             "sub/b.jpg,150,1\r\n",  /* an age out of range */
             a->path);
    write_bytes(dir, "list.csv", row, strlen(row));
    snprintf(spec, sizeof spec, "csv:%s/list.csv", dir);
    agecl_dataset *ds = open_ok(spec, 0);
    assert_int_equal(agecl_dataset_count(ds), 3);
    assert_int_equal(agecl_dataset_sample(ds, 0)->age, 30);
    assert_int_equal(agecl_dataset_sample(ds, 0)->gender, AGECL_GENDER_FEMALE);
    assert_int_equal(agecl_dataset_sample(ds, 1)->age, 7);
    assert_int_equal(agecl_dataset_sample(ds, 1)->gender, AGECL_GENDER_UNKNOWN);
    assert_string_equal(agecl_dataset_sample(ds, 2)->path, a->path);
    assert_int_equal(agecl_dataset_skipped(ds), 3);
    assert_true(dataset_issue_has(ds, "more than once"));
    assert_true(dataset_issue_has(ds, "list.csv:7"));
    assert_true(dataset_issue_has(ds, "missing.jpg"));
    assert_true(dataset_issue_has(ds, "list.csv:8"));
    assert_true(dataset_issue_has(ds, "age 150"));
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    agecl_dataset_report(ds, f);
    fclose(f);
    assert_non_null(strstr(text, "3 samples"));
    assert_non_null(strstr(text, "3 entries skipped"));
    free(text);
    agecl_dataset_free(ds);

    agecl_dataset *none = NULL;
    assert_error_has(agecl_dataset_open(&none, spec, AGECL_DATA_STRICT), AGECL_E_IO,
                     "list.csv:7");
    /* Malformed rows are errors naming the file and line. */
    static const struct { const char *text, *where; } bad[] = {
        {"a.jpg,30\na.jpg,30,1,extra\n", "bad.csv:2"},
        {"path,age\na.jpg\n", "bad.csv:2"},
        {"a.jpg,30\na.jpg,thirty\n", "bad.csv:2"},
        {"a.jpg,30,x\n", "bad.csv:1"},
    };
    snprintf(spec, sizeof spec, "csv:%s/bad.csv", dir);
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        write_bytes(dir, "bad.csv", bad[k].text, strlen(bad[k].text));
        assert_error_has(agecl_dataset_open(&none, spec, 0), AGECL_E_FORMAT, bad[k].where);
    }
    /* Only a header: an empty data set. */
    write_bytes(dir, "bad.csv", "path,age\n", 9);
    assert_int_equal(agecl_dataset_open(&none, spec, 0), AGECL_E_DATA);
    assert_int_equal(agecl_dataset_open(&none, "tsv:/x", 0), AGECL_E_INVALID_ARG);
    snprintf(spec, sizeof spec, "csv:%s/nothing.csv", dir);
    assert_int_equal(agecl_dataset_open(&none, spec, 0), AGECL_E_IO);
    assert_null(none);
}

/* ---- splits ---- */

static void test_split_hash(void **state)
{
    (void)state;
    agecl_split s1, s2;
    TEST_OK(agecl_split_hash(&s1, utk_all));
    TEST_OK(agecl_split_hash(&s2, utk_all));
    int n = agecl_dataset_count(utk_all);
    char *part = calloc((size_t)n, 1);
    assert_non_null(part);
    for (int p = 0; p < AGECL_SPLIT_PARTS; p++) {
        assert_int_equal(s1.count[p], s2.count[p]);
        assert_memory_equal(s1.index[p], s2.index[p], (size_t)s1.count[p] * sizeof(int));
        for (int k = 0; k < s1.count[p]; k++) {
            assert_int_equal(part[s1.index[p][k]], 0); /* disjoint */
            part[s1.index[p][k]] = (char)(p + 1);
            if (k) assert_true(s1.index[p][k - 1] < s1.index[p][k]);
        }
    }
    assert_int_equal(s1.count[0] + s1.count[1] + s1.count[2], n); /* covering */
    assert_in_range(s1.count[AGECL_SPLIT_TRAIN], (int)(0.58 * n), (int)(0.62 * n));
    assert_in_range(s1.count[AGECL_SPLIT_VAL], (int)(0.18 * n), (int)(0.22 * n));
    assert_in_range(s1.count[AGECL_SPLIT_TEST], (int)(0.18 * n), (int)(0.22 * n));

    /* A sample's part depends on its name only: a folder of 300 of the files, in
     * reverse order of creation, puts each where the whole folder does. */
    char dir[1024], spec[4096];
    tmp_dir("split", dir, sizeof dir);
    for (int i = 299; i >= 0; i--) {
        const agecl_sample *s = agecl_dataset_sample(utk_all, i * 61);
        char link[4096];
        snprintf(link, sizeof link, "%s/%s", dir, s->name);
        assert_int_equal(symlink(s->path, link), 0);
    }
    snprintf(spec, sizeof spec, "utkface:%s", dir);
    agecl_dataset *sub = open_ok(spec, 0);
    agecl_split ss;
    TEST_OK(agecl_split_hash(&ss, sub));
    for (int p = 0; p < AGECL_SPLIT_PARTS; p++)
        for (int k = 0; k < ss.count[p]; k++) {
            int i = find_sample(utk_all, agecl_dataset_sample(sub, ss.index[p][k])->name);
            assert_int_equal(part[i], p + 1);
        }
    agecl_split_free(&ss);
    agecl_dataset_free(sub);
    free(part);
    agecl_split_free(&s2);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    agecl_split_report(&s1, utk_all, f);
    fclose(f);
    assert_non_null(strstr(text, "train"));
    assert_non_null(strstr(text, "validation"));
    free(text);
    agecl_split_free(&s1);
}

static void test_split_lists(void **state)
{
    (void)state;
    char dir[1024];
    utk_subset("lists", 6, 1000, dir, sizeof dir);
    char spec[4096], train[4096], val[4096], test[4096];
    snprintf(spec, sizeof spec, "utkface:%s", dir);
    agecl_dataset *ds = open_ok(spec, 0);
    const agecl_sample *s[6];
    for (int i = 0; i < 6; i++) s[i] = agecl_dataset_sample(ds, i);
    assert_int_not_equal(s[0]->age, s[5]->age); /* names 0 and 5000 */
    /* Train: samples 0-3; validation: 4 (listed without its extension); test: 5. */
    char text[4096];
    snprintf(text, sizeof text, "# training\n%s\n%s 1\n\n%s\n%s\n", s[0]->name, s[1]->name,
             s[2]->name, s[3]->name);
    write_bytes(tmp_root, "train.txt", text, strlen(text));
    snprintf(text, sizeof text, "%.*s\n", (int)(strstr(s[4]->name, ".jpg") - s[4]->name), s[4]->name);
    write_bytes(tmp_root, "val.txt", text, strlen(text));
    snprintf(text, sizeof text, "%s\n", s[5]->name);
    write_bytes(tmp_root, "test.txt", text, strlen(text));
    snprintf(train, sizeof train, "%s/train.txt", tmp_root);
    snprintf(val, sizeof val, "%s/val.txt", tmp_root);
    snprintf(test, sizeof test, "%s/test.txt", tmp_root);
    const char *lists[3] = {train, val, test};
    agecl_split split;
    TEST_OK(agecl_split_lists(&split, ds, lists));
    assert_int_equal(split.count[0], 4);
    assert_int_equal(split.count[1], 1);
    assert_int_equal(split.count[2], 1);
    assert_int_equal(split.index[1][0], 4);
    assert_int_equal(split.index[2][0], 5);

    /* A split of train = {0}, test = {5} leaves the age of 5 uncovered. */
    const char *only[3] = {NULL, NULL, test};
    int ages[8];
    agecl_split_free(&split);
    snprintf(text, sizeof text, "%s\n", s[0]->name);
    write_bytes(tmp_root, "train.txt", text, strlen(text));
    only[0] = train;
    TEST_OK(agecl_split_lists(&split, ds, only));
    assert_int_equal(split.count[1], 0);
    assert_int_equal(agecl_split_uncovered_ages(&split, ds, ages, 8), 1);
    assert_int_equal(ages[0], s[5]->age);
    char *rep = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&rep, &len);
    agecl_split_report(&split, ds, f);
    fclose(f);
    assert_non_null(strstr(rep, "not in training"));
    free(rep);
    agecl_split_free(&split);

    /* Unknown and repeated names are errors naming the list and line. */
    write_bytes(tmp_root, "train.txt", "nobody.jpg\n", 11);
    assert_error_has(agecl_split_lists(&split, ds, only), AGECL_E_FORMAT, "train.txt:1");
    snprintf(text, sizeof text, "%s\n%s\n", s[5]->name, s[5]->name);
    write_bytes(tmp_root, "train.txt", text, strlen(text));
    assert_error_has(agecl_split_lists(&split, ds, only), AGECL_E_FORMAT, "train.txt:2");
    agecl_dataset_free(ds);
}

/* ---- images ---- */

static void test_resize(void **state)
{
    (void)state;
    /* Upscaling is bilinear with half-pixel centres: [0 255] -> [0 64 191 255]. */
    uint8_t src[6] = {0, 0, 0, 255, 255, 255}, dst[12];
    TEST_OK(agecl_image_resize(src, 2, 1, (agecl_box){0, 0, 2, 1}, dst, 4, 1));
    static const uint8_t up[4] = {0, 64, 191, 255};
    for (int i = 0; i < 4; i++)
        for (int c = 0; c < 3; c++) assert_int_equal(dst[3 * i + c], up[i]);

    /* Downscaling a one-pixel checkerboard 4x does not alias: uniform gray. */
    enum { N = 64 };
    static uint8_t board[N * N * 3], small[16 * 16 * 3];
    for (int y = 0; y < N; y++)
        for (int x = 0; x < N; x++) memset(board + (y * N + x) * 3, (x + y) % 2 ? 255 : 0, 3);
    TEST_OK(agecl_image_resize(board, N, N, (agecl_box){0, 0, N, N}, small, 16, 16));
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16 * 3; x++) {
            int inner = y > 0 && y < 15 && x >= 3 && x < 15 * 3;
            assert_in_range(small[y * 16 * 3 + x], inner ? 127 : 100, inner ? 128 : 155);
        }

    /* A box picks its part: the right half of a left-black, right-white image. */
    for (int y = 0; y < N; y++)
        for (int x = 0; x < N; x++) memset(board + (y * N + x) * 3, x < N / 2 ? 0 : 200, 3);
    TEST_OK(agecl_image_resize(board, N, N, (agecl_box){N / 2, 0, N / 2, N / 2}, small, 16, 16));
    for (int i = 0; i < 16 * 16 * 3; i++) assert_int_equal(small[i], 200);
    assert_int_equal(agecl_image_resize(board, N, N, (agecl_box){N / 2, 0, N, N}, small, 16, 16),
                     AGECL_E_INVALID_ARG);

    agecl_box b = agecl_image_crop_box(AGECL_CROP_CENTER_SQUARE, 300, 200);
    assert_int_equal(b.x, 50);
    assert_int_equal(b.y, 0);
    assert_int_equal(b.w, 200);
    assert_int_equal(b.h, 200);

    /* Normalisation, MODEL.md section 1, CHW planar. */
    uint8_t px[6] = {255, 0, 128, 0, 255, 0};
    float chw[6];
    agecl_image_normalize(px, 2, 1, chw);
    assert_float_equal(chw[0], (1 - 0.485) / 0.229, 1e-5);
    assert_float_equal(chw[1], (0 - 0.485) / 0.229, 1e-5);
    assert_float_equal(chw[2], (0 - 0.456) / 0.224, 1e-5);
    assert_float_equal(chw[3], (1 - 0.456) / 0.224, 1e-5);
    assert_float_equal(chw[4], (128 / 255.0 - 0.406) / 0.225, 1e-5);

    /* A real face: 200 x 200 to 112 x 112 keeps its mean colour. */
    const agecl_sample *s = agecl_dataset_sample(utk_all, 0);
    uint8_t *img = malloc(112 * 112 * 3), *big = malloc(200 * 200 * 3);
    assert_non_null(img);
    assert_non_null(big);
    TEST_OK(agecl_image_load(s->path, AGECL_CROP_FULL, 112, img));
    TEST_OK(agecl_image_load(s->path, AGECL_CROP_FULL, 200, big));
    double m1 = 0, m2 = 0;
    for (int i = 0; i < 112 * 112 * 3; i++) m1 += img[i];
    for (int i = 0; i < 200 * 200 * 3; i++) m2 += big[i];
    assert_float_equal(m1 / (112 * 112 * 3), m2 / (200 * 200 * 3), 1.0);
    free(img);
    free(big);
}

/* A 24-bit BMP of w x h, RGB pixels (stb reads BMP; the test writes its own). */
static void write_bmp(const char *dir, const char *name, const uint8_t *rgb, int w, int h)
{
    int row = (w * 3 + 3) / 4 * 4;
    size_t size = 54 + (size_t)row * h;
    uint8_t *b = calloc(size, 1);
    assert_non_null(b);
    uint32_t v[] = {(uint32_t)size, 0, 54, 40, (uint32_t)w, (uint32_t)h};
    b[0] = 'B';
    b[1] = 'M';
    memcpy(b + 2, v, 4);
    memcpy(b + 10, v + 2, 16);
    b[26] = 1;  /* planes */
    b[28] = 24; /* bits per pixel */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) /* bottom-up rows, BGR */
                b[54 + (size_t)(h - 1 - y) * row + x * 3 + 2 - c] = rgb[(y * w + x) * 3 + c];
    write_bytes(dir, name, b, size);
    free(b);
}

/* The bad files of the issue, named as UTKFace files so that only their contents
 * are wrong; returns the folder. */
static const char *bad_images(const char *name, char *dir, size_t len)
{
    utk_subset(name, 5, 1, dir, len);
    size_t n;
    unsigned char *jpg = read_bytes(agecl_dataset_sample(utk_all, 0)->path, &n);
    write_bytes(dir, "30_0_0_truncated.jpg", jpg, n / 2);
    free(jpg);
    unsigned char junk[1000];
    for (int i = 0; i < 1000; i++) junk[i] = (unsigned char)(i * 7919 % 251);
    write_bytes(dir, "31_1_0_garbage.jpg", junk, sizeof junk);
    /* A PNG whose header claims 100000 x 100000 pixels, and nothing else. */
    static const unsigned char huge[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
                                         0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                         0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0, 8, 2, 0, 0, 0,
                                         0x12, 0x34, 0x56, 0x78};
    write_bytes(dir, "32_0_0_huge.png", huge, sizeof huge);
    uint8_t rgb[4 * 3 * 3];
    for (int i = 0; i < 36; i++) rgb[i] = (uint8_t)(i * 7);
    write_bmp(dir, "33_1_0_small.bmp", rgb, 4, 3); /* a good BMP */
    return dir;
}

static void test_bad_images(void **state)
{
    (void)state;
    char dir[1024], spec[4096];
    bad_images("bad", dir, sizeof dir);
    write_bytes(dir, "34_0_0_empty.jpg", "", 0);
    write_bytes(dir, "notes.txt", "x", 1);         /* a name that does not parse */
    write_bytes(dir, "130_0_0_old.jpg", "x", 1);   /* an age out of range */
    snprintf(spec, sizeof spec, "utkface:%s", dir);
    agecl_dataset *ds = open_ok(spec, 0);
    /* The scan skips the empty file and the two bad names, naming each. */
    assert_int_equal(agecl_dataset_skipped(ds), 3);
    assert_true(dataset_issue_has(ds, "34_0_0_empty.jpg: empty file"));
    assert_true(dataset_issue_has(ds, "notes.txt"));
    assert_true(dataset_issue_has(ds, "130_0_0_old.jpg: age 130"));
    assert_int_equal(agecl_dataset_count(ds), 9);
    agecl_dataset *none = NULL;
    /* Strict: the first of them met in the folder is an error. */
    agecl_status st = agecl_dataset_open(&none, spec, AGECL_DATA_STRICT);
    assert_true(st == AGECL_E_DATA || st == AGECL_E_FORMAT);
    assert_null(none);

    /* Decoding names the file and what is wrong with it. */
    uint8_t img[112 * 112 * 3];
    char path[4096];
    snprintf(path, sizeof path, "%s/33_1_0_small.bmp", dir);
    size_t bmp_len;
    unsigned char *bmp = read_bytes(path, &bmp_len);
    write_bytes(tmp_root, "cut.bmp", bmp, bmp_len - 5); /* stb alone would accept it */
    free(bmp);
    /* A real face whose first Huffman table declares 16 x 255 codes: Debian's
     * stb_image 2.27 would write past its tables (UBSan and ASan report it). */
    size_t jpg_len;
    unsigned char *jpg = read_bytes(agecl_dataset_sample(utk_all, 0)->path, &jpg_len);
    size_t dht = 2;
    while (dht + 4 < jpg_len && !(jpg[dht] == 0xff && jpg[dht + 1] == 0xc4)) dht++;
    assert_true(dht + 4 + 17 < jpg_len);
    memset(jpg + dht + 5, 255, 16);
    write_bytes(tmp_root, "huffman.jpg", jpg, jpg_len);
    /* the same after fill bytes, which stb_image skips before SOI (fuzz_image) */
    unsigned char *filled = malloc(jpg_len + 3);
    assert_non_null(filled);
    memset(filled, 0xff, 3);
    memcpy(filled + 3, jpg, jpg_len);
    write_bytes(tmp_root, "huffman-filled.jpg", filled, jpg_len + 3);
    free(filled);
    free(jpg);
    static const struct { const char *name; agecl_status st; const char *why; } bad[] = {
        {"30_0_0_truncated.jpg", AGECL_E_FORMAT, "truncated"},
        {"31_1_0_garbage.jpg", AGECL_E_FORMAT, "not a JPEG"},
        {"32_0_0_huge.png", AGECL_E_FORMAT, "100000 x 100000"},
        {"34_0_0_empty.jpg", AGECL_E_FORMAT, "empty"},
        {"missing.jpg", AGECL_E_IO, "cannot open"},
        {"../cut.bmp", AGECL_E_FORMAT, "truncated"},
        {"../huffman.jpg", AGECL_E_FORMAT, "Huffman table"},
        {"../huffman-filled.jpg", AGECL_E_FORMAT, "Huffman table"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, bad[k].name);
        agecl_status st = agecl_image_load(path, AGECL_CROP_FULL, 112, img);
        assert_error_has(st, bad[k].st, bad[k].why);
        assert_non_null(strstr(agecl_last_error(), bad[k].name));
    }
    snprintf(path, sizeof path, "%s/33_1_0_small.bmp", dir);
    TEST_OK(agecl_image_load(path, AGECL_CROP_FULL, 4, img));
    assert_int_equal(img[0], 0);
    assert_int_equal(img[4 * 4 * 3 - 1], 35 * 7); /* the last pixel, blue */

    /* The loader skips the three bad images, fills its batches from the next
     * samples, and reports each once, with or without threads. */
    for (int threads = 0; threads <= 2; threads += 2) {
        agecl_loader_options o;
        agecl_loader_defaults(&o);
        o.batch_size = 4;
        o.threads = threads;
        agecl_loader *l;
        TEST_OK(agecl_loader_create(&l, ds, NULL, 0, &o));
        for (int epoch = 0; epoch < 2; epoch++) {
            TEST_OK(agecl_loader_start_epoch(l, epoch));
            int counts[3] = {0}, batches = 0;
            agecl_batch *b;
            for (;;) {
                TEST_OK(agecl_loader_next(l, &b));
                if (!b) break;
                assert_true(batches < 3);
                counts[batches++] = b->count;
                for (int i = 0; i < b->count; i++)
                    assert_null(strstr(agecl_dataset_sample(ds, b->indices[i])->name, "_garbage"));
                agecl_loader_release(l, b);
            }
            assert_int_equal(batches, 2);
            assert_int_equal(counts[0], 4);
            assert_int_equal(counts[1], 2);
        }
        assert_int_equal(agecl_loader_skipped(l), 3);
        assert_true(loader_issue_has(l, "30_0_0_truncated.jpg"));
        assert_true(loader_issue_has(l, "31_1_0_garbage.jpg"));
        assert_true(loader_issue_has(l, "32_0_0_huge.png"));
        agecl_loader_free(l);
    }
    agecl_dataset_free(ds);

    /* Strict: the first bad image is an error naming it. */
    char dir2[1024];
    bad_images("bad-strict", dir2, sizeof dir2);
    snprintf(spec, sizeof spec, "utkface:%s", dir2);
    ds = open_ok(spec, AGECL_DATA_STRICT);
    agecl_loader_options o;
    agecl_loader_defaults(&o);
    o.batch_size = 16;
    agecl_loader *l;
    TEST_OK(agecl_loader_create(&l, ds, NULL, 0, &o));
    TEST_OK(agecl_loader_start_epoch(l, 0));
    agecl_batch *b;
    assert_error_has(agecl_loader_next(l, &b), AGECL_E_FORMAT, "30_0_0_truncated.jpg");
    assert_null(b);
    agecl_loader_free(l);
    agecl_dataset_free(ds);
}

/* ---- augmentation ---- */

static void test_augment_ops(void **state)
{
    (void)state;
    /* PIL's luma: pure red is 76. */
    uint8_t red[3] = {255, 0, 0};
    agecl__data_grayscale(red, 1);
    assert_int_equal(red[0], 76);
    assert_int_equal(red[2], 76);

    /* Rotating 90 degrees counter-clockwise moves the right middle to the top middle. */
    uint8_t img[9 * 3] = {0}, out[9 * 3], back[9 * 3];
    img[(1 * 3 + 2) * 3] = 200;
    agecl__data_rotate(img, out, 3, 90);
    assert_int_equal(out[(0 * 3 + 1) * 3], 200);
    assert_int_equal(out[(1 * 3 + 2) * 3], 0);
    agecl__data_rotate(img, out, 3, 0);
    assert_memory_equal(out, img, sizeof img);
    /* 45 degrees of a white square leaves its corners black. */
    enum { S = 32 };
    static uint8_t white[S * S * 3], rot[S * S * 3], sharp[S * S * 3];
    memset(white, 255, sizeof white);
    agecl__data_rotate(white, rot, S, 45);
    assert_int_equal(rot[0], 0);
    assert_int_equal(rot[(S * S - 1) * 3], 0);
    assert_int_equal(rot[((S / 2) * S + S / 2) * 3], 255);

    /* Flips are involutions. */
    for (int i = 0; i < 27; i++) img[i] = (uint8_t)(i * 9);
    memcpy(back, img, sizeof img);
    agecl__data_hflip(img, 3);
    assert_int_equal(img[0], back[6]);
    agecl__data_hflip(img, 3);
    agecl__data_vflip(img, 3);
    assert_int_equal(img[0], back[18]);
    agecl__data_vflip(img, 3);
    assert_memory_equal(img, back, sizeof img);

    /* Sharpness 0.2 of a lone bright pixel: smoothed 5 * 130 / 13 = 50, then
     * 0.2 * 130 + 0.8 * 50 = 66; the border is kept. */
    uint8_t dot[9 * 3] = {0};
    for (int c = 0; c < 3; c++) dot[4 * 3 + c] = 130;
    dot[0] = 77;
    agecl__data_sharpness(dot, out, 3, 0.2f);
    assert_int_equal(out[4 * 3 + 1], 66); /* green: its corner neighbour is 0 */
    assert_int_equal(out[0], 77);
    memset(sharp, 0, sizeof sharp);
    agecl__data_sharpness(white, sharp, S, 0.2f); /* flat stays flat */
    assert_memory_equal(sharp, white, sizeof white);
}

static void test_augment_draws(void **state)
{
    (void)state;
    agecl_augment a = agecl_augment_draw(NULL, 123, 4, 77), b = agecl_augment_draw(NULL, 123, 4, 77);
    assert_memory_equal(&a, &b, sizeof a);
    int differ = 0, n = 40000, gray = 0, hflip = 0, sharpen = 0, vflip = 0;
    double sum = 0, lo = 0, hi = 0;
    for (int i = 0; i < n; i++) {
        agecl_augment x = agecl_augment_draw(NULL, 123, 4, i), y = agecl_augment_draw(NULL, 123, 5, i);
        differ += x.angle != y.angle;
        gray += x.gray;
        hflip += x.hflip;
        sharpen += x.sharpen;
        vflip += x.vflip;
        sum += x.angle;
        lo = fmin(lo, x.angle);
        hi = fmax(hi, x.angle);
    }
    assert_int_equal(differ, n);
    assert_in_range(gray, (int)(0.09 * n), (int)(0.11 * n));
    assert_in_range(hflip, (int)(0.19 * n), (int)(0.21 * n));
    assert_in_range(sharpen, (int)(0.49 * n), (int)(0.51 * n));
    assert_in_range(vflip, (int)(0.19 * n), (int)(0.21 * n));
    assert_true(lo >= -30 && lo < -29.9 && hi <= 30 && hi > 29.9);
    assert_true(fabs(sum / n) < 0.3);
}

/* The zoom-in crop: with scale s and shift (dx, dy) output pixel x samples
 * c + s (x - c) + dx of the source (bilinear); on a horizontal ramp the value
 * follows that position. */
static void test_augment_affine(void **state)
{
    (void)state;
    enum { S = 21 };
    static uint8_t ramp[S * S * 3], out[S * S * 3];
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
            for (int c = 0; c < 3; c++) ramp[(y * S + x) * 3 + c] = (uint8_t)(10 * x + c);
    agecl__data_affine(ramp, out, S, 0, 1, 0, 0);
    assert_memory_equal(out, ramp, sizeof ramp);
    const float scale = 0.6f, dx = 1.5f, centre = 0.5f * (S - 1);
    agecl__data_affine(ramp, out, S, 0, scale, dx, 0);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            float sx = centre + scale * (x - centre) + dx;
            int want = (int)(10 * sx + 0.5f);
            int got = out[(y * S + x) * 3];
            if (abs(got - want) > 1) fail_msg("affine at (%d, %d): %d, want %d", x, y, got, want);
        }
    /* The same call through a draw: a pure crop keeps the image's middle. */
    agecl_augment a = {0, 0, 0, 0, 0.0f, 1.0f, 0.5f, 0.0f, 0.0f};
    static uint8_t img[S * S * 3], scratch[S * S * 3];
    memcpy(img, ramp, sizeof img);
    agecl_augment_apply(&a, img, S, scratch);
    assert_int_equal(img[(10 * S + 10) * 3], ramp[(10 * S + 10) * 3]);
    assert_true(img[(10 * S + 0) * 3] > ramp[(10 * S + 0) * 3]);
}

static void test_augment_policies(void **state)
{
    (void)state;
    agecl_augment_policy light, paper, none;
    TEST_OK(agecl_augment_policy_named("light", &light));
    TEST_OK(agecl_augment_policy_named("paper", &paper));
    TEST_OK(agecl_augment_policy_named("none", &none));
    assert_int_equal(agecl_augment_policy_named("heavy", &none), AGECL_E_INVALID_ARG);
    assert_non_null(strstr(agecl_last_error(), "light"));
    /* "paper" through a policy draws what the default (NULL) draws. */
    agecl_augment x = agecl_augment_draw(&paper, 9, 2, 5), y = agecl_augment_draw(NULL, 9, 2, 5);
    assert_memory_equal(&x, &y, sizeof x);
    int n = 20000, hflip = 0, vflip = 0, sharpen = 0;
    float lo = 1, dmax = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        agecl_augment a = agecl_augment_draw(&light, 123, 1, i);
        hflip += a.hflip, vflip += a.vflip, sharpen += a.sharpen;
        lo = fminf(lo, a.scale);
        assert_true(a.scale <= 1.0f);
        dmax = fmaxf(dmax, fmaxf(fabsf(a.dx), fabsf(a.dy)));
        amax = fmaxf(amax, fabsf(a.angle));
        agecl_augment z = agecl_augment_draw(&none, 123, 1, i);
        assert_true(!z.gray && !z.hflip && !z.sharpen && !z.vflip && z.angle == 0 &&
                    z.scale == 1 && z.dx == 0 && z.dy == 0);
    }
    assert_in_range(hflip, (int)(0.48 * n), (int)(0.52 * n));
    assert_int_equal(vflip, 0);
    assert_int_equal(sharpen, 0);
    assert_true(lo >= 0.85f && lo < 0.86f);
    assert_true(dmax <= 0.05f && dmax > 0.049f);
    assert_true(amax <= 10 && amax > 9.9f);
}

/* ---- loader and cache ---- */

typedef struct epoch_data {
    int batches, counts[16], indices[64];
    float *images; /* all of the epoch's images, in order */
} epoch_data;

static void run_epoch(agecl_loader *l, int epoch, size_t image, epoch_data *e)
{
    TEST_OK(agecl_loader_start_epoch(l, epoch));
    memset(e, 0, sizeof *e);
    e->images = malloc(64 * image * sizeof(float));
    assert_non_null(e->images);
    int at = 0;
    agecl_batch *b;
    for (;;) {
        TEST_OK(agecl_loader_next(l, &b));
        if (!b) break;
        assert_int_equal(b->epoch, epoch);
        assert_int_equal(b->number, e->batches);
        assert_true(at + b->count <= 64);
        memcpy(e->indices + at, b->indices, (size_t)b->count * sizeof(int));
        memcpy(e->images + at * image, b->images, (size_t)b->count * image * sizeof(float));
        e->counts[e->batches++] = b->count;
        at += b->count;
        agecl_loader_release(l, b);
    }
}

static void test_loader(void **state)
{
    (void)state;
    char dir[1024], spec[4096];
    utk_subset("loader", 40, 1, dir, sizeof dir);
    snprintf(spec, sizeof spec, "utkface:%s", dir);
    agecl_dataset *ds = open_ok(spec, 0);
    enum { S = 48 };
    size_t image = 3 * S * S;
    agecl_loader_options o;
    agecl_loader_defaults(&o);
    o.batch_size = 16;
    o.image_size = S;
    o.shuffle = o.augment = 1;
    o.seed = 7;
    epoch_data e[4];
    agecl_loader *l0, *l2;
    o.threads = 0;
    TEST_OK(agecl_loader_create(&l0, ds, NULL, 0, &o));
    o.threads = 2;
    o.prefetch = 2;
    TEST_OK(agecl_loader_create(&l2, ds, NULL, 0, &o));
    run_epoch(l0, 3, image, &e[0]);
    run_epoch(l2, 1, image, &e[1]);
    run_epoch(l2, 3, image, &e[2]); /* after another epoch, with threads */
    run_epoch(l2, 3, image, &e[3]); /* again */

    /* An epoch is the same from the seed and its number, threads or not. */
    for (int k = 2; k < 4; k++) {
        assert_memory_equal(e[k].indices, e[0].indices, sizeof e[0].indices);
        assert_memory_equal(e[k].images, e[0].images, 40 * image * sizeof(float));
    }
    assert_int_equal(e[0].batches, 3);
    assert_int_equal(e[0].counts[2], 8);
    /* Each sample once an epoch, in a shuffled order that changes with the epoch. */
    int seen[40] = {0}, in_order = 1, same = 1;
    for (int i = 0; i < 40; i++) {
        seen[e[0].indices[i]]++;
        in_order &= e[0].indices[i] == i;
        same &= e[0].indices[i] == e[1].indices[i];
    }
    for (int i = 0; i < 40; i++) assert_int_equal(seen[i], 1);
    assert_false(in_order);
    assert_false(same);

    /* Shards (data-parallel ranks): shard s of n with batch B loads the s-th B
     * samples of each global batch of n x B of the one loader, images and all;
     * the short tail is dropped. */
    static const int shardings[][2] = {{2, 8}, {3, 5}, {1, 16}};
    for (size_t k = 0; k < sizeof shardings / sizeof shardings[0]; k++) {
        int n = shardings[k][0], B = shardings[k][1], G = n * B;
        for (int shard = 0; shard < n; shard++) {
            agecl_loader_options so = o;
            so.threads = 1, so.batch_size = B, so.shard = shard, so.shards = n;
            agecl_loader *ls;
            epoch_data es;
            TEST_OK(agecl_loader_create(&ls, ds, NULL, 0, &so));
            run_epoch(ls, 3, image, &es);
            assert_int_equal(es.batches, n == 1 ? 3 : 40 / G);
            for (int g = 0; g < 40 / G; g++) {
                assert_int_equal(es.counts[g], B);
                const int at = g * G + shard * B;
                assert_memory_equal(es.indices + g * B, e[0].indices + at, B * sizeof(int));
                assert_memory_equal(es.images + g * B * image, e[0].images + at * image,
                                    B * image * sizeof(float));
            }
            free(es.images);
            agecl_loader_free(ls);
        }
    }
    agecl_loader *bad;
    o.shard = 2, o.shards = 2;
    assert_int_equal(agecl_loader_create(&bad, ds, NULL, 0, &o), AGECL_E_INVALID_ARG);
    o.shard = 0, o.shards = 1;
    for (int k = 0; k < 4; k++) free(e[k].images);
    agecl_loader_free(l0);

    /* Two batches may be held, a third is refused until one is released. */
    agecl_batch *b1, *b2, *b3;
    TEST_OK(agecl_loader_start_epoch(l2, 0));
    TEST_OK(agecl_loader_next(l2, &b1));
    TEST_OK(agecl_loader_next(l2, &b2));
    assert_ptr_not_equal(b1, b2);
    assert_int_equal(agecl_loader_next(l2, &b3), AGECL_E_INVALID_ARG);
    agecl_loader_release(l2, b1);
    TEST_OK(agecl_loader_next(l2, &b3));
    assert_int_equal(b3->count, 8);
    agecl_loader_free(l2);

    /* Evaluation (no shuffle, no augmentation, drop_last) gives the plain images,
     * labels and all, in order. */
    agecl_loader_defaults(&o);
    o.batch_size = 16;
    o.image_size = S;
    o.drop_last = 1;
    o.threads = 1;
    int part[5] = {39, 3, 17, 25, 8};
    o.batch_size = 2;
    TEST_OK(agecl_loader_create(&l0, ds, part, 5, &o));
    run_epoch(l0, 0, image, &e[0]);
    assert_int_equal(e[0].batches, 2); /* 2 + 2, the last one dropped */
    assert_memory_equal(e[0].indices, part, 4 * sizeof(int));
    uint8_t rgb[S * S * 3];
    float *want = malloc(image * sizeof(float));
    assert_non_null(want);
    TEST_OK(agecl_image_load(agecl_dataset_sample(ds, 17)->path, AGECL_CROP_CENTER_SQUARE, S, rgb));
    agecl_image_normalize(rgb, S, S, want);
    assert_memory_equal(e[0].images + 2 * image, want, image * sizeof(float));
    free(want);
    free(e[0].images);
    agecl_loader_free(l0);

    /* Misuse is refused. */
    assert_int_equal(agecl_loader_create(&l0, ds, part, 0, &o), AGECL_E_DATA);
    part[0] = 40;
    assert_int_equal(agecl_loader_create(&l0, ds, part, 5, &o), AGECL_E_INVALID_ARG);
    TEST_OK(agecl_loader_create(&l0, ds, NULL, 0, &o));
    assert_int_equal(agecl_loader_next(l0, &b1), AGECL_E_INVALID_ARG); /* no epoch */
    agecl_loader_free(l0);
    agecl_dataset_free(ds);
}

/* No file named *.tmp.* left in dir. */
static int temporaries_in(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    if (d) closedir(d);
    return n;
}

/* The child of test_full_disk: under a file-size limit (what a full disk looks like
 * to a writer), a cache and a checkpoint fail with an error and leave no temporary
 * file, and the checkpoint already there is untouched. Returns the failed check. */
static int write_under_limit(const agecl_dataset *ds, const char *dir)
{
    struct rlimit lim = {4096, 4096};
    signal(SIGXFSZ, SIG_IGN); /* a write past the limit fails with EFBIG instead */
    if (setrlimit(RLIMIT_FSIZE, &lim) != 0) return 1;
    char path[1200];
    snprintf(path, sizeof path, "%s/images.cache", dir);
    agecl_image_cache *c = NULL;
    int built;
    if (agecl_image_cache_open(&c, ds, path, 40, 2, &built) != AGECL_E_IO) return 2;
    if (!strstr(agecl_last_error(), "images.cache")) return 3;
    struct stat st;
    if (stat(path, &st) == 0 || temporaries_in(dir)) return 4;

    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    static float big[4096];
    agecl_st_writer *w;
    if (agecl_st_writer_create(&w) != AGECL_OK ||
        agecl_st_writer_add(w, "w", AGECL_ST_F32, 1, (int[]){4096}, big) != AGECL_OK)
        return 5;
    agecl_status s = agecl_st_writer_save(w, path);
    agecl_st_writer_free(w);
    if (s != AGECL_E_IO || !strstr(agecl_last_error(), "model.safetensors")) return 6;
    agecl_st_file *f;
    float old[3];
    if (agecl_st_open(path, &f) != AGECL_OK) return 7;
    s = agecl_st_read_f32(f, "old", old, 3, (int[]){3}, 1);
    agecl_st_close(f);
    if (s != AGECL_OK || old[0] != 1 || old[2] != 3 || temporaries_in(dir)) return 8;
    return 0;
}

static void test_full_disk(void **state)
{
    (void)state;
    char dir[1024], spec[4096], path[1200];
    bad_images("full", dir, sizeof dir);
    snprintf(spec, sizeof spec, "utkface:%s", dir);
    agecl_dataset *ds = open_ok(spec, 0);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    agecl_st_writer *w;
    static const float old[3] = {1, 2, 3}; /* the writer keeps a pointer until the save */
    TEST_OK(agecl_st_writer_create(&w));
    TEST_OK(agecl_st_writer_add(w, "old", AGECL_ST_F32, 1, (int[]){3}, old));
    TEST_OK(agecl_st_writer_save(w, path));
    agecl_st_writer_free(w);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) _exit(write_under_limit(ds, dir));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status)) fail_msg("the writer died of signal %d", WTERMSIG(status));
    if (WEXITSTATUS(status)) fail_msg("check %d failed", WEXITSTATUS(status));
    agecl_dataset_free(ds);
}

static void test_cache(void **state)
{
    (void)state;
    char dir[1024], spec[4096], cache_path[4096];
    bad_images("cache", dir, sizeof dir);
    snprintf(spec, sizeof spec, "utkface:%s", dir);
    snprintf(cache_path, sizeof cache_path, "%s/images.cache", tmp_root);
    agecl_dataset *ds = open_ok(spec, 0);
    enum { S = 40 };
    size_t image = 3 * S * S;
    agecl_image_cache *c;
    int built;
    TEST_OK(agecl_image_cache_open(&c, ds, cache_path, S, 2, &built));
    assert_int_equal(built, 1);
    agecl_image_cache_close(c);
    TEST_OK(agecl_image_cache_open(&c, ds, cache_path, S, 2, &built));
    assert_int_equal(built, 0);

    /* Cached or decoded, a loader yields the same batches, augmented or not. */
    for (int augment = 0; augment < 2; augment++) {
        agecl_loader_options o;
        agecl_loader_defaults(&o);
        o.batch_size = 4;
        o.image_size = S;
        o.shuffle = o.augment = augment;
        agecl_loader *plain, *cached;
        TEST_OK(agecl_loader_create(&plain, ds, NULL, 0, &o));
        o.cache = c;
        TEST_OK(agecl_loader_create(&cached, ds, NULL, 0, &o));
        epoch_data e1, e2;
        run_epoch(plain, 2, image, &e1);
        run_epoch(cached, 2, image, &e2);
        assert_int_equal(e1.batches, 2);
        assert_memory_equal(e1.counts, e2.counts, sizeof e1.counts);
        assert_memory_equal(e1.indices, e2.indices, sizeof e1.indices);
        assert_memory_equal(e1.images, e2.images, 6 * image * sizeof(float));
        /* The bad images are known from the cache, and named. */
        assert_int_equal(agecl_loader_skipped(cached), 3);
        assert_true(loader_issue_has(cached, "32_0_0_huge.png: bad image"));
        free(e1.images);
        free(e2.images);
        agecl_loader_free(plain);
        agecl_loader_free(cached);
    }
    agecl_image_cache_close(c);

    /* A cache of another size is refused by a loader. */
    TEST_OK(agecl_image_cache_open(&c, ds, cache_path, S + 1, 0, &built));
    assert_int_equal(built, 1);
    agecl_loader_options o;
    agecl_loader_defaults(&o);
    o.image_size = S;
    o.cache = c;
    agecl_loader *l;
    assert_int_equal(agecl_loader_create(&l, ds, NULL, 0, &o), AGECL_E_INVALID_ARG);
    agecl_image_cache_close(c);
    TEST_OK(agecl_image_cache_open(&c, ds, cache_path, S, 0, &built));
    assert_int_equal(built, 1);
    agecl_image_cache_close(c);

    /* Damage: a flipped header byte, a flipped status byte, a short file. */
    size_t n;
    unsigned char *bytes = read_bytes(cache_path, &n);
    for (int k = 0; k < 3; k++) {
        unsigned char *copy = malloc(n);
        assert_non_null(copy);
        memcpy(copy, bytes, n);
        size_t len = n;
        if (k == 0) copy[50] ^= 1;
        if (k == 1) copy[48 + (strlen(spec) + 7) / 8 * 8] ^= 1;
        if (k == 2) len -= 100;
        write_bytes(tmp_root, "images.cache", copy, len);
        free(copy);
        TEST_OK(agecl_image_cache_open(&c, ds, cache_path, S, 0, &built));
        assert_int_equal(built, 1);
        agecl_image_cache_close(c);
    }
    free(bytes);

    /* Stale: a file of the data set changed. */
    agecl_dataset_free(ds);
    uint8_t rgb[2 * 2 * 3] = {0};
    write_bmp(dir, "33_1_0_small.bmp", rgb, 2, 2);
    ds = open_ok(spec, 0);
    TEST_OK(agecl_image_cache_open(&c, ds, cache_path, S, 0, &built));
    assert_int_equal(built, 1);
    agecl_image_cache_close(c);
    agecl_dataset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utkface_labels),
        cmocka_unit_test(test_aaf_sample),
        cmocka_unit_test(test_aaf_image_sets),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_split_hash),
        cmocka_unit_test(test_split_lists),
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_bad_images),
        cmocka_unit_test(test_augment_ops),
        cmocka_unit_test(test_augment_draws),
        cmocka_unit_test(test_augment_affine),
        cmocka_unit_test(test_augment_policies),
        cmocka_unit_test(test_loader),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_full_disk),
    };
    return TEST_RUN_GROUP(tests, group_setup, group_teardown);
}
