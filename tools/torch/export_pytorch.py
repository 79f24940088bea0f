#!/usr/bin/python3
"""Export an agecl checkpoint to PyTorch (.pt) and to ONNX.

    /usr/bin/python3 tools/torch/export_pytorch.py runs/main/best.safetensors \\
        --pt model.pt --onnx model.onnx

--pt writes {'state_dict': ..., 'agecl': config} with torch.save: the state_dict of
tools/torch/ir_model.py's AgeModel (ir_model.load_export(path) rebuilds it), the
config holds the input size, the ages, the backbone and the flip setting.

--onnx writes the inference graph (opset 11): input 'image', N x 3 x S x S (S the
checkpoint's input size, N dynamic), RGB scaled to [0,1] and normalised as
MODEL.md section 1; outputs 'age' (N, the expected age in years) and, where the
model has a gender head, 'female' (N, the probability of class 1). Where the
checkpoint was trained to evaluate with flip averaging (metadata tta_flip 1),
the graph averages each image with its mirror, as `agecl eval` does; --no-flip
leaves it out. Likewise the zoom view (tta_zoom 1: the centre 0.9 of each side
resized back bilinearly, as agecl/train.h's AGECL_EVAL_ZOOM); --no-zoom leaves it
out. Run it with any ONNX runtime, e.g.

    import cv2, numpy as np
    net = cv2.dnn.readNetFromONNX('model.onnx')      # Debian: python3-opencv
    net.setInput(images)                             # float32, N x 3 x S x S
    age, female = net.forward(['age', 'female'])

Needs Debian's python3-torch and python3-numpy; --check also python3-onnx."""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'fixtures'))


class ExportError(Exception):
    pass


def load_agecl(path):
    import ir_model
    import st
    if not os.path.isfile(path):
        raise ExportError(f'{path}: no such file')
    try:
        tensors, meta = st.load(path)
    except (ValueError, OSError) as e:
        raise ExportError(f'{path}: not a safetensors file ({e})')
    if meta.get('format') != 'agecl-checkpoint-1':
        raise ExportError(f"{path}: not an agecl checkpoint (format {meta.get('format')!r})")
    try:
        model = ir_model.from_agecl(tensors, meta)
    except (ValueError, KeyError) as e:
        raise ExportError(f'{path}: {e}')
    cfg = {
        'input_size': int(meta['input_size']), 'ages': [int(a) for a in meta['ages'].split(',')],
        'units': [int(u) for u in meta['units'].split(',')],
        'channels': [int(c) for c in meta['channels'].split(',')],
        'gender': meta['gender'] == '1', 'rapl': meta['rapl'] == '1',
        'tta_flip': meta.get('tta_flip') == '1', 'tta_zoom': meta.get('tta_zoom') == '1',
        'preset': meta.get('preset'),
        'source': os.path.basename(path),
    }
    return model, cfg


ZOOM_KEEP = 0.9  # agecl/train.h: AGECL_EVAL_ZOOM_KEEP


def zoom_matrix(size, keep=ZOOM_KEEP):
    """Z (size x size) with Z x Z^T the centre `keep` of each side of x resized back to
    size x size: bilinear, pixel centres mapped, edges clamped (as src/train/views.c)."""
    import math
    import torch
    z = torch.zeros(size, size, dtype=torch.float64)
    off = 0.5 * (1 - keep) * size
    for i in range(size):
        s = off + (i + 0.5) * keep - 0.5
        f = s - math.floor(s)
        for j, w in ((math.floor(s), 1 - f), (math.floor(s) + 1, f)):
            z[i, min(max(j, 0), size - 1)] += w
    return z.float()


def inference_module(model, flip, size, zoom=False):
    """image -> (age, female probability), averaged over the image and, where asked,
    its mirror and its zoom (and with both, the zoom of the mirror)."""
    import torch
    import torch.nn.functional as F

    class Inference(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model
            # The mirror as a product with the reversed identity: runtimes without
            # negative slice steps (OpenCV's) run it too.
            self.register_buffer('mirror', torch.eye(size).flip(0))
            self.register_buffer('sign', torch.tensor([[-1.0], [1.0]]))
            z = zoom_matrix(size)
            self.register_buffer('zoom', z)
            self.register_buffer('zoom_t', z.t().contiguous())

        def heads(self, x):
            # Products with constants rather than reductions and slices, which some
            # runtimes (OpenCV's) cannot reshape for a dynamic batch.
            m = self.model
            feat = m.backbone(x)
            age = torch.matmul(F.softmax(m.age(feat), dim=1), m.ages[:, None]).squeeze(1)
            if m.gender is None:
                return age, None
            # softmax(l)[1] = sigmoid(l1 - l0)
            female = torch.sigmoid(torch.matmul(m.gender(feat), self.sign)).squeeze(1)
            return age, female

        def forward(self, image):
            views = [image]
            if flip:
                views.append(torch.matmul(image, self.mirror))
            if zoom:
                views += [torch.matmul(torch.matmul(self.zoom, v), self.zoom_t)
                          for v in list(views)]
            if len(views) == 1:
                age, female = self.heads(image)
            else:
                # One pass over every view (weights used once keep the graph free of
                # copies), then the mean of each image's views.
                age, female = self.heads(torch.cat(views, 0))
                age = age.reshape(len(views), -1).mean(0)
                female = female.reshape(len(views), -1).mean(0) if female is not None else None
            return (age, female) if female is not None else (age,)

    return Inference().eval()


def export_onnx(model, cfg, path, flip, zoom, check):
    import torch
    s = cfg['input_size']
    net = inference_module(model, flip, s, zoom)
    names = ['age', 'female'] if cfg['gender'] else ['age']
    example = torch.zeros(2, 3, s, s)
    axes = {'image': {0: 'batch'}}
    axes.update({n: {0: 'batch'} for n in names})
    tmp = path + '.tmp'
    with torch.no_grad():
        torch.onnx.export(net, example, tmp, input_names=['image'], output_names=names,
                          dynamic_axes=axes, opset_version=11)
    if check:
        import onnx
        onnx.checker.check_model(onnx.load(tmp))
    os.replace(tmp, path)


def export_pt(model, cfg, path):
    import torch
    tmp = path + '.tmp'
    torch.save({'state_dict': model.state_dict(), 'agecl': cfg}, tmp)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split('\n\n', 1)[1])
    ap.add_argument('checkpoint', help='agecl checkpoint (.safetensors)')
    ap.add_argument('--pt', help='write the PyTorch state_dict and config here')
    ap.add_argument('--onnx', help='write the ONNX inference graph here')
    ap.add_argument('--no-flip', action='store_true', help='no flip averaging in the ONNX graph')
    ap.add_argument('--no-zoom', action='store_true', help='no zoom view in the ONNX graph')
    ap.add_argument('--check', action='store_true', help='check the ONNX file with python3-onnx')
    a = ap.parse_args(argv)
    if not a.pt and not a.onnx:
        ap.error('nothing to do: give --pt FILE and/or --onnx FILE')
    try:
        model, cfg = load_agecl(a.checkpoint)
        if a.pt:
            export_pt(model, cfg, a.pt)
            print(f'{a.pt}: PyTorch state_dict ({sum(p.numel() for p in model.parameters())} '
                  f'parameters), input {cfg["input_size"]}')
        if a.onnx:
            flip = cfg['tta_flip'] and not a.no_flip
            zoom = cfg['tta_zoom'] and not a.no_zoom
            export_onnx(model, cfg, a.onnx, flip, zoom, a.check)
            print(f'{a.onnx}: ONNX, input image N x 3 x {cfg["input_size"]} x {cfg["input_size"]}'
                  f'{", flip averaging" if flip else ""}{", zoom view" if zoom else ""}'
                  f'{", checked" if a.check else ""}')
    except ExportError as e:
        print(f'export_pytorch: error: {e}', file=sys.stderr)
        return 1
    except ModuleNotFoundError as e:
        print(f'export_pytorch: error: {e.name} is missing: tools/deps.sh --with-torch '
              f'installs it (python3-onnx for --check)', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
