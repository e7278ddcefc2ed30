"""Version 2 of the demo site, for `litft demo --refresh`: the same site some months later.

A few facts change (the undergraduate application fee, the Regular Decision and scholarship deadlines, the
housing deadline), a course is added (CS 360 Machine Learning Systems, with its page) and a news page is removed
(the Old Harbour Bridge story). `changed()` applies this to the fact modules for the length of a build; build.py
then writes only the files that differ from version 1 into `litft/demo/site_v2/`, with `removed.txt`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import academics
import data as d
import general

LASTMOD = "2025-10-01"
FACTS = {
    "APPLICATION_FEE": "$70",
    "REGULAR_DECISION": "January 8",
    "SCHOLARSHIP_DEADLINE": "February 1",
    "HOUSING_DEADLINE": "June 1",
}
REMOVED_NEWS = "old-harbour-bridge-monitoring"
NEW_COURSE = d.Course(
    "CS 360",
    "Machine Learning Systems",
    4,
    ("CS 210", "MATH 220"),
    "amara-okafor",
    "spring",
    "Monday and Wednesday, 14:00 to 15:50",
    "calder",
    "205",
    "software",
    "training pipelines, data versioning, model evaluation, serving and monitoring of machine learning models",
    "CS 360 Machine Learning Systems, new in spring 2026, teaches how machine learning models are built, tested and "
    "kept up to date in production. Students train a model on a changing data set, measure when its answers go "
    "stale and update it without starting over.",
    (
        "Data pipelines and data versioning",
        "Training and fine-tuning at small scale",
        "Evaluation and confidence intervals",
        "Serving models behind an API",
        "Monitoring, drift and incremental updates",
    ),
    (
        "Build a reproducible training pipeline",
        "Evaluate a model with paired confidence intervals",
        "Update a deployed model when its data changes",
    ),
    (("Weekly labs", 30), ("Course project", 40), ("Final examination", 30)),
)
# The new course's rows in academics.py's per-course tables, in their shapes.
NEW_COURSE_ROWS = {
    "COURSE_EXTRA": (  # (textbook, teaching assistants, advice from past students)
        "Machine Learning Systems in Practice, course notes by Amara Okafor",
        3,
        "Version your data from the first lab; the project asks you to show what changed between two model updates.",
    ),
    "COURSE_TOOLS": "Python with PyTorch, a shared GPU cluster and Git for the course project",
}


@contextlib.contextmanager
def changed() -> Iterator[None]:
    """Version 2's facts, course list and news list in place of version 1's, restored afterwards."""
    saved = {name: getattr(d, name) for name in FACTS}
    courses, news = dict(d.COURSES), list(general.NEWS)
    try:
        for name, value in FACTS.items():
            setattr(d, name, value)
        d.COURSES[NEW_COURSE.code] = NEW_COURSE
        for table, row in NEW_COURSE_ROWS.items():
            getattr(academics, table)[NEW_COURSE.code] = row
        general.NEWS[:] = [item for item in news if item.key != REMOVED_NEWS]
        yield
    finally:
        for name, value in saved.items():
            setattr(d, name, value)
        d.COURSES.clear()
        d.COURSES.update(courses)
        for table in NEW_COURSE_ROWS:
            getattr(academics, table).pop(NEW_COURSE.code, None)
        general.NEWS[:] = news
