"""The app's routes by audience: pages (people, and the original project's URL), api (JSON), ops (probes)."""
