"""Procedural 32x32 pictures of coloured shapes with captions from a small grammar.

The embedded default model is trained only on this data, so the grammar is the model's language:

    one object:  a [small|large] <colour> <shape> [on the left | on the right | at the top |
                 at the bottom | in the center]
    two objects: a [size] <colour> <shape> <above | below | left of | right of> a [size] <colour> <shape>

Seven saturated colours on grey backgrounds (dark to mid grey, so even white stands out), three
shapes, anti-aliased by 4x supersampling, with jitter in size and position. The two objects of a
caption always have different colours, so a picture can be read back by colour alone (see detect.py).

HELD_OUT lists colour-shape pairs that never occur in a training caption, not even as one object of
two: an evaluation can then ask whether the model composes colour and shape words it has only seen
apart.

Everything is deterministic: `Sampler(seed).batch(step, size)` draws from a generator seeded by
(seed, step), so a resumed run sees exactly the batches an uninterrupted run would.

Run `python -m tools.embedded_model.dataset` for the self-check (rendered colours and positions agree
with the captions; caption text and specs round-trip).
"""

import dataclasses

import numpy as np
import torch

SIZE = 32  # image side in pixels
SUPERSAMPLE = 4  # anti-aliasing: render at 4x and average 4x4 blocks

COLOURS = {
    "red": (1.0, 0.0, 0.0),
    "green": (0.0, 1.0, 0.0),
    "blue": (0.0, 0.0, 1.0),
    "yellow": (1.0, 1.0, 0.0),
    "magenta": (1.0, 0.0, 1.0),
    "cyan": (0.0, 1.0, 1.0),
    "white": (1.0, 1.0, 1.0),
}
SHAPES = ("circle", "square", "triangle")
SIZE_WORDS = ("small", "large")

# Colour-shape pairs absent from training (4 of 21): each shape at least once, no colour twice.
HELD_OUT = (("red", "triangle"), ("green", "square"), ("blue", "circle"), ("yellow", "triangle"))
TRAIN_PAIRS = tuple((c, s) for c in COLOURS for s in SHAPES if (c, s) not in HELD_OUT)
ALL_PAIRS = tuple((c, s) for c in COLOURS for s in SHAPES)

# One-object positions: caption phrase and the object's centre (x, y) in pixels.
POSITIONS = {
    "left": ("on the left", (8.0, 16.0)),
    "right": ("on the right", (24.0, 16.0)),
    "top": ("at the top", (16.0, 8.0)),
    "bottom": ("at the bottom", (16.0, 24.0)),
    "center": ("in the center", (16.0, 16.0)),
}
# Two-object relations: caption phrase and the centres of the first and second object.
RELATIONS = {
    "above": ("above", (16.0, 8.0), (16.0, 24.0)),
    "below": ("below", (16.0, 24.0), (16.0, 8.0)),
    "left of": ("left of", (8.0, 16.0), (24.0, 16.0)),
    "right of": ("right of", (24.0, 16.0), (8.0, 16.0)),
}

# Object size (circle diameter, square side, triangle base = height) in pixels, by size word.
SIZE_RANGES = {"small": (6.0, 8.0), None: (9.0, 11.0), "large": (12.0, 14.0)}
POSITION_JITTER = 2.0  # one object: +-2 px around its anchor
ALONG_JITTER = 1.5  # two objects: +-1.5 px along the relation's axis ...
ACROSS_JITTER = 4.0  # ... and +-4 px across it
BACKGROUND_RANGE = (0.0, 0.55)  # grey level in [0, 1]; white objects stay >= 0.45 brighter

# Caption mix: two-object captions are oversampled (binding colour to shape and order is the hard
# part), one-object captions mostly carry a position, size words appear on half the objects.
# P_TWO_OBJECTS and P_UNNAMED_COLOUR are the defaults of train.py's --two-object-share and
# --unnamed-colour (a run records the values it used).
P_TWO_OBJECTS = 0.6
# Share of objects whose colour word a training caption leaves out ("a triangle on the left" for a
# blue triangle): only the shape word then says what shape to draw. Each colour is seen with two or
# three of the three shapes, so a model can otherwise learn shape partly from the colour word and
# draw a held-out pair (red triangle) with the colour's usual shape. The picture is still one of a
# training pair, so no held-out pair is ever shown.
P_UNNAMED_COLOUR = 0.0
P_NO_POSITION = 0.15
P_SIZE_WORD = 0.5

VOCABULARY = tuple(
    dict.fromkeys(
        ["a"]
        + list(SIZE_WORDS)
        + list(COLOURS)
        + list(SHAPES)
        + " ".join(phrase for phrase, _ in POSITIONS.values()).split()
        + " ".join(phrase for phrase, _, _ in RELATIONS.values()).split()
    )
)


@dataclasses.dataclass(frozen=True)
class Obj:
    colour: str
    shape: str
    size: str = None  # "small", "large" or None


@dataclasses.dataclass(frozen=True)
class Spec:
    """What a caption says: one object with an optional position, or two objects and a relation."""

    objects: tuple
    position: str = None  # one object: a POSITIONS key or None
    relation: str = None  # two objects: a RELATIONS key

    def __post_init__(self):
        if len(self.objects) == 1:
            assert self.relation is None and self.position in (None, *POSITIONS), self
        else:
            assert len(self.objects) == 2 and self.position is None and self.relation in RELATIONS, self
            assert self.objects[0].colour != self.objects[1].colour, "two objects need different colours"

    def pairs(self):
        return [(o.colour, o.shape) for o in self.objects]

    def held_out(self):
        return any(pair in HELD_OUT for pair in self.pairs())


def _object_words(obj, name_colour=True):
    return " ".join(w for w in ("a", obj.size, obj.colour if name_colour else None, obj.shape) if w)


def caption(spec, unnamed=()):
    """The caption text of a spec; the objects whose indices are in `unnamed` go without their colour
    word (training captions only, see P_UNNAMED_COLOUR; parse_caption reads full captions)."""
    first = _object_words(spec.objects[0], 0 not in unnamed)
    if len(spec.objects) == 2:
        return f"{first} {RELATIONS[spec.relation][0]} {_object_words(spec.objects[1], 1 not in unnamed)}"
    if spec.position is None:
        return first
    return f"{first} {POSITIONS[spec.position][0]}"


def parse_caption(text):
    """The spec of a caption written by `caption` (lowercase words, single spaces); ValueError otherwise."""
    words = text.strip().lower().split()

    def parse_object(at):
        if at >= len(words) or words[at] != "a":
            raise ValueError(f"expected 'a' at word {at} of {text!r}")
        at += 1
        size = words[at] if at < len(words) and words[at] in SIZE_WORDS else None
        at += size is not None
        colour, shape = (words[at : at + 2] + [None, None])[:2]
        if colour not in COLOURS or shape not in SHAPES:
            raise ValueError(f"expected '<colour> <shape>' at word {at} of {text!r}")
        return Obj(colour, shape, size), at + 2

    first, at = parse_object(0)
    rest = " ".join(words[at:])
    if not rest:
        return Spec((first,))
    for key, (phrase, _) in POSITIONS.items():
        if rest == phrase:
            return Spec((first,), position=key)
    for key, (phrase, _, _) in RELATIONS.items():
        if rest.startswith(phrase + " "):
            second, end = parse_object(at + len(phrase.split()))
            if end != len(words):
                raise ValueError(f"unexpected words after the second object: {text!r}")
            return Spec((first, second), relation=key)
    raise ValueError(f"cannot parse {rest!r} in {text!r}")


# ---------------------------------------------------------------------------------------------- specs


def random_spec(rng, pairs=TRAIN_PAIRS, two_objects=None, two_object_share=P_TWO_OBJECTS):
    """A random caption spec over `pairs` (the training pairs unless told otherwise); two objects
    if `two_objects`, or with probability `two_object_share` when it is None."""

    def obj(exclude_colour=None):
        choices = [p for p in pairs if p[0] != exclude_colour]
        colour, shape = choices[rng.integers(len(choices))]
        size = SIZE_WORDS[rng.integers(2)] if rng.random() < P_SIZE_WORD else None
        return Obj(colour, shape, size)

    if two_objects is None:
        two_objects = rng.random() < two_object_share
    if two_objects:
        first = obj()
        second = obj(exclude_colour=first.colour)
        return Spec((first, second), relation=list(RELATIONS)[rng.integers(len(RELATIONS))])
    position = None if rng.random() < P_NO_POSITION else list(POSITIONS)[rng.integers(len(POSITIONS))]
    return Spec((obj(),), position=position)


# ---------------------------------------------------------------------------------------------- layout


def layout(spec, rng=None):
    """[(colour, shape, centre_x, centre_y, size)] for a spec; rng None gives the canonical layout
    (anchor positions, mid-range sizes, no jitter)."""

    def uniform(low, high):
        return (low + high) / 2 if rng is None else float(rng.uniform(low, high))

    sizes = [uniform(*SIZE_RANGES[o.size]) for o in spec.objects]
    if len(spec.objects) == 1:
        if spec.position is None:
            centres = [(uniform(8.0, 24.0), uniform(8.0, 24.0))]
        else:
            x, y = POSITIONS[spec.position][1]
            centres = [(x + uniform(-POSITION_JITTER, POSITION_JITTER), y + uniform(-POSITION_JITTER, POSITION_JITTER))]
    else:
        _, first, second = RELATIONS[spec.relation]
        horizontal = spec.relation in ("left of", "right of")
        centres = []
        for x, y in (first, second):
            along, across = uniform(-ALONG_JITTER, ALONG_JITTER), uniform(-ACROSS_JITTER, ACROSS_JITTER)
            centres.append((x + along, y + across) if horizontal else (x + across, y + along))
    placed = []
    for obj, (x, y), size in zip(spec.objects, centres, sizes):
        # Keep the whole object inside the picture.
        half = size / 2
        x = min(max(x, half + 0.5), SIZE - half - 0.5)
        y = min(max(y, half + 0.5), SIZE - half - 0.5)
        placed.append((obj.colour, obj.shape, x, y, size))
    return placed


# ---------------------------------------------------------------------------------------------- rendering

_FINE = (torch.arange(SIZE * SUPERSAMPLE, dtype=torch.float32) + 0.5) / SUPERSAMPLE  # sample centres in pixels


def coverage(shape, cx, cy, size):
    """[B, 32, 32] anti-aliased coverage in [0, 1] of shapes given as [B] tensors (centre, size).

    circle: diameter `size`; square: side `size`; triangle: apex up, base and height `size`, its
    bounding box centred on (cx, cy). `shape` is a [B] tensor of SHAPES indices.
    """
    x = _FINE[None, None, :] - cx[:, None, None]
    y = _FINE[None, :, None] - cy[:, None, None]
    half = (size / 2)[:, None, None]
    circle = x * x + y * y <= half * half
    square = (x.abs() <= half) & (y.abs() <= half)
    # Apex at y = -half, base at y = +half; the half-width grows linearly from 0 to `half`.
    triangle = (y.abs() <= half) & (x.abs() <= (y + half) / 2)
    masks = torch.stack([circle, square, triangle], dim=1).float()  # [B, 3, H, W]
    fine = masks.gather(1, shape[:, None, None, None].expand(-1, 1, *masks.shape[2:]))
    return torch.nn.functional.avg_pool2d(fine, SUPERSAMPLE)[:, 0]


def render_layouts(layouts, backgrounds):
    """Images [B, 3, 32, 32] in [-1, 1] from layouts (see `layout`) and grey levels in [0, 1]."""
    batch = len(layouts)
    image = torch.tensor(backgrounds, dtype=torch.float32)[:, None, None, None].expand(batch, 3, SIZE, SIZE).clone()
    for slot in range(max(len(objects) for objects in layouts)):
        rows = [i for i, objects in enumerate(layouts) if len(objects) > slot]
        items = [layouts[i][slot] for i in rows]
        alpha = coverage(
            torch.tensor([SHAPES.index(item[1]) for item in items]),
            torch.tensor([item[2] for item in items], dtype=torch.float32),
            torch.tensor([item[3] for item in items], dtype=torch.float32),
            torch.tensor([item[4] for item in items], dtype=torch.float32),
        )[:, None]
        colour = torch.tensor([COLOURS[item[0]] for item in items], dtype=torch.float32)[:, :, None, None]
        index = torch.tensor(rows)
        image[index] = image[index] * (1 - alpha) + colour * alpha
    return image * 2 - 1


def render(spec, rng=None, background=0.3):
    """The ground-truth image [3, 32, 32] in [-1, 1] for a caption spec. With a numpy Generator the
    layout and background are jittered as in training; without, canonical layout on `background` grey."""
    if rng is not None:
        background = float(rng.uniform(*BACKGROUND_RANGE))
    return render_layouts([layout(spec, rng)], [background])[0]


class Sampler:
    """Training batches: `batch(step, size)` -> (images [B, 3, 32, 32] in [-1, 1], captions)."""

    def __init__(self, seed, pairs=TRAIN_PAIRS, two_object_share=P_TWO_OBJECTS, unnamed_colour=P_UNNAMED_COLOUR):
        self.seed = seed
        self.pairs = pairs
        self.two_object_share = two_object_share
        self.unnamed_colour = unnamed_colour

    def batch(self, step, size):
        rng = np.random.default_rng([self.seed, step])
        specs = [random_spec(rng, self.pairs, two_object_share=self.two_object_share) for _ in range(size)]
        layouts = [layout(spec, rng) for spec in specs]
        backgrounds = rng.uniform(*BACKGROUND_RANGE, size=size).tolist()
        # A generator of its own, so that a share of 0 leaves the batches of earlier runs unchanged.
        naming = np.random.default_rng([self.seed, step, 1])
        unnamed = [[i for i in range(len(spec.objects)) if naming.random() < self.unnamed_colour] for spec in specs]
        return render_layouts(layouts, backgrounds), [caption(spec, u) for spec, u in zip(specs, unnamed)]


# ---------------------------------------------------------------------------------------------- self-check


def self_check(count=400, seed=123):
    """Rendered pictures agree with their captions; captions round-trip; held-out pairs stay out."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        spec = random_spec(rng)
        assert parse_caption(caption(spec)) == spec, caption(spec)
        assert not spec.held_out(), caption(spec)
        placed = layout(spec, rng)
        background = float(rng.uniform(*BACKGROUND_RANGE))
        image = (render_layouts([placed], [background])[0] + 1) / 2
        for colour, shape, x, y, size in placed:
            # The object's centre pixel has its colour (triangle: a bit below the box centre, where
            # the shape is wide).
            px, py = int(x), int(y + (size / 4 if shape == "triangle" else 0))
            got = image[:, py, px]
            assert torch.allclose(got, torch.tensor(COLOURS[colour]), atol=1e-6), (caption(spec), got)
        corners = image[:, [0, 0, -1, -1], [0, -1, 0, -1]]
        assert torch.allclose(corners, torch.full_like(corners, background), atol=1e-6), caption(spec)
        if spec.position is not None:
            anchor = POSITIONS[spec.position][1]
            _, _, x, y, _ = placed[0]
            assert abs(x - anchor[0]) <= POSITION_JITTER + 1e-6 and abs(y - anchor[1]) <= POSITION_JITTER + 1e-6
        if spec.relation is not None:
            (_, _, x0, y0, _), (_, _, x1, y1, _) = placed
            expected = {"above": y0 < y1, "below": y0 > y1, "left of": x0 < x1, "right of": x0 > x1}[spec.relation]
            assert expected, caption(spec)
    # Area of the anti-aliased coverage matches the analytic area of each shape.
    for shape, area in (("circle", np.pi * 25), ("square", 100.0), ("triangle", 50.0)):
        alpha = coverage(torch.tensor([SHAPES.index(shape)]), torch.tensor([16.0]), torch.tensor([16.0]), torch.tensor([10.0]))
        assert abs(alpha.sum().item() - area) < 0.02 * area, (shape, alpha.sum().item(), area)
    images, captions = Sampler(seed).batch(0, 64)
    again, captions_again = Sampler(seed).batch(0, 64)
    assert torch.equal(images, again) and captions == captions_again, "batches are not deterministic"
    assert images.shape == (64, 3, SIZE, SIZE) and images.min() >= -1 and images.max() <= 1
    # The colour words are the only difference the unnamed-colour share makes.
    images_unnamed, captions_unnamed = Sampler(seed, unnamed_colour=0.5).batch(0, 64)
    assert torch.equal(images, images_unnamed), "the unnamed-colour share changed the pictures"
    colour_words = set(COLOURS)
    assert any(a != b for a, b in zip(captions, captions_unnamed))
    for full, short in zip(captions, captions_unnamed):
        assert [w for w in full.split() if w not in colour_words] == [w for w in short.split() if w not in colour_words]
    words = {w for c in captions for w in c.split()}
    assert words <= set(VOCABULARY), words - set(VOCABULARY)
    two = sum(" of " in c or " above " in c or " below " in c for c in captions)
    print(f"dataset self-check passed: {count} specs, vocabulary {len(VOCABULARY)} words, {two}/64 two-object captions")
    for text in captions[:6]:
        print("  ", text)


if __name__ == "__main__":
    self_check()
