#!/usr/bin/python3
"""AT&T 5-fold validation: EER over all pairs of each fold's held-out subjects with plain embeddings and with
flip-averaged ones (the mean of an image's and its mirror image's embedding), for a run kept by
`ATT_STAGE=validate bench/quality.sh --keep DIR att_faces_5fold` (an exploration: no flag does this yet).

usage: bench/att_flip_average.py SIAMESE DIR   (writes DIR/att5/foldK/test_mirror and tta_* files)
"""
import sys, os, subprocess, numpy as np
from PIL import Image, ImageOps
if len(sys.argv) != 3:
    sys.exit('usage: bench/att_flip_average.py SIAMESE DIR (a run kept by quality.sh --keep DIR)')
B = sys.argv[1]; root = sys.argv[2]
def embed(model, data, out):
    subprocess.run([B, 'embed', model, data, '-o', out, '--format', 'npy', '-q', '-j', '1', '--precision', 'fp32'], check=True)
    v = np.load(out + '.npy'); p = open(out + '.paths.txt').read().split('\n')
    p = [x for x in p if x]
    return v, p
def eer(d, same):
    pos = np.sort(d[same]); neg = np.sort(d[~same])
    best = (2, 0)
    for t in np.concatenate([pos, neg]):
        frr = np.mean(pos > t); far = np.mean(neg <= t)
        if abs(frr - far) < best[0]: best = (abs(frr - far), (frr + far) / 2)
    return best[1]
res = []
for k in range(5):
    f = f'{root}/att5/fold{k}'
    model = f'{f}/run/model.safetensors'
    v, p = embed(model, f'{f}/test', f'{f}/tta_plain')
    mdir = f'{f}/test_mirror'
    for cls in sorted(os.listdir(f'{f}/test')):
        os.makedirs(f'{mdir}/{cls}', exist_ok=True)
        for fn in os.listdir(f'{f}/test/{cls}'):
            ImageOps.mirror(Image.open(f'{f}/test/{cls}/{fn}')).save(f'{mdir}/{cls}/{fn}')
    w, q = embed(model, mdir, f'{f}/tta_mirror')
    key = lambda s: '/'.join(s.split('/')[-2:])
    idx = {key(s): i for i, s in enumerate(q)}
    w = w[[idx[key(s)] for s in p]]
    labels = np.array([key(s).split('/')[0] for s in p])
    iu = np.triu_indices(len(p), 1)
    same = (labels[:, None] == labels[None, :])[iu]
    def dist(x):
        return np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))[iu]
    e0 = eer(dist(v), same); e1 = eer(dist((v + w) / 2), same)
    res.append((e0, e1)); print(f'fold {k}: {len(p)} images, {same.sum()} similar / {(~same).sum()} dissimilar pairs: EER plain {e0:.4f}, flip-averaged {e1:.4f}', flush=True)
r = np.array(res); print(f'mean: plain {r[:,0].mean():.4f}, flip-averaged {r[:,1].mean():.4f}')
