"""Annotations: the Event and ClipLabels tables, the ClassMap, and readers/writers for common formats.

Knows nothing of audio decoding or models. Every reader returns a validated table whose ``source`` column
names the file and line of each row, and raises :class:`LabelError` (``path:line: reason``) on bad input.

    >>> from wildtag.labels import read_labels, read_raven, ClassMap
    >>> labels = read_labels("train_metadata.csv")              # doctest: +SKIP  (any format, detected)
    >>> events = read_raven("rec01.Table.1.selections.txt")      # doctest: +SKIP
    >>> classes = ClassMap.from_labels(events["label"])          # doctest: +SKIP
"""

from wildtag.labels.audacity import write_audacity
from wildtag.labels.classmap import ClassMap
from wildtag.labels.clip_csv import read_clip_labels
from wildtag.labels.clips import CLIP_COLUMNS, make_clip_labels, validate_clip_labels
from wildtag.labels.errors import LabelError, UnknownLabelError
from wildtag.labels.events import EVENT_COLUMNS, EVENT_DTYPES, make_events, validate_events
from wildtag.labels.folders import read_class_folders
from wildtag.labels.ids import AmbiguousRecordingError, RecordingIds
from wildtag.labels.names import label_list
from wildtag.labels.raven import raven_recording_id, read_raven, write_raven
from wildtag.labels.read import LABEL_FORMATS, LabelTable, detect_format, read_labels
from wildtag.labels.rfcx import read_rfcx
from wildtag.labels.tables import read_clip_labels_table, read_events, write_table

__all__ = [
    "CLIP_COLUMNS",
    "EVENT_COLUMNS",
    "EVENT_DTYPES",
    "LABEL_FORMATS",
    "AmbiguousRecordingError",
    "ClassMap",
    "LabelError",
    "LabelTable",
    "RecordingIds",
    "UnknownLabelError",
    "detect_format",
    "label_list",
    "make_clip_labels",
    "make_events",
    "raven_recording_id",
    "read_class_folders",
    "read_clip_labels",
    "read_clip_labels_table",
    "read_events",
    "read_labels",
    "read_raven",
    "read_rfcx",
    "validate_clip_labels",
    "validate_events",
    "write_audacity",
    "write_raven",
    "write_table",
]
