/* agecl train */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agecl.h"
#include "commands.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: agecl train --data KIND:PATH --out DIR [options]\n\n"
        "Train the age model of MODEL.md with the paper's schedule: Adam (L2 weight decay),\n"
        "the learning rate x0.1 after epochs 10 and 20, the relative age position loss from\n"
        "epoch 2, validation every epoch, the best model kept, the test split run at the end.\n"
        "The data set is split 60/20/20 by a hash of each file name.\n\n"
        "  --data KIND:PATH   utkface:DIR, aaf:DIR or csv:FILE (required)\n"
        "  --out DIR          checkpoints, log.jsonl and curves.svg go here (required)\n"
        "  --preset NAME      ir50 (default), ir34, ir18, cpu, tiny\n"
        "  --epochs N         30\n"
        "  --batch N          64\n"
        "  --lr X             1e-3 (from random weights; the paper fine-tunes at 1e-5)\n"
        "  --weight-decay X   1e-2\n"
        "  --lr-drops A,B     epochs after which the rate is divided by 10 (10,20)\n"
        "  --seed N           123\n"
        "  --device SEL       index, name or gpu/cpu/any (default: AGECL_DEVICE or the first)\n"
        "  --workers N        image loading threads (2)\n"
        "  --cache FILE       keep decoded images in FILE (built on first use)\n"
        "  --init FILE        start from the weights of FILE (a checkpoint of the same shapes)\n"
        "  --resume           continue from DIR/last.safetensors\n"
        "  --no-gender        no gender head (default: on when the data set has genders)\n"
        "  --no-rapl          no relative age position branch\n"
        "  --limit N          use at most N samples of each split (quick runs)\n"
        "  --max-steps N      at most N steps an epoch (quick runs)\n"
        "  --strict           any bad image is an error (default: skipped and counted)\n"
        "  --quiet            no progress lines\n");
}

static int parse_int(const char *opt, const char *s, int lo, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end || v < lo || v > 1000000000) {
        fprintf(stderr, "agecl train: %s takes a whole number >= %d, not '%s'\n", opt, lo, s);
        return 0;
    }
    *out = (int)v;
    return 1;
}

static int parse_double(const char *opt, const char *s, double *out)
{
    char *end;
    *out = strtod(s, &end);
    if (*s == '\0' || *end || !(*out >= 0)) {
        fprintf(stderr, "agecl train: %s takes a number >= 0, not '%s'\n", opt, s);
        return 0;
    }
    return 1;
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

int cmd_train(int argc, char **argv)
{
    agecl_train_options o;
    agecl_train_defaults(&o);
    o.progress = stderr;
    int seed = 123;
    enum { O_LR = 256, O_WD, O_DROPS, O_NOGENDER, O_NORAPL, O_LIMIT, O_MAXSTEPS, O_STRICT, O_QUIET,
           O_INIT };
    static const struct option longs[] = {
        {"data", required_argument, 0, 'd'}, {"out", required_argument, 0, 'o'},
        {"preset", required_argument, 0, 'p'}, {"epochs", required_argument, 0, 'e'},
        {"batch", required_argument, 0, 'b'}, {"lr", required_argument, 0, O_LR},
        {"weight-decay", required_argument, 0, O_WD}, {"lr-drops", required_argument, 0, O_DROPS},
        {"seed", required_argument, 0, 's'}, {"device", required_argument, 0, 'D'},
        {"workers", required_argument, 0, 'w'}, {"cache", required_argument, 0, 'c'},
        {"resume", no_argument, 0, 'r'}, {"no-gender", no_argument, 0, O_NOGENDER},
        {"no-rapl", no_argument, 0, O_NORAPL}, {"limit", required_argument, 0, O_LIMIT},
        {"max-steps", required_argument, 0, O_MAXSTEPS}, {"strict", no_argument, 0, O_STRICT},
        {"quiet", no_argument, 0, O_QUIET}, {"init", required_argument, 0, O_INIT}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    int c;
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
        case O_MAXSTEPS: ok = parse_int("--max-steps", optarg, 1, &o.max_steps); break;
        case O_STRICT: o.strict = 1; break;
        case O_QUIET: o.progress = NULL; break;
        case O_INIT: o.init = optarg; break;
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
    agecl_train_result r;
    agecl_status s = agecl_train(&o, &r);
    if (s != AGECL_OK) {
        if (o.progress) fputc('\n', stderr);
        return cli_fail("train", s);
    }
    printf("epochs %d, best epoch %d, best validation MAE %.3f\n", r.epochs_done, r.best_epoch,
           r.best_val_mae);
    if (r.test.n) {
        printf("test split, best model:\n");
        agecl_eval_print_table(&r.test, stdout);
    }
    return 0;
}
