#!/usr/bin/env python3
"""Train a preset of tools/torch/ir_model.py in PyTorch exactly as `agecl train` does:
the same data set, split, --limit subset, batches, augmentation (read through
libagecl), schedule, losses and reference selection. For comparing the two.

  /usr/bin/python3 tools/torch/train_torch.py --lib build/release/libagecl.so \\
      --data utkface:../shared/data/utkface --preset cpu --epochs 3 --out runs/torch
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
import ir_model  # noqa: E402

PRESETS = {'cpu': ((2, 2, 2), (32, 64, 128), 64), 'tiny': ((1, 1, 1), (8, 12, 16), 16),
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


def evaluate(model, data, part, size, batch, seed):
    model.eval()
    abs_sum = within = g_ok = g_n = n = 0
    with torch.no_grad():
        for images, ages, genders, _ in data.batches(part, 0, batch, size, False, seed):
            out = model(torch.from_numpy(images))
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
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--weight-decay', type=float, default=1e-2)
    ap.add_argument('--lr-drops', default='10,20')
    ap.add_argument('--seed', type=int, default=123)
    ap.add_argument('--limit', type=int, default=0)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--out', required=True)
    ap.add_argument('--save-init', help='write the initial weights here (safetensors, agecl '
                    'names), for `agecl train --init` to start from the same point')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    drops = [int(x) for x in a.lr_drops.split(',') if x]
    units, channels, size = PRESETS[a.preset]
    data = agecl_data.Data(a.lib, a.data, a.limit)
    model = ir_model.AgeModel(data.ages, units, channels, gender=data.has_gender)
    ir_model.init_weights(model, a.seed)
    if a.save_init:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..',
                                        'fixtures'))
        import st
        st.save(a.save_init, {k: v.numpy() for k, v in model.agecl_state().items()},
                {'format': 'agecl-checkpoint-1', 'source': 'tools/torch/train_torch.py'})
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8,
                           weight_decay=a.weight_decay)
    gen = torch.Generator().manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    log = open(os.path.join(a.out, 'log.jsonl'), 'w')
    best, refs = float('inf'), False
    for epoch in range(1, a.epochs + 1):
        lr = a.lr * 0.1 ** sum(epoch > d for d in drops)
        for group in opt.param_groups:
            group['lr'] = lr
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
            opt.zero_grad()
            total.backward()
            opt.step()
            feats.append(out['feat'].detach())
            errs.append((out['age'].detach() - age_t).abs().numpy())
            poss.append(pos.numpy())
            sums += [total.item(), parts['age'].item()]
            steps += 1
        secs = time.time() - t0
        mae, cs5, gacc = evaluate(model, data, 1, size, a.batch, a.seed)
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
