"""The app's routes by audience: pages (people, the original's URL), api (JSON), ops (probes)."""
