"""The domain's services: plain functions with explicit arguments that flush and never commit
(the request, CLI or worker that calls them commits once), raising :mod:`.errors` on purpose."""
