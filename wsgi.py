"""The WSGI entry point (``gunicorn wsgi:app``, ``flask --app wsgi …``): the protocol with the
domain and, in development, the demo LMS. The only module-level app."""

import courses
import demo_lms
from lti_tool import create_app

app = create_app(components=(courses, demo_lms))
