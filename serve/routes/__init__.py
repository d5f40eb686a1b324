"""The app's routes by audience: pages (people, and the seed's URL), api (JSON), ops (probes)."""
