import numpy as np
import pytest

from strokect.data.patches import (
    elastic_deform,
    extract_patches,
    plan_patches,
    sample_elastic_params,
)


def _case(lesion_voxels: int = 200):
    rng = np.random.default_rng(0)
    image = rng.normal(size=(2, 4, 48, 48)).astype(np.float32)
    brain = np.zeros((4, 48, 48), np.uint8)
    brain[:, 8:40, 8:40] = 1
    label = np.zeros_like(brain)
    flat = np.argwhere(brain > 0)[:lesion_voxels]
    label[tuple(flat.T)] = 1
    return image, label, brain


def test_plan_is_balanced_and_lesion_voxel_stays_inside():
    image, label, brain = _case(300)
    plan = plan_patches(
        label, brain, n_patches=100, patch_size=(16, 16), rng=np.random.default_rng(1)
    )
    assert len(plan) == 100
    assert plan.is_lesion.sum() == 50 and not plan.deform.any()
    _, labels = extract_patches(image, label, plan, patch_size=(16, 16))
    # every lesion-centred patch contains lesion: the offset is below half the patch
    assert all(labels[i].any() for i in np.flatnonzero(plan.is_lesion))
    healthy = plan.centres_zyx[~plan.is_lesion]
    assert brain[tuple(healthy.T)].all() and not label[tuple(healthy.T)].any()


def test_few_lesion_voxels_are_repeated_and_marked_for_deformation():
    _, label, brain = _case(10)
    plan = plan_patches(
        label, brain, n_patches=60, patch_size=(16, 16), rng=np.random.default_rng(0)
    )
    assert plan.is_lesion.sum() == 30
    assert plan.deform.sum() == 20  # 10 plain + 20 deformed repetitions


def test_no_lesion_gives_healthy_patches_only():
    _, label, brain = _case(0)
    plan = plan_patches(label, brain, n_patches=20, rng=np.random.default_rng(0))
    assert not plan.is_lesion.any() and len(plan) == 20


def test_extraction_matches_direct_indexing():
    image, label, brain = _case(300)
    plan = plan_patches(label, brain, n_patches=10, patch_size=(8, 8), rng=np.random.default_rng(2))
    patches, labels = extract_patches(image, label, plan, patch_size=(8, 8))
    z, y, x = plan.centres_zyx[0]
    assert np.array_equal(patches[0], image[:, z, y - 4 : y + 4, x - 4 : x + 4])
    assert np.array_equal(labels[0], label[z, y - 4 : y + 4, x - 4 : x + 4])


def test_elastic_deform_moves_image_and_label_identically():
    """Catches the authors' bug (image and label transformed along different axes)."""
    h = w = 64
    label = np.zeros((h, w), np.uint8)
    label[10:20, 5:50] = 1  # an asymmetric "L": any axis swap or flip mismatch shows
    label[10:55, 40:50] = 1
    image = np.stack([label.astype(np.float32), np.random.default_rng(0).normal(size=(h, w))])
    params = sample_elastic_params(np.random.default_rng(3), (h, w), alpha=2.5, gamma=0.12)
    assert 2.4 < np.abs(params.displacement).max() <= 2.5 + 1e-6
    warped, warped_label = elastic_deform(image, label, params)
    assert not np.array_equal(warped_label, label)  # it really deforms
    assert np.array_equal(warped_label, (warped[0] > 0.5).astype(np.uint8))
    # an augmentation flipping the label on another axis than the image would fail the check above
    assert not np.array_equal(warped_label[::-1], (warped[0] > 0.5).astype(np.uint8))


def test_elastic_is_deterministic_given_params():
    image = np.random.default_rng(0).normal(size=(1, 32, 32)).astype(np.float32)
    label = (image[0] > 0).astype(np.uint8)
    params = sample_elastic_params(np.random.default_rng(5), (32, 32))
    a = elastic_deform(image, label, params)
    b = elastic_deform(image, label, params)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    with pytest.raises(ValueError):
        elastic_deform(image[:, :16], label, params)
