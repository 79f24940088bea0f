/* agecl train */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agecl.h"
#include "comm.h"
#include "commands.h"
#include "error.h" /* agecl__fail: the detail of a device list too short */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: agecl train --data KIND:PATH --out DIR [options]\n\n"
        "Train the age model of MODEL.md: validation every epoch, the best model kept,\n"
        "the test split run at the end. The data set is split 60/20/20 by a hash of each\n"
        "file name. A recipe sets the optimiser, schedule, augmentation and losses; any\n"
        "option after it overrides one setting (all are recorded in the checkpoints).\n"
        "Under mpirun (a build with -Dmpi=enabled) each process trains on its own device\n"
        "and its share of every batch; rank 0 writes the output folder and prints the\n"
        "progress; a failure on any rank ends them all.\n\n"
        "  --data KIND:PATH   utkface:DIR, aaf:DIR or csv:FILE (required)\n"
        "  --out DIR          checkpoints, log.jsonl and curves.svg go here (required)\n"
        "  --recipe NAME      scratch (default without --init): AdamW 2e-3, decay 5e-2 on\n"
        "                     weights only, 1 warm-up epoch then cosine, light augmentation,\n"
        "                     label distribution sigma 2, gender weight 8, flip and zoom\n"
        "                     averaging at evaluation;\n"
        "                     paper (default with --init): MODEL.md sections 5 and 6, Adam\n"
        "                     with L2 1e-2 on every parameter, x0.1 after epochs 10 and 20,\n"
        "                     lr 1e-3 from scratch, the paper's 1e-5 with --init\n"
        "  --preset NAME      ir50 (default; with --init, the file's backbone), ir34, ir18,\n"
        "                     ir100, ir152, cpu, cpu-large, tiny\n"
        "  --epochs N         30\n"
        "  --batch N          64; under mpirun, per process (a step takes N x ranks)\n"
        "  --sync-bn          under mpirun, BatchNorm's statistics over every rank's batch,\n"
        "                     as one process with the whole batch has them (default: each\n"
        "                     rank's own)\n"
        "  --bucket-mb X      under mpirun, sum the gradients in buckets of X MB while the\n"
        "                     backward goes on; 0: after it (default: 25 on GPUs, 0 on CPUs)\n"
        "  --lr X             base learning rate (the paper fine-tunes at 1e-5)\n"
        "  --optimizer NAME   adam (L2 decay added to the gradient) or adamw (decoupled)\n"
        "  --weight-decay X   decay strength\n"
        "  --decay-on WHICH   all (every parameter) or weights (not BatchNorm, PReLU, biases)\n"
        "  --schedule NAME    step (x0.1 after --lr-drops) or cosine (to 0 at the end)\n"
        "  --warmup N         epochs of linear warm-up (may be fractional)\n"
        "  --lr-drops A,B     epochs after which the step schedule divides the rate by 10\n"
        "  --augment NAME     paper, light or none (see agecl/data.h)\n"
        "  --label-sigma X    the label distribution's sigma in years\n"
        "  --dist-weight X    weight of the label distribution (KL) term; 0: off\n"
        "  --age-weight X     weight of the age (L1) loss (1); 0 with --dist-weight 0 and\n"
        "                     --no-rapl trains the gender head alone\n"
        "  --gender-weight X  weight of the gender loss (scratch 8, paper 1)\n"
        "  --pos-weight X     weight of the relative age position loss (1)\n"
        "  --flip-eval, --no-flip-eval  average each image and its mirror when evaluating\n"
        "  --zoom-eval, --no-zoom-eval  ... and its centre 0.9 zoomed back (and that zoom's\n"
        "                     mirror)\n"
        "  --ema X            keep a moving average of the weights with decay X (0.999),\n"
        "                     validate it and keep it as the best model; 0: off\n"
        "  --seed N           123\n"
        "  --device SEL       index, name or gpu/cpu/any (default: AGECL_DEVICE or the first);\n"
        "                     under mpirun a type (or no SEL: the first device's type) gives\n"
        "                     the k-th rank of a host the k-th device of that type, a list\n"
        "                     A,B,... gives it entry k\n"
        "  --workers N        image loading threads (2)\n"
        "  --cache FILE       keep decoded images in FILE (built on first use)\n"
        "  --init FILE        start from the weights of FILE: an agecl checkpoint or a backbone\n"
        "                     imported from PyTorch (tools/torch/import_pytorch.py); heads\n"
        "                     for other ages, or absent, start afresh\n"
        "  --resume           continue from DIR/last.safetensors\n"
        "  --no-gender        no gender head (default: on when the data set has genders)\n"
        "  --no-rapl          no relative age position branch\n"
        "  --limit N          use at most N samples of each split (quick runs)\n"
        "  --train-limit N    use at most N samples of the training split, an even stride\n"
        "                     through it (a learning curve, judged on the whole validation)\n"
        "  --train-on PARTS   train (default) or train+val: the final fit of a recipe chosen\n"
        "                     on validation; no validation, the last epoch's model is kept\n"
        "                     as best.safetensors (the test split stays untouched)\n"
        "  --max-steps N      at most N steps an epoch (quick runs)\n"
        "  --strict           any bad image is an error (default: skipped and counted)\n"
        "  --no-test          do not run the test split at the end (for recipe studies)\n"
        "  --stop-after N     return after N epochs, as if killed (to test --resume)\n"
        "  --quiet            no progress lines\n");
}

static int parse_int(const char *opt, const char *s, int lo, int *out)
{
    return cli_int("train", opt, s, lo, 1000000000, out);
}

/* A number >= 0 (and finite). */
static int parse_double(const char *opt, const char *s, double *out)
{
    return cli_number("train", opt, s, 0, 1e30, out);
}

/* One of two names: *out = 0 for the first, 1 for the second. */
static int pick(const char *opt, const char *s, const char *first, const char *second, int *out)
{
    if (!strcmp(s, first) || !strcmp(s, second)) {
        *out = !strcmp(s, second);
        return 1;
    }
    fprintf(stderr, "agecl train: %s is %s or %s, not '%s'\n", opt, first, second, s);
    return 0;
}

static int parse_drops(const char *s, agecl_train_options *o)
{
    o->n_lr_drops = 0;
    while (*s && o->n_lr_drops < 4) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1) break;
        o->lr_drops[o->n_lr_drops++] = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (!*end) return 1;
    }
    fprintf(stderr, "agecl train: --lr-drops takes up to 4 epochs such as 10,20\n");
    return 0;
}

/* This process's device selector. Under mpirun the processes of a host take
 * one device each, by their local rank k among that host's n:
 *   a list "A,B,..."  entry k (each entry a selector), so the list needs n
 *   any other         the k-th device it matches (agecl_device_select_nth; no
 *                     selector: the first device's type); fewer devices than
 *                     processes are shared round-robin, which `note` (rank 0's
 *                     progress) says
 * A process alone keeps the selector, the first entry of a list. *out is sel,
 * or buf (len bytes) holding the chosen entry or device index. */
static agecl_status rank_device(const char *sel, FILE *note, char *buf, size_t len,
                                const char **out)
{
    int k = cli_comm_local_rank(), n = cli_comm_local_size();
    *out = sel;
    if (sel && strchr(sel, ',')) {
        int entries = 1;
        for (const char *p = sel; (p = strchr(p, ',')); p++) entries++;
        if (entries < n)
            return agecl__fail(AGECL_E_INVALID_ARG,
                               "--device %s lists %d devices for the %d processes on this host",
                               sel, entries, n);
        const char *entry = sel;
        for (int i = 0; i < k; i++) entry = strchr(entry, ',') + 1;
        snprintf(buf, len, "%.*s", (int)strcspn(entry, ","), entry);
        *out = buf;
        return AGECL_OK;
    }
    if (n == 1) return AGECL_OK;
    if (!sel || !*sel) {
        agecl_device_info first;
        AGECL_TRY(agecl_device_query(0, &first));
        sel = first.type & (CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_CPU | CL_DEVICE_TYPE_ACCELERATOR)
                  ? agecl_device_type_name(first.type)
                  : "any";
    }
    int index, matches;
    AGECL_TRY(agecl_device_select_nth(sel, k, &index, &matches));
    if (matches < n && note)
        fprintf(note, "agecl train: the %d processes on this host share %d device%s (%s)\n", n,
                matches, matches > 1 ? "s" : "", sel);
    snprintf(buf, len, "%d", index);
    *out = buf;
    return AGECL_OK;
}

/* A failure, said by the process it happened in. Under mpirun every process
 * then ends: the others would wait for this one in a collective for ever. The
 * line is one write, so that another rank's abort cannot cut it. */
static int fail(const agecl_comm *comm, FILE *progress, agecl_status s)
{
    if (progress) fputc('\n', progress);
    if (!comm) return cli_fail("train", s);
    const char *detail = agecl_last_error();
    fprintf(stderr, "agecl train (rank %d of %d): %s%s%s\n", comm->rank, comm->size,
            agecl_strerror(s), *detail ? ": " : "", detail);
    cli_comm_abort(1);
    return 1;
}

int cmd_train(int argc, char **argv)
{
    agecl_train_options o;
    agecl_train_defaults(&o);
    o.progress = stderr;
    int seed = 123;
    enum { O_LR = 256, O_WD, O_DROPS, O_NOGENDER, O_NORAPL, O_LIMIT, O_MAXSTEPS, O_STRICT, O_QUIET,
           O_INIT, O_RECIPE, O_OPTIM, O_DECAYON, O_SCHED, O_WARMUP, O_AUG, O_SIGMA, O_DISTW,
           O_GENDERW, O_POSW, O_FLIP, O_NOFLIP, O_AGEW, O_NOTEST, O_EMA, O_SYNCBN, O_STOPAFTER,
           O_BUCKET, O_TRAINLIMIT, O_TRAINON, O_ZOOM, O_NOZOOM };
    static const struct option longs[] = {
        {"data", required_argument, 0, 'd'}, {"out", required_argument, 0, 'o'},
        {"preset", required_argument, 0, 'p'}, {"epochs", required_argument, 0, 'e'},
        {"batch", required_argument, 0, 'b'}, {"lr", required_argument, 0, O_LR},
        {"weight-decay", required_argument, 0, O_WD}, {"lr-drops", required_argument, 0, O_DROPS},
        {"seed", required_argument, 0, 's'}, {"device", required_argument, 0, 'D'},
        {"workers", required_argument, 0, 'w'}, {"cache", required_argument, 0, 'c'},
        {"resume", no_argument, 0, 'r'}, {"no-gender", no_argument, 0, O_NOGENDER},
        {"no-rapl", no_argument, 0, O_NORAPL}, {"limit", required_argument, 0, O_LIMIT},
        {"train-limit", required_argument, 0, O_TRAINLIMIT},
        {"train-on", required_argument, 0, O_TRAINON},
        {"max-steps", required_argument, 0, O_MAXSTEPS}, {"strict", no_argument, 0, O_STRICT},
        {"quiet", no_argument, 0, O_QUIET}, {"init", required_argument, 0, O_INIT},
        {"recipe", required_argument, 0, O_RECIPE}, {"optimizer", required_argument, 0, O_OPTIM},
        {"decay-on", required_argument, 0, O_DECAYON}, {"schedule", required_argument, 0, O_SCHED},
        {"warmup", required_argument, 0, O_WARMUP}, {"augment", required_argument, 0, O_AUG},
        {"label-sigma", required_argument, 0, O_SIGMA}, {"dist-weight", required_argument, 0, O_DISTW},
        {"gender-weight", required_argument, 0, O_GENDERW},
        {"age-weight", required_argument, 0, O_AGEW}, {"no-test", no_argument, 0, O_NOTEST},
        {"pos-weight", required_argument, 0, O_POSW}, {"flip-eval", no_argument, 0, O_FLIP},
        {"no-flip-eval", no_argument, 0, O_NOFLIP}, {"zoom-eval", no_argument, 0, O_ZOOM},
        {"no-zoom-eval", no_argument, 0, O_NOZOOM}, {"ema", required_argument, 0, O_EMA},
        {"sync-bn", no_argument, 0, O_SYNCBN}, {"stop-after", required_argument, 0, O_STOPAFTER},
        {"bucket-mb", required_argument, 0, O_BUCKET},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    /* First pass: the recipe (by default from --init), whose settings the other
     * options then override wherever they stand. */
    const char *recipe = NULL;
    int has_init = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        if (c == O_RECIPE) recipe = optarg;
        if (c == O_INIT) has_init = 1;
    }
    opterr = 1;
    agecl_status rs = agecl_train_recipe(recipe ? recipe : has_init ? "paper" : "scratch", &o);
    if (rs != AGECL_OK) {
        fprintf(stderr, "agecl train: %s\n", agecl_last_error());
        return 2;
    }
    if (has_init && !strcmp(o.recipe, "paper")) o.lr = 1e-5; /* the paper fine-tunes at 1e-5 */
    double w;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        int ok = 1;
        switch (c) {
        case 'd': o.data = optarg; break;
        case 'o': o.out_dir = optarg; break;
        case 'p': o.preset = optarg; break;
        case 'e': ok = parse_int("--epochs", optarg, 1, &o.epochs); break;
        case 'b': ok = parse_int("--batch", optarg, 2, &o.batch); break;
        case O_LR: ok = parse_double("--lr", optarg, &o.lr); break;
        case O_WD: ok = parse_double("--weight-decay", optarg, &o.weight_decay); break;
        case O_DROPS: ok = parse_drops(optarg, &o); break;
        case 's': ok = parse_int("--seed", optarg, 0, &seed); break;
        case 'D': o.device = optarg; break;
        case 'w': ok = parse_int("--workers", optarg, 0, &o.threads); break;
        case 'c': o.cache = optarg; break;
        case 'r': o.resume = 1; break;
        case O_NOGENDER: o.gender = 0; break;
        case O_NORAPL: o.rapl = 0; break;
        case O_LIMIT: ok = parse_int("--limit", optarg, 1, &o.limit); break;
        case O_TRAINLIMIT: ok = parse_int("--train-limit", optarg, 1, &o.train_limit); break;
        case O_TRAINON: ok = pick("--train-on", optarg, "train", "train+val", &o.train_on_val); break;
        case O_MAXSTEPS: ok = parse_int("--max-steps", optarg, 1, &o.max_steps); break;
        case O_STRICT: o.strict = 1; break;
        case O_NOTEST: o.skip_test = 1; break;
        case O_SYNCBN: o.sync_bn = 1; break;
        case O_BUCKET: ok = parse_double("--bucket-mb", optarg, &o.bucket_mb); break;
        case O_STOPAFTER: ok = parse_int("--stop-after", optarg, 1, &o.stop_after); break;
        case O_QUIET: o.progress = NULL; break;
        case O_INIT: o.init = optarg; break;
        case O_RECIPE: break;
        case O_OPTIM: ok = pick("--optimizer", optarg, "adam", "adamw", &o.decoupled); break;
        case O_DECAYON:
            ok = pick("--decay-on", optarg, "weights", "all", &o.decay_all);
            break;
        case O_SCHED: ok = pick("--schedule", optarg, "step", "cosine", &o.schedule); break;
        case O_WARMUP: ok = parse_double("--warmup", optarg, &o.warmup); break;
        case O_AUG: o.augment = optarg; break;
        case O_SIGMA:
            ok = cli_number("train", "--label-sigma", optarg, 1e-3, 1e3, &w);
            o.loss.dist_sigma = (float)w;
            break;
        case O_DISTW: ok = parse_double("--dist-weight", optarg, &w), o.loss.dist_weight = (float)w; break;
        case O_GENDERW:
            ok = parse_double("--gender-weight", optarg, &w), o.loss.gender_weight = (float)w;
            break;
        case O_AGEW: ok = parse_double("--age-weight", optarg, &w), o.loss.age_weight = (float)w; break;
        case O_POSW: ok = parse_double("--pos-weight", optarg, &w), o.loss.pos_weight = (float)w; break;
        case O_FLIP: o.tta_flip = 1; break;
        case O_NOFLIP: o.tta_flip = 0; break;
        case O_ZOOM: o.tta_zoom = 1; break;
        case O_NOZOOM: o.tta_zoom = 0; break;
        case O_EMA:
            ok = cli_number("train", "--ema (a decay, 0: off)", optarg, 0, 0.999999, &o.ema);
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (!ok) return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "agecl train: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!o.data || !o.out_dir) {
        fprintf(stderr, "agecl train: --data and --out are required (see --help)\n");
        return 2;
    }
    o.seed = (uint64_t)seed;
    if (!cli_comm_init(&argc, &argv)) return 1;
    o.comm = cli_comm();
    int rank = o.comm ? o.comm->rank : 0;
    if (rank) o.progress = NULL;
    char device[256];
    agecl_status s = rank_device(o.device ? o.device : getenv("AGECL_DEVICE"), o.progress, device,
                                 sizeof device, &o.device);
    agecl_train_result r;
    if (s == AGECL_OK) s = agecl_train(&o, &r);
    if (s != AGECL_OK) return fail(o.comm, o.progress, s);
    cli_comm_finalize();
    if (rank) return 0;
    if (o.train_on_val)
        printf("epochs %d, trained on train+val: the last epoch's model kept\n", r.epochs_done);
    else
        printf("epochs %d, best epoch %d, best validation MAE %.3f\n", r.epochs_done,
               r.best_epoch, r.best_val_mae);
    if (r.test.n) {
        printf("test split, %s model:\n", o.train_on_val ? "the last" : "best");
        agecl_eval_print_table(&r.test, stdout);
    }
    return 0;
}
