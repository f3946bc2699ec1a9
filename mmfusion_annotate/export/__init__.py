"""Pre-labels out of a bag into the annotators' labelling tools (ASAM OpenLABEL 1.0, COCO) and corrected
labels back into a bag's truth topics. Reads bags through ``bagtools``; nothing below imports this."""

from mmfusion_annotate.export.exporter import FORMATS, ExportSummary, export_bag, format_export
from mmfusion_annotate.export.openlabel_import import ImportSummary, format_import, import_labels

__all__ = [
    "FORMATS",
    "ExportSummary",
    "ImportSummary",
    "export_bag",
    "format_export",
    "format_import",
    "import_labels",
]
