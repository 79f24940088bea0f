/* agecl/data.h - face data sets, splits, image decoding, augmentation, batch loading.
 *
 * DATA SETS
 *   A data set is named KIND:PATH (agecl_dataset_open):
 *   utkface:DIR  a folder of UTKFace files named AGE_GENDER_RACE_DATETIME.jpg.chip.jpg
 *                (fields split on '_'; only AGE and GENDER are read, so names without
 *                the race field or with an odd date parse too). GENDER 0 male, 1 female.
 *   aaf:DIR      the All-Age-Faces release as published: images in "aglined faces/"
 *                (or "aligned faces/") named NNNNNAYY.jpg, YY the age; gender from the
 *                ".txt" lists in "image sets" and/or "labels.txt", lines "NAME GENDER" with
 *                NAME with or without ".jpg" and GENDER 0 female, 1 male (the reverse of
 *                UTKFace: it is mapped to 0 male, 1 female here). An image in no list
 *                has unknown gender. Crop: AGECL_CROP_AAF_FACE.
 *   csv:FILE     lines "path,age[,gender]", paths relative to the CSV's folder unless
 *                absolute, gender 0/m male, 1/f female, -1 or empty unknown; a first
 *                line whose age field is not a number is a header; no quoting, so a
 *                path may not hold a comma. Crop: AGECL_CROP_CENTER_SQUARE.
 *   Samples of a folder are sorted by name (independent of the directory order); a
 *   CSV keeps its row order. Every sample has an age in [AGECL_AGE_MIN, AGECL_AGE_MAX]
 *   and a gender 0 male, 1 female or -1 unknown (AGECL_GENDER_*). The data set's age
 *   labels are its sorted distinct ages (a model's age positions index them).
 *
 * BAD INPUT
 *   A bad sample (a name that does not parse, an age out of range, a duplicate, an
 *   empty, unreadable, corrupt or truncated image, an image over
 *   AGECL_IMAGE_MAX_PIXELS) is skipped and counted, with a message naming the file,
 *   readable with agecl_*_issue() or written by agecl_*_report(). With
 *   AGECL_DATA_STRICT it is an error instead. A malformed manifest (a CSV row with the
 *   wrong number of fields or a non-numeric age, a list line that does not parse, a
 *   list naming an unknown sample) and an empty data set are always errors; the
 *   detail (agecl_last_error) names the file and the line.
 *
 * SPLITS
 *   agecl_split_hash: a sample's part is h mod 5 (0, 1, 2 train; 3 validation; 4 test),
 *   h = splitmix64's finaliser applied to the 64-bit FNV-1a hash of the sample's base
 *   name bytes. It is the same on every machine and independent of the file order,
 *   and a sample keeps its part when others are added or removed.
 *   agecl_split_lists: text files of names, one a line (first whitespace-separated
 *   field, "#" starts a comment line), matched against base names with or without
 *   their extension. agecl_split_own: the data set's own lists (AAF "image sets":
 *   train*.txt, val*.txt, test*.txt).
 *
 * IMAGES
 *   JPEG, PNG and BMP, decoded by stb_image; gray and gray-alpha become RGB, alpha is
 *   dropped. A JPEG must end with its EOI marker (stb would decode a truncated file
 *   silently). The crop box is resized to S x S with a triangle filter whose support
 *   grows with the downscale factor (area-like averaging, no aliasing), which is plain
 *   bilinear when upscaling. Pixels stay uint8 RGB (HWC) through augmentation; the
 *   network input is float32 CHW planar, (v / 255 - mean[c]) / std[c] with mean
 *   (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).
 *
 * AUGMENTATION (training only, in this order)
 *   grayscale p 0.1 (ITU-R 601 luma, as PIL's "L"); horizontal flip p 0.2; rotation by
 *   an angle uniform in [-30, 30] degrees, p 1, counter-clockwise for positive angles,
 *   about the image centre, bilinear, black outside; sharpness factor 0.2 p 0.5
 *   (0.2 * image + 0.8 * image smoothed by [1 1 1; 1 5 1; 1 1 1] / 13, border pixels
 *   kept, as torchvision's adjust_sharpness on uint8); vertical flip p 0.2.
 *   The draws of a sample depend only on (seed, epoch, sample index), and an epoch's
 *   shuffle only on (seed, epoch): batches are reproducible from the seed and the
 *   epoch whatever the number of threads.
 *
 * CACHE FILE (agecl_image_cache_open)
 *   The crop-and-resized images (the input of augmentation, so the cache is exact) of
 *   every sample, uint8 RGB S x S, in one file that is memory-mapped. Layout, native
 *   byte order:
 *     0   char[8] "AGECLIMG"
 *     8   u32 format version (1)        12  u32 image side S
 *     16  u32 sample count N            20  u32 crop (agecl_crop)
 *     24  u64 file-list hash: FNV-1a 64 over each sample's path, its byte size and
 *             modification time, so a changed, added or removed file makes it stale
 *     32  u64 offset of the pixels (a multiple of 4096)
 *     40  u32 length L of the data set's name "KIND:PATH"   44  u32 zero
 *     48  the name, zero-padded to a multiple of 8
 *     then N status bytes (agecl_status of each sample's decode, 0 = good), padded to
 *     a multiple of 8, then a u64 FNV-1a 64 checksum of everything before it;
 *     pixels: N * S * S * 3 bytes at the pixel offset, sample i at offset + i*S*S*3.
 *   A file whose header, checksum or size does not match is rebuilt (written to a
 *   temporary name and renamed, so a reader never sees a half-written cache).
 *
 * LOADING
 *   agecl_loader yields batches of a list of sample indices, in order or shuffled
 *   each epoch, decoded (or read from the cache), augmented and normalised by worker
 *   threads a few batches ahead of the caller. A bad image is skipped and the batch
 *   filled from the next sample, so the last batch of an epoch may be short; under
 *   AGECL_DATA_STRICT agecl_loader_next fails on it instead (the epoch then goes on
 *   after it). A loader is driven by one thread at a time; its workers are its own. */
#ifndef AGECL_DATA_H
#define AGECL_DATA_H

#include <stdint.h>
#include <stdio.h>
#include "agecl/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AGECL_GENDER_UNKNOWN (-1)
#define AGECL_GENDER_MALE 0
#define AGECL_GENDER_FEMALE 1
#define AGECL_AGE_MIN 0
#define AGECL_AGE_MAX 120
/* Images claiming more pixels are rejected before they are decoded. */
#define AGECL_IMAGE_MAX_PIXELS (64L * 1024 * 1024)
/* The largest image side a loader or the resizer produces. */
#define AGECL_IMAGE_MAX_SIZE 4096
/* The model's input side (MODEL.md section 1). */
#define AGECL_IMAGE_SIZE 112

/* agecl_dataset_open flags: make any bad sample an error instead of a skip. */
#define AGECL_DATA_STRICT 1u

/* ---- data sets ---- */

typedef enum agecl_dataset_kind {
    AGECL_DATASET_UTKFACE,
    AGECL_DATASET_AAF,
    AGECL_DATASET_CSV
} agecl_dataset_kind;

/* How a sample's image is cut to a square before resizing. */
typedef enum agecl_crop {
    AGECL_CROP_FULL,          /* the whole image (squeezed if it is not square) */
    AGECL_CROP_CENTER_SQUARE, /* the largest centred square */
    AGECL_CROP_AAF_FACE       /* AAF: the face framed as UTKFace frames it (0.825-width square) */
} agecl_crop;

typedef struct agecl_sample {
    const char *path; /* the image file */
    const char *name; /* its base name (a suffix of path) */
    int age;          /* years */
    int gender;       /* AGECL_GENDER_* */
} agecl_sample;

typedef struct agecl_dataset agecl_dataset;

/* Open "KIND:PATH" (kinds: utkface, aaf, csv); flags: 0 or AGECL_DATA_STRICT. */
agecl_status agecl_dataset_open(agecl_dataset **out, const char *spec, unsigned flags);
agecl_status agecl_dataset_open_kind(agecl_dataset **out, agecl_dataset_kind kind,
                                     const char *path, unsigned flags);
void agecl_dataset_free(agecl_dataset *ds);

int agecl_dataset_count(const agecl_dataset *ds);
const agecl_sample *agecl_dataset_sample(const agecl_dataset *ds, int index);
/* "KIND:PATH" as opened. */
const char *agecl_dataset_name(const agecl_dataset *ds);
agecl_dataset_kind agecl_dataset_kind_of(const agecl_dataset *ds);
agecl_crop agecl_dataset_crop(const agecl_dataset *ds);
/* 1 when at least one sample has a known gender (the gender head is used). */
int agecl_dataset_has_gender(const agecl_dataset *ds);
/* The sorted distinct ages; returns their number n and points *ages at them. */
int agecl_dataset_age_labels(const agecl_dataset *ds, const int **ages);
/* The position of an age among the age labels, or -1. */
int agecl_dataset_age_position(const agecl_dataset *ds, int age);
/* Bad entries skipped while reading the data set, and their messages. */
int agecl_dataset_skipped(const agecl_dataset *ds);
int agecl_dataset_issue_count(const agecl_dataset *ds);
const char *agecl_dataset_issue(const agecl_dataset *ds, int i);
/* A summary (counts, ages, genders, skipped entries with their messages). */
void agecl_dataset_report(const agecl_dataset *ds, FILE *f);

/* ---- splits ---- */

enum { AGECL_SPLIT_TRAIN, AGECL_SPLIT_VAL, AGECL_SPLIT_TEST, AGECL_SPLIT_PARTS };

/* Sample indices of each part, ascending; a sample is in at most one part. */
typedef struct agecl_split {
    int *index[AGECL_SPLIT_PARTS];
    int count[AGECL_SPLIT_PARTS];
} agecl_split;

agecl_status agecl_split_hash(agecl_split *out, const agecl_dataset *ds);
/* Lists of names for train, validation and test; any may be NULL (empty part). */
agecl_status agecl_split_lists(agecl_split *out, const agecl_dataset *ds,
                               const char *const lists[AGECL_SPLIT_PARTS]);
/* The data set's own lists; AGECL_E_UNSUPPORTED when it has none. */
agecl_status agecl_split_own(agecl_split *out, const agecl_dataset *ds);
void agecl_split_free(agecl_split *split);
/* Ages present in validation or test but absent from training, ascending: writes up
 * to cap of them and returns how many there are. */
int agecl_split_uncovered_ages(const agecl_split *split, const agecl_dataset *ds,
                               int *ages, int cap);
/* Sizes, age range and coverage, genders of each part; names the uncovered ages. */
void agecl_split_report(const agecl_split *split, const agecl_dataset *ds, FILE *f);

/* ---- images ---- */

typedef struct agecl_box { int x, y, w, h; } agecl_box;

/* The crop box of a w x h image. */
agecl_box agecl_image_crop_box(agecl_crop crop, int w, int h);
/* Decode a file, crop it and resize it to size x size uint8 RGB (HWC) in rgb. */
agecl_status agecl_image_load(const char *path, agecl_crop crop, int size, uint8_t *rgb);
/* Resize the box of a w x h uint8 RGB image to dw x dh uint8 RGB. */
agecl_status agecl_image_resize(const uint8_t *src, int w, int h, agecl_box box,
                                uint8_t *dst, int dw, int dh);
/* uint8 RGB HWC (w x h) to normalised float32 CHW planar. */
void agecl_image_normalize(const uint8_t *rgb, int w, int h, float *chw);

/* ---- augmentation ---- */

/* How strongly to augment: probabilities and ranges. Named policies:
 *   "paper"  MODEL.md section 6: gray 0.1, horizontal flip 0.2, rotation in
 *            +-30 degrees on every image, sharpness 0.2 with p 0.5, vertical
 *            flip 0.2; no crop.
 *   "light"  for training small networks from scratch: gray 0.1, horizontal
 *            flip 0.5, rotation in +-10 degrees, a random zoom-in crop of
 *            85..100% of the side shifted by up to 5% of it; no sharpness, no
 *            vertical flip.
 *   "none"   the image as it is. */
typedef struct agecl_augment_policy {
    float p_gray, p_hflip, max_degrees, p_sharpen, sharpness, p_vflip;
    float min_scale; /* the crop's side, a fraction of the image's, drawn in [min_scale, 1] */
    float max_shift; /* the crop's centre moves up to this fraction of the side each way */
} agecl_augment_policy;

/* The policy of a name above; AGECL_E_INVALID_ARG naming the choices otherwise. */
agecl_status agecl_augment_policy_named(const char *name, agecl_augment_policy *policy);

typedef struct agecl_augment {
    int gray, hflip, sharpen, vflip; /* 0 or 1 */
    float angle;                     /* degrees, counter-clockwise */
    float sharpness;                 /* the factor when sharpen */
    float scale;                     /* crop side / image side, (0, 1] */
    float dx, dy;                    /* crop centre shift, a fraction of the side */
} agecl_augment;

/* The random choices for a sample under policy (NULL: "paper"), a function of
 * (seed, epoch, index) only. */
agecl_augment agecl_augment_draw(const agecl_augment_policy *policy, uint64_t seed, int epoch,
                                 int index);
/* Apply them to a size x size uint8 RGB image in place; scratch holds size*size*3. */
void agecl_augment_apply(const agecl_augment *aug, uint8_t *rgb, int size,
                         uint8_t *scratch);

/* ---- pre-decoded cache ---- */

typedef struct agecl_image_cache agecl_image_cache;

/* Open the cache of ds at size x size in path, building it (with threads worker
 * threads, 0 = this one) when it is missing, stale or damaged; *built (may be NULL)
 * tells whether it was. Bad images are recorded in it and skipped by loaders. */
agecl_status agecl_image_cache_open(agecl_image_cache **out, const agecl_dataset *ds,
                                    const char *path, int size, int threads, int *built);
void agecl_image_cache_close(agecl_image_cache *cache);

/* ---- batch loader ---- */

typedef struct agecl_loader_options {
    int batch_size;   /* samples a batch (default 64) */
    int image_size;   /* S (default AGECL_IMAGE_SIZE) */
    int shuffle;      /* reorder each epoch (default 0) */
    int augment;      /* training augmentation (default 0) */
    int drop_last;    /* drop a short last batch (default 0) */
    int threads;      /* worker threads; 0 loads on the calling thread (default 2) */
    int prefetch;     /* batches prepared ahead, 1..16 (default 3) */
    uint64_t seed;    /* shuffle and augmentation seed (default 123) */
    const agecl_augment_policy *policy; /* with augment; NULL: "paper" (MODEL.md) */
    const agecl_image_cache *cache; /* optional, of the same data set and size */
    /* Data-parallel training: with shards > 1, each epoch's order (the same on
     * every shard) is cut into global batches of shards x batch_size samples (a
     * short tail dropped), and shard s (0 <= s < shards) loads the s-th
     * batch_size samples of each, so that the shards' batches together are
     * the one loader's of batch shards x batch_size. Default 0 of 1. */
    int shard, shards;
} agecl_loader_options;

typedef struct agecl_batch {
    int count;     /* samples in the batch, 1..batch_size */
    int size;      /* image side S */
    int epoch;     /* the epoch it belongs to */
    int number;    /* its position in the epoch, from 0 */
    float *images; /* count x 3 x S x S, normalised */
    int *ages;     /* count */
    int *genders;  /* count, AGECL_GENDER_* */
    int *indices;  /* count, sample indices in the data set */
    /* The same labels as the model's losses take them (agecl_labels, model.h),
     * made here once: floats holding integers. */
    float *target_age;    /* count, years */
    float *target_gender; /* count, 0, 1 or -1 (unknown) */
    float *target_pos;    /* count, the age's index in the data set's age list, or -1
                             (agecl_dataset_age_position) */
} agecl_batch;

typedef struct agecl_loader agecl_loader;

void agecl_loader_defaults(agecl_loader_options *opt);
/* A loader of the count samples indices[] of ds (a split's part, say), or of all
 * its samples when indices is NULL. The data set and the cache must outlive it. */
agecl_status agecl_loader_create(agecl_loader **out, const agecl_dataset *ds,
                                 const int *indices, int count,
                                 const agecl_loader_options *opt);
/* Begin (or restart) an epoch: its order and augmentation follow (seed, epoch). */
agecl_status agecl_loader_start_epoch(agecl_loader *loader, int epoch);
/* The next batch of the epoch, or *batch = NULL when the epoch is over. A batch stays
 * valid until released; at most two may be held at once. */
agecl_status agecl_loader_next(agecl_loader *loader, agecl_batch **batch);
void agecl_loader_release(agecl_loader *loader, agecl_batch *batch);
/* Bad samples met so far (each counted once), and their messages. */
int agecl_loader_skipped(const agecl_loader *loader);
int agecl_loader_issue_count(const agecl_loader *loader);
const char *agecl_loader_issue(const agecl_loader *loader, int i);
void agecl_loader_free(agecl_loader *loader);

#ifdef __cplusplus
}
#endif
#endif
