"""Every page of the demo site, in sitemap order."""

from __future__ import annotations

import academics
import admissions
import general


def all_pages(Page) -> list:
    home, *rest = general.pages(Page)
    return [home, *academics.pages(Page), *admissions.pages(Page), *rest]
