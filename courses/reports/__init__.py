"""What a Lotse reads about a course: the progress overview, its chart and its CSV and JSON
exports (shown only to the course's Lotse, never ranked by progress)."""
