"""``hashtag-crawl``: public Instagram posts collected with Selenium and headless Chromium."""
