"""Annotations: the Event and ClipLabels tables, the ClassMap, and readers/writers for common formats.

Knows nothing of audio decoding or models. Every reader returns a validated table whose ``source`` column
names the file and line of each row, and raises :class:`LabelError` (``path:line: reason``) on bad input.

    >>> from wildtag.labels import read_labels, read_raven, ClassMap
    >>> labels = read_labels("train_metadata.csv")              # doctest: +SKIP  (any format, detected)
    >>> events = read_raven("rec01.Table.1.selections.txt")      # doctest: +SKIP
    >>> classes = ClassMap.from_labels(events["label"])          # doctest: +SKIP
"""

from wildtag.lazy import lazy_exports

# Each reader loads (with pandas) when first asked for: importing one submodule, e.g. ids, stays cheap.
_EXPORTS = {
    "write_audacity": "audacity",
    "ClassMap": "classmap",
    "read_clip_labels": "clip_csv",
    "CLIP_COLUMNS": "clips",
    "make_clip_labels": "clips",
    "validate_clip_labels": "clips",
    "LabelError": "errors",
    "UnknownLabelError": "errors",
    "EVENT_COLUMNS": "events",
    "EVENT_DTYPES": "events",
    "make_events": "events",
    "validate_events": "events",
    "read_class_folders": "folders",
    "AmbiguousRecordingError": "ids",
    "RecordingIds": "ids",
    "label_list": "names",
    "raven_recording_id": "raven",
    "read_raven": "raven",
    "write_raven": "raven",
    "LABEL_FORMATS": "read",
    "LabelTable": "read",
    "detect_format": "read",
    "read_labels": "read",
    "read_rfcx": "rfcx",
    "read_clip_labels_table": "tables",
    "read_events": "tables",
    "write_table": "tables",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

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
