"""The model of ../shared/MODEL.md in PyTorch, with agecl's parameter names.

Used to make test fixtures, to compare training runs and to benchmark against.
state_dict() names match the tensor names of agecl's checkpoints:
  stem.conv.weight, stem.bn.*, stem.prelu.weight,
  stage{S}.{U}.bn1.*, .conv1.weight, .prelu.weight, .conv2.weight, .bn2.*,
  .shortcut.conv.weight, .shortcut.bn.*   (only where in != out channels)
  age.weight/bias, gender.weight/bias, rapl.P, rapl.a.weight/bias, rapl.fc.weight/bias,
  and the buffer rapl.R.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {
    # units per stage, channels per stage
    'ir50': ((3, 4, 14), (64, 128, 256)),
    'ir18': ((2, 2, 2), (64, 128, 256)),
}


class IRUnit(nn.Module):
    def __init__(self, cin, d, stride):
        super().__init__()
        self.stride = stride
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, d, 3, 1, 1, bias=False)
        self.prelu = nn.PReLU(d, init=0.25)
        self.conv2 = nn.Conv2d(d, d, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(d)
        if cin != d:
            self.shortcut = nn.Sequential()
            self.shortcut.add_module('conv', nn.Conv2d(cin, d, 1, stride, bias=False))
            self.shortcut.add_module('bn', nn.BatchNorm2d(d))
        else:
            self.shortcut = None

    def forward(self, x):
        r = self.bn2(self.conv2(self.prelu(self.conv1(self.bn1(x)))))
        # MODEL.md's max-pool of kernel 1: strided subsampling (exports to ONNX as MaxPool)
        s = self.shortcut(x) if self.shortcut is not None else F.max_pool2d(x, 1, self.stride)
        return r + s


class Stem(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(3, c, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(c)
        self.prelu = nn.PReLU(c, init=0.25)

    def forward(self, x):
        return self.prelu(self.bn(self.conv(x)))


class Backbone(nn.Module):
    def __init__(self, units=(3, 4, 14), channels=(64, 128, 256)):
        super().__init__()
        self.stem = Stem(channels[0])
        cin = channels[0]
        for s, (n, d) in enumerate(zip(units, channels), start=1):
            stage = nn.Sequential(*[IRUnit(cin if u == 0 else d, d, 2 if u == 0 else 1)
                                    for u in range(n)])
            self.add_module(f'stage{s}', stage)
            cin = d
        self.nstages = len(units)
        self.features = cin

    def forward(self, x):
        x = self.stem(x)
        for s in range(1, self.nstages + 1):
            x = getattr(self, f'stage{s}')(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)  # the mean over H, W (GlobalAveragePool)


class RAPL(nn.Module):
    """out[b,c] = F[b,c] g[c] + beta, g[c] = sum_k a_k sigmoid(R[k,c] P[k]); then fc."""

    def __init__(self, n, c):
        super().__init__()
        self.P = nn.Parameter(torch.ones(n))
        self.a = nn.Linear(n, 1)
        self.fc = nn.Linear(c, n)
        self.register_buffer('R', torch.zeros(n, c))

    def forward(self, feat):
        w = torch.sigmoid(self.R * self.P[:, None])          # n x c
        g = (self.a.weight[0][:, None] * w).sum(0)            # c
        return self.fc(feat * g + self.a.bias[0])


class AgeModel(nn.Module):
    def __init__(self, ages, units=(3, 4, 14), channels=(64, 128, 256), gender=True, rapl=True):
        super().__init__()
        self.backbone = Backbone(units, channels)
        c = self.backbone.features
        n = len(ages)
        self.register_buffer('ages', torch.tensor(ages, dtype=torch.float32))
        self.age = nn.Linear(c, n)
        self.gender = nn.Linear(c, 2) if gender else None
        self.rapl = RAPL(n, c) if rapl else None

    def forward(self, x):
        feat = self.backbone(x)
        age_logits = self.age(feat)
        age = (F.softmax(age_logits, dim=1) * self.ages).sum(1)
        out = {'feat': feat, 'age_logits': age_logits, 'age': age}
        if self.gender is not None:
            out['gender_logits'] = self.gender(feat)
        if self.rapl is not None:
            out['pos_logits'] = self.rapl(feat)
        return out

    def agecl_state(self):
        """state_dict with the backbone prefix dropped: agecl's names."""
        out = {}
        for k, v in self.state_dict().items():
            if k.endswith('num_batches_tracked') or k == 'ages':
                continue
            out[k[len('backbone.'):] if k.startswith('backbone.') else k] = v
        return out


def from_agecl(tensors, meta):
    """An AgeModel holding an agecl checkpoint's weights: tensors {name: array}
    and metadata as tools/fixtures/st.py's load() returns them."""
    if meta.get('heads') == 'none':
        raise ValueError('a backbone without heads (an import): fine-tune it with agecl first')
    ages = [int(a) for a in meta['ages'].split(',')]
    units = tuple(int(u) for u in meta['units'].split(','))
    channels = tuple(int(c) for c in meta['channels'].split(','))
    model = AgeModel(ages, units, channels, gender=meta['gender'] == '1', rapl=meta['rapl'] == '1')
    state = model.state_dict()
    heads = ('age.', 'gender.', 'rapl.')
    for name, value in tensors.items():
        if name.startswith(('adam.', 'ema.')):
            continue
        key = name if name.startswith(heads) else 'backbone.' + name
        if key not in state:
            raise ValueError(f"tensor '{name}' is not in the model of this metadata")
        if tuple(state[key].shape) != tuple(value.shape):
            raise ValueError(f"tensor '{name}' has shape {list(value.shape)}, the model "
                             f'{list(state[key].shape)}')
        state[key] = torch.as_tensor(value.copy())
    missing = [k for k in state if k not in ('ages',) and not k.endswith('num_batches_tracked')
               and (k[len('backbone.'):] if k.startswith('backbone.') else k) not in tensors]
    if missing:
        raise ValueError(f"no tensor '{missing[0]}' in the checkpoint")
    model.load_state_dict(state)
    return model.eval()


def load_export(path):
    """The model of a file written by tools/torch/export_pytorch.py --pt, and its
    config ({'input_size', 'ages', 'units', 'channels', 'gender', 'rapl', 'tta_flip', ...})."""
    saved = torch.load(path, map_location='cpu')
    cfg = saved['agecl']
    model = AgeModel(cfg['ages'], tuple(cfg['units']), tuple(cfg['channels']),
                     gender=cfg['gender'], rapl=cfg['rapl'])
    model.load_state_dict(saved['state_dict'])
    return model.eval(), cfg


def init_weights(model, seed):
    """MODEL.md section 5: He (normal, fan_in, ReLU gain) for convolutions, PyTorch's
    defaults for Linear, BN gamma 1 beta 0, PReLU 0.25, RAPL P ones."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
            with torch.no_grad():
                m.weight.normal_(0, (2.0 / fan_in) ** 0.5, generator=g)
    return model


def losses(out, age, gender, pos, use_pos):
    """L_age + L_gender + L_position as MODEL.md section 3 (gender -1: ignored)."""
    l_age = (out['age'] - age).abs().mean()
    total = l_age
    parts = {'age': l_age}
    if 'gender_logits' in out:
        l_g = F.cross_entropy(out['gender_logits'], gender, ignore_index=-1)
        parts['gender'] = l_g
        total = total + l_g
    if use_pos and 'pos_logits' in out:
        l_p = F.cross_entropy(out['pos_logits'], pos)
        parts['pos'] = l_p
        total = total + l_p
    return total, parts
