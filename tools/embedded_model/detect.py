"""Read colour, shape, size and position of the objects back from a 32x32 picture.

A quick, rule-based reader for the training script's own check (not a learned classifier, so it
cannot share the generator's mistakes):

1. background = per-channel median of the 1-pixel border ring (pictures have plain grey backgrounds);
2. core pixels: far from the background (> 0.3) and close to one palette colour (< 0.3), which
   assigns each core pixel a colour;
3. each colour with enough core pixels is one object; its coverage alpha (the pixel's position on the
   line from background to that colour, in [0, 1]) is taken over the core pixels grown by one pixel,
   which brings the anti-aliased rim back in;
4. shape: the alpha map is compared (L1) with an anti-aliased circle, square and triangle rendered by
   the dataset's own renderer with the same area and centroid; the closest wins. Size: the shape's
   side from its area, then the dataset's size-word ranges;
5. position: the nearest one-object anchor to the object's bounding-box centre (as the dataset places
   objects); relation: the dominant axis between the two objects' centres.

Colours are unique per picture in the grammar, so colour grouping is enough to separate objects.
"""

import math

import torch
import torch.nn.functional as F

from .dataset import COLOURS, POSITIONS, SHAPES, SIZE, SIZE_RANGES, coverage

PALETTE = torch.tensor(list(COLOURS.values()))  # [7, 3]
COLOUR_NAMES = list(COLOURS)
FAR_FROM_BACKGROUND = 0.3
NEAR_PALETTE = 0.3
MIN_CORE_PIXELS = 4
MIN_AREA = 10.0  # pixels of coverage; the smallest training object (a 6 px triangle) covers 18


def background(image):
    """Per-channel median of the border ring of a [3, H, W] image in [0, 1]."""
    ring = torch.cat([image[:, 0, :], image[:, -1, :], image[:, 1:-1, 0], image[:, 1:-1, -1]], dim=1)
    return ring.median(dim=1).values


def size_from_area(shape, area):
    """Circle diameter, square side or triangle base (= height) of a shape with this area."""
    return {"circle": math.sqrt(4 * area / math.pi), "square": math.sqrt(area), "triangle": math.sqrt(2 * area)}[shape]


def size_word(size):
    """The size word whose training range is nearest (ranges: small 6-8, none 9-11, large 12-14)."""
    small, large = SIZE_RANGES["small"][1], SIZE_RANGES["large"][0]
    if size < (small + SIZE_RANGES[None][0]) / 2:
        return "small"
    if size > (SIZE_RANGES[None][1] + large) / 2:
        return "large"
    return None


def classify_shape(alpha, area, cx, cy):
    """The SHAPES entry whose rendering with this area and centroid is closest (L1) to `alpha`."""
    errors = []
    for index, shape in enumerate(SHAPES):
        side = size_from_area(shape, area)
        # The triangle's centroid lies side/6 below its bounding-box centre (apex up).
        box_y = cy - side / 6 if shape == "triangle" else cy
        template = coverage(torch.tensor([index]), torch.tensor([cx]), torch.tensor([box_y]), torch.tensor([side]))[0]
        errors.append((alpha - template).abs().sum().item())
    return SHAPES[min(range(len(SHAPES)), key=errors.__getitem__)]


def objects(image):
    """Objects in an image [3, 32, 32] in [-1, 1]: list of dicts (colour, shape, size word, x and y of
    the bounding-box centre, area), largest first."""
    img = ((image.detach().float() + 1) / 2).clamp(0, 1)
    bg = background(img)
    pixels = img.reshape(3, -1).T  # [HW, 3]
    far = (pixels - bg).norm(dim=1) > FAR_FROM_BACKGROUND
    distances = torch.cdist(pixels, PALETTE)  # [HW, 7]
    nearest = distances.min(dim=1)
    core = far & (nearest.values < NEAR_PALETTE)
    found = []
    ys, xs = torch.meshgrid(torch.arange(SIZE) + 0.5, torch.arange(SIZE) + 0.5, indexing="ij")
    for index, name in enumerate(COLOUR_NAMES):
        mine = (core & (nearest.indices == index)).reshape(SIZE, SIZE)
        if mine.sum() < MIN_CORE_PIXELS:
            continue
        others = (core & (nearest.indices != index)).reshape(SIZE, SIZE)
        region = (F.max_pool2d(mine[None, None].float(), 3, stride=1, padding=1)[0, 0] > 0) & ~others
        direction = PALETTE[index] - bg  # non-zero: core pixels are far from bg and near the colour
        projection = torch.einsum("chw,c->hw", img - bg[:, None, None], direction) / direction.dot(direction)
        alpha = projection.clamp(0, 1) * region
        area = alpha.sum().item()
        if area < MIN_AREA:
            continue
        cx, cy = (alpha * xs).sum().item() / area, (alpha * ys).sum().item() / area
        shape = classify_shape(alpha, area, cx, cy)
        side = size_from_area(shape, area)
        # Place by bounding-box centre, as the dataset does (a triangle's centroid lies side/6 lower).
        box_y = cy - side / 6 if shape == "triangle" else cy
        found.append({"colour": name, "shape": shape, "size": size_word(side), "x": cx, "y": box_y, "area": area})
    return sorted(found, key=lambda o: -o["area"])


def position(obj):
    """The POSITIONS key whose anchor is nearest to the object's centre."""
    return min(POSITIONS, key=lambda k: (POSITIONS[k][1][0] - obj["x"]) ** 2 + (POSITIONS[k][1][1] - obj["y"]) ** 2)


def relation(first, second):
    """The RELATIONS key that holds between two objects' centres (dominant axis)."""
    dx, dy = second["x"] - first["x"], second["y"] - first["y"]
    if abs(dx) > abs(dy):
        return "left of" if dx > 0 else "right of"
    return "above" if dy > 0 else "below"


def judge(spec, image):
    """Per-criterion verdicts for one generated image against its caption spec.

    colour: the detected objects have exactly the caption's colours (one object: exactly one);
    shape: each captioned object's colour is found with the right shape; place: position (one object
    with a position word) or relation (two objects); size: each found object's size word matches the
    caption's (no word = medium); correct: colour, shape and place all hold.
    """
    found = objects(image)
    by_colour = {o["colour"]: o for o in found}
    wanted = spec.objects
    colour = sorted(by_colour) == sorted(o.colour for o in wanted)
    shape = all(o.colour in by_colour and by_colour[o.colour]["shape"] == o.shape for o in wanted)
    size = all(o.colour in by_colour and by_colour[o.colour]["size"] == o.size for o in wanted)
    if len(wanted) == 1:
        place = spec.position is None or (colour and position(by_colour[wanted[0].colour]) == spec.position)
    else:
        place = colour and relation(by_colour[wanted[0].colour], by_colour[wanted[1].colour]) == spec.relation
    return {"colour": colour, "shape": shape, "place": place, "size": size, "correct": colour and shape and place}
