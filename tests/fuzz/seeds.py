#!/usr/bin/env python3
"""Seed inputs of the fuzz harnesses: seeds.py OUTDIR writes OUTDIR/<harness>/seed-*.

Each seed is a small valid input of its reader, so that libFuzzer starts from the
format instead of discovering it byte by byte. Everything is made here (no file
of ../shared): synthetic images, a safetensors file, lists and lines."""
import json
import os
import struct
import sys
import zlib

# An 8 x 8 baseline JPEG (stb_image_write, quality 50).
JPEG = bytes.fromhex(
    'ffd8ffe000104a46494600010100000100010000ffdb008400100b0c0e0c0a100e0d0e1211101318281a181616183123251d'
    '283a333d3c3933383740485c4e404457453738506d51575f626768673e4d71797064785c656763011112121815182f1a1a2f'
    '6342384263636363636363636363636363636363636363636363636363636363636363636363636363636363636363636363'
    '63636363ffc00011080008000803012200021101031101ffc401a20000010501010101010100000000000000000102030405'
    '060708090a0b100002010303020403050504040000017d01020300041105122131410613516107227114328191a1082342b1'
    'c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a63646566'
    '6768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4'
    'c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9fa010003010101010101010101000000'
    '0000000102030405060708090a0b110002010204040304070504040001027700010203110405213106124151076171132232'
    '8108144291a1b1c109233352f0156272d10a162434e125f11718191a262728292a35363738393a434445464748494a535455'
    '565758595a636465666768696a737475767778797a82838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3'
    'b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9faffda000c030100'
    '02110311003f00491551121458d49c6ecb0c1e83af4c738f4c11d8fcedfb00ff009e365ff7f22ff0a8ae3efa7fbbfd21a2ae'
    '11938ab3b6825539637b2776f73fffd9')


def png(w, h):
    rows = b''.join(b'\0' + bytes((x * 40 + y * 20) & 255 for x in range(3 * w)) for y in range(h))
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0))
            + chunk(b'IDAT', zlib.compress(rows)) + chunk(b'IEND', b''))


def bmp(w, h):
    row = (3 * w + 3) // 4 * 4
    pixels = b''.join(bytes((x * 30 + y) & 255 for x in range(3 * w)).ljust(row, b'\0') for y in range(h))
    return (b'BM' + struct.pack('<IHHI', 54 + len(pixels), 0, 0, 54)
            + struct.pack('<IiiHHIIiiII', 40, w, h, 1, 24, 0, len(pixels), 2835, 2835, 0, 0) + pixels)


def safetensors(tensors, meta):
    header, data = {'__metadata__': meta}, b''
    for name, values in tensors:
        raw = struct.pack('<%df' % len(values), *values)
        header[name] = {'dtype': 'F32', 'shape': [len(values)], 'data_offsets': [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    text += b' ' * (-len(text) % 8)
    return struct.pack('<Q', len(text)) + text + data


def fnv1a(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h


CHECKPOINT_META = {'format': 'agecl-checkpoint-1', 'preset': 'tiny', 'units': '1,1', 'channels': '8,16',
                   'input_size': '32', 'gender': '1', 'rapl': '1', 'ages': '1,2,5,30,80',
                   'tta_flip': '1', 'epoch': '2', 'step': '10', 'best_epoch': '1',
                   'best_val_mae': '7.5', 'batch': '16'}
HISTORY = ('{"epoch": 1, "lr": 0.001, "loss": 20.5, "loss_age": 9.1, "loss_gender": 0.6, "loss_pos": null, '
           '"loss_dist": 1.2, "val_mae": 9.5, "val_cs5": 30.1, "val_gender_acc": 70.2, '
           '"images_per_s": 150.3, "seconds": 80.1, "skipped": 0, "val_skipped": 0}')
XGEMM = 'GEMMK=0 KREG=1 KWG=32 KWI=2 MDIMA=8 MDIMC=8 MWG=32 NDIMB=16 NDIMC=16 NWG=32 SA=1 SB=1 STRM=0 STRN=0 VWM=4 VWN=2'
DIRECT = 'KWID=2 MDIMAD=8 MDIMCD=8 NDIMBD=8 NDIMCD=8 PADA=1 PADB=1 VWMD=1 VWND=1 WGD=16'
PAYLOAD = b'\x7fELF program binary stand-in' * 3

SEEDS = {
    'safetensors': [safetensors([('a', [1.0, 2.0, 3.0]), ('b.weight', [0.5])], {'k': 'v'})],
    'checkpoint': [safetensors([('x', [0.0])], CHECKPOINT_META), HISTORY.encode()],
    'csv': [b'path,age,gender\nfaces/a.jpg,25,1\nfaces/b.jpg,3,m\n/abs/c.png,90,\n'],
    'aaf': [b'00001A02 1\n00002A35.jpg 0\n07000A61 1\n'],
    'utkface': [b'25_1_0_20170116174525125.jpg.chip.jpg', b'3_0.jpg'],
    'image': [JPEG, png(9, 7), bmp(5, 3)],
    'program_cache': [b'AGECLPB1' + struct.pack('<QQQ', 0x0123456789abcdef, len(PAYLOAD), fnv1a(PAYLOAD)) + PAYLOAD],
    'clblast': [('agecl-clblast-tune 1\nkey 0123456789abcdef\n# a comment\nXgemm %s\nXgemmDirect %s\n'
                 'GemmRoutine XGEMM_MIN_INDIRECT_SIZE=896\nend\n' % (XGEMM, DIRECT)).encode()],
    'conv_algos': [b'0123456789abcdef 64 32 32 32 32 3 1 1 forward winograd 1.2345\n'],
}


def main():
    out = sys.argv[1]
    for name, seeds in SEEDS.items():
        os.makedirs(os.path.join(out, name), exist_ok=True)
        for i, data in enumerate(seeds):
            with open(os.path.join(out, name, 'seed-%d' % i), 'wb') as f:
                f.write(data)


if __name__ == '__main__':
    main()
