"""recording/compose.py: the grid and ffmpeg's arguments for a recording's one file (the file itself
is made and checked with a real Janus and ffmpeg in tests/sfu/media/test_recording.py); the font of
each name on the tiles (recording/process.py), drawn by the real ffmpeg."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from videochat.recording.compose import HEIGHT, WIDTH, Label, Track, ffmpeg_arguments, grid
from videochat.recording.process import CJK_FONT, FONT, font_for


@pytest.mark.parametrize("count, columns, rows", [(1, 1, 1), (2, 2, 1), (3, 2, 2), (4, 2, 2), (5, 3, 2), (10, 4, 3)])
def test_the_grid_is_as_square_as_fits_and_its_cells_do_not_overlap(count, columns, rows):
    cells = grid(count)
    assert len(cells) == count
    assert {x for x, _, _, _ in cells} <= {i * (WIDTH // columns // 2 * 2) for i in range(columns)}
    assert len({y for _, y, _, _ in cells}) == rows
    for x, y, width, height in cells:
        assert width % 2 == 0 and height % 2 == 0  # H.264 in 4:2:0 needs even sizes
        assert x + width <= WIDTH and y + height <= HEIGHT
    assert len({(x, y) for x, y, _, _ in cells}) == count
    assert grid(0) == []


def test_each_stream_starts_at_its_offset_and_every_voice_is_mixed(tmp_path: Path):
    tracks = [
        Track(tmp_path / "a.webm", "video", 0.0),
        Track(tmp_path / "a.opus", "audio", 0.0),
        Track(tmp_path / "b.webm", "video", 3.25),
        Track(tmp_path / "b.opus", "audio", 3.25),
    ]
    arguments = ffmpeg_arguments(tracks, 9.5, tmp_path / "out.mp4")
    inputs = [arguments[i + 1] for i, value in enumerate(arguments) if value == "-i"]
    assert inputs == [str(tmp_path / name) for name in ("a.webm", "b.webm", "a.opus", "b.opus")]  # videos first
    graph = arguments[arguments.index("-filter_complex") + 1]
    assert "color=c=black:s=1280x720:r=15:d=9.500" in graph
    assert "[1:v]setpts=PTS-STARTPTS+3.250/TB" in graph and "[3:a]adelay=3250:all=1" in graph
    assert graph.count("overlay=") == 2 and "eof_action=pass" in graph  # gone when their stream ends
    assert "amix=inputs=2" in graph and "normalize=0" in graph
    assert arguments[-1] == str(tmp_path / "out.mp4") and "+faststart" in arguments
    assert arguments[arguments.index("-t") + 1] == "9.500"
    # a recording without sound: no audio map
    silent = ffmpeg_arguments([Track(tmp_path / "a.webm", "video", 0.0)], 2.0, tmp_path / "out.mp4")
    assert "amix" not in silent[silent.index("-filter_complex") + 1] and "-c:a" not in silent


def test_the_videos_of_one_person_share_a_cell(tmp_path: Path):
    """A person whose stream was sent again (a call moved to another Janus): one cell, not two."""
    tracks = [
        Track(tmp_path / "0001.webm", "video", 0.0, "ana:camera"),
        Track(tmp_path / "0002.webm", "video", 0.0, "ben:camera"),
        Track(tmp_path / "0003.webm", "video", 4.0, "ana:camera"),
        Track(tmp_path / "0004.webm", "video", 4.0, "ben:camera"),
    ]
    arguments = ffmpeg_arguments(tracks, 8.0, tmp_path / "out.mp4")
    graph = arguments[arguments.index("-filter_complex") + 1]
    placed = [part.split("overlay=")[1].split(":eof")[0] for part in graph.split(";") if "overlay=" in part]
    half = WIDTH // 2
    assert placed == ["x=0:y=0", f"x={half}:y=0", "x=0:y=0", f"x={half}:y=0"]
    assert f"scale={half}:{HEIGHT}" in graph  # two cells: side by side, full height


def test_names_are_read_from_files_and_shown_while_their_video_is_there(tmp_path: Path):
    """A name is never put into the filter graph itself (what people type could end it and add
    filters of their own): drawtext reads it from a file, verbatim (expansion=none)."""
    tracks = [
        Track(tmp_path / "0001.webm", "video", 1.5, "ana:camera", duration=4.0),
        Track(tmp_path / "0002.webm", "video", 0.0, "ben:camera"),
    ]
    font, wide = tmp_path / "font.ttf", tmp_path / "wide.ttc"
    labels = [Label("ana:camera", tmp_path / "label-0.txt", font), Label("ben:camera", tmp_path / "label-1.txt", wide)]
    arguments = ffmpeg_arguments(tracks, 8.0, tmp_path / "out.mp4", labels)
    graph = arguments[arguments.index("-filter_complex") + 1]
    assert graph.count("drawtext=") == 2 and graph.count("expansion=none") == 2
    assert f"textfile='{tmp_path / 'label-0.txt'}'" in graph and f"fontfile='{font}'" in graph
    assert f"fontfile='{wide}':textfile='{tmp_path / 'label-1.txt'}'" in graph  # each name its font
    assert "enable='between(t,1.500,5.500)'" in graph  # ana: from her start for her video's length
    assert "enable='between(t,0.000,8.000)'" in graph  # ben: length unknown, to the end
    assert arguments[arguments.index("-map") + 1] == "[n1]"  # the names are on what is encoded
    # no labels: no names
    plain = ffmpeg_arguments(tracks, 8.0, tmp_path / "out.mp4")
    assert "drawtext" not in plain[plain.index("-filter_complex") + 1]


def render_name(font: Path, name: str, folder: Path) -> bytes:
    """The pixels ffmpeg's drawtext makes of `name` in `font` (as compose.py asks for it)."""
    text = folder / "name.txt"
    text.write_text(name, encoding="utf-8")
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=black:s=240x60:d=0.1", "-vf",
         f"drawtext=fontfile='{font}':textfile='{text}':expansion=none:fontsize=30:fontcolor=white:x=10:y=10",
         "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip


def test_korean_chinese_and_japanese_names_get_a_font_that_has_their_letters(tmp_path: Path):
    """The seed is Korean: "아나" and "나아" must not come out as the same two boxes. With the font
    font_for picks, two names of the same letters in another order are drawn differently; with
    DejaVu Sans (which lacks them, the control) they are not."""
    for name in ("아나", "王芳", "さくら", "Ana 김"):
        assert font_for(name) == CJK_FONT, name
    assert font_for("Ana") == font_for("Zoë Ørsted") == font_for("Дмитрий") == FONT
    for first, second in (("아나", "나아"), ("王芳", "芳王"), ("さくら", "らくさ")):
        chosen = font_for(first)
        assert chosen is not None
        assert render_name(chosen, first, tmp_path) != render_name(chosen, second, tmp_path), first
        assert render_name(FONT, first, tmp_path) == render_name(FONT, second, tmp_path), "the control"
    # Latin letters are drawn with the wide font too (a name mixing both is written whole)
    assert render_name(CJK_FONT, "Ana", tmp_path) != render_name(CJK_FONT, "Ben", tmp_path)
