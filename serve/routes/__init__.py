"""The app's routes by audience: pages (people, and the original's URL), api (JSON), ops (probes)."""
