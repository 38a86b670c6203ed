#!/usr/bin/python3
"""Reference oracle for gaze/: the authors' code, literally, in numpy/scipy/torch (Debian's python3).

  heatmap  --reading DIR --width W --height H --windows "t0,t1;t0,t1" --out DIR
           create_heatmap (find_fixations_all_sentences.py): full scipy pdf per fixation, no truncation,
           float32 accumulation, divided by the max; then pre_transform_train's geometry
           [ToTensor1, XRayResizerPadRound32(512), Resize(512, antialias=True)].
           Writes full_<i>.f32 (H x W), r512_<i>.f32 (512 x 512), or empty_<i> when max == 0 (the
           authors' code would divide by zero there).
  resize   --in FILE --h H --w W --size S --out FILE [--double]
           the geometry alone on a float32 plane (in float64 with --double); --batch FILE runs many
  ellipses --reading DIR --width W --height H --out DIR
           get_ellipses_image (skimage.draw.ellipse semantics, written out since skimage is not
           installed) -> geometry -> > 0.5 -> max per paper label (translate_et_to_label).
           Writes masks.f32 (10 x 512 x 512) and present.txt.

The one liberty: a shown rectangle reaching outside the image is clipped to it (numpy would raise on the
shape mismatch there). CSVs are read with the csv module (pandas is not installed); values are the same.
"""
import argparse
import csv
import math
import os
import sys

import numpy as np
import torch
import torchvision.transforms as transforms
from scipy.stats import multivariate_normal

LABELS = ['Edema', 'Opacity', 'Pneumothorax', 'Pleural abnormality', 'Lung Lesion', 'Atelectasis',
          'Consolidation', 'Fracture', 'Cardiomegaly', 'Abnormal Mediastinum Contour']
TRANSLATE_ET = {'Pulmonary edema': ['Edema', 'Opacity'], 'Pneumothorax': ['Pneumothorax'],
                'Pleural abnormality': ['Pleural abnormality'], 'Pleural thickening': ['Pleural abnormality'],
                'Pleural effusion': ['Pleural abnormality'], 'Lung nodule or mass': ['Lung Lesion', 'Opacity'],
                'Nodule': ['Lung Lesion', 'Opacity'], 'Mass': ['Lung Lesion', 'Opacity'],
                'Atelectasis': ['Atelectasis', 'Opacity'], 'Consolidation': ['Consolidation', 'Opacity'],
                'Acute fracture': ['Fracture'], 'Fracture': ['Fracture'], 'Groundglass opacity': ['Opacity'],
                'Interstitial lung disease': ['Opacity'], 'Fibrosis': ['Opacity'],
                'Enlarged cardiac silhouette': ['Cardiomegaly'],
                'Abnormal mediastinal contour': ['Abnormal Mediastinum Contour'],
                'Wide mediastinum': ['Abnormal Mediastinum Contour']}


def read_csv(path):
    with open(path, newline='', encoding='utf-8-sig') as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------- utils_dataset.py geometry
class XRayResizerAR(object):
    def __init__(self, size, fn):
        self.size = size
        self.fn = fn

    def __call__(self, img):
        old_size = img.size()[-2:]
        ratio = float(self.size) / self.fn(old_size)
        new_size = tuple([round(x * ratio) for x in old_size])
        return transforms.Resize(new_size, antialias=True)(img)


def get_32_size(shape, size):
    projected_max_size = size / min(np.array(shape)) * max(np.array(shape))
    return round(projected_max_size / 16) * 16


class XRayResizerPadRound32(object):
    def __init__(self, size):
        self.size = size

    def __call__(self, img):
        self.resizer = XRayResizerAR(get_32_size(img.size()[-2:], self.size), max)
        img = self.resizer(img)
        pad_width = (-np.array(img.size()[-2:]) + max(np.array(img.size()[-2:]))) / 2
        return torch.nn.functional.pad(img, (math.floor(pad_width[1]), math.ceil(pad_width[1]),
                                             math.floor(pad_width[0]), math.ceil(pad_width[0])))


def pre_transform(plane, size=512, double=False):
    t = torch.tensor(plane).float().unsqueeze(0)  # ToTensor1
    if double:  # the same arithmetic in float64, to separate torch's float32 rounding from the method
        t = t.double()
    t = XRayResizerPadRound32(size)(t)
    t = transforms.Resize(size, antialias=True)(t)
    return np.array(t)[0]  # ToNumpy


# ---------------------------------------------------------------- find_fixations_all_sentences.py
def get_gaussian(y, x, sy, sx, sizey, sizex, shown_rects_image_space):
    r = list(shown_rects_image_space)
    r[0], r[2] = max(r[0], 0), min(r[2], sizex)  # clipping: where numpy would raise
    r[1], r[3] = max(r[1], 0), min(r[3], sizey)
    to_return = np.zeros([sizey, sizex])
    if r[2] <= r[0] or r[3] <= r[1]:
        return to_return
    mu = [y - r[1], x - r[0]]
    sig = [sy ** 2, sx ** 2]
    xs = np.arange(0, r[2] - r[0], 1)
    ys = np.arange(0, r[3] - r[1], 1)
    X, Y = np.meshgrid(xs, ys)
    pos = np.empty(X.shape + (2,))
    pos[:, :, 1] = X
    pos[:, :, 0] = Y
    to_return[r[1]:r[3], r[0]:r[2]] = multivariate_normal(mu, sig).pdf(pos)
    return to_return


def create_heatmap(rows, size_x, size_y, sentence_start, sentence_end):
    img = np.zeros((size_y, size_x), dtype=np.float32)
    for row in rows:
        t0, t1 = float(row['timestamp_start_fixation']), float(row['timestamp_end_fixation'])
        if not (t1 > sentence_start and t0 <= sentence_end):
            continue
        angle_circle = 1
        shown = [round(float(row['xmin_shown_from_image'])), round(float(row['ymin_shown_from_image'])),
                 round(float(row['xmax_shown_from_image'])), round(float(row['ymax_shown_from_image']))]
        gaussian = get_gaussian(float(row['y_position']), float(row['x_position']),
                                float(row['angular_resolution_y_pixels_per_degree']) * angle_circle,
                                float(row['angular_resolution_x_pixels_per_degree']) * angle_circle,
                                size_y, size_x, shown)
        img += gaussian * (min(t1, sentence_end) - max(t0, sentence_start))
    return img  # the caller divides by np.max(img)


# ---------------------------------------------------------------- eyetracking_object.py ellipses
def skimage_ellipse(r, c, r_radius, c_radius, shape):
    center = np.array([r, c])
    radii = np.array([r_radius, c_radius])
    upper_left = np.ceil(center - radii).astype(int)
    lower_right = np.floor(center + radii).astype(int)
    upper_left = np.maximum(upper_left, np.array([0, 0]))
    lower_right = np.minimum(lower_right, np.array(shape[:2]) - 1)
    shifted_center = center - upper_left
    bounding_shape = lower_right - upper_left + 1
    r_lim, c_lim = np.ogrid[0:float(bounding_shape[0]), 0:float(bounding_shape[1])]
    rr_, cc_ = (r_lim - shifted_center[0]), (c_lim - shifted_center[1])
    with np.errstate(divide='ignore', invalid='ignore'):
        distances = (rr_ / r_radius) ** 2 + (cc_ / c_radius) ** 2
    rr, cc = np.nonzero(distances < 1)
    return rr + upper_left[0], cc + upper_left[1]


def get_ellipses_image(rect, im_size):
    img_mask = np.zeros(im_size, np.uint8)
    rr, cc = skimage_ellipse((rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2, abs(rect[0] - rect[2]) / 2,
                             abs(rect[1] - rect[3]) / 2, im_size)
    img_mask[rr, cc] = 1
    return np.transpose(img_mask)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('cmd', choices=['heatmap', 'resize', 'ellipses'])
    ap.add_argument('--reading')
    ap.add_argument('--width', type=int)
    ap.add_argument('--height', type=int)
    ap.add_argument('--windows', default='')
    ap.add_argument('--out')
    ap.add_argument('--in', dest='inp')
    ap.add_argument('--h', type=int)
    ap.add_argument('--w', type=int)
    ap.add_argument('--size', type=int, default=512)
    ap.add_argument('--double', action='store_true')
    ap.add_argument('--batch')
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.cmd == 'resize':
        jobs = [(a.inp, a.h, a.w, a.size, a.out, a.double)]
        if a.batch:  # one line per job: IN H W SIZE OUT DOUBLE(0/1)
            with open(a.batch) as f:
                jobs = [(p[0], int(p[1]), int(p[2]), int(p[3]), p[4], p[5] == '1') for p in (l.split() for l in f) if p]
        for inp, h, w, size, out, dbl in jobs:
            plane = np.fromfile(inp, dtype=np.float32).reshape(h, w)
            pre_transform(plane, size, dbl).astype(np.float32).tofile(out)
        return 0
    if a.cmd == 'heatmap':
        rows = read_csv(os.path.join(a.reading, 'fixations.csv'))
        for i, win in enumerate(w for w in a.windows.split(';') if w):
            t0, t1 = (float(v) for v in win.split(','))
            img = create_heatmap(rows, a.width, a.height, t0, t1)
            if not np.max(img) > 0:
                open(os.path.join(a.out, f'empty_{i}'), 'w').close()
                continue
            img = img / np.max(img)
            img.astype(np.float32).tofile(os.path.join(a.out, f'full_{i}.f32'))
            pre_transform(img).astype(np.float32).tofile(os.path.join(a.out, f'r512_{i}.f32'))
        return 0
    rows = read_csv(os.path.join(a.reading, 'anomaly_location_ellipses.csv'))
    masks = np.zeros([len(LABELS), 512, 512])
    present = np.zeros([len(LABELS)])
    for box in rows:
        if float(box['certainty']) > 2:
            rect = [float(box[k]) for k in ('xmin', 'ymin', 'xmax', 'ymax')]
            ellipse_map = get_ellipses_image(rect, [a.width, a.height])
            resized = (pre_transform(ellipse_map) > 0.5) * 1.
            for et_label in TRANSLATE_ET:
                if et_label in box and box[et_label] == 'True':
                    for dest in TRANSLATE_ET[et_label]:
                        present[LABELS.index(dest)] = 1.
                        masks[LABELS.index(dest)] = np.maximum(resized, masks[LABELS.index(dest)])
    masks.astype(np.float32).tofile(os.path.join(a.out, 'masks.f32'))
    with open(os.path.join(a.out, 'present.txt'), 'w') as f:
        f.write(''.join(str(int(v)) for v in present))
    return 0


if __name__ == '__main__':
    sys.exit(main())
