"""The GUI side of a background ``liverlesion segment``: its command and the JSON progress reader, on the real CLI."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from liverlesion.cli import main as cli_main
from liverlesion.cli.background import (
    BACKENDS,
    EXIT_BAD_INPUT,
    EXIT_CANCELLED,
    EXIT_INTERNAL,
    EXIT_OK,
    JsonProgressReader,
    MalformedProgressError,
    segment_command,
)
from liverlesion.cli.main import build_parser
from liverlesion.inference.predictor import BACKENDS as PREDICTOR_BACKENDS
from liverlesion.io import write_volume
from liverlesion.outputs import OUTPUT_NAMES


@pytest.fixture(scope="module")
def a_phantom_file(tmp_path_factory) -> Path:
    from liverlesion.phantom import generate_phantom

    phantom = generate_phantom(5, shape=(20, 80, 80), n_lesions=2)
    return write_volume(tmp_path_factory.mktemp("inputs") / "phantom5.nrrd", phantom.ct)


@pytest.fixture(scope="module")
def a_real_run(a_phantom_file, untrained_model, tmp_path_factory):
    """(stdout bytes, output folder) of the real CLI run the way the Slicer module starts it."""
    outdir = tmp_path_factory.mktemp("run") / "out"
    command = segment_command(
        a_phantom_file, outdir, threads=1, probabilities=True, model=str(untrained_model)
    )
    run = subprocess.run(command, capture_output=True, timeout=300)
    assert run.returncode == EXIT_OK, run.stderr.decode()
    return run.stdout, outdir


def chunks(data: bytes, seed: int):
    """``data`` cut into pieces of 1..40 bytes (cuts fall inside lines and inside UTF-8 characters)."""
    rng = random.Random(seed)
    start = 0
    while start < len(data):
        size = rng.randint(1, 40)
        yield data[start : start + size]
        start += size


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_real_cli_output_read_in_random_chunks_ends_at_one_with_existing_outputs(a_real_run, seed):
    stdout, outdir = a_real_run
    reader = JsonProgressReader()
    events = [event for chunk in chunks(stdout, seed) for event in reader.feed(chunk)]
    events += list(reader.close())
    assert len(events) == len(stdout.decode().splitlines()) > 5
    fractions = [event.fraction for event in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert events[-1].is_final and not any(event.is_final for event in events[:-1])
    assert sorted(Path(path).name for path in reader.outputs.values()) == sorted(OUTPUT_NAMES)
    for path in reader.outputs.values():
        assert Path(path).parent == outdir and Path(path).stat().st_size > 0
    assert isinstance(reader.final.summary["lesions"], list)


def test_whole_reads_and_byte_by_byte_reads_give_the_same_events(a_real_run):
    stdout, _ = a_real_run
    whole, single = JsonProgressReader(), JsonProgressReader()
    at_once = list(whole.feed(stdout)) + list(whole.close())
    by_byte = [event for index in range(len(stdout)) for event in single.feed(stdout[index : index + 1])]
    assert at_once == by_byte + list(single.close())


def test_a_utf8_character_split_between_reads_is_decoded_whole():
    line = json.dumps({"fraction": 0.25, "message": "Läsionen …"}, ensure_ascii=False).encode() + b"\n"
    cut = line.index("…".encode()) + 1
    reader = JsonProgressReader()
    assert list(reader.feed(line[:cut])) == []
    [event] = reader.feed(line[cut:])
    assert (event.fraction, event.message, event.summary) == (0.25, "Läsionen …", {})


def test_a_last_line_without_newline_is_read_when_the_reader_closes():
    reader = JsonProgressReader()
    assert list(reader.feed(b'{"fraction": 1.0, "message": "done", "outputs": {"lesions.json": "/x"}}')) == []
    [event] = reader.close()
    assert event.is_final and reader.outputs == {"lesions.json": "/x"}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"Traceback (most recent call last):", "invalid JSON"),
        (b'{"message": "no fraction"}', 'no "fraction"'),
        (b"[0.5]", 'no "fraction"'),
        (b'{"fraction": "half"}', "not a number"),
        (b'{"fraction": 1.5}', r"outside \[0, 1\]"),
    ],
)
def test_a_malformed_line_raises_a_typed_error_and_the_lines_behind_it_still_come(line, reason):
    reader = JsonProgressReader()
    events = reader.feed(
        b'{"fraction": 0.1, "message": "a"}\n' + line + b'\n{"fraction": 0.2, "message": "b"}\n'
    )
    assert next(events).fraction == 0.1
    with pytest.raises(MalformedProgressError, match=reason) as caught:
        next(events)
    assert caught.value.line == line.decode()
    assert [event.fraction for event in reader.feed(b"")] == [0.2]


def test_the_command_parses_with_the_real_cli_parser(tmp_path):
    command = segment_command(
        "ct.nrrd",
        tmp_path / "out",
        backend="torch",
        threads=3,
        min_lesion_ml=0.25,
        probabilities=True,
        model="models/x",
        python="/opt/PythonSlicer",
    )
    assert command[:4] == ["/opt/PythonSlicer", "-m", "liverlesion", "segment"]
    args = build_parser().parse_args(command[3:])
    assert args.inputs == ["ct.nrrd"] and args.output == str(tmp_path / "out")
    assert (args.backend, args.threads, args.min_lesion_ml) == ("torch", 3, 0.25)
    assert (args.progress, args.probabilities, args.model) == ("json", True, "models/x")


def test_zero_threads_and_no_minimum_leave_the_cli_defaults():
    command = segment_command("ct.nrrd", "out")
    assert command[0] == sys.executable
    args = build_parser().parse_args(command[3:])
    assert (args.threads, args.min_lesion_ml, args.probabilities, args.model) == (None, None, False, None)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"backend": "tensorflow"}, "backend must be one of"),
        ({"threads": -1}, "threads must be"),
        ({"threads": 1.5}, "threads must be"),
        ({"min_lesion_ml": -0.1}, "min_lesion_ml must be >= 0"),
        ({"min_lesion_ml": float("nan")}, "min_lesion_ml must be >= 0"),
    ],
)
def test_bad_options_are_refused_with_the_rule_they_break(options, message):
    with pytest.raises(ValueError, match=message):
        segment_command("ct.nrrd", "out", **options)


def test_the_backends_and_exit_codes_match_the_cli():
    assert BACKENDS == PREDICTOR_BACKENDS
    assert (EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_CANCELLED) == (
        cli_main.EXIT_OK,
        cli_main.EXIT_INTERNAL,
        cli_main.EXIT_BAD_INPUT,
        cli_main.EXIT_CANCELLED,
    ) == (0, 1, 2, 130)


def test_importing_the_background_helpers_loads_no_heavy_package():
    code = (
        "import sys, liverlesion.cli.background\n"
        "heavy = {'numpy', 'torch', 'onnxruntime', 'SimpleITK', 'vtk', 'slicer', 'qt', 'scipy'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
