"""agecl's data pipeline from Python (ctypes over libagecl.so).

PyTorch runs that must see exactly what agecl train sees (the same data set
parsing, 60/20/20 split, --limit subset, shuffle and augmentation per seed and
epoch) read their batches through this module."""
import ctypes as C

import numpy as np


class AugmentPolicy(C.Structure):
    _fields_ = [(name, C.c_float) for name in ('p_gray', 'p_hflip', 'max_degrees', 'p_sharpen',
                                               'sharpness', 'p_vflip', 'min_scale', 'max_shift')]


class LoaderOptions(C.Structure):  # agecl_loader_options (agecl/data.h), field for field
    _fields_ = [('batch_size', C.c_int), ('image_size', C.c_int), ('shuffle', C.c_int),
                ('augment', C.c_int), ('drop_last', C.c_int), ('threads', C.c_int),
                ('prefetch', C.c_int), ('seed', C.c_uint64),
                ('policy', C.POINTER(AugmentPolicy)), ('cache', C.c_void_p),
                ('shard', C.c_int), ('shards', C.c_int)]


class Batch(C.Structure):
    _fields_ = [('count', C.c_int), ('size', C.c_int), ('epoch', C.c_int), ('number', C.c_int),
                ('images', C.POINTER(C.c_float)), ('ages', C.POINTER(C.c_int)),
                ('genders', C.POINTER(C.c_int)), ('indices', C.POINTER(C.c_int))]


class Split(C.Structure):
    _fields_ = [('index', C.POINTER(C.c_int) * 3), ('count', C.c_int * 3)]


class Data:
    """A data set ("utkface:DIR", ...) and its hash split, as agecl train makes them."""

    def __init__(self, lib_path, spec, limit=0, augment='paper'):
        self.lib = lib = C.CDLL(lib_path)
        lib.agecl_last_error.restype = C.c_char_p
        lib.agecl_loader_next.argtypes = [C.c_void_p, C.POINTER(C.POINTER(Batch))]
        lib.agecl_loader_release.argtypes = [C.c_void_p, C.POINTER(Batch)]
        lib.agecl_loader_create.argtypes = [C.POINTER(C.c_void_p), C.c_void_p,
                                            C.POINTER(C.c_int), C.c_int,
                                            C.POINTER(LoaderOptions)]
        lib.agecl_dataset_age_labels.argtypes = [C.c_void_p, C.POINTER(C.POINTER(C.c_int))]
        lib.agecl_dataset_age_position.argtypes = [C.c_void_p, C.c_int]
        lib.agecl_dataset_has_gender.argtypes = [C.c_void_p]
        lib.agecl_loader_start_epoch.argtypes = [C.c_void_p, C.c_int]
        lib.agecl_loader_free.argtypes = [C.c_void_p]
        self.ds = C.c_void_p()
        self._check(lib.agecl_dataset_open(C.byref(self.ds), spec.encode(), 0))
        self.split = Split()
        self._check(lib.agecl_split_hash(C.byref(self.split), self.ds))
        self.parts = []
        for p in range(3):  # the same even-stride subset as agecl train --limit
            n = self.split.count[p]
            idx = [self.split.index[p][i] for i in range(n)]
            if limit and n > limit:
                idx = [idx[k * n // limit] for k in range(limit)]
            self.parts.append((C.c_int * len(idx))(*idx))
        ages = C.POINTER(C.c_int)()
        n = lib.agecl_dataset_age_labels(self.ds, C.byref(ages))
        self.ages = [ages[i] for i in range(n)]
        self.has_gender = bool(lib.agecl_dataset_has_gender(self.ds))
        self.policy = AugmentPolicy()
        self._check(lib.agecl_augment_policy_named(augment.encode(), C.byref(self.policy)))

    def _check(self, status):
        if status != 0:
            raise RuntimeError(self.lib.agecl_last_error().decode())

    def position(self, age):
        return self.lib.agecl_dataset_age_position(self.ds, age)

    def batches(self, part, epoch, batch, size, train, seed, threads=2):
        """Yield (images [B,3,S,S] float32, ages, genders, indices) numpy arrays."""
        opt = LoaderOptions(batch, size, int(train), int(train), int(train), threads, 3, seed,
                            C.pointer(self.policy), None, 0, 1)
        loader = C.c_void_p()
        idx = self.parts[part]
        self._check(self.lib.agecl_loader_create(C.byref(loader), self.ds, idx, len(idx),
                                                 C.byref(opt)))
        try:
            self._check(self.lib.agecl_loader_start_epoch(loader, epoch))
            while True:
                b = C.POINTER(Batch)()
                self._check(self.lib.agecl_loader_next(loader, C.byref(b)))
                if not b:
                    break
                n, s = b.contents.count, b.contents.size
                images = np.ctypeslib.as_array(b.contents.images, (n, 3, s, s)).copy()
                ages = np.ctypeslib.as_array(b.contents.ages, (n,)).copy()
                genders = np.ctypeslib.as_array(b.contents.genders, (n,)).copy()
                indices = np.ctypeslib.as_array(b.contents.indices, (n,)).copy()
                self.lib.agecl_loader_release(loader, b)
                yield images, ages, genders, indices
        finally:
            self.lib.agecl_loader_free(loader)
