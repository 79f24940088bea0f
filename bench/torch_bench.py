#!/usr/bin/env python3
"""Time the age model in PyTorch as agecl-bench times it, for comparison.

The network is tools/torch/ir_model.py (the same as agecl's, parameter for
parameter) at an agecl preset, with 100 age labels (1..100), the gender head and
the position head with references set, on random images and labels:
  step   forward in training mode, the three losses, backward, Adam (L2 weight
         decay 1e-2, lr 1e-3), gradients set to None each step
  infer  forward in eval mode under torch.inference_mode()
On CUDA the images start on the host and are copied in each time, as agecl's
API takes host images; TF32 is off (full float32, as agecl) and cuDNN picks its
algorithms by benchmark during the warm-up. Each figure: --warmup runs, then the
median of --runs, timed with a monotonic clock (after torch.cuda.synchronize()).

  /usr/bin/python3 bench/torch_bench.py --preset cpu --batch 16 --runs 3 --json

Output: a table, or with --json one JSON object per line in agecl-bench's
schema (impl "pytorch", device "pytorch-cpu-nchw", "pytorch-cpu-channels_last",
"pytorch-cuda" or "pytorch-cuda-channels_last", with "-frozen" for inference through
torch.jit.freeze and optimize_for_inference). Progress goes to stderr."""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools',
                                'torch'))
import ir_model  # noqa: E402

# units per stage, channels per stage, input side: agecl's presets (src/model/config.c).
PRESETS = {'ir50': ((3, 4, 14), (64, 128, 256), 112), 'ir34': ((3, 4, 6), (64, 128, 256), 112),
           'ir18': ((2, 2, 2), (64, 128, 256), 112), 'cpu': ((2, 2, 2), (32, 64, 128), 64),
           'tiny': ((1, 1, 1), (8, 12, 16), 16)}
AGES = list(range(1, 101))
SEED = 123
SECTIONS = ('step', 'infer')


def forward_macs(units, channels, size):
    """Multiply-adds of one image's forward pass, as agecl_model_config_macs."""
    hw, cin = size, channels[0]
    macs = hw * hw * 3 * 9 * cin
    for n, d in zip(units, channels):
        for u in range(n):
            out = (hw - 1) // 2 + 1 if u == 0 else hw
            macs += hw * hw * 9 * cin * d + out * out * 9 * d * d
            if cin != d:
                macs += out * out * cin * d
            hw, cin = out, d
    return macs


def progress(msg):
    print(f'torch_bench: {msg}', file=sys.stderr, flush=True)


class Bench:
    """One model in one memory layout on one device, with its inputs."""

    def __init__(self, a, device, layout):
        units, channels, self.size = PRESETS[a.preset]
        self.device, self.layout = device, layout
        self.fmt = torch.channels_last if layout == 'channels_last' else torch.contiguous_format
        g = torch.Generator().manual_seed(SEED)
        model = ir_model.AgeModel(AGES, units, channels, gender=True, rapl=True)
        ir_model.init_weights(model, SEED)
        with torch.no_grad():  # references, as from the second epoch on
            model.rapl.R.copy_(torch.rand(model.rapl.R.shape, generator=g))
        self.model = model.to(device=device, memory_format=self.fmt)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3, betas=(0.9, 0.999),
                                    eps=1e-8, weight_decay=1e-2)
        B = a.batch
        self.images = torch.rand(B, 3, self.size, self.size, generator=g) * 4 - 2
        pos = torch.randint(len(AGES), (B,), generator=g)
        self.pos = pos.to(device)
        self.age = torch.tensor(AGES, dtype=torch.float32)[pos].to(device)
        self.gender = torch.randint(2, (B,), generator=g).to(device)
        self.macs = forward_macs(units, channels, self.size)

    def inputs(self):
        return self.images.to(self.device).contiguous(memory_format=self.fmt)

    def step(self):
        self.model.train()
        out = self.model(self.inputs())
        total, _ = ir_model.losses(out, self.age, self.gender, self.pos, True)
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        self.opt.step()

    def infer(self):
        self.model.eval()
        with torch.inference_mode():
            self.model(self.inputs())

    def freeze(self):
        """Inference through the model traced, frozen and optimised for inference
        (torch.jit), as PyTorch deploys a model at its best; the timed function."""
        self.model.eval()
        with torch.no_grad():
            traced = torch.jit.trace(self.model, self.inputs(), strict=False)
            frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced))

        def run():
            with torch.no_grad():
                frozen(self.inputs())
        return run

    def sync(self):
        if self.device == 'cuda':
            torch.cuda.synchronize()

    def time(self, fn, warmup, runs):
        for _ in range(warmup):
            fn()
        self.sync()
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            self.sync()
            times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times)


def device_name(device, layout):
    if device == 'cuda':
        return 'pytorch-cuda' + ('-channels_last' if layout == 'channels_last' else '')
    return f'pytorch-cpu-{layout}'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--preset', default='ir50', choices=sorted(PRESETS))
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--runs', type=int, default=5)
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--threads', type=int, default=0, help='CPU threads (0: os.cpu_count())')
    ap.add_argument('--device', default='auto', choices=('auto', 'cpu', 'cuda'),
                    help='auto: cuda when available, else cpu')
    ap.add_argument('--layout', default='both', choices=('nchw', 'channels_last', 'both'))
    ap.add_argument('--frozen', default='both', choices=('no', 'yes', 'both'),
                    help='inference also (yes: only) through torch.jit.freeze and '
                         'optimize_for_inference (device name ends in -frozen)')
    ap.add_argument('--only', action='append', default=[],
                    help='step, infer (comma list or repeated; default both)')
    ap.add_argument('--json', action='store_true', help='JSON lines instead of a table')
    a = ap.parse_args()
    only = [s for arg in a.only for s in arg.split(',') if s] or list(SECTIONS)
    if any(s not in SECTIONS for s in only) or a.batch < 1 or a.runs < 1 or a.warmup < 0:
        ap.error('bad --only, --batch, --runs or --warmup')
    device = a.device
    if device == 'auto':
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if device == 'cuda' and not torch.cuda.is_available():
        ap.error('--device cuda: this PyTorch sees no CUDA device')
    threads = a.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(SEED)
    layouts = ['nchw', 'channels_last'] if a.layout == 'both' else [a.layout]
    if not a.json:
        print(f'{"device":<28} {"name":<11} {"batch":>5} {"ms":>10} {"GFLOP/s":>9} '
              f'{"img/s":>9}')
    for layout in layouts:
        b = Bench(a, device, layout)
        runs = []  # (device name, section, function, label, flop factor)
        for section in only:
            if section == 'step':
                runs.append((device_name(device, layout), section, b.step, 'train_step', 3))
                continue
            if a.frozen != 'yes':
                runs.append((device_name(device, layout), section, b.infer, 'inference', 1))
            if a.frozen != 'no':
                try:
                    runs.append((device_name(device, layout) + '-frozen', section, b.freeze(),
                                 'inference', 1))
                except Exception as e:  # a PyTorch without a working tracer for it
                    progress(f'frozen inference skipped: {e}')
        for name, section, fn, label, factor in runs:
            progress(f'{name}: {section}, {a.preset}, batch {a.batch}')
            ms = b.time(fn, a.warmup, a.runs)
            rec = {'impl': 'pytorch', 'device': name, 'preset': a.preset, 'section': section,
                   'name': label, 'shape': f'{a.preset} 3x{b.size}x{b.size}', 'batch': a.batch,
                   'runs': a.runs, 'ms': ms,
                   'gflops': factor * 2 * b.macs * a.batch / (ms * 1e6),
                   'images_per_s': a.batch / (ms * 1e-3), 'threads': threads,
                   'torch': torch.__version__}
            if a.json:
                print(json.dumps(rec), flush=True)
            else:
                print(f'{name:<28} {label:<11} {a.batch:>5} {ms:>10.3f} {rec["gflops"]:>9.1f} '
                      f'{rec["images_per_s"]:>9.1f}', flush=True)
        del b
        if device == 'cuda':
            torch.cuda.empty_cache()


if __name__ == '__main__':
    main()
