"""The domain's services: plain functions with explicit arguments that flush and leave the commit
to the request, CLI command or worker calling them (where a platform call must commit first, the
function says so), and raise :mod:`.errors` on purpose."""
