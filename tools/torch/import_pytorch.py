#!/usr/bin/python3
"""Import a PyTorch IR network (face.evoLVe / POSTER++ layout) as an agecl backbone.

    /usr/bin/python3 tools/torch/import_pytorch.py backbone_ir50_ms1m.pth ir50.safetensors
    build/release/tools/agecl train --data utkface:DIR --out runs/ft --init ir50.safetensors

The source is a checkpoint that torch.load reads: a plain state_dict, or a dict
holding one under 'state_dict' or 'model'. Its IR network is found by the key
ending in 'input_layer.0.weight' (whatever comes before it, such as 'module.' of
DataParallel or 'backbone.', is the network's prefix; --prefix picks one when
there are several). Units are 'body.N.*' (numbered over the whole network) or
'bodyS.N.*' (numbered within stage S):

    input_layer.0 conv3x3, .1 BN, .2 PReLU                         -> stem.conv, stem.bn, stem.prelu
    body.N.res_layer.0 BN, .1 conv3x3, .2 PReLU, .3 conv3x3, .4 BN -> stageS.U.bn1, conv1, prelu, conv2, bn2
    body.N.shortcut_layer.0 conv1x1, .1 BN (where channels change) -> stageS.U.shortcut.conv, .bn

Stages are told apart by their channels (each stage after the first widens).
agecl's model keeps the first three stages (MODEL.md section 2): a fourth stage
and every key outside the IR network (output_layer.*, other heads) are listed
and dropped. A missing tensor or a wrong shape is an error that names it.

The output is an agecl checkpoint of the backbone alone (metadata "heads":
"none"): `agecl train --init` starts from it and initialises the heads as it
always does (they depend on the data set's ages). Needs Debian's python3-torch
(to read the checkpoint) and python3-numpy."""
import argparse
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures'))

# agecl's presets (src/model/config.c): units, channels, input size.
PRESETS = {
    'ir50': ((3, 4, 14), (64, 128, 256), 112),
    'ir34': ((3, 4, 6), (64, 128, 256), 112),
    'ir18': ((2, 2, 2), (64, 128, 256), 112),
    'ir100': ((3, 13, 30), (64, 128, 256), 112),
    'ir152': ((3, 8, 36), (64, 128, 256), 112),
    'cpu': ((2, 2, 2), (32, 64, 128), 64),
    'cpu-large': ((2, 2, 2), (48, 96, 192), 80),
    'tiny': ((1, 1, 1), (8, 12, 16), 16),
}
BN = ('weight', 'bias', 'running_mean', 'running_var')
STAGES = 3  # agecl's model: IR-50 truncated after stage 3


class ImportError_(Exception):
    """A source that cannot be imported; the message names the file and the key."""


def state_dict_of(obj, path):
    """The state_dict inside what torch.load returned."""
    if isinstance(obj, dict):
        for key in ('state_dict', 'model'):
            if key in obj and isinstance(obj[key], dict):
                return obj[key]
        if obj and all(isinstance(k, str) for k in obj) and any(hasattr(v, 'shape') for v in obj.values()):
            return obj
    raise ImportError_(f'{path}: holds a {type(obj).__name__}, not a state_dict (nor a dict with '
                       f"one under 'state_dict' or 'model')")


def find_prefix(keys, path, prefix=None):
    """The prefix before 'input_layer.0.weight' (e.g. 'module.', '')."""
    anchor = 'input_layer.0.weight'
    found = sorted(k[:-len(anchor)] for k in keys if k.endswith(anchor) and
                   (k == anchor or k[-len(anchor) - 1] == '.'))
    if prefix is not None:
        if prefix not in found:
            raise ImportError_(f"{path}: no '{prefix}{anchor}' (IR networks found: "
                               f"{', '.join(repr(p) for p in found) or 'none'})")
        return prefix
    if not found:
        some = ', '.join(sorted(keys)[:6])
        raise ImportError_(f"{path}: no '{anchor}': not a face.evoLVe IR network "
                           f"(its keys begin: {some}{', ...' if len(keys) > 6 else ''})")
    if len(found) > 1:
        raise ImportError_(f'{path}: several IR networks ({", ".join(repr(p) for p in found)}): '
                           f'choose one with --prefix')
    return found[0]


def units_of(keys, prefix, path):
    """[(stage hint or None, source prefix of the unit)] in network order."""
    flat, staged = {}, {}
    for k in keys:
        if not k.startswith(prefix):
            continue
        m = re.match(r'body(\d*)\.(\d+)\.', k[len(prefix):])
        if not m:
            continue
        unit = prefix + m.group(0)
        if m.group(1):
            staged[(int(m.group(1)), int(m.group(2)))] = unit
        else:
            flat[int(m.group(2))] = unit
    if flat and staged:
        raise ImportError_(f"{path}: both 'body.N' and 'bodyS.N' units under '{prefix}'")
    if flat:
        n = sorted(flat)
        if n != list(range(len(n))):
            missing = sorted(set(range(n[-1] + 1)) - set(n))
            raise ImportError_(f"{path}: unit '{prefix}body.{missing[0]}' is missing")
        return [(None, flat[i]) for i in n]
    return [(s, staged[(s, u)]) for s, u in sorted(staged)]


class Mapper:
    """Checks shapes and collects the agecl tensors."""

    def __init__(self, sd, path):
        self.sd, self.path, self.out, self.used = sd, path, {}, set()

    def shape(self, key):
        if key not in self.sd:
            raise ImportError_(f"{self.path}: no tensor '{key}'")
        return tuple(self.sd[key].shape)

    def take(self, key, name, shape):
        got = self.shape(key)
        if got != tuple(shape):
            raise ImportError_(f"{self.path}: '{key}' has shape {list(got)}, expected "
                               f"{list(shape)} (for agecl's '{name}')")
        self.out[name] = self.sd[key]
        self.used.add(key)

    def bn(self, src, name, c):
        for f in BN:
            self.take(f'{src}.{f}', f'{name}.{f}', (c,))
        self.used.add(f'{src}.num_batches_tracked')


def map_network(sd, path, prefix=None):
    """agecl tensors {name: tensor}, the backbone (units, channels) and the
    dropped keys, from a face.evoLVe-layout state_dict."""
    keys = list(sd)
    prefix = find_prefix(keys, path, prefix)
    m = Mapper(sd, path)
    c0 = m.shape(prefix + 'input_layer.0.weight')
    if len(c0) != 4 or c0[1:] != (3, 3, 3):
        raise ImportError_(f"{path}: '{prefix}input_layer.0.weight' has shape {list(c0)}, "
                           f'expected [C, 3, 3, 3]')
    c = c0[0]
    m.take(prefix + 'input_layer.0.weight', 'stem.conv.weight', c0)
    m.bn(prefix + 'input_layer.1', 'stem.bn', c)
    m.take(prefix + 'input_layer.2.weight', 'stem.prelu.weight', (c,))

    units = units_of(keys, prefix, path)
    if not units:
        raise ImportError_(f"{path}: no units ('{prefix}body.N.res_layer.*')")
    cin, stage, counts, widths = c, 0, [], []
    for hint, u in units:
        if any(k.startswith(u + 'res_layer.5.') for k in keys):
            raise ImportError_(f"{path}: '{u}res_layer.5' exists: an IR-SE unit (squeeze-"
                               f'excitation), which MODEL.md\'s IR unit does not have')
        if u + 'res_layer.2.running_mean' in sd:
            raise ImportError_(f"{path}: '{u}res_layer.2' is a BatchNorm: the BasicBlockIR "
                               f'of torchkit (BN after the first convolution), not MODEL.md\'s IR unit')
        d = m.shape(u + 'res_layer.1.weight')[0]
        new_stage = stage == 0 or (hint is not None and hint != stage) or (hint is None and d != cin)
        if new_stage:
            stage = hint if hint is not None else stage + 1
            counts.append(0)
            widths.append(d)
        if stage > STAGES:
            break
        if d != widths[-1]:
            raise ImportError_(f"{path}: '{u}res_layer.1.weight' has {d} output channels "
                               f'inside a stage of {widths[-1]}')
        name = f'stage{stage}.{counts[-1]}'
        m.bn(u + 'res_layer.0', name + '.bn1', cin)
        m.take(u + 'res_layer.1.weight', name + '.conv1.weight', (d, cin, 3, 3))
        m.take(u + 'res_layer.2.weight', name + '.prelu.weight', (d,))
        m.take(u + 'res_layer.3.weight', name + '.conv2.weight', (d, d, 3, 3))
        m.bn(u + 'res_layer.4', name + '.bn2', d)
        if cin != d:
            m.take(u + 'shortcut_layer.0.weight', name + '.shortcut.conv.weight', (d, cin, 1, 1))
            m.bn(u + 'shortcut_layer.1', name + '.shortcut.bn', d)
        elif any(k.startswith(u + 'shortcut_layer.') for k in keys):
            raise ImportError_(f"{path}: '{u}shortcut_layer' has weights but the unit keeps "
                               f'{d} channels (MODEL.md: a plain subsampling there)')
        counts[-1] += 1
        cin = d
    counts, widths = counts[:STAGES], widths[:STAGES]
    if len(counts) < STAGES:
        raise ImportError_(f'{path}: {len(counts)} stage(s) of units ({counts}); agecl\'s model '
                           f'needs {STAGES}')
    dropped = [k for k in keys if k not in m.used]
    return m.out, tuple(counts), tuple(widths), dropped


def preset_of(units, channels):
    for name, (u, c, size) in PRESETS.items():
        if tuple(u) == tuple(units) and tuple(c) == tuple(channels):
            return name, size
    return None, None


def summarise(keys):
    """'module.body.4.* (13), module.output_layer.* (12)': the dropped keys, by module."""
    groups = {}
    for k in keys:
        parts = k.split('.')
        i = next((i for i, p in enumerate(parts) if p.isdigit()), len(parts) - 1)
        head = '.'.join(parts[:i + 1] if i and parts[i - 1].startswith('body') else parts[:i])
        groups[head] = groups.get(head, 0) + 1
    return ', '.join(f'{g}.* ({n})' for g, n in sorted(groups.items()))


def load_torch(path):
    import torch
    if not os.path.isfile(path):
        raise ImportError_(f'{path}: no such file')
    try:
        try:
            obj = torch.load(path, map_location='cpu', weights_only=True)
        except TypeError:  # torch before 1.13
            obj = torch.load(path, map_location='cpu')
    except Exception as e:  # torch raises many kinds for a bad file
        raise ImportError_(f'{path}: not a PyTorch checkpoint that torch.load reads '
                           f'({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""})')
    return state_dict_of(obj, path)


def import_file(src, dst, prefix=None, input_size=None, log=print):
    """Import src (a PyTorch checkpoint) into dst (an agecl backbone)."""
    import numpy as np
    import st
    sd = load_torch(src)
    tensors, units, channels, dropped = map_network(sd, src, prefix)
    preset, size = preset_of(units, channels)
    size = input_size or size or 112
    if dropped:
        log(f'dropped (not in agecl\'s model): {summarise(dropped)}')
    arrays = {}
    for name, t in tensors.items():
        a = t.detach().cpu().numpy() if hasattr(t, 'detach') else np.asarray(t)
        if not np.issubdtype(a.dtype, np.floating):
            raise ImportError_(f'{src}: the tensor for {name} holds {a.dtype}, not floats')
        a = a.astype(np.float32)
        if not np.isfinite(a).all():
            raise ImportError_(f'{src}: the tensor for {name} holds NaN or infinity')
        arrays[name] = a
    meta = {
        'format': 'agecl-checkpoint-1', 'preset': preset or 'imported', 'stages': str(STAGES),
        'units': ','.join(map(str, units)), 'channels': ','.join(map(str, channels)),
        'input_size': str(size), 'heads': 'none', 'source': os.path.basename(src),
    }
    st.save(dst, arrays, meta)
    log(f'{dst}: {preset or "a backbone of no preset"} (units {",".join(map(str, units))}, '
        f'channels {",".join(map(str, channels))}, input {size}), {len(arrays)} tensors')


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split('\n\n', 1)[1])
    ap.add_argument('source', help='PyTorch checkpoint (.pth, .pt)')
    ap.add_argument('output', help='agecl backbone to write (.safetensors)')
    ap.add_argument('--prefix', help="the IR network's key prefix, e.g. 'module.' (default: found)")
    ap.add_argument('--input-size', type=int, help='input side to record (default: the '
                    "preset's, else 112)")
    a = ap.parse_args(argv)
    try:
        import_file(a.source, a.output, a.prefix, a.input_size)
    except ImportError_ as e:
        print(f'import_pytorch: error: {e}', file=sys.stderr)
        return 1
    except ModuleNotFoundError as e:
        print(f'import_pytorch: error: {e.name} is missing: tools/deps.sh --with-torch '
              f'installs it', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
