"""Records in the forms users have: JSON/JSONL, CSV/TSV, Parquet, a `datasets.save_to_disk` folder, a Hub id.

Every reader returns `(where, record)` pairs, `where` naming the record in messages ("line 3", "record 7",
"row 12"), so a bad record is one sentence that points at it. Parquet goes through pyarrow and the other
two dataset forms through the `datasets` library, both imported inside the functions that need them:
the data layer stays light for commands that read plain JSON.
"""

from __future__ import annotations

import csv
import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from litft.common.errors import LitftError, os_errors_as_user_errors
from litft.common.io import iter_jsonl, read_json

HUB_PREFIX = "hf:"
TABLE_SUFFIXES = (".json", ".jsonl", ".csv", ".tsv", ".parquet")
# What `Dataset.save_to_disk` / `DatasetDict.save_to_disk` write at the top of their folder.
SAVED_DATASET_FILES = ("dataset_info.json", "state.json", "dataset_dict.json")
# The most characters one CSV cell may hold. Python's csv module stops at 128 KiB by default, less than a long
# document or answer; a bound is kept so that a stray quote cannot turn the rest of a large file into one cell.
CSV_CELL_LIMIT = 64 * 1024 * 1024

Numbered = list[tuple[str, Any]]


def is_hub_id(data: str | os.PathLike) -> bool:
    return str(data).startswith(HUB_PREFIX)


def is_saved_dataset(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_file() for name in SAVED_DATASET_FILES)


def read_table(data: str | os.PathLike, split: str | None = None, subset: str | None = None) -> Numbered:
    """All records of `data` as `(where, record)` pairs; `split`/`subset` choose a Hub or saved dataset's part."""
    if is_hub_id(data):
        return _numbered(_load_hub(str(data)[len(HUB_PREFIX) :], split, subset))
    path = Path(data)
    if is_saved_dataset(path):
        return _numbered(_load_saved(path, split))
    if not path.is_file():
        raise LitftError(f"input {path} does not exist; check the path (a Hub dataset is written hf:owner/name).")
    suffix = path.suffix.lower()
    with os_errors_as_user_errors("read", path):
        if suffix == ".jsonl":
            return _read_jsonl(path)
        if suffix in (".csv", ".tsv"):
            return _read_csv(path, "\t" if suffix == ".tsv" else ",")
        if suffix == ".parquet":
            return _numbered(_read_parquet(path))
        return _read_json_list(path)


def _numbered(rows: Sequence[Any]) -> Numbered:
    return [(f"record {number}", row) for number, row in enumerate(rows, start=1)]


def _read_jsonl(path: Path) -> Numbered:
    """(line number, record) pairs: iter_jsonl skips blank lines, so their numbers come from a byte scan."""
    numbers = [i for i, line in enumerate(path.read_bytes().split(b"\n"), start=1) if line.strip()]
    return [(f"line {number}", record) for number, record in zip(numbers, iter_jsonl(path), strict=True)]


def _read_json_list(path: Path) -> Numbered:
    return _numbered(read_json_records(path))


def read_json_records(path: Path) -> list:
    """The records of a .json file: a list, or the one list of a {"data": [...]} / {"records": [...]} wrapper."""
    data = read_json(path)
    if isinstance(data, dict):
        lists = [value for value in data.values() if isinstance(value, list)]
        data = lists[0] if len(lists) == 1 else data
    if not isinstance(data, list):
        raise LitftError(f"{path} must hold a JSON list of records (or be a .jsonl file with one record per line).")
    return data


def _read_csv(path: Path, delimiter: str) -> Numbered:
    """Rows as {header: text}; every value stays the text the file holds (no number or date guessing)."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # Excel's UTF-8 export starts with a byte-order mark
    except UnicodeDecodeError:
        raise LitftError(f"{path} is not UTF-8 text; re-save it as UTF-8 (in Excel: CSV UTF-8).") from None
    reader = csv_reader(text, delimiter, strict=True)
    rows: Numbered = []
    try:
        for row in reader:
            cells = len(reader.fieldnames or [])
            if None in row:  # more cells than the header has names
                raise LitftError(
                    f"{path} row {len(rows) + 1} has more cells than the header's {cells}; "
                    "quote cells that hold the delimiter."
                )
            if None in row.values():  # fewer cells: a cut row, not an empty cell (which reads as "")
                raise LitftError(f"{path} row {len(rows) + 1} has fewer cells than the header's {cells}; complete it.")
            rows.append((f"row {len(rows) + 1}", row))
    except csv.Error as error:
        raise csv_error(path, text, delimiter, len(rows) + 1, error) from None
    return rows


def csv_reader(text: str, delimiter: str, strict: bool = False) -> csv.DictReader:
    """Rows of CSV text as dicts, cells up to CSV_CELL_LIMIT characters."""
    csv.field_size_limit(CSV_CELL_LIMIT)
    # The csv module splits rows itself: str.splitlines would also split at U+2028, form feeds and other characters
    # CSV writers leave unquoted inside a cell.
    return csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, strict=strict)


def csv_error(path: Path, text: str, delimiter: str, row: int, error: csv.Error) -> LitftError:
    """One sentence for the csv.Error raised at data row `row`: a cell over the limit is named by row and column."""
    if "field larger than field limit" not in str(error):
        return LitftError(f"{path} row {row} is malformed CSV ({error}); fix that row.")
    return LitftError(
        f"{path} {_oversized_cell(text, delimiter, row)} holds a cell longer than {CSV_CELL_LIMIT:,} characters, "
        "the most litft reads in one CSV cell; split that text into smaller records or give the records as JSONL."
    )


def _oversized_cell(text: str, delimiter: str, row: int) -> str:
    """Where the first cell over CSV_CELL_LIMIT is: "header row" or "row N, column 'name',"."""
    csv.field_size_limit(sys.maxsize)  # only to find the cell after the bounded read refused it
    try:
        rows = (cells for cells in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) if cells)
        header = next(rows, [])
        if any(len(cell) > CSV_CELL_LIMIT for cell in header):
            return "header row"
        cells = next((cells for number, cells in enumerate(rows, start=1) if number == row), [])
        long_cells = [i for i, cell in enumerate(cells) if len(cell) > CSV_CELL_LIMIT]
        if long_cells and long_cells[0] < len(header):
            return f"row {row}, column {header[long_cells[0]]!r},"
    except csv.Error:  # the row is malformed in another way too: its number is all there is to say
        pass
    finally:
        csv.field_size_limit(CSV_CELL_LIMIT)
    return f"row {row}"


def _read_parquet(path: Path) -> list[dict]:
    import pyarrow
    import pyarrow.parquet

    try:
        return pyarrow.parquet.read_table(path).to_pylist()
    except (pyarrow.ArrowException, OSError) as error:
        first = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        raise LitftError(f"{path} is not a readable Parquet file ({first}); re-export it.") from None


def _choose_split(dataset: Any, split: str | None, where: str) -> Any:
    """The split of a DatasetDict (`train` unless told), or the Dataset itself."""
    from datasets import DatasetDict

    if not isinstance(dataset, DatasetDict):
        return dataset
    wanted = split or ("train" if "train" in dataset else None)
    if wanted not in dataset:
        raise LitftError(f"{where} has splits {', '.join(dataset)}; choose one with --split.")
    return dataset[wanted]


def _load_saved(path: Path, split: str | None) -> list[dict]:
    from datasets import load_from_disk

    try:
        dataset = load_from_disk(str(path))
    except (OSError, ValueError) as error:
        raise LitftError(f"{path} is not a readable saved dataset ({str(error)[:120]}); save it again.") from None
    return _choose_split(dataset, split, str(path)).to_list()


def _load_hub(name: str, split: str | None, subset: str | None) -> list[dict]:
    """A Hub dataset through `datasets.load_dataset`: HF_TOKEN and the offline cache are honoured by datasets."""
    if not name or name.count("/") > 1:
        raise LitftError(f"{HUB_PREFIX}{name} is not a Hub dataset id; write it as hf:owner/name.")
    import datasets

    offline = "set HF_DATASETS_OFFLINE=0 and check the network, or download it once while online"
    try:
        dataset = datasets.load_dataset(name, subset, split=split, token=os.environ.get("HF_TOKEN") or None)
    except ConnectionError:
        raise LitftError(
            f"the Hub dataset {name} is not in the local cache and the Hub is unreachable; {offline}."
        ) from None
    except datasets.exceptions.DatasetNotFoundError:
        raise LitftError(
            f"the Hub dataset {name} was not found (or is gated: set HF_TOKEN to a token that may read it)."
        ) from None
    except ValueError as error:  # an unknown split or subset
        raise LitftError(f"the Hub dataset {name}: {str(error).splitlines()[0][:160]}.") from None
    return _choose_split(dataset, split, f"{HUB_PREFIX}{name}").to_list()
