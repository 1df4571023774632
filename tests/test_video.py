"""Videos are written whole or not at all."""

import imageio.v3 as iio
import numpy as np
import pytest

from worldgym import video


def frames(count=6, value=200):
    result = np.zeros((count, 32, 48, 3), np.uint8)
    result[:, 8:24, 8:40] = value
    for index in range(count):  # distinct frames (GIF writers merge identical ones)
        result[index, 28:, : 4 * (index + 1)] = 255
    return result


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_round_trip(tmp_path, suffix):
    path = video.write_video(tmp_path / f"clip{suffix}", frames(), fps=10)
    read = iio.imread(path)
    assert read.shape[0] == 6 and read.shape[1:3] == (32, 48)
    assert abs(float(read[:, 16, 24].mean()) - 200) < 10


def test_a_crash_while_writing_keeps_the_previous_file(tmp_path, monkeypatch):
    path = video.write_video(tmp_path / "clip.mp4", frames(value=200), fps=10)
    before = path.read_bytes()

    def crash(target, *args, **kwargs):
        with open(target, "wb") as handle:
            handle.write(b"half a video")
        raise OSError("disk full")

    monkeypatch.setattr(video.iio, "imwrite", crash)
    with pytest.raises(OSError):
        video.write_video(path, frames(value=50), fps=10)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


def test_rejects_frames_of_the_wrong_shape(tmp_path):
    with pytest.raises(ValueError, match=r"\[T, H, W, 3\]"):
        video.write_video(tmp_path / "clip.mp4", np.zeros((4, 8, 8)), fps=10)
