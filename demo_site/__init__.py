"""The embedded demo site: a seeded post generator and an Instagram-shaped HTTP server.

``DemoCorpus`` is the ground truth (later stages' tests import it too); ``DemoSite`` serves it
on loopback for the crawler and for ``hashtag-crawl serve-demo``.
"""

from demo_site.generator import DemoCorpus, DemoPost
from demo_site.server import DemoSite, site_from_settings

__all__ = ["DemoCorpus", "DemoPost", "DemoSite", "site_from_settings"]
