#!/usr/bin/python3
"""Weights in and out through PyTorch (tools/torch/import_pytorch.py, export_pytorch.py).

Without PyTorch (CI): the importer's name mapping of a full face.evoLVe IR-50
(tests/fixtures/ir50_evolve_keys.json) onto agecl's ir50 names and shapes
(ir50_agecl_keys.json), and its errors for bad state_dicts. With Debian's
python3-torch also: a truncated .pth, a random face.evoLVe network imported and
exported back (same features), an agecl checkpoint exported to PyTorch (same
outputs as the twin) and to ONNX (checked with python3-onnx and run with
python3-opencv where those are installed). Prints what it ran; exits 1 on a failure."""
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, 'tools', 'torch'))
sys.path.insert(0, os.path.join(ROOT, 'tools', 'fixtures'))
import import_pytorch as imp  # noqa: E402

FIXTURES = os.path.join(HERE, 'fixtures')
ran = []


class Shape:
    """A stand-in for a tensor: the mapping reads shapes only."""

    def __init__(self, shape):
        self.shape = tuple(shape)


def keys_fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return json.load(f)


def expect_error(sd, *words, prefix=None):
    try:
        imp.map_network(sd, 'src.pth', prefix)
    except imp.ImportError_ as e:
        for w in ('src.pth',) + words:
            assert w in str(e), f'error without {w!r}: {e}'
        return
    raise AssertionError(f'no error for a state_dict that should name {words}')


def test_ir50_names():
    evolve = {'module.' + k: Shape(v) for k, v in keys_fixture('ir50_evolve_keys.json').items()}
    want = keys_fixture('ir50_agecl_keys.json')
    out, units, channels, dropped = imp.map_network(evolve, 'src.pth')
    got = {k: list(v.shape) for k, v in out.items()}
    assert got == want, f'names or shapes differ: {set(got) ^ set(want)}'
    assert (units, channels) == ((3, 4, 14), (64, 128, 256)), (units, channels)
    assert imp.preset_of(units, channels) == ('ir50', 112)
    # Dropped: the fourth stage (body.21-23) and output_layer, nothing else.
    assert all(k.startswith(('module.output_layer.', 'module.body.21.', 'module.body.22.',
                             'module.body.23.')) for k in dropped), dropped
    assert any(k.startswith('module.output_layer.') for k in dropped)
    assert imp.summarise(dropped).startswith('module.body.21.* (')
    # The per-stage numbering of POSTER++ (bodyS.N) maps to the same names.
    staged, n = {}, [3, 4, 14, 3]
    for k, v in keys_fixture('ir50_evolve_keys.json').items():
        if k.startswith('body.'):
            i = int(k.split('.')[1])
            s = next(s for s in range(4) if i < sum(n[:s + 1]))
            k = f'body{s + 1}.{i - sum(n[:s])}.' + k.split('.', 2)[2]
        staged['ir_back.' + k] = Shape(v)
    out2, units2, _, _ = imp.map_network(staged, 'src.pth')
    assert {k: list(v.shape) for k, v in out2.items()} == want and units2 == units
    ran.append('IR-50 name mapping (body.N and bodyS.N)')


def test_bad_state_dicts():
    base = {k: Shape(v) for k, v in keys_fixture('ir50_evolve_keys.json').items()}
    sd = dict(base)
    del sd['body.5.res_layer.3.weight']
    expect_error(sd, "'body.5.res_layer.3.weight'")
    sd = dict(base)
    sd['body.4.res_layer.4.running_var'] = Shape([64])
    expect_error(sd, "'body.4.res_layer.4.running_var'", '[64]', '[128]')
    sd = dict(base)
    sd['body.0.res_layer.5.fc1.weight'] = Shape([4, 64, 1, 1])
    expect_error(sd, 'IR-SE')
    sd = {'conv1.weight': Shape([64, 3, 7, 7]), 'bn1.weight': Shape([64]), 'fc.weight': Shape([10, 512])}
    expect_error(sd, 'not a face.evoLVe IR network', 'conv1.weight')
    sd = dict(base)
    sd.update({'ema.' + k: v for k, v in base.items()})
    expect_error(sd, 'several IR networks', '--prefix')
    assert imp.map_network(sd, 'src.pth', 'ema.')[1] == (3, 4, 14)
    sd = {k: v for k, v in base.items() if not k.startswith(('body.7.', 'body.8.', 'body.9.', 'body.1'))
          or k.startswith('body.1.')}
    expect_error(sd, "unit 'body.7' is missing")
    ran.append('bad state_dicts: missing key, wrong shape, IR-SE, another network, two networks, a gap')


def test_with_torch():
    try:
        import numpy as np
        import torch
    except ModuleNotFoundError:
        print('test_import: python3-torch is not installed: the PyTorch round trips did not run')
        return
    import gen_import
    import export_pytorch
    import ir_model
    import st
    with tempfile.TemporaryDirectory() as tmp:
        # A truncated checkpoint and one of another kind.
        net = gen_import.randomise(gen_import.EvolveIR((2, 1, 1), (8, 12, 16), 16), seed=3)
        good = os.path.join(tmp, 'net.pth')
        torch.save(net.state_dict(), good)
        blob = open(good, 'rb').read()
        bad = os.path.join(tmp, 'truncated.pth')
        open(bad, 'wb').write(blob[:len(blob) // 2])
        for path, word in ((bad, 'not a PyTorch checkpoint'), (os.path.join(tmp, 'none.pth'), 'no such file')):
            try:
                imp.import_file(path, os.path.join(tmp, 'x.safetensors'), log=lambda *a: None)
                raise AssertionError(f'{path} imported')
            except imp.ImportError_ as e:
                assert path in str(e) and word in str(e), str(e)
        torch.save([1, 2, 3], bad)
        try:
            imp.import_file(bad, os.path.join(tmp, 'x.safetensors'), log=lambda *a: None)
            raise AssertionError('a list imported')
        except imp.ImportError_ as e:
            assert 'not a state_dict' in str(e), str(e)
        assert not os.path.exists(os.path.join(tmp, 'x.safetensors'))
        ran.append('bad files: truncated, absent, not a state_dict')

        # Import, give it heads, export: the twin's features equal the source's.
        dst = os.path.join(tmp, 'imported.safetensors')
        imp.import_file(good, dst, input_size=16, log=lambda *a: None)
        tensors, meta = st.load(dst)
        ages = [3, 7, 20, 41, 66]
        twin = ir_model.AgeModel(ages, (2, 1, 1), (8, 12, 16))
        heads = {k: v.numpy() for k, v in twin.agecl_state().items() if k.startswith(('age.', 'gender.', 'rapl.'))}
        tensors.update(heads)
        meta.pop('heads')
        meta.update({'gender': '1', 'rapl': '1', 'ages': ','.join(map(str, ages)), 'references': '0',
                     'tta_flip': '1', 'tta_zoom': '1'})
        full = os.path.join(tmp, 'full.safetensors')
        st.save(full, tensors, meta)
        pt, onnx_path = os.path.join(tmp, 'm.pt'), os.path.join(tmp, 'm.onnx')
        assert export_pytorch.main([full, '--pt', pt]) == 0
        model, cfg = ir_model.load_export(pt)
        x = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            want = net.features(x)
            out = model(x)
        err = ((out['feat'] - want).abs().max() / want.abs().max()).item()
        assert err < 1e-5, f'features after import and export: relative error {err}'
        assert cfg['input_size'] == 16 and cfg['ages'] == ages and cfg['tta_flip']
        with torch.no_grad():
            ref = twin.state_dict()
            ref.update({'backbone.' + k: torch.as_tensor(v) for k, v in tensors.items()
                        if k.startswith(('stem.', 'stage'))})
            twin.load_state_dict(ref)
            twin.eval()
            logits = twin(x)['age_logits']
        err_l = ((out['age_logits'] - logits).abs().max() / logits.abs().max()).item()
        assert err_l < 1e-6, f'age logits after export: relative error {err_l}'
        ran.append(f'import -> export -> PyTorch: features rel. error {err:.1e}, logits {err_l:.1e}')

        # The views of the inference graph: the mean over the image, its mirror, and
        # both zoomed (the centre 0.9 resized back bilinearly, edges clamped), each
        # view built here in numpy as tests/test_train.c's reference builds it.
        def ref_zoom(img, keep=0.9):
            n = img.shape[-1]
            out = np.zeros_like(img)
            off = 0.5 * (1 - keep) * n
            for y in range(n):
                for xx in range(n):
                    sy, sx = off + (y + 0.5) * keep - 0.5, off + (xx + 0.5) * keep - 0.5
                    y0, x0 = int(np.floor(sy)), int(np.floor(sx))
                    fy, fx = sy - y0, sx - x0
                    for dy in (0, 1):
                        for dx in (0, 1):
                            yy = min(max(y0 + dy, 0), n - 1)
                            xc = min(max(x0 + dx, 0), n - 1)
                            out[..., y, xx] += ((fy if dy else 1 - fy) * (fx if dx else 1 - fx)
                                                * img[..., yy, xc])
            return out
        xn = x.numpy().astype(np.float64)
        views = [xn, xn[..., ::-1]]
        views += [ref_zoom(v) for v in views]
        with torch.no_grad():
            ages = [model(torch.tensor(v.copy(), dtype=torch.float32))['age'] for v in views]
            got = export_pytorch.inference_module(model, True, 16, zoom=True)(x)[0]
        want_views = torch.stack(ages).mean(0)
        err_v = ((got - want_views).abs().max() / want_views.abs().max()).item()
        assert err_v < 1e-5, f'flip and zoom views of the graph: relative error {err_v}'
        plain = export_pytorch.inference_module(model, False, 16)(x)[0]
        assert (plain - got).abs().max().item() > 1e-4, 'the views changed nothing'
        ran.append(f'inference graph with flip and zoom views: age rel. error {err_v:.1e}')

        # ONNX, with and without flip averaging.
        for flip in (True, False):
            args = [full, '--onnx', onnx_path] + ([] if flip else ['--no-flip', '--no-zoom'])
            try:
                import onnx  # noqa: F401
                args.append('--check')
            except ModuleNotFoundError:
                pass
            assert export_pytorch.main(args) == 0
            if flip:
                continue
            try:
                import cv2
            except ModuleNotFoundError:
                print('test_import: python3-opencv is not installed: the ONNX graph was not run')
                continue
            netcv = cv2.dnn.readNetFromONNX(onnx_path)
            xs = x.numpy().astype(np.float32)
            netcv.setInput(xs)
            age, female = netcv.forward(['age', 'female'])
            with torch.no_grad():
                want_age = out['age'].numpy()
                want_f = torch.softmax(out['gender_logits'], 1)[:, 1].numpy()
            e1 = np.abs(age.ravel() - want_age).max() / np.abs(want_age).max()
            e2 = np.abs(female.ravel() - want_f).max()
            assert e1 < 1e-5 and e2 < 1e-5, (e1, e2)
            ran.append(f'ONNX run by OpenCV: age rel. error {e1:.1e}, female prob. error {e2:.1e}')
        ran.append('ONNX export' + (' (checked by onnx)' if '--check' in args else ''))

        # A backbone alone cannot be exported.
        assert export_pytorch.main([dst, '--pt', pt]) == 1


def main():
    for t in (test_ir50_names, test_bad_state_dicts, test_with_torch):
        t()
    for r in ran:
        print('ok:', r)
    return 0


if __name__ == '__main__':
    sys.exit(main())
