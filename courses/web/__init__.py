"""The domain's pages and JSON API: they read the request, call the services and turn their
results and errors into responses (every blueprint is registered by :func:`courses.init_app`)."""
