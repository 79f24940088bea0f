#!/usr/bin/env python3
"""Train a preset of tools/torch/ir_model.py in PyTorch exactly as `agecl train` does:
the same data set, split, --limit subset, batches, augmentation (read through
libagecl), schedule, losses and reference selection. For comparing the two.

  /usr/bin/python3 tools/torch/train_torch.py --lib build/release/libagecl.so \\
      --data utkface:../shared/data/utkface --preset cpu --epochs 3 --out runs/torch
The recipes and options are those of `agecl train` (--recipe scratch|paper and the
settings it overrides), with the same meaning.
Writes OUT/log.jsonl (epoch, lr, loss, loss_age, val_mae, val_cs5, val_gender_acc, seconds)."""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agecl_data  # noqa: E402
import export_pytorch  # noqa: E402
import ir_model  # noqa: E402

RECIPES = {  # agecl_train_recipe (src/train/trainer.c)
    'paper': dict(lr=1e-3, weight_decay=1e-2, optimizer='adam', decay_on='all', schedule='step',
                  warmup=0.0, lr_drops='10,20', augment='paper', label_sigma=2.0,
                  dist_weight=0.0, flip_eval=False, zoom_eval=False, gender_weight=1.0, ema=0.0),
    'scratch': dict(lr=2e-3, weight_decay=5e-2, optimizer='adamw', decay_on='weights',
                    schedule='cosine', warmup=1.0, lr_drops='', augment='light', label_sigma=2.0,
                    dist_weight=1.0, flip_eval=True, zoom_eval=True, gender_weight=8.0, ema=0.0),
}

PRESETS = {'cpu': ((2, 2, 2), (32, 64, 128), 64), 'cpu-large': ((2, 2, 2), (48, 96, 192), 80), 'tiny': ((1, 1, 1), (8, 12, 16), 16),
           'ir18': ((2, 2, 2), (64, 128, 256), 112), 'ir50': ((3, 4, 14), (64, 128, 256), 112)}


def select_references(feats, errs, pos, n, gen):
    """MODEL.md section 4: per age the minimum-error sample (random among ties);
    an age without samples takes the nearest age's row (the lower on a tie)."""
    R = torch.zeros(n, feats.shape[1])
    have = []
    for k in range(n):
        where = np.nonzero(pos == k)[0]
        if len(where) == 0:
            continue
        e = errs[where]
        ties = where[e == e.min()]
        R[k] = feats[ties[torch.randint(len(ties), (1,), generator=gen).item()]]
        have.append(k)
    for k in range(n):
        if k not in have:
            R[k] = R[min(have, key=lambda j: (abs(j - k), j))]
    return R


def lr_at(a, epoch, step, per_epoch):
    """agecl_train_lr: warm-up, then the steps or the cosine."""
    u, U = (epoch - 1) * per_epoch + step, a.epochs * per_epoch
    W = int(np.floor(a.warmup * per_epoch + 0.5))
    if u < W:
        return a.lr * (u + 1) / W
    if a.schedule == 'cosine':
        return a.lr * 0.5 * (1 + np.cos(np.pi * (u - W) / (U - W))) if U > W else a.lr
    drops = [int(x) for x in a.lr_drops.split(',') if x]
    return a.lr * 0.1 ** sum(epoch > d for d in drops)


def label_dist(logits, age, labels, sigma):
    """KL(q || softmax(logits)), q a Gaussian of sigma around age over the labels."""
    q = torch.softmax(-(labels[None, :] - age[:, None]) ** 2 / (2 * sigma ** 2), dim=1)
    return F.kl_div(torch.log_softmax(logits, dim=1), q, reduction='batchmean')


class WeightAverage:
    """agecl_model_ema_update / _swap: parameters and BatchNorm running statistics
    (not rapl.R), decay min(d, (1 + t) / (10 + t)) after step t, started as a copy."""

    def __init__(self, model):
        self.tensors = [t for name, t in model.state_dict(keep_vars=True).items()
                        if name != 'rapl.R' and t.dtype == torch.float32]
        self.avg = [t.detach().clone() for t in self.tensors]

    @torch.no_grad()
    def update(self, decay, step):
        d = min(decay, (1 + step) / (10 + step))
        for avg, t in zip(self.avg, self.tensors):
            avg.mul_(d).add_(t.detach(), alpha=1 - d)

    @torch.no_grad()
    def swap(self):
        for avg, t in zip(self.avg, self.tensors):
            keep = t.detach().clone()
            t.data.copy_(avg)
            avg.copy_(keep)


def evaluate(model, data, part, size, batch, seed, flip=False, zoom=False):
    model.eval()
    abs_sum = within = g_ok = g_n = n = 0
    z = export_pytorch.zoom_matrix(size)
    with torch.no_grad():
        for images, ages, genders, _ in data.batches(part, 0, batch, size, False, seed):
            # the views agecl averages (src/train/views.c): the image, its mirror, their zooms
            views = [torch.from_numpy(images)]
            if flip:
                views.append(torch.from_numpy(images[:, :, :, ::-1].copy()))
            if zoom:
                views += [torch.matmul(torch.matmul(z, v), z.t()) for v in list(views)]
            outs = [model(v) for v in views]
            out = outs[0]
            if len(outs) > 1:
                out['age'] = sum(o['age'] for o in outs) / len(outs)
                if 'gender_logits' in out:  # the mean probability decides, as agecl's
                    p = sum(F.softmax(o['gender_logits'], 1) for o in outs) / len(outs)
                    out['gender_logits'] = p
            err = (out['age'] - torch.from_numpy(ages).float()).abs()
            abs_sum += err.sum().item()
            within += (err <= 5).sum().item()
            n += len(ages)
            if 'gender_logits' in out:
                g = torch.from_numpy(genders)
                known = g >= 0
                g_ok += (out['gender_logits'].argmax(1)[known] == g[known]).sum().item()
                g_n += known.sum().item()
    return abs_sum / n, 100.0 * within / n, (100.0 * g_ok / g_n if g_n else float('nan'))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--lib', required=True)
    ap.add_argument('--data', required=True)
    ap.add_argument('--preset', default='cpu', choices=sorted(PRESETS))
    ap.add_argument('--epochs', type=int, default=30)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--recipe', default='scratch', choices=sorted(RECIPES))
    ap.add_argument('--lr', type=float)
    ap.add_argument('--weight-decay', type=float)
    ap.add_argument('--optimizer', choices=['adam', 'adamw'])
    ap.add_argument('--decay-on', choices=['all', 'weights'])
    ap.add_argument('--schedule', choices=['step', 'cosine'])
    ap.add_argument('--warmup', type=float)
    ap.add_argument('--lr-drops')
    ap.add_argument('--augment', choices=['paper', 'light', 'none'])
    ap.add_argument('--label-sigma', type=float)
    ap.add_argument('--dist-weight', type=float)
    ap.add_argument('--gender-weight', type=float)
    ap.add_argument('--ema', type=float, help='moving average decay of the weights (0: off)')
    ap.add_argument('--flip-eval', action='store_true', default=None)
    ap.add_argument('--no-flip-eval', dest='flip_eval', action='store_false')
    ap.add_argument('--zoom-eval', action='store_true', default=None)
    ap.add_argument('--no-zoom-eval', dest='zoom_eval', action='store_false')
    ap.add_argument('--seed', type=int, default=123)
    ap.add_argument('--limit', type=int, default=0)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--out', required=True)
    ap.add_argument('--save-init', help='write the initial weights here (safetensors, agecl '
                    'names), for `agecl train --init` to start from the same point')
    a = ap.parse_args()
    for key, value in RECIPES[a.recipe].items():
        if getattr(a, key) is None:
            setattr(a, key, value)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    units, channels, size = PRESETS[a.preset]
    data = agecl_data.Data(a.lib, a.data, a.limit, a.augment)
    model = ir_model.AgeModel(data.ages, units, channels, gender=data.has_gender)
    ir_model.init_weights(model, a.seed)
    if a.save_init:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..',
                                        'fixtures'))
        import st
        st.save(a.save_init, {k: v.numpy() for k, v in model.agecl_state().items()},
                {'format': 'agecl-checkpoint-1', 'source': 'tools/torch/train_torch.py'})
    # Weights (two or more dimensions) and the rest, as agecl's parameter arena.
    weights = [p for name, p in model.named_parameters() if p.dim() >= 2]
    rest = [p for name, p in model.named_parameters() if p.dim() < 2]
    groups = [{'params': weights}, {'params': rest,
                                    'weight_decay': a.weight_decay if a.decay_on == 'all' else 0.0}]
    optim = torch.optim.AdamW if a.optimizer == 'adamw' else torch.optim.Adam
    opt = optim(groups, lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=a.weight_decay)
    labels = torch.tensor(data.ages, dtype=torch.float32)
    per_epoch = len(data.parts[0]) // a.batch
    gen = torch.Generator().manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    log = open(os.path.join(a.out, 'log.jsonl'), 'w')
    best, refs, step_count = float('inf'), False, 0
    average = None
    for epoch in range(1, a.epochs + 1):
        lr = lr_at(a, epoch, 0, per_epoch)
        model.train()
        use_pos = epoch > 1 and refs
        t0, sums, steps = time.time(), np.zeros(2), 0
        feats, errs, poss = [], [], []
        for images, ages, genders, _ in data.batches(0, epoch, a.batch, size, True, a.seed):
            pos = torch.tensor([data.position(int(x)) for x in ages])
            age_t = torch.from_numpy(ages).float()
            out = model(torch.from_numpy(images))
            total, parts = ir_model.losses(out, age_t, torch.from_numpy(genders).long(), pos,
                                           use_pos)
            if 'gender' in parts and a.gender_weight != 1:
                total = total + (a.gender_weight - 1) * parts['gender']
            if a.dist_weight > 0:
                total = total + a.dist_weight * label_dist(out['age_logits'], age_t, labels,
                                                           a.label_sigma)
            for group in opt.param_groups:
                group['lr'] = lr_at(a, epoch, steps, per_epoch)
            opt.zero_grad()
            total.backward()
            opt.step()
            step_count += 1
            if a.ema > 0:
                if average is None:
                    average = WeightAverage(model)
                else:
                    average.update(a.ema, step_count)
            feats.append(out['feat'].detach())
            errs.append((out['age'].detach() - age_t).abs().numpy())
            poss.append(pos.numpy())
            sums += [total.item(), parts['age'].item()]
            steps += 1
        secs = time.time() - t0
        if average:
            average.swap()
        mae, cs5, gacc = evaluate(model, data, 1, size, a.batch, a.seed, a.flip_eval,
                                  a.zoom_eval)
        if average:
            average.swap()
        if mae < best:
            best = mae
            if model.rapl is not None:
                model.rapl.R.copy_(select_references(torch.cat(feats), np.concatenate(errs),
                                                     np.concatenate(poss), len(data.ages), gen))
                refs = True
        rec = {'epoch': epoch, 'lr': lr, 'loss': sums[0] / steps, 'loss_age': sums[1] / steps,
               'val_mae': mae, 'val_cs5': cs5, 'val_gender_acc': gacc,
               'images_per_s': steps * a.batch / secs, 'seconds': secs}
        print(json.dumps(rec), flush=True)
        log.write(json.dumps(rec) + '\n')
        log.flush()


if __name__ == '__main__':
    main()
