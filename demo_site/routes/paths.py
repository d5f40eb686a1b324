"""The demo site's URLs and the names its 2026 pages give their queries."""

from __future__ import annotations

import re

MEDIA = re.compile(r"^/media/(\d+)(?:_(\d+))?\.jpg$")
TAG_PAGE = re.compile(r"^/explore/tags/([^/]+)/$")
TAG_FEED = re.compile(r"^/api/v1/tags/([^/]+)/sections/$")
USER_FEED = re.compile(r"^/api/v1/feed/user/([^/]+)/$")
POST_PAGE = re.compile(r"^/p/([A-Za-z0-9_-]+)/$")
PROFILE_PAGE = re.compile(r"^/([A-Za-z0-9._]+)/$")
REELS_PAGE = re.compile(r"^/([A-Za-z0-9._]+)/reels/$")
SEARCH_PAGE = "/explore/search/keyword/"
SEARCH_FEED = "/api/v1/fbsearch/web/top_serp/"
CLIPS_FEED = "/api/v1/clips/user/"
GRAPHQL = frozenset({"/graphql/query", "/graphql/query/", "/api/graphql"})
# What the 2026 pages name their queries (the Relay query id of each data-sjs block).
TIMELINE_QUERY = "PolarisProfilePostsTabContentQuery_connection"
PROFILE_QUERY = "PolarisProfilePageContentQuery"
TAG_QUERY = "PolarisTagPageQuery"
POST_QUERY = "PolarisPostRootQuery"
TIMELINE_DOC_ID = "7950326061742207"  # the doc_id the profile page posts with its variables
