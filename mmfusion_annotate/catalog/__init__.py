"""The fleet catalog: every bag's summary, topics, events, review items and pre-label counts as Parquet.

``mmfusion index`` fills it, ``mmfusion search`` queries it with DuckDB and ``mmfusion clip --catalog``
cuts the clips it selects. Agreement with the parallel runner (``--workers``/``--ray``): the per-bag work
is ``bag_index.index_bag(path) -> BagIndex``, a pure, picklable top-level function that never raises for a
bad bag (a damaged or unreadable one comes back as a failure record); ``store.index_paths`` decides which
bags need reading, maps ``index_bag`` over them with the ``map_fn`` it is given (the built-in ``map`` in
one process by default; a runner passes its own, which may yield in any order) and merges the results
into the catalog with one atomic write.
"""

from mmfusion_annotate.catalog.bag_index import BagIndex, find_bags, index_bag
from mmfusion_annotate.catalog.store import SCHEMA_VERSION, IndexReport, index_paths

__all__ = ["SCHEMA_VERSION", "BagIndex", "IndexReport", "find_bags", "index_bag", "index_paths"]
