from __future__ import annotations

from pathlib import Path

import pytest
import torch

from imgcls_gui.engine.data import loading as data
from imgcls_gui.engine.config import AugmentConfig
from imgcls_gui.engine.data.loading import ImageDataset, UnreadableImageWarning, auto_num_workers, encode_targets, make_loader
from imgcls_gui.engine.data.datasets import load_dataset
from imgcls_gui.engine.errors import DatasetError
from imgcls_gui.engine.data.preprocess import Preprocessing, eval_transform
from imgcls_gui.engine.data.samples import Sample
from imgcls_gui.engine.data.transforms import train_transform

PRE = Preprocessing(image_size=32, resize_size=36)


def test_encode_targets_multiclass_and_multilabel():
    samples = [Sample(Path("a"), ("dog",)), Sample(Path("b"), ("cat",)), Sample(Path("c"), ("fox",))]
    encoded = encode_targets(samples, ["cat", "dog", "fox"], "multiclass")
    assert encoded.dtype == torch.long and encoded.tolist() == [1, 0, 2]
    multi = [Sample(Path("a"), ("sea", "sky")), Sample(Path("b"), ())]
    hot = encode_targets(multi, ["sand", "sea", "sky"], "multilabel")
    assert hot.dtype == torch.float32 and hot.tolist() == [[0, 1, 1], [0, 0, 0]]


@pytest.mark.parametrize(
    "sample, task",
    [(Sample(Path("x.png"), ("wolf",)), "multiclass"), (Sample(Path("x.png")), "multiclass"),
     (Sample(Path("x.png"), ("cat", "dog")), "multiclass"), (Sample(Path("x.png"), ("wolf",)), "multilabel")],
)
def test_encode_targets_rejects_labels_it_cannot_encode(sample, task):
    with pytest.raises(DatasetError, match="x.png"):
        encode_targets([sample], ["cat", "dog"], task)


def _dataset(root: Path, transform=None, **kwargs) -> ImageDataset:
    ds = load_dataset(root)
    return ImageDataset([s.path for s in ds.samples], encode_targets(ds.samples, ds.classes, ds.task),
                        transform or eval_transform(PRE), **kwargs)


def test_items_are_image_target_index(folder_dataset):
    dataset = _dataset(folder_dataset)
    image, target, index = dataset[7]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32
    assert index == 7 and target.item() == dataset.targets[7].item()
    assert len(dataset) == 16


def test_unreadable_file_is_replaced_by_the_next_readable_one(folder_dataset):
    dataset = _dataset(folder_dataset)
    dataset.paths[3].write_bytes(b"")  # emptied after import, as a failing disk would
    dataset.paths[4].write_text("not an image")
    with pytest.warns(UnreadableImageWarning) as caught:
        image, target, index = dataset[3]
    assert len(caught) == 2 and "003.png" in str(caught[0].message)
    assert index == 5 and target.item() == dataset.targets[5].item() and image.shape == (3, 32, 32)
    assert [(Path(p.path).name, p.kind) for p in dataset.failures] == [("003.png", "truncated"), ("004.png", "not-image")]
    dataset[3]  # known failures are skipped without warning again
    assert len(dataset.failures) == 2


def test_dataset_with_no_readable_image_raises(tmp_path):
    bad = tmp_path / "x.png"
    bad.write_text("nope")
    dataset = ImageDataset([bad], torch.zeros(1), eval_transform(PRE))
    with pytest.warns(UnreadableImageWarning), pytest.raises(DatasetError, match="none of the 1 images"):
        dataset[0]


def test_cache_keeps_decoded_images_shrunk_to_the_draft_size(tmp_path, make_image):
    path = make_image(tmp_path / "big.png", size=(120, 80), seed=3)
    cache: dict = {}
    dataset = ImageDataset([path], torch.zeros(1), lambda image: image, draft_size=40, cache=cache)
    first = dataset[0][0]
    assert min(first.size) == 40 and first.size == (60, 40)
    path.unlink()  # served from memory now
    assert dataset[0][0] is first and len(cache) == 1


def test_loader_batches_and_shapes(folder_dataset):
    dataset = _dataset(folder_dataset, train_transform(PRE, AugmentConfig()))
    loader = make_loader(dataset, batch_size=5, shuffle=True, num_workers=0)
    batches = list(loader)
    assert [len(b[0]) for b in batches] == [5, 5, 5, 1]
    images, targets, indices = batches[0]
    assert images.shape == (5, 3, 32, 32) and targets.shape == (5,) and indices.shape == (5,)
    assert sorted(torch.cat([b[2] for b in batches]).tolist()) == list(range(16))
    assert len(list(make_loader(dataset, batch_size=5, shuffle=False, num_workers=0, drop_last=True))) == 3


def test_loader_order_and_augmentation_repeat_for_a_seed(folder_dataset):
    dataset = _dataset(folder_dataset, train_transform(PRE, AugmentConfig(color_jitter=0.3)))

    def epoch(seed, workers):
        loader = make_loader(dataset, batch_size=4, shuffle=True, num_workers=workers, seed=seed)
        return [(images, indices) for images, _, indices in loader]

    first, again, other = epoch(1, 0), epoch(1, 0), epoch(2, 0)
    assert [i.tolist() for _, i in first] == [i.tolist() for _, i in again]
    assert [i.tolist() for _, i in first] != [i.tolist() for _, i in other]
    # each image's augmentation is seeded from (seed, epoch, index): the same in a worker process as without one
    in_worker, in_worker_again = epoch(1, 1), epoch(1, 1)
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(in_worker, in_worker_again))
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(in_worker, first))


def test_an_epoch_gives_the_same_batches_whatever_ran_before(folder_dataset):
    """What exact resume rests on: epoch 1 of a fresh loader (fresh workers) equals epoch 1 after epoch 0."""
    dataset = _dataset(folder_dataset, train_transform(PRE, AugmentConfig(color_jitter=0.3)))

    def batches(loader, epoch):
        loader.set_epoch(epoch)
        return [(images, indices) for images, _, indices in loader]

    continued = make_loader(dataset, batch_size=4, shuffle=True, num_workers=2, seed=3)
    zero, one = batches(continued, 0), batches(continued, 1)
    torch.manual_seed(12345)  # the main process's RNG must not matter either
    resumed = batches(make_loader(dataset, batch_size=4, shuffle=True, num_workers=2, seed=3), 1)
    assert [i.tolist() for _, i in one] != [i.tolist() for _, i in zero]
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(one, resumed))
    state = torch.get_rng_state()
    batches(make_loader(dataset, batch_size=4, shuffle=True, num_workers=0, seed=3), 1)
    assert torch.equal(torch.get_rng_state(), state)  # without workers the transforms leave the global RNG alone


def test_worker_process_survives_a_corrupt_file(folder_dataset):
    dataset = _dataset(folder_dataset)
    dataset.paths[0].write_text("corrupt")
    loader = make_loader(dataset, batch_size=4, shuffle=False, num_workers=1)
    assert loader.num_workers == 1 and loader.persistent_workers
    indices = torch.cat([indices for _, _, indices in loader]).tolist()  # the warning stays in the worker
    assert len(indices) == 16 and 0 not in indices and indices.count(1) == 2


def test_auto_workers_and_pinning(folder_dataset, monkeypatch):
    monkeypatch.setattr(data, "_cpu_count", lambda: 6)
    assert auto_num_workers(10, batch_size=8) == 0  # under two batches: not worth a process
    assert auto_num_workers(100, batch_size=8) == 5
    monkeypatch.setattr(data, "_cpu_count", lambda: 64)
    assert auto_num_workers(10_000, batch_size=8) == 8
    monkeypatch.setattr(data, "_cpu_count", lambda: 1)
    assert auto_num_workers(10_000, batch_size=8) == 0
    dataset = _dataset(folder_dataset)
    assert make_loader(dataset, batch_size=4, shuffle=False).num_workers == 0
    assert make_loader(dataset, batch_size=4, shuffle=False, device_type="cuda").pin_memory
    assert not make_loader(dataset, batch_size=4, shuffle=False, device_type="cpu").pin_memory
